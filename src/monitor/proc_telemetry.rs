//! Telemetry of a process from `/proc`: CPU %, resident memory, disk read and write rates,
//! for the process and (by default) its descendants, recorded as series in the store.

use super::metrics_store::MetricsStore;
use crate::targets::{ProcStat, clock_ticks_per_second, descendants, page_size};
use std::time::Instant;

/// Where the pid comes from at each sample: fixed, or the current process of a resource
/// (which changes when it restarts).
type PidSource = Box<dyn Fn() -> Option<u32> + Send + Sync>;

/// One sample's values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TelemetrySample {
    pub pid: u32,
    /// Processes summed (the process and its descendants).
    pub processes: usize,
    /// CPU use since the previous sample, 100 = one core; `None` on the first sample after a
    /// (re)start.
    pub cpu_percent: Option<f64>,
    pub rss_bytes: u64,
    /// Bytes per second read from storage; `None` when `/proc/<pid>/io` is unreadable.
    pub read_bytes_per_s: Option<f64>,
    pub write_bytes_per_s: Option<f64>,
}

/// Reads `/proc` for one resource and records `<resource>.cpu_percent`,
/// `<resource>.rss_bytes`, `<resource>.read_bytes_per_s` and `<resource>.write_bytes_per_s`.
pub struct ProcTelemetry {
    resource: String,
    pid_source: PidSource,
    include_children: bool,
    previous: Option<Reading>,
    ticks_per_second: f64,
    page_size: u64,
}

#[derive(Debug, Clone, Copy)]
struct Reading {
    at: Instant,
    pid: u32,
    start_time: u64,
    cpu_ticks: u64,
    io: Option<(u64, u64)>,
}

impl ProcTelemetry {
    /// Follows one pid.
    pub fn for_pid(resource: impl Into<String>, pid: u32) -> ProcTelemetry {
        ProcTelemetry::following(resource, move || Some(pid))
    }

    /// Follows whatever pid `source` gives at each sample (`move || target.pid()`).
    pub fn following(
        resource: impl Into<String>,
        source: impl Fn() -> Option<u32> + Send + Sync + 'static,
    ) -> ProcTelemetry {
        ProcTelemetry {
            resource: resource.into(),
            pid_source: Box::new(source),
            include_children: true,
            previous: None,
            ticks_per_second: clock_ticks_per_second() as f64,
            page_size: page_size(),
        }
    }

    /// Whether descendants count too (the default).
    pub fn with_children(mut self, include: bool) -> ProcTelemetry {
        self.include_children = include;
        self
    }

    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Takes one sample and records it; `None` when the process is not running.
    pub fn sample(&mut self, store: &MetricsStore) -> Option<TelemetrySample> {
        let Some(pid) = (self.pid_source)() else {
            self.previous = None;
            return None;
        };
        let Ok(Some(root)) = ProcStat::read(pid) else {
            self.previous = None;
            return None;
        };
        let mut pids = vec![pid];
        if self.include_children {
            pids.extend(descendants(pid).unwrap_or_default());
        }
        let mut cpu_ticks = 0;
        let mut rss_pages = 0;
        let mut io = Some((0u64, 0u64));
        let mut processes = 0;
        for member in &pids {
            let stat = if *member == pid {
                Some(root.clone())
            } else {
                ProcStat::read(*member).ok().flatten()
            };
            let Some(stat) = stat else { continue };
            processes += 1;
            cpu_ticks += stat.cpu_ticks();
            rss_pages += stat.rss_pages;
            io = match (io, read_io(*member)) {
                (Some((read, write)), Some((r, w))) => Some((read + r, write + w)),
                _ => None,
            };
        }
        let now = Instant::now();
        let reading = Reading {
            at: now,
            pid,
            start_time: root.start_time,
            cpu_ticks,
            io,
        };
        let previous = self
            .previous
            .filter(|p| p.pid == pid && p.start_time == root.start_time);
        self.previous = Some(reading);

        let mut sample = TelemetrySample {
            pid,
            processes,
            cpu_percent: None,
            rss_bytes: rss_pages * self.page_size,
            read_bytes_per_s: None,
            write_bytes_per_s: None,
        };
        if let Some(previous) = previous {
            let elapsed = now.duration_since(previous.at).as_secs_f64();
            if elapsed > 0.0 {
                // Children that exited take their ticks with them: never go negative.
                let ticks = cpu_ticks.saturating_sub(previous.cpu_ticks) as f64;
                sample.cpu_percent = Some(ticks / self.ticks_per_second / elapsed * 100.0);
                if let (Some((read, write)), Some((read0, write0))) = (io, previous.io) {
                    sample.read_bytes_per_s = Some(read.saturating_sub(read0) as f64 / elapsed);
                    sample.write_bytes_per_s = Some(write.saturating_sub(write0) as f64 / elapsed);
                }
            }
        }
        let at = store.now();
        let name = |metric: &str| format!("{}.{metric}", self.resource);
        store.record(&name("rss_bytes"), at, sample.rss_bytes as f64);
        if let Some(cpu) = sample.cpu_percent {
            store.record(&name("cpu_percent"), at, cpu);
        }
        if let Some(rate) = sample.read_bytes_per_s {
            store.record(&name("read_bytes_per_s"), at, rate);
        }
        if let Some(rate) = sample.write_bytes_per_s {
            store.record(&name("write_bytes_per_s"), at, rate);
        }
        Some(sample)
    }
}

/// `read_bytes` and `write_bytes` from `/proc/<pid>/io` (needs the same user or root).
fn read_io(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<u64>().ok())
    };
    Some((field("read_bytes:")?, field("write_bytes:")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Selection;

    #[test]
    fn samples_this_process() {
        let store = MetricsStore::new();
        let mut telemetry = ProcTelemetry::for_pid("self", std::process::id()).with_children(false);
        let first = telemetry.sample(&store).unwrap();
        assert_eq!(first.pid, std::process::id());
        assert!(first.cpu_percent.is_none());
        assert!(first.rss_bytes > 0);
        // Burn some CPU so the second sample has something to measure.
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed().as_millis() < 50 {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let second = telemetry.sample(&store).unwrap();
        assert!(second.cpu_percent.unwrap() >= 0.0);
        assert!(
            store
                .series_summary("self.rss_bytes", &Selection::all())
                .unwrap()
                .count
                == 2
        );
        assert!(
            store
                .series_summary("self.cpu_percent", &Selection::all())
                .is_some()
        );
    }

    #[test]
    fn a_missing_process_records_nothing() {
        let store = MetricsStore::new();
        let mut telemetry = ProcTelemetry::following("ghost", || None);
        assert!(telemetry.sample(&store).is_none());
        let mut telemetry = ProcTelemetry::for_pid("ghost", u32::MAX - 1);
        assert!(telemetry.sample(&store).is_none());
        assert!(store.series_names().is_empty());
    }
}
