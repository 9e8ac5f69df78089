//! Judging a threshold against the probe observations in the metrics store.
//!
//! Probe metrics: `p50`, `p90`, `p95`, `p99`, `mean`, `max` (latency in ms), `error_rate` and
//! `availability` (fractions), `count`. `during F` keeps only the samples taken while fault F
//! was active; `over W` judges every trailing window of length W (ending at each sample) and
//! keeps the worst value for the comparison.

use super::fault_windows::FaultWindows;
use crate::monitor::{MetricsStore, Observation, Selection, nearest_rank};
use crate::plan::{Comparator, SourceKind, ThresholdPlan};
use serde::Serialize;

/// Abort thresholds are judged only once their probe has this many samples, so one failed
/// first check does not end a run.
pub const MIN_SAMPLES_TO_ABORT: usize = 5;

/// A threshold's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdVerdict {
    pub text: String,
    /// The measured value in the threshold's unit; `None` when nothing could be measured.
    pub measured: Option<f64>,
    pub passed: bool,
    /// Why it could not be measured, when it could not.
    pub note: Option<String>,
    pub abort: bool,
}

/// Judges `threshold` on everything recorded so far.
pub fn judge(
    threshold: &ThresholdPlan,
    store: &MetricsStore,
    windows: &FaultWindows,
) -> ThresholdVerdict {
    let verdict = |measured: Option<f64>, note: Option<String>| ThresholdVerdict {
        text: threshold.text.clone(),
        passed: measured.is_some_and(|value| threshold.op.holds(value, threshold.value)),
        measured,
        note,
        abort: threshold.abort,
    };
    if threshold.metric.source_kind != SourceKind::Probe {
        return verdict(
            None,
            Some(format!(
                "`{}` is not a probe metric; only probe metrics are measured in this build",
                threshold.metric
            )),
        );
    }
    let observations = samples(threshold, store, windows);
    if observations.is_empty() {
        let note = match &threshold.during {
            Some(fault) => format!("no samples while `{fault}` was active"),
            None => format!("probe `{}` recorded no samples", threshold.metric.source),
        };
        return verdict(None, Some(note));
    }
    match measure(threshold, &observations) {
        Ok(value) => verdict(Some(value), None),
        Err(note) => verdict(None, Some(note)),
    }
}

/// Whether an abort threshold fails now (with enough samples to judge).
pub fn abort_fails(
    threshold: &ThresholdPlan,
    store: &MetricsStore,
    windows: &FaultWindows,
) -> Option<ThresholdVerdict> {
    if !threshold.abort || threshold.metric.source_kind != SourceKind::Probe {
        return None;
    }
    if samples(threshold, store, windows).len() < MIN_SAMPLES_TO_ABORT {
        return None;
    }
    let verdict = judge(threshold, store, windows);
    (verdict.measured.is_some() && !verdict.passed).then_some(verdict)
}

fn samples(
    threshold: &ThresholdPlan,
    store: &MetricsStore,
    windows: &FaultWindows,
) -> Vec<Observation> {
    let all = store.observations(&threshold.metric.source, &Selection::all());
    match &threshold.during {
        Some(fault) => all
            .into_iter()
            .filter(|o| windows.covers(Some(fault), o))
            .collect(),
        None => all,
    }
}

fn measure(threshold: &ThresholdPlan, observations: &[Observation]) -> Result<f64, String> {
    let metric = threshold.metric.metric.as_str();
    let Some(window_ms) = threshold.window_ms else {
        return metric_value(metric, observations);
    };
    // The worst trailing window: the largest value when the limit is an upper bound, the
    // smallest when it is a lower bound.
    let upper = matches!(
        threshold.op,
        Comparator::Lt | Comparator::Le | Comparator::Eq
    );
    let mut worst: Option<f64> = None;
    let mut first = 0;
    for last in 0..observations.len() {
        let end_ms = millis(observations[last].at);
        while millis(observations[first].at) <= end_ms - window_ms {
            first += 1;
        }
        let value = metric_value(metric, &observations[first..=last])?;
        worst = Some(match worst {
            Some(w) if upper => w.max(value),
            Some(w) => w.min(value),
            None => value,
        });
    }
    worst.ok_or_else(|| "no samples".to_string())
}

fn millis(at: std::time::Duration) -> f64 {
    at.as_secs_f64() * 1000.0
}

