//! `CpuUsage`: how much CPU a `cpu_limit`'s cgroup used, and how often the kernel throttled
//! it, over a short window after the limit was applied — the limit's measured effect. It runs
//! in the background (see `Prepared::measured_by`) so that it never delays the schedule.
//!
//! Read from the kernel: the cgroup's `cpu.stat` (`nr_periods` and `nr_throttled` in both
//! versions; `usage_usec` in v2) and, in v1 where the `cpu` hierarchy has no usage counter of
//! its own (`cpuacct` may be mounted apart from it), the `utime + stime` in
//! `/proc/<pid>/stat` of every process in the cgroup.

use super::Effect;
use super::cgroup::{CgroupPlacement, CgroupVersion};
use crate::targets::ContainerTarget;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the usage is measured for: ten of the kernel's default 100 ms quota periods.
pub const CPU_WINDOW: Duration = Duration::from_millis(1_000);

/// The cgroup's CPU counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuUsage {
    /// CPU time used by the cgroup's processes, in microseconds.
    pub usage_us: u64,
    /// Quota periods the cgroup had runnable tasks in, and those it was throttled in.
    pub periods: u64,
    pub throttled: u64,
}

impl CpuUsage {
    /// Reads the counters of the cgroup at `path`.
    pub fn read(path: &Path, version: CgroupVersion) -> Result<CpuUsage, String> {
        let stat_path = path.join("cpu.stat");
        let stat = std::fs::read_to_string(&stat_path)
            .map_err(|err| format!("cannot read {}: {err}", stat_path.display()))?;
        let field = |name: &str| {
            stat.lines()
                .filter_map(|line| line.split_once(' '))
                .find(|(key, _)| *key == name)
                .and_then(|(_, value)| value.trim().parse::<u64>().ok())
        };
        let periods = field("nr_periods").unwrap_or(0);
        let throttled = field("nr_throttled").unwrap_or(0);
        let usage_us = match (version, field("usage_usec")) {
            (CgroupVersion::V2, Some(usage)) => usage,
            _ => processes_cpu_us(path)?,
        };
        Ok(CpuUsage {
            usage_us,
            periods,
            throttled,
        })
    }
}

/// The CPU time (user + system, in microseconds) of the processes listed in the cgroup's
/// `cgroup.procs`, from `/proc/<pid>/stat`.
fn processes_cpu_us(path: &Path) -> Result<u64, String> {
    let procs_path = path.join("cgroup.procs");
    let procs = std::fs::read_to_string(&procs_path)
        .map_err(|err| format!("cannot read {}: {err}", procs_path.display()))?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let mut total = 0;
    for pid in procs.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
        // A process may exit between the two reads: it then counts nothing.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        total += stat_cpu_ticks(&stat).unwrap_or(0) * 1_000_000 / ticks;
    }
    Ok(total)
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line, in clock ticks.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: count after the last `)`.
    let (_, rest) = stat.rsplit_once(") ")?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// What a `cores` limit did between `before` and `after`, `wall` apart.
pub fn cpu_effect(before: CpuUsage, after: CpuUsage, wall: Duration, cores: f64) -> Effect {
    let seconds = wall.as_secs_f64().max(1e-3);
    let used = after.usage_us.saturating_sub(before.usage_us) as f64 / 1e6 / seconds;
    let periods = after.periods.saturating_sub(before.periods);
    let throttled = after.throttled.saturating_sub(before.throttled);
    let over = format!("{:.1} s", seconds);
    if throttled > 0 {
        Effect::Observed(format!(
            "used {used:.2} cores over {over} under the limit of {cores} cores, throttled in \
             {throttled} of {periods} periods"
        ))
    } else if used <= cores * 1.1 + 0.02 {
        Effect::NoEffect(format!(
            "used {used:.2} cores over {over}, under the limit of {cores} cores anyway (never \
             throttled): the limit did not bind"
        ))
    } else {
        Effect::NoEffect(format!(
            "used {used:.2} cores over {over}, above the limit of {cores} cores, and was never \
             throttled: the limit is not enforced"
        ))
    }
}

