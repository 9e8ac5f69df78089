//! `PredictedAbort`: a threshold's predicted stop condition (`threshold checkout.p99 < 500ms
//! abort predicted within 30s`): stop the run, reverting everything, when the forecast says the
//! threshold will fail within the window — before it does.
//!
//! The forecast is the `forecast` detector (a robust local linear trend with prediction
//! intervals, `predict/forecast.rs`) towards the threshold's value, with the window as its
//! horizon, over:
//! - a resource, link or telemetry metric: its telemetry series, sample by sample;
//! - a probe metric (`p99`, `error_rate`, ...): the metric computed over the probe's checks of
//!   the last [`PROBE_WINDOW`], once per abort check (every 250 ms).
//!
//! It stops the run when the probability of failing within the window reaches one half (the
//! trend's mean path crosses the limit within it, or the noise makes a crossing more likely than
//! not), after at least [`MIN_FORECAST_SAMPLES`] samples. `during` is not applied to the
//! forecast (it watches the whole run). With `pfi run --no-abort` the forecast still runs and
//! the journal records when it would have stopped, so a run can be compared with and without
//! the stop.

use super::threshold_verdict::metric_value;
use crate::monitor::{MetricsStore, Selection};
use crate::plan::{Comparator, SourceKind, ThresholdPlan};
use crate::predict::{Crossing, Detector, build};
use std::time::Duration;

/// The trailing window a probe metric is computed over for the forecast.
pub const PROBE_WINDOW: Duration = Duration::from_secs(2);
/// Samples the forecast needs before it may stop a run.
pub const MIN_FORECAST_SAMPLES: usize = 8;
/// The trend's memory, seconds: runs last seconds to minutes.
const TAU_SECS: f64 = 10.0;

/// What the forecast said when it called the stop.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictedBreach {
    pub text: String,
    pub probability: f64,
    pub crossing: Option<Crossing>,
    pub within_ms: f64,
}

/// The forecast of one threshold with `abort predicted within`.
pub struct PredictedAbort {
    threshold: ThresholdPlan,
    within_ms: f64,
    detector: Box<dyn Detector>,
    seen_until: Option<Duration>,
    samples: usize,
    /// When the forecast called the breach, and when the threshold then actually failed (a
    /// sample beyond it: seen only when the run goes on, `--no-abort`), seconds on the store's
    /// clock; the second is reported once.
    fired_at: Option<f64>,
    breached_at: Option<f64>,
    breach_reported: bool,
}

impl PredictedAbort {
    /// The predicted stop of `threshold`, if it has one and its comparison has a side to
    /// approach (`==` and `!=` have none).
    pub fn new(threshold: &ThresholdPlan) -> Option<PredictedAbort> {
        let within_ms = threshold.abort_predicted_ms?;
        let direction = match threshold.op {
            Comparator::Lt | Comparator::Le => 1.0,
            Comparator::Gt | Comparator::Ge => -1.0,
            Comparator::Eq | Comparator::Ne => return None,
        };
        let params = [
            ("limit".to_string(), threshold.value),
            ("direction".to_string(), direction),
            ("horizon".to_string(), within_ms / 1000.0),
            ("tau".to_string(), TAU_SECS),
            ("min_samples".to_string(), 6.0),
            ("warmup".to_string(), 0.0),
        ];
        let detector = build("forecast", &params).ok()?;
        Some(PredictedAbort {
            threshold: threshold.clone(),
            within_ms,
            detector,
            seen_until: None,
            samples: 0,
            fired_at: None,
            breached_at: None,
            breach_reported: false,
        })
    }

    /// Feeds what is new in `store`; returns the breach the first time the forecast calls it.
    pub fn check(&mut self, store: &MetricsStore) -> Option<PredictedBreach> {
        let mut score = None;
        if self.threshold.metric.source_kind == SourceKind::Probe {
            let now = store.now();
            if self.seen_until.is_some_and(|seen| now <= seen) {
                return None;
            }
            self.seen_until = Some(now);
            let recent: Vec<_> = store
                .observations(&self.threshold.metric.source, &Selection::all())
                .into_iter()
                .filter(|o| o.at + PROBE_WINDOW >= now)
                .collect();
            if recent.is_empty() {
                return None;
            }
            if let Ok(value) = metric_value(&self.threshold.metric.metric, &recent) {
                score = Some(self.detector.update(now.as_secs_f64(), value));
                self.samples += 1;
                self.note_breach(now.as_secs_f64(), value);
            }
        } else {
            let name = self.threshold.metric.to_string();
            let points = match self.seen_until {
                Some(seen) => store.points_after(&name, seen),
                None => store.points(&name, &Selection::all()),
            };
            for point in points {
                score = Some(self.detector.update(point.at.as_secs_f64(), point.value));
                self.seen_until = Some(point.at);
                self.samples += 1;
                self.note_breach(point.at.as_secs_f64(), point.value);
            }
        }
        let probability = score?;
        if self.fired_at.is_some() || self.samples < MIN_FORECAST_SAMPLES || probability < 0.5 {
            return None;
        }
        self.fired_at = Some(store.now().as_secs_f64());
        Some(PredictedBreach {
            text: self.threshold.text.clone(),
            probability,
            crossing: self.detector.crossing(),
            within_ms: self.within_ms,
        })
    }
}

