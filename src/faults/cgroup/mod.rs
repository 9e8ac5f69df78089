//! Resource limits through cgroups: detection of the usable hierarchy (v2 or v1), the
//! per-fault cgroup and its revert, and the block devices an I/O limit names.

mod block_device;
mod cgroups;
mod controller;
mod mount_table;
mod placement;

pub use block_device::{DeviceNumber, devices_for};
pub use cgroups::{Cgroups, Hierarchy};
pub use controller::{CgroupVersion, Controller};
pub use mount_table::{CgroupMount, parse_mountinfo, process_cgroup};
pub use placement::{CgroupPlacement, CgroupSetting};
