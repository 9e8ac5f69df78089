//! The resource controllers pfi limits, and the two cgroup versions that provide them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A cgroup resource controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Controller {
    Cpu,
    Memory,
    Io,
}

impl Controller {
    /// The controller's name in a cgroup v1 mount (`blkio` for I/O).
    pub fn v1_name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::Memory => "memory",
            Controller::Io => "blkio",
        }
    }

    /// The controller's name in cgroup v2.
    pub fn v2_name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::Memory => "memory",
            Controller::Io => "io",
        }
    }

    pub fn name(self, version: CgroupVersion) -> &'static str {
        match version {
            CgroupVersion::V1 => self.v1_name(),
            CgroupVersion::V2 => self.v2_name(),
        }
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.v2_name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupVersion {
    V1,
    V2,
}

impl fmt::Display for CgroupVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CgroupVersion::V1 => "cgroup v1",
            CgroupVersion::V2 => "cgroup v2",
        })
    }
}