/// One probe metric over `observations` (not empty).
pub fn metric_value(metric: &str, observations: &[Observation]) -> Result<f64, String> {
    let count = observations.len() as f64;
    let failures = observations.iter().filter(|o| !o.success).count() as f64;
    let mut latencies: Vec<f64> = observations.iter().map(|o| millis(o.latency)).collect();
    latencies.sort_by(f64::total_cmp);
    Ok(match metric {
        "count" => count,
        "error_rate" => failures / count,
        "availability" => (count - failures) / count,
        "mean" => latencies.iter().sum::<f64>() / count,
        "max" => latencies.last().copied().unwrap_or(0.0),
        "p50" => nearest_rank(&latencies, 0.50),
        "p90" => nearest_rank(&latencies, 0.90),
        "p95" => nearest_rank(&latencies, 0.95),
        "p99" => nearest_rank(&latencies, 0.99),
        other => return Err(format!("`{other}` is not a probe metric")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Location, MetricRef, MetricUnit};
    use std::time::Duration;

    fn threshold(metric: &str, op: Comparator, value: f64) -> ThresholdPlan {
        ThresholdPlan {
            text: format!("p.{metric}"),
            metric: MetricRef {
                source: "p".into(),
                source_kind: SourceKind::Probe,
                metric: metric.into(),
            },
            unit: MetricUnit::Number,
            op,
            value,
            window_ms: None,
            during: None,
            abort: false,
            at: Location {
                file: "x.pfi".into(),
                line: 1,
                column: 1,
                start: 0,
                end: 0,
            },
        }
    }

    fn observation(at_ms: u64, latency_ms: u64, success: bool) -> Observation {
        Observation {
            at: Duration::from_millis(at_ms),
            latency: Duration::from_millis(latency_ms),
            success,
            detail: String::new(),
        }
    }

    #[test]
    fn computes_probe_metrics() {
        let obs: Vec<Observation> = (1..=10)
            .map(|i| observation(i * 100, i * 10, i != 3))
            .collect();
        assert_eq!(metric_value("count", &obs), Ok(10.0));
        assert_eq!(metric_value("error_rate", &obs), Ok(0.1));
        assert_eq!(metric_value("availability", &obs), Ok(0.9));
        assert_eq!(metric_value("max", &obs), Ok(100.0));
        assert_eq!(metric_value("p50", &obs), Ok(50.0));
        assert_eq!(metric_value("mean", &obs), Ok(55.0));
        assert!(metric_value("p42", &obs).is_err());
    }

    #[test]
    fn windows_keep_the_worst_value_for_the_comparison() {
        // Failures cluster between 500 and 700 ms.
        let obs: Vec<Observation> = (0..20)
            .map(|i| observation(i * 100, 5, !(5..=7).contains(&i)))
            .collect();
        let mut t = threshold("availability", Comparator::Gt, 0.5);
        assert!(measure(&t, &obs).unwrap() > 0.8);
        t.window_ms = Some(300.0);
        assert_eq!(measure(&t, &obs).unwrap(), 0.0);
        let mut e = threshold("error_rate", Comparator::Lt, 0.5);
        e.window_ms = Some(400.0);
        assert_eq!(measure(&e, &obs).unwrap(), 0.75);
    }

    #[test]
    fn judges_against_the_store_and_during_a_fault() {
        let store = MetricsStore::new();
        let windows = FaultWindows::new();
        for i in 0..6 {
            store.record_observation("p", observation(i * 10, 5, true));
        }
        windows.opened("freeze", Duration::from_millis(60));
        for i in 6..10 {
            store.record_observation("p", observation(i * 10, 900, false));
        }
        windows.closed("freeze", Duration::from_millis(95));
        let all = judge(
            &threshold("availability", Comparator::Gt, 0.5),
            &store,
            &windows,
        );
        assert_eq!(all.measured, Some(0.6));
        assert!(all.passed);
        let mut during = threshold("p50", Comparator::Lt, 500.0);
        during.during = Some("freeze".into());
        let verdict = judge(&during, &store, &windows);
        assert_eq!(verdict.measured, Some(900.0));
        assert!(!verdict.passed);
        let mut other = threshold("p50", Comparator::Lt, 500.0);
        other.during = Some("never".into());
        let verdict = judge(&other, &store, &windows);
        assert_eq!(verdict.measured, None);
        assert!(!verdict.passed && verdict.note.is_some());
    }

    #[test]
    fn abort_thresholds_wait_for_enough_samples() {
        let store = MetricsStore::new();
        let windows = FaultWindows::new();
        let mut t = threshold("availability", Comparator::Gt, 0.9);
        t.abort = true;
        for i in 0..4 {
            store.record_observation("p", observation(i, 1, false));
        }
        assert_eq!(abort_fails(&t, &store, &windows), None);
        store.record_observation("p", observation(5, 1, false));
        assert!(abort_fails(&t, &store, &windows).is_some());
    }
}
