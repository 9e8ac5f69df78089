//! `seasonal`: a seasonality-aware baseline, so that a daily cycle is not an anomaly.
//!
//! The expected value of a sample is a slowly moving level plus the learnt offset of its
//! time-of-day bin (`bins` per day, from the timestamps' clock: gaps, irregular sampling and
//! any sampling interval are handled, unlike a season counted in samples). The residual is
//! scored as a surprise (`surprise.rs`) against a robust scale (the mean absolute residual
//! × 1.2533, floored at `range_floor` of the range seen); every state update learns from the
//! residual clipped at 4 scales, so an incident does not become tomorrow's normal.
//!
//! Until a full day has passed since the first sample the offsets are still being learnt and
//! samples score 0 (a warm-up of one day on top of `warmup`). Cost: O(1) per sample; memory:
//! `bins` + 8 numbers.

use super::detector::Detector;
use super::detector_spec::DetectorSpec;
use super::param_spec::{ParamSpec, WARMUP};
use super::params::Params;
use super::surprise::score_from_z;

/// The registry entry of `seasonal`.
pub const SPEC: DetectorSpec = DetectorSpec {
    name: "seasonal",
    doc: "surprise of each sample against a level plus a learnt time-of-day profile (bins of \
          the day from the timestamps): daily cycles are expected, a broken cycle is not",
    params: &[
        ParamSpec::integer(
            "bins",
            96.0,
            1.0,
            10_000.0,
            "time-of-day bins per day (96 = 15 minutes each)",
        ),
        ParamSpec::real(
            "alpha",
            0.01,
            1.0e-6,
            1.0,
            "how fast the level follows the deseasonalised values",
        ),
        ParamSpec::real(
            "gamma",
            0.2,
            1.0e-6,
            1.0,
            "how fast a bin's offset follows its samples",
        ),
        ParamSpec::real(
            "range_floor",
            0.01,
            0.0,
            10.0,
            "the scale never counts as less than this fraction of the range seen so far \
             (the range includes the daily cycle, hence a smaller floor than `robust_z`'s)",
        ),
        WARMUP,
    ],
    build: |p| Box::new(Seasonal::from_params(p)),
};

const DAY: f64 = 86_400.0;
const MEAN_ABS_TO_SD: f64 = 1.2533;
const CLIP: f64 = 4.0;
const SCALE_RATE: f64 = 0.01;

/// The seasonal baseline detector (see the module documentation).
#[derive(Debug, Clone)]
pub struct Seasonal {
    offsets: Vec<f64>,
    alpha: f64,
    gamma: f64,
    range_floor: f64,
    warmup: usize,
    seen: usize,
    level: Option<f64>,
    abs_dev: f64,
    first: Option<f64>,
    now: f64,
    high: f64,
    neg_low: f64,
    last_z: f64,
    last_expected: f64,
}

impl Seasonal {
    pub fn from_params(p: &Params) -> Seasonal {
        Seasonal {
            offsets: vec![0.0; p.count("bins").max(1)],
            alpha: p.get("alpha"),
            gamma: p.get("gamma"),
            range_floor: p.get("range_floor"),
            warmup: p.count("warmup"),
            seen: 0,
            level: None,
            abs_dev: 0.0,
            first: None,
            now: 0.0,
            high: f64::NEG_INFINITY,
            neg_low: f64::NEG_INFINITY,
            last_z: 0.0,
            last_expected: 0.0,
        }
    }

    /// The two bins around the current time of day and the weight of the second: offsets are
    /// interpolated linearly between bin centres, so a cycle has no steps at bin edges.
    fn bins(&self) -> (usize, usize, f64) {
        let n = self.offsets.len();
        let x = self.now.rem_euclid(DAY) / DAY * n as f64 - 0.5;
        let floor = x.floor();
        let first = (floor as i64).rem_euclid(n as i64) as usize;
        (first, (first + 1) % n, (x - floor).clamp(0.0, 1.0))
    }

