//! `io_limit`: throttles the process's disk reads and writes (bytes per second) or lowers its
//! I/O weight, through a cgroup; for a container, lowers its block IO weight (`docker
//! update`).

use super::cgroup::{
    CgroupSetting, CgroupVersion, Controller, DeviceNumber, Hierarchy, devices_for,
};
use super::cgroup_limit::prepare_limit;
use super::container_limit::prepare_container_limit;
use super::fault_kind::scale_setting;
use super::setting_spec::*;
use super::{BoxFuture, Fault, FaultContext, FaultError, Prepared};
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::Params;
use crate::plan::TargetFamily::{self, *};
use crate::targets::docker::ContainerLimits;
use crate::targets::{ContainerTarget, ProcessTarget};
use serde::{Deserialize, Serialize};
use std::path::Path;

const SETTINGS: &[SettingSpec] = &[
    opt("read", ValueType::Bandwidth),
    opt("write", ValueType::Bandwidth),
    opt("weight", ValueType::Integer(10, 1000)),
];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "io_limit"
    }

    fn summary(&self) -> &'static str {
        "throttle disk reads/writes in bytes per second, or lower the I/O weight (cgroup; containers: the weight only)"
    }

    fn targets(&self) -> &'static [TargetFamily] {
        &[Process, Container]
    }

    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn failure_mode(&self) -> FailureMode {
        FailureMode::Starvation
    }

    fn build(&self, settings: &Settings) -> Result<FaultAction, String> {
        let limit = IoLimit {
            read_bps: settings.whole("read"),
            write_bps: settings.whole("write"),
            weight: settings.whole("weight").map(|w| w.min(1000) as u16),
            device: None,
        };
        settings.on_target(limit.validated().map_err(|err| err.to_string())?)
    }

    fn soften(&self, params: &mut Params, severity: f64) -> Option<String> {
        let percent = severity * 100.0;
        // Higher rates are milder.
        scale_setting(params, "read", 1.0 / severity);
        scale_setting(params, "write", 1.0 / severity);
        Some(format!("{percent:.0}% severity: io rates / {severity:.2}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IoLimit {
    #[serde(default)]
    pub read_bps: Option<u64>,
    #[serde(default)]
    pub write_bps: Option<u64>,
    /// Relative I/O weight, 1 to 1000 (100 is the usual default).
    #[serde(default)]
    pub weight: Option<u16>,
    /// A block device (`/dev/sda` or `8:0`); default: the disk of the process's folder.
    #[serde(default)]
    pub device: Option<String>,
}

impl IoLimit {
    fn validated(self) -> Result<IoLimit, FaultError> {
        let invalid = |reason: String| FaultError::InvalidParams {
            fault: "io_limit",
            reason,
        };
        if self.read_bps.is_none() && self.write_bps.is_none() && self.weight.is_none() {
            return Err(invalid(
                "give at least one of read_bps, write_bps or weight".to_string(),
            ));
        }
        if self.read_bps == Some(0) || self.write_bps == Some(0) {
            return Err(invalid(
                "a rate of 0 bytes/s would block all I/O; use at least 1".to_string(),
            ));
        }
        if let Some(weight) = self.weight
            && !(1..=1000).contains(&weight)
        {
            return Err(invalid(format!(
                "weight must be from 1 to 1000, not {weight}"
            )));
        }
        Ok(self)
    }

    /// The limit files for a hierarchy: per-device throttles and the weight (whose file
    /// depends on the I/O scheduler, so it is looked up in the hierarchy).
    pub fn settings(
        &self,
        hierarchy: &Hierarchy,
        devices: &[DeviceNumber],
    ) -> Result<Vec<CgroupSetting>, String> {
        let mut settings = Vec::new();
        match hierarchy.version {
            CgroupVersion::V1 => {
                for device in devices {
                    if let Some(rate) = self.read_bps {
                        settings.push(CgroupSetting::new(
                            "blkio.throttle.read_bps_device",
                            format!("{device} {rate}"),
                        ));
                    }
                    if let Some(rate) = self.write_bps {
                        settings.push(CgroupSetting::new(
                            "blkio.throttle.write_bps_device",
                            format!("{device} {rate}"),
                        ));
                    }
                }
                if let Some(weight) = self.weight {
                    let file = ["blkio.weight", "blkio.bfq.weight"]
                        .into_iter()
                        .find(|file| hierarchy.has_file(file))
                        .ok_or_else(|| no_weight(hierarchy, "blkio.weight or blkio.bfq.weight"))?;
                    // cgroup v1 weights run from 10 to 1000.
                    settings.push(CgroupSetting::new(file, weight.clamp(10, 1000).to_string()));
                }
            }
            CgroupVersion::V2 => {
                if self.read_bps.is_some() || self.write_bps.is_some() {
                    let rate =
                        |value: Option<u64>| value.map_or("max".to_string(), |v| v.to_string());
                    for device in devices {
                        settings.push(CgroupSetting::new(
                            "io.max",
                            format!(
                                "{device} rbps={} wbps={}",
                                rate(self.read_bps),
                                rate(self.write_bps)
                            ),
                        ));
                    }
                }
                if let Some(weight) = self.weight {
                    // Files of the root are not shown; a child cgroup has them when the
                    // controller is enabled, so prefer io.weight (the cost model) there.
                    let file = if hierarchy.has_file("io.bfq.weight")
                        && !hierarchy.has_file("io.weight")
                    {
                        "io.bfq.weight"
                    } else {
                        "io.weight"
                    };
                    settings.push(CgroupSetting::new(file, format!("default {weight}")));
                }
            }
        }
        Ok(settings)
    }
}

fn no_weight(hierarchy: &Hierarchy, files: &str) -> String {
    format!(
        "{} has no {files}: the disks' I/O scheduler does not support weights; use read_bps/write_bps, or switch the disk to the bfq scheduler",
        hierarchy.mount_point.display()
    )
}

impl Fault for IoLimit {
    fn keyword(&self) -> &'static str {
        "io_limit"
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(rate) = self.read_bps {
            parts.push(format!("read {rate} B/s"));
        }
        if let Some(rate) = self.write_bps {
            parts.push(format!("write {rate} B/s"));
        }
        if let Some(weight) = self.weight {
            parts.push(format!("weight {weight}"));
        }
        if let Some(device) = &self.device {
            parts.push(format!("on {device}"));
        }
        format!("io_limit {}", parts.join(", "))
    }

    fn prepare_process(
        &self,
        target: &ProcessTarget,
        ctx: &FaultContext,
    ) -> Result<Prepared, FaultError> {
        self.clone().validated()?;
        prepare_limit(
            "io_limit",
            Controller::Io,
            target,
            ctx,
            |hierarchy, identity| {
                let unsupported = |reason: String| FaultError::Unsupported {
                    fault: "io_limit",
                    reason,
                };
                let devices = if self.read_bps.is_some() || self.write_bps.is_some() {
                    devices_for(identity.pid, self.device.as_deref(), Path::new("/sys"))
                        .map_err(unsupported)?
                } else {
                    Vec::new()
                };
                self.settings(hierarchy, &devices).map_err(unsupported)
            },
        )
    }

    /// Containers take the weight only: the engine cannot change the device throttles of a
    /// container once it is created.
    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            let weight = match (self.read_bps, self.write_bps, &self.device, self.weight) {
                (None, None, None, Some(weight)) => weight.clamp(10, 1000),
                _ => {
                    return Err(FaultError::Unsupported {
                        fault: "io_limit",
                        reason: format!(
                            "Docker cannot change the device throttles of container `{}` once it is created; give only `weight`",
                            target.name()
                        ),
                    });
                }
            };
            prepare_container_limit(
                "io_limit",
                target,
                |_| ContainerLimits::blkio_change(weight),
                true,
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn hierarchy(version: CgroupVersion, dir: &Path) -> Hierarchy {
        Hierarchy {
            version,
            controller: Controller::Io,
            mount_point: dir.to_path_buf(),
            root: "/".to_string(),
        }
    }

    const SDA: DeviceNumber = DeviceNumber { major: 8, minor: 0 };

    #[test]
    fn v1_throttles_each_device_and_finds_the_weight_file() {
        let dir = tempfile::tempdir().unwrap();
        let limit = IoLimit {
            read_bps: Some(1 << 20),
            write_bps: Some(512),
            weight: Some(5),
            device: None,
        };
        let err = limit
            .settings(&hierarchy(CgroupVersion::V1, dir.path()), &[SDA])
            .unwrap_err();
        assert!(err.contains("does not support weights"), "{err}");
        std::fs::write(dir.path().join("blkio.bfq.weight"), "100").unwrap();
        let settings = limit
            .settings(&hierarchy(CgroupVersion::V1, dir.path()), &[SDA])
            .unwrap();
        assert_eq!(
            settings,
            vec![
                CgroupSetting::new("blkio.throttle.read_bps_device", "8:0 1048576"),
                CgroupSetting::new("blkio.throttle.write_bps_device", "8:0 512"),
                CgroupSetting::new("blkio.bfq.weight", "10"),
            ]
        );
    }

    #[test]
    fn v2_writes_io_max_and_io_weight() {
        let limit = IoLimit {
            read_bps: None,
            write_bps: Some(4096),
            weight: Some(50),
            device: None,
        };
        let h = hierarchy(CgroupVersion::V2, &PathBuf::from("/nonexistent"));
        let settings = limit
            .settings(
                &h,
                &[
                    SDA,
                    DeviceNumber {
                        major: 259,
                        minor: 0,
                    },
                ],
            )
            .unwrap();
        assert_eq!(
            settings,
            vec![
                CgroupSetting::new("io.max", "8:0 rbps=max wbps=4096"),
                CgroupSetting::new("io.max", "259:0 rbps=max wbps=4096"),
                CgroupSetting::new("io.weight", "default 50"),
            ]
        );
    }

    #[test]
    fn validates_parameters() {
        let base = IoLimit {
            read_bps: None,
            write_bps: None,
            weight: None,
            device: None,
        };
        assert!(base.clone().validated().is_err());
        assert!(
            IoLimit {
                read_bps: Some(0),
                ..base.clone()
            }
            .validated()
            .is_err()
        );
        assert!(
            IoLimit {
                weight: Some(2000),
                ..base.clone()
            }
            .validated()
            .is_err()
        );
        assert!(
            IoLimit {
                weight: Some(100),
                ..base
            }
            .validated()
            .is_ok()
        );
    }
}
