//! `robust_z`: z-score against the rolling median and median absolute deviation.

use super::detector::Detector;
use super::detector_spec::DetectorSpec;
use super::param_spec::{ParamSpec, RANGE_FLOOR, WARMUP};
use super::sorted_window::SortedWindow;
use super::surprise::score_from_z;

/// The registry entry of `robust_z`.
pub const SPEC: DetectorSpec = DetectorSpec {
    name: "robust_z",
    doc: "z-score of each sample against the median and MAD of the last `window` samples; \
          outliers inside the window do not inflate the scale, so bursts stay visible",
    params: &[
        ParamSpec::integer(
            "window",
            32.0,
            3.0,
            100_000.0,
            "samples in the rolling window",
        ),
        RANGE_FLOOR,
        WARMUP,
    ],
    build: |p| {
        Box::new(RobustZ::new(
            p.count("window"),
            p.get("range_floor"),
            p.count("warmup"),
        ))
    },
};

/// MAD × this estimates the standard deviation of normally distributed data.
const MAD_TO_SD: f64 = 1.4826;
/// Mean absolute deviation × this estimates the standard deviation of normal data.
const MEAN_ABS_TO_SD: f64 = 1.2533;

/// Rolling median/MAD z-score.
#[derive(Debug, Clone)]
pub struct RobustZ {
    window: SortedWindow,
    range_floor: f64,
    /// The largest value seen, and the largest negated value (minus the smallest): the range
    /// of every value so far is their sum (as `Extremes` over an unbounded window has it, in
    /// two fields instead of two queues: this is the hot path).
    high: f64,
    neg_low: f64,
    warmup: usize,
    seen: usize,
}

impl RobustZ {
    pub fn new(window: usize, range_floor: f64, warmup: usize) -> RobustZ {
        RobustZ {
            window: SortedWindow::new(window.max(3)),
            range_floor,
            high: f64::NEG_INFINITY,
            neg_low: f64::NEG_INFINITY,
            warmup,
            seen: 0,
        }
    }

    /// The robust z-score of `value` against the window (0 until it holds three samples).
    pub fn z(&self, value: f64) -> f64 {
        if self.window.len() < 3 {
            return 0.0;
        }
        let median = self.window.median();
        let deviation = value - median;
        if deviation == 0.0 {
            return 0.0;
        }
        let mut scale = MAD_TO_SD * self.window.mad_around(median);
        if scale == 0.0 {
            scale = MEAN_ABS_TO_SD * self.window.mean_abs_deviation(median);
        }
        let range = (self.high + self.neg_low).max(0.0);
        let floor = (1.0e-9 * median.abs().max(1.0)).max(self.range_floor * range);
        deviation / scale.max(floor)
    }
}

impl RobustZ {
    /// Adds `value` to the window.
    pub fn learn(&mut self, value: f64) {
        self.window.push(value);
        if value.is_finite() {
            self.high = self.high.max(value);
            self.neg_low = self.neg_low.max(-value);
        }
        self.seen = self.seen.saturating_add(1);
    }
}

impl Detector for RobustZ {
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
        2 * self.window.len() + 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (window, range_floor, (FNV-1a hash of the score bits, sum of the scores)).
    /// Recorded from the implementation before its speed-up.
    const PINNED: &[(usize, f64, (u64, f64))] = &[
        (32, 0.1, (5_705_177_510_752_208_456, 77.658_135_488_888_45)),
        (7, 0.0, (17_031_200_474_542_223_108, 654.700_899_177_953_1)),
        (
            100,
            0.1,
            (15_957_761_544_640_120_692, 168.797_711_932_720_5),
        ),
    ];

    #[test]
    fn spike_scores_high_and_noise_low() {
        let mut d = RobustZ::new(50, 0.1, 10);
        let mut worst_normal: f64 = 0.0;
        for i in 0..500 {
            let value = 10.0 + (f64::from(i) * 0.7).sin();
            worst_normal = worst_normal.max(d.update(f64::from(i), value));
        }
        assert!(worst_normal < 0.3, "noise scored {worst_normal}");
        assert!(d.update(500.0, 40.0) > 0.9);
    }

    #[test]
    fn flat_series_scores_zero_and_a_step_off_it_scores_one() {
        let mut d = RobustZ::new(20, 0.0, 0);
        for i in 0..100 {
            assert_eq!(d.update(f64::from(i), 7.0), 0.0);
        }
        assert!(d.update(100.0, 8.0) > 0.99);
    }

    /// A fixed series with noise, a daily rhythm, spikes, plateaus (ties) and gaps.
    fn pinned_series() -> Vec<f64> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        (0..5000)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                match i {
                    _ if i % 997 == 500 => f64::NAN,
                    _ if i % 613 == 300 => 400.0,
                    1000..=1100 => 42.0,
                    2000..=2040 => (i % 3) as f64,
                    _ => 100.0 + 20.0 * (i as f64 / 45.8).sin() + 5.0 * noise,
                }
            })
            .collect()
    }

    /// Bit-exact scores of the default and of a small window: speed work on `robust_z` and
    /// `SortedWindow` must not change a single score.
    #[test]
    fn scores_on_a_fixed_series_are_pinned() {
        for (window, range_floor, expected) in PINNED {
            let mut d = RobustZ::new(*window, *range_floor, 10);
            let mut hash = 0xcbf2_9ce4_8422_2325_u64;
            let mut sum = 0.0;
            for (i, value) in pinned_series().into_iter().enumerate() {
                let score = d.update(i as f64, value);
                sum += score;
                hash = (hash ^ score.to_bits()).wrapping_mul(0x0000_0100_0000_01b3);
            }
            assert_eq!((hash, sum), *expected, "window {window}");
        }
    }

    #[test]
    fn mostly_constant_window_falls_back_to_mean_absolute_deviation() {
        let mut d = RobustZ::new(10, 0.0, 0);
        for i in 0..10 {
            d.update(f64::from(i), if i == 0 { 1.0 } else { 0.0 });
        }
        // MAD is 0 (nine zeros); mean |deviation| is 0.1, so 1.0 is about 8 sd away, not 10^9.
        let z = d.z(1.0);
        assert!((z - 1.0 / (0.1 * MEAN_ABS_TO_SD)).abs() < 1e-9, "z = {z}");
    }
}
