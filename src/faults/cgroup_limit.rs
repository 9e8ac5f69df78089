//! What `cpu_limit`, `memory_limit` and `io_limit` share: a cgroup of their own for the
//! process, with the limits written to it.

use super::Effect;
use super::cgroup::{CgroupPlacement, CgroupSetting, Cgroups, Controller, Hierarchy};
use super::{FaultContext, FaultError, Prepared, RevertAction, running};
use crate::targets::{
    ProcStat, ProcessIdentity, ProcessTarget, clock_ticks_per_second, descendants,
};
use std::time::{Duration, Instant};

/// How long a CPU limit's effect is measured after it is applied.
const CPU_MEASURE: Duration = Duration::from_millis(300);

/// Plans a limit on `target` in the hierarchy that has `controller`; `settings` gives the
/// limit files for that hierarchy.
pub(super) fn prepare_limit(
    keyword: &'static str,
    controller: Controller,
    target: &ProcessTarget,
    ctx: &FaultContext,
    settings: impl FnOnce(&Hierarchy, &ProcessIdentity) -> Result<Vec<CgroupSetting>, FaultError>,
) -> Result<Prepared, FaultError> {
    let identity = running(target, keyword)?;
    let cgroups = Cgroups::detect().map_err(|err| FaultError::Unsupported {
        fault: keyword,
        reason: format!("cannot read /proc/self/mountinfo: {err}"),
    })?;
    let hierarchy = cgroups
        .hierarchy(controller)
        .map_err(|reason| FaultError::Unsupported {
            fault: keyword,
            reason: format!("cannot limit {controller}: {reason}"),
        })?;
    let settings = settings(&hierarchy, &identity)?;
    let pid = identity.pid;
    let process_cgroups =
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).map_err(|err| {
            FaultError::Cgroup {
                fault: keyword,
                message: format!("cannot read /proc/{pid}/cgroup: {err}"),
            }
        })?;
    let placement = hierarchy
        .place(
            &process_cgroups,
            pid,
            identity.start_time,
            &ctx.cgroup_name(),
            settings,
        )
        .map_err(|message| FaultError::Cgroup {
            fault: keyword,
            message,
        })?;
    let revert = RevertAction::RemoveCgroup {
        placement: placement.clone(),
    };
    let resource = target.name().to_string();
    let check = placement.clone();
    Ok(Prepared::new(revert, move || async move {
        let applied = tokio::task::spawn_blocking(move || placement.apply())
            .await
            .map_err(|err| FaultError::Cgroup {
                fault: keyword,
                message: format!("the cgroup task failed: {err}"),
            })?;
        applied
            .map(|detail| format!("limited `{resource}` (pid {pid}): {detail}"))
            .map_err(|message| FaultError::Cgroup {
                fault: keyword,
                message,
            })
    })
    .verified_by(move || async move {
        tokio::task::spawn_blocking(move || limit_effect(&check))
            .await
            .unwrap_or_else(|err| Effect::NoEffect(format!("the check failed: {err}")))
    }))
}

/// The limit's effect: the values read back from the kernel and the process in the cgroup;
/// for a CPU limit, also the CPU the process and its descendants used over a short window
/// (a busy process must be held near its quota).
fn limit_effect(placement: &CgroupPlacement) -> Effect {
    let held = match placement.in_place() {
        Ok(held) => held,
        Err(missing) => return Effect::NoEffect(missing),
    };
    let Some(cores) = quota_cores(&placement.settings) else {
        return Effect::Observed(held);
    };
    match cores_used(placement.pid, CPU_MEASURE) {
        Some(used) if used > cores * 1.5 + 0.1 => Effect::NoEffect(format!(
            "{held}, but it used {used:.2} cores over {} ms, above the {cores} core limit",
            CPU_MEASURE.as_millis()
        )),
        Some(used) => Effect::Observed(format!(
            "{held}; it used {used:.2} cores over {} ms (limit {cores})",
            CPU_MEASURE.as_millis()
        )),
        None => Effect::Observed(held),
    }
}

/// The cores a CPU quota allows, from the settings written (`cpu.max`, or v1's
/// `cpu.cfs_quota_us` and `cpu.cfs_period_us`).
fn quota_cores(settings: &[CgroupSetting]) -> Option<f64> {
    let value = |file: &str| {
        settings
            .iter()
            .find(|s| s.file == file)
            .map(|s| s.value.trim().to_string())
    };
    let (quota, period) = match value("cpu.max") {
        Some(max) => {
            let (quota, period) = max.split_once(' ')?;
            (quota.parse::<f64>().ok()?, period.parse::<f64>().ok()?)
        }
        None => (
            value("cpu.cfs_quota_us")?.parse::<f64>().ok()?,
            value("cpu.cfs_period_us")?.parse::<f64>().ok()?,
        ),
    };
    (period > 0.0).then(|| quota / period)
}

/// The CPU `pid` and its descendants used over `window`, in cores (`None`: gone meanwhile).
fn cores_used(pid: u32, window: Duration) -> Option<f64> {
    let ticks = || -> Option<u64> {
        let mut pids = vec![pid];
        pids.extend(descendants(pid).unwrap_or_default());
        let main = ProcStat::read(pid).ok().flatten()?;
        Some(
            main.cpu_ticks()
                + pids[1..]
                    .iter()
                    .filter_map(|p| ProcStat::read(*p).ok().flatten())
                    .map(|s| s.cpu_ticks())
                    .sum::<u64>(),
        )
    };
    let (before, started) = (ticks()?, Instant::now());
    std::thread::sleep(window);
    let after = ticks()?;
    let seconds = after.saturating_sub(before) as f64 / clock_ticks_per_second() as f64;
    Some(seconds / started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_quota_in_cores_from_either_version() {
        let v2 = [CgroupSetting::new("cpu.max", "20000 100000")];
        assert_eq!(quota_cores(&v2), Some(0.2));
        let v1 = [
            CgroupSetting::new("cpu.cfs_period_us", "100000"),
            CgroupSetting::new("cpu.cfs_quota_us", "50000"),
        ];
        assert_eq!(quota_cores(&v1), Some(0.5));
        assert_eq!(quota_cores(&[CgroupSetting::new("memory.max", "1")]), None);
    }
}
