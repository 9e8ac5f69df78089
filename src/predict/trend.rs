//! `Trend`: is a metric rising, falling or flat, and how steadily?
//!
//! Over a sliding window of the last samples: the Theil–Sen slope (the median of the slopes
//! between every pair of samples, robust to outliers), Kendall's tau (how consistently later
//! samples sit above or below earlier ones: the strength, in [0, 1] once unsigned) and the
//! Mann–Kendall test of whether that consistency could be chance. The verdict is `Rising` or
//! `Falling` only when the trend is significant *and* its size over the window is at least
//! `min_change` of the metric's scale (its typical magnitude); otherwise `Flat`.
//!
//! Cost: O(n²) per update for a window of n samples (n ≤ `MAX_WINDOW`), fine for telemetry
//! sampled every second or slower; memory: the window.

use std::collections::VecDeque;

/// The largest window (its pairs are enumerated at every update).
pub const MAX_WINDOW: usize = 256;

/// Parameters of `Trend`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendConfig {
    /// Samples in the window (3 ..= `MAX_WINDOW`).
    pub window: usize,
    /// Mann–Kendall z-score the trend must reach (1.96 ≈ 95% two-sided confidence).
    pub confidence_z: f64,
    /// Smallest change over the window, as a fraction of the metric's scale, that counts.
    pub min_change: f64,
}

impl Default for TrendConfig {
    fn default() -> TrendConfig {
        TrendConfig {
            window: 30,
            confidence_z: 1.96,
            min_change: 0.05,
        }
    }
}

/// Which way a metric is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Rising,
    Falling,
    Flat,
}

/// The trend of the window after one update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendReading {
    pub direction: Direction,
    /// |Kendall's tau|, in [0, 1]: 0 = no order, 1 = every later sample is beyond every earlier
    /// one (in the trend's direction).
    pub strength: f64,
    /// The Theil–Sen slope in value units per second (0 when no two samples have increasing
    /// timestamps).
    pub slope_per_sec: f64,
    /// The slope times the window's time span: the change the trend explains.
    pub change: f64,
    /// `change` divided by the metric's scale (max of |median| and 1.4826 MAD of the window).
    pub relative_change: f64,
    /// The Mann–Kendall z-score (signed; |z| ≥ 1.96 is significant at 95%).
    pub z: f64,
    /// Samples in the window.
    pub samples: usize,
}

/// A streaming trend estimator over the last `window` samples.
#[derive(Debug, Clone)]
pub struct Trend {
    config: TrendConfig,
    samples: VecDeque<(f64, f64)>,
    scratch: Vec<f64>,
}

impl Trend {
    pub fn new(config: TrendConfig) -> Trend {
        let config = TrendConfig {
            window: config.window.clamp(3, MAX_WINDOW),
            ..config
        };
        Trend {
            samples: VecDeque::with_capacity(config.window),
            scratch: Vec::new(),
            config,
        }
    }

    /// Feeds one sample (non-finite values are skipped) and returns the current reading.
    pub fn update(&mut self, timestamp_secs: f64, value: f64) -> TrendReading {
        if value.is_finite() {
            if self.samples.len() == self.config.window {
                self.samples.pop_front();
            }
            self.samples.push_back((timestamp_secs, value));
        }
        self.reading()
    }

    /// The reading for the samples in the window.
    pub fn reading(&mut self) -> TrendReading {
        let n = self.samples.len();
        let flat = TrendReading {
            direction: Direction::Flat,
            strength: 0.0,
            slope_per_sec: 0.0,
            change: 0.0,
            relative_change: 0.0,
            z: 0.0,
            samples: n,
        };
        if n < 3 {
            return flat;
        }
        let mut s: i64 = 0;
        self.scratch.clear();
        for (i, (ti, vi)) in self.samples.iter().enumerate() {
            for (tj, vj) in self.samples.iter().skip(i + 1) {
                s += match vj.partial_cmp(vi) {
                    Some(std::cmp::Ordering::Greater) => 1,
                    Some(std::cmp::Ordering::Less) => -1,
                    _ => 0,
                };
                let dt = tj - ti;
                if dt > 0.0 && dt.is_finite() {
                    self.scratch.push((vj - vi) / dt);
                }
            }
        }
        let pairs = (n * (n - 1) / 2) as f64;
        let tau = s as f64 / pairs;
        let nf = n as f64;
        let variance = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
        let z = if s == 0 {
            0.0
        } else {
            (s as f64 - (s.signum() as f64)) / variance.sqrt()
        };
        let slope = median(&mut self.scratch).unwrap_or(0.0);
        let (first, last) = (self.samples[0].0, self.samples[n - 1].0);
        let span = if last > first { last - first } else { 0.0 };
        let change = slope * span;
        self.scratch.clear();
        self.scratch.extend(self.samples.iter().map(|(_, v)| *v));
        let level = median(&mut self.scratch).unwrap_or(0.0);
        for v in self.scratch.iter_mut() {
            *v = (*v - level).abs();
        }
        let spread = 1.4826 * median(&mut self.scratch).unwrap_or(0.0);
        let scale = level.abs().max(spread).max(f64::MIN_POSITIVE);
        let relative_change = change / scale;
        let significant = z.abs() >= self.config.confidence_z;
        let large = relative_change.abs() >= self.config.min_change;
        let direction = match (significant && large, tau > 0.0) {
            (true, true) => Direction::Rising,
            (true, false) => Direction::Falling,
            (false, _) => Direction::Flat,
        };
        TrendReading {
            direction,
            strength: tau.abs().min(1.0),
            slope_per_sec: slope,
            change,
            relative_change,
            z,
            samples: n,
        }
    }
}