/// Measures the limit's effect over `window`. Not checked (`Unchecked`) when the limit was
/// removed before the window ended: a fault shorter than the window keeps the effect its
/// values read back from the kernel showed. The wait is a timer, not a sleeping thread: a run
/// interrupted meanwhile exits at once (a blocking thread would hold its runtime's shutdown
/// until the window ended: up to a second, seen by the interrupt harness).
pub async fn measure(placement: &CgroupPlacement, cores: f64, window: Duration) -> Effect {
    // Two small reads of kernel files: quick enough for the async thread.
    let read = || CpuUsage::read(&placement.path, placement.version);
    let Ok(before) = read() else {
        return Effect::Unchecked;
    };
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let Ok(after) = read() else {
        return Effect::Unchecked;
    };
    cpu_effect(before, after, started.elapsed(), cores)
}

/// Measures a container's `cpu_limit` over `window` from two stats readings of the engine
/// (its CPU time and its CFS throttling counters). Not checked when a reading fails (the
/// container stopped or is gone).
pub async fn measure_container(target: &ContainerTarget, cores: f64, window: Duration) -> Effect {
    let read = || async {
        target.cpu_counters().await.map(|c| CpuUsage {
            usage_us: c.usage_ns / 1_000,
            periods: c.periods,
            throttled: c.throttled_periods,
        })
    };
    let Ok(before) = read().await else {
        return Effect::Unchecked;
    };
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let Ok(after) = read().await else {
        return Effect::Unchecked;
    };
    cpu_effect(before, after, started.elapsed(), cores)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(usage_us: u64, periods: u64, throttled: u64) -> CpuUsage {
        CpuUsage {
            usage_us,
            periods,
            throttled,
        }
    }

    #[test]
    fn a_throttled_cgroup_is_an_observed_effect() {
        let effect = cpu_effect(
            usage(0, 0, 0),
            usage(200_000, 10, 9),
            Duration::from_secs(1),
            0.2,
        );
        let Effect::Observed(what) = effect else {
            panic!("{effect:?}")
        };
        assert!(what.contains("used 0.20 cores"), "{what}");
        assert!(what.contains("throttled in 9 of 10 periods"), "{what}");
    }

    #[test]
    fn an_idle_process_under_its_limit_is_no_effect_said_honestly() {
        let effect = cpu_effect(
            usage(1_000, 3, 0),
            usage(11_000, 5, 0),
            Duration::from_secs(1),
            0.5,
        );
        let reason = effect.no_effect().expect("no effect");
        assert!(reason.contains("used 0.01 cores"), "{reason}");
        assert!(reason.contains("did not bind"), "{reason}");
    }

    #[test]
    fn use_above_the_limit_without_throttling_is_not_enforced() {
        let effect = cpu_effect(
            usage(0, 10, 0),
            usage(900_000, 20, 0),
            Duration::from_secs(1),
            0.2,
        );
        assert!(effect.no_effect().unwrap().contains("not enforced"));
    }

    #[test]
    fn reads_v2_usage_and_v1_process_times() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cpu.stat"),
            "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\nnr_periods 40\n\
             nr_throttled 7\nthrottled_usec 9000\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("cgroup.procs"), "").unwrap();
        assert_eq!(
            CpuUsage::read(dir.path(), CgroupVersion::V2).unwrap(),
            usage(123_456, 40, 7)
        );
        // v1: no usage in cpu.stat, the processes' own times (this test's process).
        std::fs::write(
            dir.path().join("cpu.stat"),
            "nr_periods 4\nnr_throttled 1\nthrottled_time 100\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("cgroup.procs"),
            format!("{}\n", std::process::id()),
        )
        .unwrap();
        let read = CpuUsage::read(dir.path(), CgroupVersion::V1).unwrap();
        assert_eq!((read.periods, read.throttled), (4, 1));
        let own = stat_cpu_ticks(&std::fs::read_to_string("/proc/self/stat").unwrap()).unwrap();
        // SAFETY: as above.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        assert!(read.usage_us + 1_000_000 / ticks * 2 >= own * 1_000_000 / ticks);
    }

    #[test]
    fn stat_times_survive_a_command_name_with_parentheses() {
        let stat = "42 (a) b) S 1 42 42 0 -1 4194304 100 0 0 0 7 5 0 0 20 0 1 0 100 0 0";
        assert_eq!(stat_cpu_ticks(stat), Some(12));
    }
}