    fn offset(&self, (first, second, weight): (usize, usize, f64)) -> f64 {
        (1.0 - weight) * self.offsets[first] + weight * self.offsets[second]
    }
}

impl Detector for Seasonal {
    fn name(&self) -> &'static str {
        SPEC.name
    }

    fn update(&mut self, timestamp_secs: f64, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        if timestamp_secs.is_finite() {
            self.now = timestamp_secs;
        }
        let first = *self.first.get_or_insert(self.now);
        let bins = self.bins();
        let Some(level) = self.level else {
            self.level = Some(value);
            self.high = value;
            self.neg_low = -value;
            self.seen = 1;
            return 0.0;
        };
        let expected = level + self.offset(bins);
        let residual = value - expected;
        let range = (self.high + self.neg_low).max(0.0);
        let scale = (MEAN_ABS_TO_SD * self.abs_dev)
            .max(self.range_floor * range)
            .max(1.0e-9 * expected.abs().max(1.0));
        let z = residual / scale;
        let scoring = self.seen >= self.warmup && self.now - first >= DAY;
        self.last_z = z;
        self.last_expected = expected;
        // Learn from the clipped residual.
        let clipped = if self.abs_dev > 0.0 {
            residual.clamp(-CLIP * scale, CLIP * scale)
        } else {
            residual
        };
        let seen_rate = 1.0 / (self.seen as f64 + 1.0);
        self.abs_dev += seen_rate.max(SCALE_RATE) * (clipped.abs() - self.abs_dev);
        let value_c = expected + clipped;
        let new_level = level + self.alpha.max(seen_rate) * (value_c - self.offset(bins) - level);
        let error = value_c - new_level - self.offset(bins);
        let (first, second, weight) = bins;
        self.offsets[first] += self.gamma * (1.0 - weight) * error;
        self.offsets[second] += self.gamma * weight * error;
        self.level = Some(new_level);
        self.high = self.high.max(value);
        self.neg_low = self.neg_low.max(-value);
        self.seen = self.seen.saturating_add(1);
        if !(new_level.is_finite() && self.offset(bins).is_finite() && self.abs_dev.is_finite()) {
            // Hostile magnitudes: start afresh rather than carry infinities.
            let reset = Seasonal {
                offsets: vec![0.0; self.offsets.len()],
                ..self.clone()
            };
            *self = Seasonal {
                level: None,
                abs_dev: 0.0,
                ..reset
            };
        }
        if scoring { score_from_z(z) } else { 0.0 }
    }

    fn footprint(&self) -> usize {
        self.offsets.len() + 8
    }

    fn explain(&self) -> Option<String> {
        Some(format!(
            "seasonal: {:+.2} scales from the expected {:.6} for this time of day",
            self.last_z, self.last_expected
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::registry::build;

    fn noise(i: usize) -> f64 {
        ((i * 7919 + 13) % 101) as f64 / 101.0 - 0.5
    }

    #[test]
    fn a_daily_cycle_is_expected_and_a_missing_peak_is_not() {
        let mut d = build("seasonal", &[("warmup".into(), 0.0)]).unwrap_or_else(|e| panic!("{e}"));
        let mut worst: f64 = 0.0;
        let mut broken: f64 = 0.0;
        // One-minute samples over four days; on day four the afternoon peak is missing.
        for i in 0..4 * 1440 {
            let t = i as f64 * 60.0;
            let phase = (t % DAY) / DAY * std::f64::consts::TAU;
            let cycle = 40.0 * phase.sin();
            let peakless = i >= 3 * 1440 && cycle > 30.0;
            let value = 100.0 + if peakless { 0.0 } else { cycle } + noise(i);
            let s = d.update(t, value);
            if peakless {
                broken = broken.max(s);
            } else if (1440 + 60..3 * 1440).contains(&i) {
                worst = worst.max(s);
            }
        }
        assert!(worst < 0.45, "a regular cycle scored {worst}");
        assert!(
            broken > 0.5 && broken > worst,
            "missing peak scored {broken}"
        );
        assert!(d.explain().unwrap_or_default().contains("time of day"));
    }
}