impl PredictedAbort {
    fn note_breach(&mut self, at_secs: f64, value: f64) {
        if self.breached_at.is_none() && !self.threshold.op.holds(value, self.threshold.value) {
            self.breached_at = Some(at_secs);
        }
    }

    /// Once, after the forecast called a breach and the threshold then failed: `(called at,
    /// failed at)` in seconds on the store's clock (what `--no-abort` reports as the lead).
    pub fn take_breach(&mut self) -> Option<(f64, f64)> {
        let called = self.fired_at?;
        let failed = self.breached_at?;
        if self.breach_reported {
            return None;
        }
        self.breach_reported = true;
        Some((called, failed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check_text;

    fn thresholds(text: &str) -> Vec<ThresholdPlan> {
        let checked = check_text(std::path::Path::new("a.pfi"), text);
        match checked.plan {
            Some(plan) => plan.thresholds,
            None => panic!("{:?}", checked.diagnostics),
        }
    }

    const SCENARIO: &str = r#"
experiment "x" { duration 1m }
resource api: process ["pfi-demo", "api"]
threshold api.memory < 100MiB abort predicted within 10s
threshold api.cpu < 90%
"#;

    /// Deterministic noise in [0, 1) without runs (a multiplicative hash).
    fn jitter(i: u64) -> f64 {
        ((i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 1000) as f64 / 1000.0
    }

    #[test]
    fn stops_before_a_rising_series_breaches_and_never_on_a_flat_one() {
        let all = thresholds(SCENARIO);
        assert_eq!(all[0].abort_predicted_ms, Some(10_000.0));
        assert!(PredictedAbort::new(&all[1]).is_none());
        let limit = 100.0 * 1_048_576.0;
        let store = MetricsStore::new();
        let mut rising = PredictedAbort::new(&all[0]).unwrap_or_else(|| panic!("no forecast"));
        let mut breach = None;
        // 250 ms samples: flat at 40 MiB for 10 s, then +2 MiB/s: 100 MiB at 40 s.
        for i in 0..200u64 {
            let t = i as f64 * 0.25;
            let wobble = jitter(i) * 250_000.0;
            let v = 40.0 * 1_048_576.0 + wobble + (t - 10.0).max(0.0) * 2.0 * 1_048_576.0;
            if v >= limit {
                break;
            }
            store.record("api.memory", Duration::from_millis(250 * i), v);
            if let Some(b) = rising.check(&store) {
                breach = Some((t, b));
                break;
            }
        }
        let (at, b) = breach.unwrap_or_else(|| panic!("never predicted"));
        // Going on (as with --no-abort) the breach is seen once, after the call.
        for i in 160..170u64 {
            store.record("api.memory", Duration::from_millis(250 * i), limit + 1.0);
        }
        assert!(rising.check(&store).is_none());
        let (called, failed) = rising.take_breach().unwrap_or_else(|| panic!("no breach"));
        assert!(
            called < failed && (failed - 40.0).abs() < 0.01,
            "{called} {failed}"
        );
        assert!(rising.take_breach().is_none());
        // Called with the breach (at 40 s) within the 10 s window, not long before.
        assert!((26.0..40.0).contains(&at), "stopped at {at} s");
        let c = b.crossing.unwrap_or_else(|| panic!("no crossing"));
        let truth = 40.0 - at;
        assert!((c.eta_secs - truth).abs() < 0.1 * truth, "{truth} vs {c:?}");
        assert!(
            c.low_secs <= c.eta_secs && c.eta_secs <= c.high_secs,
            "{c:?}"
        );
        let flat_store = MetricsStore::new();
        let mut flat = PredictedAbort::new(&all[0]).unwrap_or_else(|| panic!("no forecast"));
        for i in 0..400u64 {
            let wobble = jitter(i) * 2_500_000.0;
            flat_store.record("api.memory", Duration::from_millis(250 * i), 90e6 + wobble);
            assert!(
                flat.check(&flat_store).is_none(),
                "flat series stopped at {i}"
            );
        }
    }
}
