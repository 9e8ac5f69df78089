//! `ewma`: z-score against an exponentially weighted moving mean and variance.

use super::detector::Detector;
use super::detector_spec::DetectorSpec;
use super::extremes::Extremes;
use super::param_spec::{ParamSpec, RANGE_FLOOR, WARMUP};
use super::surprise::score_from_z;

/// The registry entry of `ewma`.
pub const SPEC: DetectorSpec = DetectorSpec {
    name: "ewma",
    doc: "z-score of each sample against an exponentially weighted mean and variance; cheap, \
          reacts to spikes and level shifts, forgets at the rate `alpha`",
    params: &[
        ParamSpec::real(
            "alpha",
            0.05,
            1.0e-6,
            1.0,
            "weight of the newest sample in the mean and variance (smaller: longer memory)",
        ),
        RANGE_FLOOR,
        WARMUP,
    ],
    build: |p| {
        Box::new(Ewma::new(
            p.get("alpha"),
            p.get("range_floor"),
            p.count("warmup"),
        ))
    },
};

/// Exponentially weighted mean and variance; the score is the two-sided surprise of the
/// sample's z-score against the state before it.
#[derive(Debug, Clone)]
pub struct Ewma {
    alpha: f64,
    range_floor: f64,
    range: Extremes,
    warmup: usize,
    seen: usize,
    mean: f64,
    variance: f64,
}

impl Ewma {
    pub fn new(alpha: f64, range_floor: f64, warmup: usize) -> Ewma {
        Ewma {
            alpha: alpha.clamp(1.0e-6, 1.0),
            range_floor,
            range: Extremes::new(0),
            warmup,
            seen: 0,
            mean: 0.0,
            variance: 0.0,
        }
    }

    /// The z-score of `value` against the current state (0 before two samples were seen).
    pub fn z(&self, value: f64) -> f64 {
        if self.seen < 2 {
            return 0.0;
        }
        let deviation = value - self.mean;
        if deviation == 0.0 {
            return 0.0;
        }
        let floor = (1.0e-9 * self.mean.abs().max(1.0)).max(self.range_floor * self.range.range());
        deviation / self.variance.sqrt().max(floor)
    }

    /// Folds `value` into the mean and variance.
    pub fn learn(&mut self, value: f64) {
        self.range.learn(value);
        if self.seen == 0 {
            self.mean = value;
        } else {
            let deviation = value - self.mean;
            self.mean += self.alpha * deviation;
            self.variance =
                (1.0 - self.alpha) * (self.variance + self.alpha * deviation * deviation);
        }
        self.seen = self.seen.saturating_add(1);
    }
}

impl Detector for Ewma {
    fn name(&self) -> &'static str {
        SPEC.name
    }

    fn update(&mut self, _timestamp_secs: f64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        let score = if self.seen < self.warmup {
            0.0
        } else {
            score_from_z(self.z(value))
        };
        self.learn(value);
        score
    }

    fn footprint(&self) -> usize {
        5 + self.range.footprint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spike_scores_high_and_noise_low() {
        let mut d = Ewma::new(0.05, 0.1, 10);
        let mut worst_normal: f64 = 0.0;
        for i in 0..500 {
            let value = 10.0 + (f64::from(i) * 0.7).sin();
            worst_normal = worst_normal.max(d.update(f64::from(i), value));
        }
        assert!(worst_normal < 0.3, "noise scored {worst_normal}");
        assert!(d.update(500.0, 40.0) > 0.9);
    }

    #[test]
    fn flat_series_scores_zero() {
        let mut d = Ewma::new(0.1, 0.1, 0);
        for i in 0..1000 {
            assert_eq!(d.update(f64::from(i), 3.5), 0.0);
        }
    }
}
