//! `changepoint`: CUSUM detection of shifts in level (up or down) and increases in variance.
//!
//! Each sample is standardised against a slowly learnt baseline (an exponentially weighted mean
//! over `baseline` samples and a robust scale, the mean absolute deviation × 1.2533, both
//! learning from residuals clipped at 3 scales so an incident does not become the norm): `z`.
//! Three Page CUSUM statistics accumulate the evidence of a change:
//! - level up: `U = max(0, U + z − k)`; level down: `D = max(0, D − z − k)` (`k` = half the
//!   smallest shift worth finding, in scales);
//! - variance up, the log-likelihood ratio of a doubled standard deviation, on the successive
//!   differences `d = (x − x_prev) / (√2 · scale)` (a level shift is one large difference, a
//!   wider spread is many): `V = max(0, V + 0.375·min(d², 16) − ln 2)` (the cap keeps one blip
//!   from looking like noise that doubled).
//!
//! The score is `S / (S + threshold)` of the largest statistic: 0.5 exactly when a change is
//! declared. Then the baseline is learnt afresh from the new regime (`relearn` samples that
//! score 0), so one change raises one alarm.
//!
//! Cost: O(1) per sample; memory: a dozen numbers.

use super::detector::Detector;
use super::detector_spec::DetectorSpec;
use super::param_spec::{ParamSpec, WARMUP};
use super::params::Params;

/// The registry entry of `changepoint`.
pub const SPEC: DetectorSpec = DetectorSpec {
    name: "changepoint",
    doc: "CUSUM change-point detection of level shifts (up or down) and variance increases \
          against a robust baseline; one alarm per change, then the baseline is relearnt",
    params: &[
        ParamSpec::real(
            "k",
            0.5,
            0.0,
            100.0,
            "drift allowance: half the smallest level shift to find, in residual scales",
        ),
        ParamSpec::real(
            "threshold",
            10.0,
            1.0e-3,
            1.0e6,
            "CUSUM evidence that declares a change (scores 0.5)",
        ),
        ParamSpec::integer(
            "baseline",
            200.0,
            2.0,
            1.0e7,
            "samples the baseline mean and scale average over",
        ),
        ParamSpec::real(
            "w_variance",
            1.0,
            0.0,
            1.0,
            "weight of the variance statistic (0 = level shifts only)",
        ),
        ParamSpec::integer(
            "relearn",
            10.0,
            1.0,
            1.0e6,
            "samples learnt (scoring 0) after a change before scoring again",
        ),
        WARMUP,
    ],
    build: |p| Box::new(Changepoint::from_params(p)),
};

const MEAN_ABS_TO_SD: f64 = 1.2533;
/// Residuals beyond this many scales are clipped before the baseline learns from them.
const CLIP: f64 = 3.0;
/// Standardised residuals beyond this are clipped before they enter the level statistics.
const Z_CAP: f64 = 8.0;

/// Which statistic the latest score came from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    LevelUp,
    LevelDown,
    VarianceUp,
}

/// The change-point detector (see the module documentation).
#[derive(Debug, Clone)]
pub struct Changepoint {
    k: f64,
    threshold: f64,
    baseline: f64,
    w_variance: f64,
    relearn: usize,
    warmup: usize,
    seen: usize,
    /// Samples learnt since the last change.
    learnt: usize,
    mean: f64,
    abs_dev: f64,
    up: f64,
    down: f64,
    variance: f64,
    previous: Option<f64>,
    last: Option<(Change, f64, f64)>,
}

impl Changepoint {
    pub fn from_params(p: &Params) -> Changepoint {
        Changepoint {
            k: p.get("k"),
            threshold: p.get("threshold"),
            baseline: p.count("baseline") as f64,
            w_variance: p.get("w_variance"),
            relearn: p.count("relearn"),
            warmup: p.count("warmup"),
            seen: 0,
            learnt: 0,
            mean: 0.0,
            abs_dev: 0.0,
            up: 0.0,
            down: 0.0,
            variance: 0.0,
            previous: None,
            last: None,
        }
    }

    fn scale(&self) -> f64 {
        MEAN_ABS_TO_SD * self.abs_dev
    }

    fn learn(&mut self, value: f64) {
        let rate = 1.0 / (self.learnt as f64 + 1.0).min(self.baseline);
        let residual = value - self.mean;
        let scale = self.scale();
        let clipped = if self.learnt >= self.relearn && scale > 0.0 {
            residual.clamp(-CLIP * scale, CLIP * scale)
        } else {
            residual
        };
        self.mean += rate * clipped;
        if self.learnt > 0 {
            self.abs_dev += rate * (clipped.abs() - self.abs_dev);
        }
        self.learnt += 1;
    }
}