fn median(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (_, upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = values[..n / 2]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    Some(0.5 * (lower + upper))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(values: impl IntoIterator<Item = f64>) -> TrendReading {
        let mut trend = Trend::new(TrendConfig::default());
        let mut reading = trend.reading();
        for (i, v) in values.into_iter().enumerate() {
            reading = trend.update(i as f64 * 10.0, v);
        }
        reading
    }

    fn wobble(i: usize) -> f64 {
        ((i * 7919) % 11) as f64 / 11.0 - 0.5
    }

    #[test]
    fn rising_latency_is_rising_with_its_slope() {
        let r = feed((0..30).map(|i| 100.0 + 2.0 * i as f64 + wobble(i)));
        assert_eq!(r.direction, Direction::Rising);
        assert!(r.strength > 0.9, "strength {}", r.strength);
        // 2 ms per sample, samples 10 s apart.
        assert!(
            (r.slope_per_sec - 0.2).abs() < 0.02,
            "slope {}",
            r.slope_per_sec
        );
        assert!(r.z > 1.96);
    }

    #[test]
    fn falling_is_falling() {
        let r = feed((0..30).map(|i| 50.0 - i as f64 + wobble(i)));
        assert_eq!(r.direction, Direction::Falling);
        assert!(r.slope_per_sec < 0.0 && r.relative_change < 0.0);
    }

    #[test]
    fn noise_and_constants_are_flat() {
        let r = feed((0..200).map(|i| 10.0 + wobble(i)));
        assert_eq!(r.direction, Direction::Flat);
        let r = feed((0..50).map(|_| 3.0));
        assert_eq!(
            (r.direction, r.strength, r.slope_per_sec),
            (Direction::Flat, 0.0, 0.0)
        );
    }

    #[test]
    fn a_significant_but_tiny_drift_is_flat() {
        // Steadily rising by 0.1% over the window: significant, but below min_change (5%).
        let r = feed((0..30).map(|i| 1000.0 + 0.03 * i as f64));
        assert!(r.z > 1.96 && r.strength > 0.99);
        assert_eq!(r.direction, Direction::Flat);
    }

    #[test]
    fn one_outlier_does_not_flip_the_slope() {
        let r = feed((0..30).map(|i| {
            if i == 29 {
                -500.0
            } else {
                5.0 + 0.5 * i as f64
            }
        }));
        assert_eq!(r.direction, Direction::Rising);
        assert!(
            (r.slope_per_sec - 0.05).abs() < 0.005,
            "slope {}",
            r.slope_per_sec
        );
    }

    #[test]
    fn too_few_samples_missing_values_and_bad_timestamps_are_safe() {
        let mut trend = Trend::new(TrendConfig::default());
        assert_eq!(trend.update(0.0, 1.0).direction, Direction::Flat);
        assert_eq!(trend.update(1.0, f64::NAN).samples, 1);
        // Repeated and backwards timestamps: no usable pair for the slope, tau still works.
        let mut same_time = Trend::new(TrendConfig::default());
        let mut r = same_time.reading();
        for i in 0..30 {
            r = same_time.update(5.0 - i as f64, i as f64);
        }
        assert_eq!(r.slope_per_sec, 0.0);
        assert!(r.strength > 0.99);
        assert_eq!(r.direction, Direction::Flat, "no time span, no change");
    }

    #[test]
    fn memory_is_the_window() {
        let mut trend = Trend::new(TrendConfig {
            window: 10,
            ..TrendConfig::default()
        });
        for i in 0..1000 {
            trend.update(f64::from(i), f64::from(i));
        }
        assert_eq!(trend.reading().samples, 10);
        assert!(trend.samples.capacity() < 64);
    }
}
