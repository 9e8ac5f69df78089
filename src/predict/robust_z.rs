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
    /// The latest scored sample: value, median, scale and z (for `explain`).
    explained: Option<(f64, f64, f64, f64)>,
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
            explained: None,
        }
    }

    /// The robust z-score of `value` against the window (0 until it holds three samples).
    pub fn z(&self, value: f64) -> f64 {
        self.reading(value).0
    }

    /// The z-score of `value`, the median and the scale it was measured with.
    fn reading(&self, value: f64) -> (f64, f64, f64) {
        if self.window.len() < 3 {
            return (0.0, f64::NAN, f64::NAN);
        }
        let median = self.window.median();
        let deviation = value - median;
        if deviation == 0.0 {
            return (0.0, median, f64::NAN);
        }
        let mut scale = MAD_TO_SD * self.window.mad_around(median);
        if scale == 0.0 {
            scale = MEAN_ABS_TO_SD * self.window.mean_abs_deviation(median);
        }
        let range = (self.high + self.neg_low).max(0.0);
        let floor = (1.0e-9 * median.abs().max(1.0)).max(self.range_floor * range);
        let scale = scale.max(floor);
        (deviation / scale, median, scale)
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
            self.explained = None;
            0.0
        } else {
            let (z, median, scale) = self.reading(value);
            self.explained = Some((value, median, scale, z));
            score_from_z(z)
        };
        self.learn(value);
        score
    }

    fn footprint(&self) -> usize {
        2 * self.window.len() + 2
    }

    fn explain(&self) -> Option<String> {
        let (value, median, scale, z) = self.explained?;
        if !median.is_finite() {
            return None;
        }
        let n = self.window.len();
        if !scale.is_finite() {
            return Some(format!(
                "robust_z: {value:.6} is the median of the last {n} values"
            ));
        }
        Some(format!(
            "robust_z: {value:.6} lies {z:+.2} robust scales ({scale:.6}) from the median \
             {median:.6} of the last {n} values"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (window, range_floor, pinned): scores of the fixed series below, recorded from a debug
    /// build whose scores still had the FNV-1a hashes pinned bit-exactly before (5705177510752208456,
    /// 17031200474542223108, 15957761544640120692: the implementation before its speed-ups).
    #[allow(clippy::unreadable_literal, clippy::excessive_precision)]
    const PINNED: &[(usize, f64, Pinned)] = &[
        (
            32,
            0.1,
            Pinned {
                sum: 77.65813548888845,
                weighted: 3973.724324280076,
                alarms: 8,
                every_250th: [
                    0.0,
                    0.025867599743320573,
                    0.0,
                    0.006899316913326699,
                    0.19861057100277957,
                    0.0005526088370140669,
                    0.008864341446005964,
                    0.011931164569057958,
                    0.22963549698285182,
                    0.005768804330136995,
                    0.0037940537682271177,
                    0.012913540658904567,
                    0.00871073772994675,
                    0.0036613052099950397,
                    0.011559347750489168,
                    0.013285118811284056,
                    0.0059477034026646294,
                    0.004133516916327323,
                    0.008704944912786224,
                    0.012612182924680197,
                ],
            },
        ),
        (
            7,
            0.0,
            Pinned {
                sum: 654.7008991779531,
                weighted: 32808.989529461425,
                alarms: 209,
                every_250th: [
                    0.0,
                    0.37993673241511666,
                    0.0,
                    0.020154033218362764,
                    0.9968402278003687,
                    0.024334235682722208,
                    0.14618490576433446,
                    0.06701735490468957,
                    0.99325456754503,
                    0.2524713091952484,
                    0.007337644446449994,
                    0.12156751368683802,
                    0.10699786460803962,
                    0.4492400931708159,
                    0.5469730688601718,
                    0.1060633330444207,
                    0.052202800761130506,
                    0.05933166314813358,
                    0.32234197171525136,
                    0.17976233982950268,
                ],
            },
        ),
        (
            100,
            0.1,
            Pinned {
                sum: 168.7977119327205,
                weighted: 8506.271978895147,
                alarms: 8,
                every_250th: [
                    0.0,
                    0.007927934935833133,
                    0.0,
                    0.04017451357617333,
                    0.22032312681865746,
                    0.0017584191425766228,
                    0.03192598215067823,
                    0.03861426018291171,
                    0.21391358111008996,
                    0.0011075928254409742,
                    0.025065150915697085,
                    0.03815882965607634,
                    0.011388082155849914,
                    0.012519804416787498,
                    0.036416046913423955,
                    0.03379172911034265,
                    0.006905375536148845,
                    0.016190368293496436,
                    0.03517219921092439,
                    0.03304505444391538,
                ],
            },
        ),
    ];

    /// What is pinned of one run: the sum of the scores, their sum weighted by position (so a
    /// score moved to another sample shows), how many reach 0.5, and every 250th score.
    struct Pinned {
        sum: f64,
        weighted: f64,
        alarms: usize,
        every_250th: [f64; 20],
    }

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

    /// The scores of the default and of a small window, pinned to 1e-12 (each score) and 1e-9
    /// (sums of 5000): speed work on `robust_z` and `SortedWindow` must not change a score.
    /// (Not bit-exact: release and debug builds may round the last bit of `ln`/`exp`
    /// differently.)
    #[test]
    fn scores_on_a_fixed_series_are_pinned() {
        for &(window, range_floor, ref pinned) in PINNED {
            let mut d = RobustZ::new(window, range_floor, 10);
            let scores: Vec<f64> = pinned_series()
                .into_iter()
                .enumerate()
                .map(|(i, value)| d.update(i as f64, value))
                .collect();
            let sum: f64 = scores.iter().sum();
            let weighted: f64 = scores
                .iter()
                .enumerate()
                .map(|(i, s)| s * (1 + i % 101) as f64)
                .sum();
            let alarms = scores.iter().filter(|s| **s >= 0.5).count();
            assert!(
                (sum - pinned.sum).abs() < 1e-9,
                "window {window}: sum {sum}"
            );
            assert!(
                (weighted - pinned.weighted).abs() < 1e-9,
                "window {window}: weighted sum {weighted}"
            );
            assert_eq!(alarms, pinned.alarms, "window {window}");
            for (k, expected) in pinned.every_250th.iter().enumerate() {
                let got = scores[k * 250];
                assert!(
                    (got - expected).abs() < 1e-12,
                    "window {window}: score {} is {got}, pinned {expected}",
                    k * 250
                );
            }
        }
    }

    #[test]
    fn explain_gives_the_median_scale_and_z_of_the_alarm() {
        let mut d = RobustZ::new(20, 0.0, 5);
        assert_eq!(d.explain(), None);
        for i in 0..40 {
            d.update(f64::from(i), 10.0 + f64::from(i % 3));
        }
        d.update(40.0, 100.0);
        let why = d.explain().unwrap_or_default();
        assert!(
            why.starts_with("robust_z: 100.000000 lies +") && why.contains("median 11.000000"),
            "{why}"
        );
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
