//! Which block devices an I/O limit applies to: the one named, or the disk holding the
//! process's working folder, or every physical disk.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A block device number, written `MAJOR:MINOR` in cgroup files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceNumber {
    pub major: u64,
    pub minor: u64,
}

impl std::fmt::Display for DeviceNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

impl DeviceNumber {
    /// Splits a Linux `dev_t` (glibc encoding).
    pub fn from_dev(dev: u64) -> DeviceNumber {
        DeviceNumber {
            major: ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff),
            minor: (dev & 0xff) | ((dev >> 12) & !0xff),
        }
    }

    /// Parses `8:0`.
    pub fn parse(text: &str) -> Option<DeviceNumber> {
        let (major, minor) = text.trim().split_once(':')?;
        Some(DeviceNumber {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }
}

/// The devices to limit for a process: `explicit` (`/dev/sda` or `8:0`) when given, else the
/// disk holding the process's working folder, else every physical disk. Partitions are
/// replaced by their disk (the kernel throttles whole disks only).
pub fn devices_for(
    pid: u32,
    explicit: Option<&str>,
    sys: &Path,
) -> Result<Vec<DeviceNumber>, String> {
    if let Some(device) = explicit {
        let number = match DeviceNumber::parse(device) {
            Some(number) => number,
            None => {
                let metadata = std::fs::metadata(device)
                    .map_err(|err| format!("cannot read block device `{device}`: {err}"))?;
                DeviceNumber::from_dev(metadata.rdev())
            }
        };
        return Ok(vec![whole_disk(number, sys)]);
    }
    let cwd = format!("/proc/{pid}/cwd");
    if let Ok(metadata) = std::fs::metadata(&cwd) {
        let number = DeviceNumber::from_dev(metadata.dev());
        if number.major != 0 && sys.join(format!("dev/block/{number}")).exists() {
            return Ok(vec![whole_disk(number, sys)]);
        }
    }
    let disks = physical_disks(sys);
    if disks.is_empty() {
        return Err(format!(
            "cannot tell which disk process {pid} uses and found no physical disk under {}; name the device in the fault",
            sys.join("block").display()
        ));
    }
    Ok(disks)
}

/// The disk a partition belongs to (the device itself when it is not a partition).
fn whole_disk(number: DeviceNumber, sys: &Path) -> DeviceNumber {
    let node = sys.join(format!("dev/block/{number}"));
    if !node.join("partition").exists() {
        return number;
    }
    std::fs::canonicalize(&node)
        .ok()
        .and_then(|path| std::fs::read_to_string(path.parent()?.join("dev")).ok())
        .and_then(|text| DeviceNumber::parse(&text))
        .unwrap_or(number)
}

/// Disks backed by a device (not loop, ram or zram devices).
fn physical_disks(sys: &Path) -> Vec<DeviceNumber> {
    let Ok(entries) = std::fs::read_dir(sys.join("block")) else {
        return Vec::new();
    };
    let mut disks: Vec<DeviceNumber> = entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            entry.path().join("device").exists()
                && !["loop", "ram", "zram"]
                    .iter()
                    .any(|virtual_| name.starts_with(virtual_))
        })
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("dev")).ok())
        .filter_map(|text| DeviceNumber::parse(&text))
        .collect();
    disks.sort_by_key(|d| (d.major, d.minor));
    disks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_parses_device_numbers() {
        assert_eq!(
            DeviceNumber::from_dev(0xfe00),
            DeviceNumber {
                major: 254,
                minor: 0
            }
        );
        assert_eq!(
            DeviceNumber::from_dev(0x0801),
            DeviceNumber { major: 8, minor: 1 }
        );
        assert_eq!(
            DeviceNumber::parse("8:16\n"),
            Some(DeviceNumber {
                major: 8,
                minor: 16
            })
        );
        assert_eq!(DeviceNumber::parse("sda"), None);
        assert_eq!(DeviceNumber { major: 8, minor: 0 }.to_string(), "8:0");
    }

    #[test]
    fn maps_a_partition_to_its_disk_in_a_fake_sysfs() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        std::fs::create_dir_all(sys.join("devices/sda/sda1")).unwrap();
        std::fs::create_dir_all(sys.join("dev/block")).unwrap();
        std::fs::write(sys.join("devices/sda/dev"), "8:0\n").unwrap();
        std::fs::write(sys.join("devices/sda/sda1/partition"), "1\n").unwrap();
        std::os::unix::fs::symlink(sys.join("devices/sda/sda1"), sys.join("dev/block/8:1"))
            .unwrap();
        std::os::unix::fs::symlink(sys.join("devices/sda"), sys.join("dev/block/8:0")).unwrap();
        let devices = devices_for(1, Some("8:1"), sys).unwrap();
        assert_eq!(devices, vec![DeviceNumber { major: 8, minor: 0 }]);
        let devices = devices_for(1, Some("8:0"), sys).unwrap();
        assert_eq!(devices, vec![DeviceNumber { major: 8, minor: 0 }]);
    }

    #[test]
    fn finds_the_disk_of_this_process() {
        let devices = devices_for(std::process::id(), None, Path::new("/sys"));
        // Machines without a physical disk (some containers) say so instead.
        match devices {
            Ok(devices) => assert!(!devices.is_empty()),
            Err(err) => assert!(err.contains("name the device"), "{err}"),
        }
    }
}
