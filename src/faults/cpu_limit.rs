//! `cpu_limit`: caps the process at a number of CPU cores (0.2 = a fifth of one core) through
//! a cgroup CPU quota, or the container through the engine (`docker update`).

use super::cgroup::{CgroupSetting, CgroupVersion, Controller};
use super::cgroup_limit::prepare_limit;
use super::container_limit::prepare_container_limit;
use super::cpu_usage;
use super::fault_kind::scale_setting;
use super::setting_spec::*;
use super::{BoxFuture, Fault, FaultContext, FaultError, Prepared, RevertAction};
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::Params;
use crate::plan::TargetFamily::{self, *};
use crate::targets::docker::ContainerLimits;
use crate::targets::{ContainerTarget, ProcessTarget};
use serde::{Deserialize, Serialize};

const SETTINGS: &[SettingSpec] = &[req("cores", ValueType::Positive)];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "cpu_limit"
    }

    fn summary(&self) -> &'static str {
        "cap the process's or container's CPU at a number of cores (CPU quota)"
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
        let cores = settings.required("cores")?;
        settings.on_target(
            CpuLimit { cores }
                .validated()
                .map_err(|err| err.to_string())?,
        )
    }

    fn soften(&self, params: &mut Params, severity: f64) -> Option<String> {
        let percent = severity * 100.0;
        // A looser limit is a milder one.
        Some(match scale_setting(params, "cores", 1.0 / severity) {
            Some(v) => format!("{percent:.0}% severity: {v:.2} cores"),
            None => format!("{percent:.0}% severity"),
        })
    }
}

/// The quota period, in microseconds (the kernel's default).
const PERIOD_US: u64 = 100_000;
/// The kernel refuses quotas under 1 ms.
const MIN_QUOTA_US: u64 = 1_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuLimit {
    pub cores: f64,
}

impl CpuLimit {
    fn validated(self) -> Result<CpuLimit, FaultError> {
        if !(self.cores > 0.0 && self.cores <= 4096.0) {
            return Err(FaultError::InvalidParams {
                fault: "cpu_limit",
                reason: format!(
                    "cores must be more than 0 and at most 4096, not {}",
                    self.cores
                ),
            });
        }
        Ok(self)
    }

    /// Quota per period, in microseconds.
    fn quota_us(&self) -> u64 {
        ((self.cores * PERIOD_US as f64).round() as u64).max(MIN_QUOTA_US)
    }

    /// The limit files for a cgroup version.
    pub fn settings(&self, version: CgroupVersion) -> Vec<CgroupSetting> {
        let quota = self.quota_us();
        match version {
            CgroupVersion::V1 => vec![
                CgroupSetting::new("cpu.cfs_period_us", PERIOD_US.to_string()),
                CgroupSetting::new("cpu.cfs_quota_us", quota.to_string()),
            ],
            CgroupVersion::V2 => vec![CgroupSetting::new(
                "cpu.max",
                format!("{quota} {PERIOD_US}"),
            )],
        }
    }
}

impl Fault for CpuLimit {
    fn keyword(&self) -> &'static str {
        "cpu_limit"
    }

    fn describe(&self) -> String {
        format!("cpu_limit {} cores", self.cores)
    }

    fn prepare_process(
        &self,
        target: &ProcessTarget,
        ctx: &FaultContext,
    ) -> Result<Prepared, FaultError> {
        self.clone().validated()?;
        let prepared = prepare_limit("cpu_limit", Controller::Cpu, target, ctx, |hierarchy, _| {
            Ok(self.settings(hierarchy.version))
        })?;
        // How much CPU the process then uses, measured in the background over a window.
        let RevertAction::RemoveCgroup { placement } = prepared.revert_action().clone() else {
            return Ok(prepared);
        };
        let cores = self.cores;
        Ok(prepared.measured_by(move || async move {
            cpu_usage::measure(&placement, cores, cpu_usage::CPU_WINDOW).await
        }))
    }

    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            self.clone().validated()?;
            let cores = self.cores;
            let prepared = prepare_container_limit(
                "cpu_limit",
                target,
                |current| ContainerLimits::cpu_change(cores, current),
                false,
            )
            .await?;
            // How much CPU the container then uses, from the engine's stats, in the background.
            let target = target.clone();
            Ok(prepared.measured_by(move || async move {
                cpu_usage::measure_container(&target, cores, cpu_usage::CPU_WINDOW).await
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_quota_and_period_per_version() {
        let limit = CpuLimit { cores: 0.2 };
        assert_eq!(
            limit.settings(CgroupVersion::V1),
            vec![
                CgroupSetting::new("cpu.cfs_period_us", "100000"),
                CgroupSetting::new("cpu.cfs_quota_us", "20000"),
            ]
        );
        assert_eq!(
            limit.settings(CgroupVersion::V2),
            vec![CgroupSetting::new("cpu.max", "20000 100000")]
        );
        let two = CpuLimit { cores: 2.0 };
        assert_eq!(two.settings(CgroupVersion::V2)[0].value, "200000 100000");
        let tiny = CpuLimit { cores: 0.0001 };
        assert_eq!(tiny.settings(CgroupVersion::V2)[0].value, "1000 100000");
    }

    #[test]
    fn refuses_zero_negative_and_nan_cores() {
        for cores in [0.0, -1.0, f64::NAN, 1e9] {
            assert!(CpuLimit { cores }.validated().is_err(), "{cores}");
        }
    }
}
