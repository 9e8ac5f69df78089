//! Telemetry of a process from `/proc`: CPU, resident memory, disk read and write rates and
//! restarts, for the process and (by default) its descendants, recorded as series in the store
//! under the language's resource metric names:
//!
//! | series | value |
//! |---|---|
//! | `<resource>.cpu` | CPU use since the previous sample, as a fraction of one core (`cpu > 80%`) |
//! | `<resource>.memory` | resident set size, bytes |
//! | `<resource>.io_read`, `<resource>.io_write` | storage bytes per second |
//! | `<resource>.restarts` | how many times the process was replaced (a new pid or start time) since the first sample |
//! | `<resource>.up` | 1 while the process runs, 0 once it is gone (not a language metric: the prediction loop reads it to see a process die) |

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

/// Reads `/proc` for one resource and records its series (see the module documentation).
pub struct ProcTelemetry {
    resource: String,
    pid_source: PidSource,
    include_children: bool,
    previous: Option<Reading>,
    /// The (pid, start time) of the process last seen, across gaps.
    last_process: Option<(u32, u64)>,
    restarts: u64,
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
            last_process: None,
            restarts: 0,
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
            return self.gone(store);
        };
        let root = match ProcStat::read(pid) {
            Ok(Some(root)) if !root.state.has_exited() => root,
            _ => return self.gone(store),
        };
        if self
            .last_process
            .is_some_and(|known| known != (pid, root.start_time))
        {
            self.restarts += 1;
        }
        self.last_process = Some((pid, root.start_time));
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
        store.record(&name("up"), at, 1.0);
        store.record(&name("restarts"), at, self.restarts as f64);
        store.record(&name("memory"), at, sample.rss_bytes as f64);
        if let Some(cpu) = sample.cpu_percent {
            store.record(&name("cpu"), at, cpu / 100.0);
        }
        if let Some(rate) = sample.read_bytes_per_s {
            store.record(&name("io_read"), at, rate);
        }
        if let Some(rate) = sample.write_bytes_per_s {
            store.record(&name("io_write"), at, rate);
        }
        Some(sample)
    }

    /// The process is not running: `<resource>.up` is 0 (once it had been seen running).
    fn gone(&mut self, store: &MetricsStore) -> Option<TelemetrySample> {
        self.previous = None;
        if self.last_process.is_some() {
            store.record_now(&format!("{}.up", self.resource), 0.0);
        }
        None
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
                .series_summary("self.memory", &Selection::all())
                .unwrap()
                .count
                == 2
        );
        assert!(
            store
                .series_summary("self.cpu", &Selection::all())
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
