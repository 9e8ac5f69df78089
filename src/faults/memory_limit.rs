//! `memory_limit`: caps the memory the process allocates from now on (cgroup memory limit),
//! or the container's memory and swap (`docker update`); past it, the kernel reclaims and
//! finally OOM-kills.

use super::Effect;
use super::cgroup::{CgroupSetting, CgroupVersion, Controller};
use super::cgroup_limit::prepare_limit;
use super::container_limit::prepare_container_limit;
use super::fault_kind::scale_setting;
use super::setting_spec::*;
use super::{BoxFuture, Fault, FaultContext, FaultError, Prepared};
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::Params;
use crate::plan::TargetFamily::{self, *};
use crate::targets::docker::ContainerLimits;
use crate::targets::{ContainerTarget, ProcStat, ProcessTarget, descendants, page_size};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const SETTINGS: &[SettingSpec] = &[req("limit", ValueType::Size)];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "memory_limit"
    }

    fn summary(&self) -> &'static str {
        "cap the memory of the process (from now on) or the container, swap included (OOM kill past it)"
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
        let bytes = settings.required_whole("limit")?;
        settings.on_target(
            MemoryLimit { bytes }
                .validated()
                .map_err(|err| err.to_string())?,
        )
    }

    fn soften(&self, params: &mut Params, severity: f64) -> Option<String> {
        let percent = severity * 100.0;
        // A looser limit is a milder one.
        Some(match scale_setting(params, "limit", 1.0 / severity) {
            Some(v) => format!("{percent:.0}% severity: {v:.0} bytes"),
            None => format!("{percent:.0}% severity"),
        })
    }
}

/// Below this the process could not even run.
const MIN_BYTES: u64 = 1 << 20;
/// The engine refuses container memory limits below 6 MiB.
const MIN_CONTAINER_BYTES: u64 = 6 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryLimit {
    pub bytes: u64,
}

impl MemoryLimit {
    fn validated(self) -> Result<MemoryLimit, FaultError> {
        if self.bytes < MIN_BYTES {
            return Err(FaultError::InvalidParams {
                fault: "memory_limit",
                reason: format!("the limit must be at least 1 MiB, not {} bytes", self.bytes),
            });
        }
        Ok(self)
    }

    /// The limit file for a cgroup version. (Charges made before the move stay where they
    /// were: cgroup v2 never moves them, so v1 does not either, for the same behaviour.)
    pub fn settings(&self, version: CgroupVersion) -> Vec<CgroupSetting> {
        let file = match version {
            CgroupVersion::V1 => "memory.limit_in_bytes",
            CgroupVersion::V2 => "memory.max",
        };
        vec![CgroupSetting::new(file, self.bytes.to_string())]
    }
}

impl Fault for MemoryLimit {
    fn keyword(&self) -> &'static str {
        "memory_limit"
    }

    fn describe(&self) -> String {
        if self.bytes % (1 << 20) == 0 {
            format!("memory_limit {} MiB", self.bytes >> 20)
        } else {
            format!("memory_limit {} bytes", self.bytes)
        }
    }

    fn prepare_process(
        &self,
        target: &ProcessTarget,
        ctx: &FaultContext,
    ) -> Result<Prepared, FaultError> {
        self.clone().validated()?;
        if let Some(identity) = target.identity()
            && let Some(resident) = resident_bytes(identity.pid)
            && resident > self.bytes
        {
            return Err(FaultError::Unsupported {
                fault: "memory_limit",
                reason: format!(
                    "refused: `{}` holds {} now (resident), above the {} limit. A cgroup limit charges only the memory a process allocates after it moves into the cgroup, so what it holds cannot be reclaimed and the limit would have no observable effect; use a limit above {}, or apply it before the memory is allocated",
                    target.name(),
                    mebibytes(resident),
                    mebibytes(self.bytes),
                    mebibytes(resident),
                ),
            });
        }
        prepare_limit(
            "memory_limit",
            Controller::Memory,
            target,
            ctx,
            |hierarchy, _| Ok(self.settings(hierarchy.version)),
        )
    }

    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            if self.bytes < MIN_CONTAINER_BYTES {
                return Err(FaultError::Unsupported {
                    fault: "memory_limit",
                    reason: format!(
                        "Docker refuses container memory limits under 6 MiB, not {} bytes",
                        self.bytes
                    ),
                });
            }
            let bytes = i64::try_from(self.bytes).unwrap_or(i64::MAX);
            let limit = self.bytes;
            let check = target.clone();
            let prepared = prepare_container_limit(
                "memory_limit",
                target,
                |_| ContainerLimits::memory_change(bytes),
                false,
            )
            .await?;
            Ok(prepared.verified_by(move || container_usage_under(check, limit)))
        })
    }
}

/// What process `pid` and its descendants hold in memory (resident set), in bytes.
fn resident_bytes(pid: u32) -> Option<u64> {
    let mut pids = vec![pid];
    pids.extend(descendants(pid).unwrap_or_default());
    let pages: u64 = pids
        .iter()
        .filter_map(|pid| ProcStat::read(*pid).ok().flatten())
        .map(|stat| stat.rss_pages)
        .sum();
    (pages > 0).then(|| pages * page_size())
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1u64 << 20) as f64)
}

/// Whether the container's memory usage (one reading of the engine's stats) is under its new
/// limit: the kernel reclaims down to it (or OOM-kills) when the limit is lowered.
async fn container_usage_under(target: ContainerTarget, limit: u64) -> Effect {
    let mut stats = target.stats();
    match tokio::time::timeout(Duration::from_secs(5), stats.next()).await {
        Ok(Some(Ok(reading))) if reading.memory_bytes <= limit => Effect::Observed(format!(
            "container `{}` uses {} under the {} limit",
            target.name(),
            mebibytes(reading.memory_bytes),
            mebibytes(limit)
        )),
        Ok(Some(Ok(reading))) => Effect::NoEffect(format!(
            "container `{}` still uses {}, above the {} limit (the kernel could not reclaim it)",
            target.name(),
            mebibytes(reading.memory_bytes),
            mebibytes(limit)
        )),
        Ok(Some(Err(err))) => Effect::NoEffect(format!("cannot read its memory usage: {err}")),
        Ok(None) => Effect::Observed(format!(
            "container `{}` stopped (out of memory?)",
            target.name()
        )),
        Err(_) => Effect::NoEffect("no memory reading from the engine within 5 s".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_limit_file_per_version() {
        let limit = MemoryLimit { bytes: 64 << 20 };
        assert_eq!(
            limit.settings(CgroupVersion::V1),
            vec![CgroupSetting::new("memory.limit_in_bytes", "67108864")]
        );
        assert_eq!(
            limit.settings(CgroupVersion::V2),
            vec![CgroupSetting::new("memory.max", "67108864")]
        );
        assert_eq!(
            MemoryLimit { bytes: 1_500_000 }.describe(),
            "memory_limit 1500000 bytes"
        );
    }
}
