//! A probe's metrics as numeric series, for the prediction loop: at each sample, the checks
//! that completed since the previous sample are summarised into `<probe>.p50`, `.p90`, `.p95`,
//! `.p99`, `.mean`, `.max` (ms), `.error_rate`, `.availability` (fractions) and `.count`. An
//! interval without a check records nothing. Thresholds on probe metrics do not read these
//! series: they are judged on the observations themselves.

use super::metrics_store::MetricsStore;
use crate::plan::ProbeStat;
use crate::probes::Observation;

/// Summarises one probe's new checks at each `sample`.
pub struct ProbeTelemetry {
    probe: String,
    /// Checks of the probe recorded so far.
    seen: u64,
}

impl ProbeTelemetry {
    pub fn new(probe: impl Into<String>) -> ProbeTelemetry {
        ProbeTelemetry {
            probe: probe.into(),
            seen: 0,
        }
    }

    /// Records the metrics of the checks since the last sample; how many there were.
    pub fn sample(&mut self, store: &MetricsStore) -> usize {
        let (new, seen) = store.observations_recorded_since(&self.probe, self.seen);
        self.seen = seen;
        if new.is_empty() {
            return 0;
        }
        let at = store.now();
        for (metric, value) in metrics(&new) {
            store.record(&format!("{}.{metric}", self.probe), at, value);
        }
        new.len()
    }
}

/// Every probe metric of `observations` (not empty).
fn metrics(observations: &[Observation]) -> Vec<(&'static str, f64)> {
    let stats = Observation::stats(observations);
    ProbeStat::ALL
        .into_iter()
        .map(|stat| (stat.name(), stat.value(&stats)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Selection;
    use std::time::Duration;

    fn check(at_ms: u64, latency_ms: u64, success: bool) -> Observation {
        Observation {
            at: Duration::from_millis(at_ms),
            latency: Duration::from_millis(latency_ms),
            success,
            detail: String::new(),
        }
    }

    #[test]
    fn summarises_only_the_new_checks() {
        let store = MetricsStore::new();
        let mut telemetry = ProbeTelemetry::new("checkout");
        assert_eq!(telemetry.sample(&store), 0);
        store.record_observation("checkout", check(0, 10, true));
        store.record_observation("checkout", check(100, 30, false));
        assert_eq!(telemetry.sample(&store), 2);
        store.record_observation("checkout", check(200, 50, true));
        assert_eq!(telemetry.sample(&store), 1);
        assert_eq!(telemetry.sample(&store), 0);
        let values = |metric: &str| -> Vec<f64> {
            store
                .points(&format!("checkout.{metric}"), &Selection::all())
                .iter()
                .map(|p| p.value)
                .collect()
        };
        assert_eq!(values("error_rate"), vec![0.5, 0.0]);
        assert_eq!(values("mean"), vec![20.0, 50.0]);
        assert_eq!(values("max"), vec![30.0, 50.0]);
        assert_eq!(values("count"), vec![2.0, 1.0]);
    }

    #[test]
    fn a_check_that_completes_late_is_counted_once_when_it_completes() {
        let store = MetricsStore::new();
        let mut telemetry = ProbeTelemetry::new("api");
        // Scheduled at 0 and 100 ms; the one at 0 hangs, the one at 100 ms answers.
        store.record_observation("api", check(100, 5, true));
        assert_eq!(telemetry.sample(&store), 1);
        store.record_observation("api", check(0, 1000, false));
        store.record_observation("api", check(1000, 5, true));
        assert_eq!(telemetry.sample(&store), 2);
        assert_eq!(telemetry.sample(&store), 0);
        let at: Vec<u128> = store
            .observations("api", &Selection::all())
            .iter()
            .map(|o| o.at.as_millis())
            .collect();
        assert_eq!(at, vec![0, 100, 1000]);
    }
}