impl Detector for Changepoint {
    fn name(&self) -> &'static str {
        SPEC.name
    }

    fn update(&mut self, _timestamp_secs: f64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        self.seen = self.seen.saturating_add(1);
        let previous = self.previous.replace(value);
        let scale = self.scale();
        let ready = self.learnt >= self.relearn;
        if !ready || scale.is_nan() || scale <= 0.0 {
            if ready && value != self.mean && self.seen > self.warmup {
                // A flat baseline that moves: a change by any measure.
                self.last = Some((
                    if value > self.mean {
                        Change::LevelUp
                    } else {
                        Change::LevelDown
                    },
                    f64::INFINITY,
                    value - self.mean,
                ));
                self.learnt = 0;
                self.mean = value;
                return 1.0 - 1.0e-9;
            }
            self.learn(value);
            return 0.0;
        }
        let z = ((value - self.mean) / scale).clamp(-Z_CAP, Z_CAP);
        self.up = (self.up + z - self.k).max(0.0);
        self.down = (self.down - z - self.k).max(0.0);
        let d = previous.map_or(0.0, |p| (value - p) / (std::f64::consts::SQRT_2 * scale));
        self.variance =
            (self.variance + 0.375 * (d * d).min(16.0) - std::f64::consts::LN_2).max(0.0);
        let candidates = [
            (Change::LevelUp, self.up),
            (Change::LevelDown, self.down),
            (Change::VarianceUp, self.w_variance * self.variance),
        ];
        let (change, evidence) =
            candidates
                .into_iter()
                .fold((Change::LevelUp, 0.0_f64), |best, c| {
                    if c.1 > best.1 { c } else { best }
                });
        let score = if evidence.is_finite() {
            evidence / (evidence + self.threshold)
        } else {
            0.0
        };
        if self.seen <= self.warmup {
            // Learn through the warm-up; a change then only moves the baseline.
            if evidence >= self.threshold {
                self.reset(value);
            } else {
                self.learn(value);
            }
            return 0.0;
        }
        if evidence >= self.threshold {
            self.last = Some((change, evidence, value - self.mean));
            if change == Change::VarianceUp {
                self.abs_dev *= 2.0;
                self.learnt = 0;
                self.up = 0.0;
                self.down = 0.0;
                self.variance = 0.0;
                self.learn(value);
            } else {
                self.reset(value);
            }
        } else {
            self.learn(value);
        }
        score
    }

    fn footprint(&self) -> usize {
        12
    }

    fn explain(&self) -> Option<String> {
        let (change, evidence, shift) = self.last?;
        let what = match change {
            Change::LevelUp => "level shifted up",
            Change::LevelDown => "level shifted down",
            Change::VarianceUp => "variance increased",
        };
        Some(format!(
            "changepoint: {what} (CUSUM evidence {evidence:.1} ≥ {:.1}; latest value {shift:+.4} \
             from the old baseline)",
            self.threshold
        ))
    }
}

impl Changepoint {
    /// A change was declared: relearn the baseline from `value` on (the scale is kept).
    fn reset(&mut self, value: f64) {
        self.up = 0.0;
        self.down = 0.0;
        self.variance = 0.0;
        self.learnt = 0;
        self.mean = 0.0;
        let scale = self.abs_dev;
        self.learn(value);
        self.abs_dev = scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::registry::build;

    fn noise(i: usize) -> f64 {
        ((i * 7919 + 13) % 101) as f64 / 101.0 - 0.5
    }

    fn run(values: &[f64]) -> (Vec<f64>, Box<dyn Detector>) {
        let mut d =
            build("changepoint", &[("warmup".into(), 100.0)]).unwrap_or_else(|e| panic!("{e}"));
        let scores = values
            .iter()
            .enumerate()
            .map(|(i, v)| d.update(i as f64, *v))
            .collect();
        (scores, d)
    }

    fn alarms(scores: &[f64]) -> Vec<usize> {
        (0..scores.len()).filter(|i| scores[*i] >= 0.5).collect()
    }

    #[test]
    fn a_level_shift_raises_one_alarm_soon_after() {
        let values: Vec<f64> = (0..1000)
            .map(|i| 10.0 + noise(i) + if i >= 600 { 1.5 } else { 0.0 })
            .collect();
        let (scores, d) = run(&values);
        let found = alarms(&scores);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!((600..620).contains(&found[0]), "{found:?}");
        assert!(d.explain().unwrap_or_default().contains("shifted up"));
    }

    #[test]
    fn a_variance_increase_is_named_as_such() {
        let values: Vec<f64> = (0..1000)
            .map(|i| 10.0 + noise(i) * if i >= 600 { 4.0 } else { 1.0 })
            .collect();
        let (scores, d) = run(&values);
        let found = alarms(&scores);
        assert!(
            !found.is_empty() && found[0] >= 600 && found[0] < 650,
            "{found:?}"
        );
        assert!(found.iter().all(|i| *i >= 600), "{found:?}");
        assert!(
            d.explain().unwrap_or_default().contains("variance"),
            "{:?}",
            d.explain()
        );
    }

    #[test]
    fn stationary_noise_stays_quiet() {
        let values: Vec<f64> = (0..20_000).map(|i| 3.0 * noise(i)).collect();
        let (scores, _) = run(&values);
        assert!(alarms(&scores).is_empty());
    }
}
