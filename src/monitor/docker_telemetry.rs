//! Telemetry of a container from the Docker engine's stats stream, recorded under the
//! language's resource metric names, as a process's `/proc` telemetry is, so scenarios read
//! both alike: `<resource>.cpu` (a fraction of one core), `<resource>.memory` (bytes in use,
//! page cache excluded, as `docker stats` shows it), `<resource>.io_read` and
//! `<resource>.io_write` (block IO, bytes per second), plus what only containers have:
//! `<resource>.net_rx`, `<resource>.net_tx` (network, bytes per second) and
//! `<resource>.memory_limit` (bytes; what "reaching its memory limit" is measured against).

use super::metrics_store::MetricsStore;
use crate::targets::ContainerTarget;
use crate::targets::docker::StatsReading;
use std::future::Future;
use std::time::{Duration, Instant};

/// One recorded sample: the reading and the rates derived from the previous one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContainerSample {
    pub reading: StatsReading,
    /// `None` on the first reading of a stream, or after the counters went back (a restart).
    pub read_bytes_per_s: Option<f64>,
    pub write_bytes_per_s: Option<f64>,
    pub rx_bytes_per_s: Option<f64>,
    pub tx_bytes_per_s: Option<f64>,
}

/// Records one container's stats for one resource.
pub struct DockerTelemetry {
    resource: String,
    previous: Option<(Instant, StatsReading)>,
}

impl DockerTelemetry {
    pub fn new(resource: impl Into<String>) -> DockerTelemetry {
        DockerTelemetry {
            resource: resource.into(),
            previous: None,
        }
    }

    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Records a reading taken at `at` into the store.
    pub fn record(
        &mut self,
        reading: StatsReading,
        at: Instant,
        store: &MetricsStore,
    ) -> ContainerSample {
        let mut sample = ContainerSample {
            reading,
            read_bytes_per_s: None,
            write_bytes_per_s: None,
            rx_bytes_per_s: None,
            tx_bytes_per_s: None,
        };
        if let Some((before_at, before)) = self.previous {
            let elapsed = at.duration_since(before_at).as_secs_f64();
            let rate = |now: u64, then: u64| {
                (elapsed > 0.0 && now >= then).then(|| (now - then) as f64 / elapsed)
            };
            sample.read_bytes_per_s = rate(reading.read_bytes, before.read_bytes);
            sample.write_bytes_per_s = rate(reading.write_bytes, before.write_bytes);
            sample.rx_bytes_per_s = rate(reading.rx_bytes, before.rx_bytes);
            sample.tx_bytes_per_s = rate(reading.tx_bytes, before.tx_bytes);
        }
        self.previous = Some((at, reading));

        let now = store.now();
        let name = |metric: &str| format!("{}.{metric}", self.resource);
        store.record(&name("memory"), now, reading.memory_bytes as f64);
        let optional = [
            ("cpu", reading.cpu_percent.map(|percent| percent / 100.0)),
            (
                "memory_limit",
                reading.memory_limit_bytes.map(|limit| limit as f64),
            ),
            ("io_read", sample.read_bytes_per_s),
            ("io_write", sample.write_bytes_per_s),
            ("net_rx", sample.rx_bytes_per_s),
            ("net_tx", sample.tx_bytes_per_s),
        ];
        for (metric, value) in optional {
            if let Some(value) = value {
                store.record(&name(metric), now, value);
            }
        }
        sample
    }

    /// Records every reading of `target`'s stats stream until `shutdown` completes. When the
    /// stream ends (the container stopped) or fails, it subscribes again after `retry`, so a
    /// container restarted by a fault is followed on.
    pub async fn run(
        mut self,
        target: ContainerTarget,
        store: MetricsStore,
        retry: Duration,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let mut stream = target.stats();
            loop {
                tokio::select! {
                    _ = &mut shutdown => return,
                    item = stream.next() => match item {
                        Some(Ok(reading)) => {
                            self.record(reading, Instant::now(), &store);
                        }
                        Some(Err(err)) => {
                            tracing::debug!(resource = %self.resource, "container stats: {err}");
                            break;
                        }
                        None => break,
                    },
                }
            }
            self.previous = None;
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(retry) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Selection;

    fn telemetry() -> DockerTelemetry {
        DockerTelemetry::new("db")
    }

    #[test]
    fn records_process_style_series_and_rates() {
        let store = MetricsStore::new();
        let mut telemetry = telemetry();
        let start = Instant::now();
        let first = StatsReading {
            cpu_percent: None,
            memory_bytes: 10 << 20,
            memory_limit_bytes: Some(64 << 20),
            rx_bytes: 1_000,
            tx_bytes: 2_000,
            read_bytes: 0,
            write_bytes: 4_096,
            pids: Some(2),
        };
        let sample = telemetry.record(first, start, &store);
        assert_eq!(sample.rx_bytes_per_s, None);
        let second = StatsReading {
            cpu_percent: Some(50.0),
            rx_bytes: 3_000,
            tx_bytes: 2_500,
            write_bytes: 8_192,
            ..first
        };
        let sample = telemetry.record(second, start + Duration::from_secs(2), &store);
        assert_eq!(sample.rx_bytes_per_s, Some(1_000.0));
        assert_eq!(sample.tx_bytes_per_s, Some(250.0));
        assert_eq!(sample.write_bytes_per_s, Some(2_048.0));
        let summary = |name: &str| store.series_summary(name, &Selection::all());
        assert_eq!(summary("db.memory").unwrap().count, 2);
        assert_eq!(summary("db.cpu").unwrap().last, 0.5);
        assert_eq!(summary("db.memory_limit").unwrap().last, (64 << 20) as f64);
        assert_eq!(summary("db.net_rx").unwrap().count, 1);
    }

    #[test]
    fn counters_that_go_back_give_no_rate() {
        let store = MetricsStore::new();
        let mut telemetry = telemetry();
        let start = Instant::now();
        let before = StatsReading {
            rx_bytes: 5_000,
            ..StatsReading::default()
        };
        telemetry.record(before, start, &store);
        let after_restart = StatsReading {
            rx_bytes: 100,
            ..StatsReading::default()
        };
        let sample = telemetry.record(after_restart, start + Duration::from_secs(1), &store);
        assert_eq!(sample.rx_bytes_per_s, None);
        assert_eq!(sample.read_bytes_per_s, Some(0.0));
    }
}
