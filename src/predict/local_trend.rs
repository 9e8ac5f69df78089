//! `LocalTrend`: a robust, exponentially weighted local linear trend with prediction intervals.
//!
//! A weighted least-squares line through the recent samples, each weighted `exp(-age / tau)`
//! (age in seconds, so irregular sampling and gaps are handled by the clock, not by counting
//! samples). The weighted sums are kept relative to the newest timestamp, so an update is O(1)
//! and the memory is a dozen numbers whatever the length of the stream.
//!
//! Robustness:
//! - each sample enters the fit *clipped* to the one-step prediction ± `clip` residual scales
//!   (a Huber-style fit: a blip moves the line by a bounded amount);
//! - the residual scale is an exponentially weighted mean absolute one-step error (× 1.2533 to
//!   estimate a standard deviation), of clipped errors too;
//! - a *level shift* is a run of `shift_run` consecutive one-step errors beyond `clip` scales on
//!   the same side: the line restarts from the new level (a step is not a trend, and a line
//!   fitted across a step would extrapolate it into a false crossing), refitted to the samples of
//!   that run (the first evidence of the new regime: a ramp that starts abruptly has its slope
//!   at once).
//!
//! The uncertainty of the line is the textbook one of weighted least squares (independent
//! errors of the estimated scale): `var(slope) = σ² Σw²(t−t̄)² / (Σw(t−t̄)²)²` and so on, so a
//! forecast `h` seconds ahead has a mean, the variance of that mean, and the variance of one
//! future sample (the mean's plus σ²).

use super::surprise::ln_erfc;
use std::collections::VecDeque;

/// Mean absolute deviation × this estimates the standard deviation of normal errors.
const MEAN_ABS_TO_SD: f64 = 1.2533;
/// Samples over which the residual scale is averaged (an exponential average of this length).
const SCALE_SAMPLES: f64 = 100.0;

/// The standard normal distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    if x.is_nan() {
        return 0.5;
    }
    0.5 * ln_erfc(-x / std::f64::consts::SQRT_2).exp()
}

/// The line's forecast `h` seconds after the newest sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendForecast {
    /// The fitted mean at `now + h`.
    pub mean: f64,
    /// Standard deviation of that mean (the line's own uncertainty).
    pub mean_sd: f64,
    /// Standard deviation of one future sample there (the line's and the noise's).
    pub sample_sd: f64,
}

/// The robust exponentially weighted local linear trend (see the module documentation).
#[derive(Debug, Clone)]
pub struct LocalTrend {
    tau: f64,
    clip: f64,
    shift_run: usize,
    /// Timestamp of the newest sample.
    now: Option<f64>,
    /// Values are stored minus this reference (the first value after a restart): keeps the
    /// sums well conditioned whatever the magnitude of the metric.
    origin: f64,
    // Σw, Σw·t, Σw·t², Σw·y, Σw·t·y with t relative to `now`.
    w: f64,
    wt: f64,
    wtt: f64,
    wy: f64,
    wty: f64,
    // Σw², Σw²·t, Σw²·t² (for the variances).
    w2: f64,
    w2t: f64,
    w2tt: f64,
    /// Mean absolute one-step error, and how many errors it averages so far.
    abs_error: f64,
    errors: f64,
    /// Consecutive one-step errors beyond `clip` scales: +n above, -n below.
    run: i64,
    /// Samples since the last restart.
    samples: usize,
    /// The time of the first sample after the last restart.
    since: f64,
    /// Smoothed interval between samples, seconds.
    step: f64,
    restarts: u64,
    /// The last `shift_run` samples (what a restart refits to).
    recent: VecDeque<(f64, f64)>,
}

impl LocalTrend {
    /// A trend with memory `tau_secs`, clipping at `clip` residual scales and restarting after
    /// `shift_run` consecutive clipped errors on one side (0 = never).
    pub fn new(tau_secs: f64, clip: f64, shift_run: usize) -> LocalTrend {
        LocalTrend {
            tau: tau_secs.max(1.0e-9),
            clip: clip.max(0.1),
            shift_run,
            now: None,
            origin: 0.0,
            w: 0.0,
            wt: 0.0,
            wtt: 0.0,
            wy: 0.0,
            wty: 0.0,
            w2: 0.0,
            w2t: 0.0,
            w2tt: 0.0,
            abs_error: 0.0,
            errors: 0.0,
            run: 0,
            samples: 0,
            since: 0.0,
            step: 0.0,
            restarts: 0,
            recent: VecDeque::with_capacity(shift_run),
        }
    }

    /// Feeds one sample (a non-finite value is ignored; a timestamp that does not advance
    /// counts as the same instant, so repeated or backwards timestamps never break the fit).
    /// Returns whether the sample restarted the line (a level shift).
    pub fn update(&mut self, timestamp_secs: f64, value: f64) -> bool {
        if !value.is_finite() {
            return false;
        }
        let t = match self.now {
            Some(now) if timestamp_secs.is_finite() => timestamp_secs.max(now),
            Some(now) => now,
            None if timestamp_secs.is_finite() => timestamp_secs,
            None => 0.0,
        };
        let mut shifted = false;
        if self.samples == 0 {
            self.restart_at(t, value);
        } else {
            let dt = t - self.now.unwrap_or(t);
            if dt > 0.0 {
                self.step = if self.step == 0.0 {
                    dt
                } else {
                    self.step + 0.05 * (dt - self.step)
                };
            }
            self.advance(dt);
            let predicted = self.level();
            let error = value - predicted;
            let scale = self.scale();
            let limit = self.clip * scale;
            let clipped = if scale > 0.0 && self.errors >= 10.0 {
                error.clamp(-limit, limit)
            } else {
                error
            };
            if scale > 0.0 && self.errors >= 10.0 && error.abs() > limit {
                let side = error.signum() as i64;
                self.run = if self.run.signum() == side {
                    self.run + side
                } else {
                    side
                };
            } else {
                self.run = 0;
            }
            let rate = 1.0 / (self.errors + 1.0).min(SCALE_SAMPLES);
            self.abs_error += rate * (clipped.abs() - self.abs_error);
            self.errors += 1.0;
            if self.shift_run > 0 && self.run.unsigned_abs() as usize >= self.shift_run {
                // A level shift: restart the line on the run that showed it (the earlier samples
                // of the run are in `recent`), keep the noise scale.
                let run: Vec<(f64, f64)> = self
                    .recent
                    .iter()
                    .skip(self.recent.len() + 1 - self.shift_run.min(self.recent.len() + 1))
                    .copied()
                    .chain(std::iter::once((t, value)))
                    .collect();
                let mut first = true;
                for (at, v) in run {
                    if first {
                        self.restart_at(at, v);
                        self.now = Some(at);
                        first = false;
                    } else {
                        self.advance(at - self.now.unwrap_or(at));
                        self.now = Some(at);
                        self.add(v);
                    }
                }
                self.restarts += 1;
                shifted = true;
            } else {
                self.add(predicted + clipped);
            }
        }
        if self.shift_run > 0 {
            if self.recent.len() == self.shift_run {
                self.recent.pop_front();
            }
            self.recent.push_back((t, value));
        }
        self.now = Some(t);
        if !self.is_finite() {
            // Only hostile magnitudes get here (sums beyond f64): start afresh.
            *self = LocalTrend::new(self.tau, self.clip, self.shift_run);
        }
        shifted
    }

    fn restart_at(&mut self, t: f64, value: f64) {
        self.origin = value;
        self.w = 0.0;
        self.wt = 0.0;
        self.wtt = 0.0;
        self.wy = 0.0;
        self.wty = 0.0;
        self.w2 = 0.0;
        self.w2t = 0.0;
        self.w2tt = 0.0;
        self.run = 0;
        self.samples = 0;
        self.since = t;
        self.add(value);
    }

    /// Moves the time origin `dt` seconds forward and decays every weight.
    fn advance(&mut self, dt: f64) {
        if dt <= 0.0 {
            return;
        }
        let f = (-dt / self.tau).exp();
        let f2 = f * f;
        self.wtt = f * (self.wtt - 2.0 * dt * self.wt + dt * dt * self.w);
        self.wt = f * (self.wt - dt * self.w);
        self.w *= f;
        self.wty = f * (self.wty - dt * self.wy);
        self.wy *= f;
        self.w2tt = f2 * (self.w2tt - 2.0 * dt * self.w2t + dt * dt * self.w2);
        self.w2t = f2 * (self.w2t - dt * self.w2);
        self.w2 *= f2;
    }

    /// Adds a value at the current instant (t = 0).
    fn add(&mut self, value: f64) {
        self.w += 1.0;
        self.wy += value - self.origin;
        self.w2 += 1.0;
        self.samples += 1;
    }

    fn is_finite(&self) -> bool {
        [
            self.w,
            self.wt,
            self.wtt,
            self.wy,
            self.wty,
            self.w2,
            self.w2t,
            self.w2tt,
            self.abs_error,
        ]
        .iter()
        .all(|v| v.is_finite())
    }

    /// The fitted (weighted mean time, mean value, Σw(t−t̄)²), values relative to `origin`.
    fn moments(&self) -> (f64, f64, f64) {
        if self.w <= 0.0 {
            return (0.0, 0.0, 0.0);
        }
        let t_mean = self.wt / self.w;
        let y_mean = self.wy / self.w;
        let stt = (self.wtt - t_mean * self.wt).max(0.0);
        (t_mean, y_mean, stt)
    }

    /// The slope, value units per second (0 until the samples span some time).
    pub fn slope(&self) -> f64 {
        let (t_mean, y_mean, stt) = self.moments();
        if stt <= 1.0e-12 * self.tau * self.tau * self.w.max(1.0) {
            return 0.0;
        }
        (self.wty - t_mean * self.w * y_mean) / stt
    }

    /// The fitted level now.
    pub fn level(&self) -> f64 {
        let (t_mean, y_mean, _) = self.moments();
        self.origin + y_mean - self.slope() * t_mean
    }

    /// The residual scale (an estimate of the noise's standard deviation).
    pub fn scale(&self) -> f64 {
        MEAN_ABS_TO_SD * self.abs_error
    }

    /// The forecast `h` seconds ahead.
    pub fn forecast(&self, h: f64) -> TrendForecast {
        let (t_mean, _, stt) = self.moments();
        let slope = self.slope();
        let sigma2 = self.scale().powi(2);
        let mean = self.level() + slope * h;
        if self.w <= 0.0 {
            return TrendForecast {
                mean,
                mean_sd: 0.0,
                sample_sd: sigma2.sqrt(),
            };
        }
        let var_mean_y = sigma2 * self.w2 / (self.w * self.w);
        let (var_slope, cov) = if stt > 0.0 && slope != 0.0 {
            let s2tt = (self.w2tt - 2.0 * t_mean * self.w2t + t_mean * t_mean * self.w2).max(0.0);
            (
                sigma2 * s2tt / (stt * stt),
                sigma2 * (self.w2t - t_mean * self.w2) / (self.w * stt),
            )
        } else {
            (0.0, 0.0)
        };
        let lever = h - t_mean;
        let var = (var_mean_y + lever * lever * var_slope + 2.0 * lever * cov).max(0.0);
        TrendForecast {
            mean,
            mean_sd: var.sqrt(),
            sample_sd: (var + sigma2).sqrt(),
        }
    }

    /// The standard deviation of the slope.
    pub fn slope_sd(&self) -> f64 {
        let (t_mean, _, stt) = self.moments();
        if stt <= 0.0 {
            return f64::INFINITY;
        }
        let s2tt = (self.w2tt - 2.0 * t_mean * self.w2t + t_mean * t_mean * self.w2).max(0.0);
        self.scale() * s2tt.sqrt() / stt
    }

    /// Samples since the last restart.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Seconds covered since the last restart.
    pub fn span(&self) -> f64 {
        self.now.map_or(0.0, |now| now - self.since)
    }

    /// The typical interval between samples, seconds (0 until two timestamps differ).
    pub fn step(&self) -> f64 {
        self.step
    }

    /// How many level shifts restarted the line.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Numbers held (for `Detector::footprint`).
    pub fn footprint(&self) -> usize {
        20 + 2 * self.recent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(i: usize) -> f64 {
        ((i * 7919 + 13) % 101) as f64 / 101.0 - 0.5
    }

    #[test]
    fn a_clean_line_is_recovered() {
        let mut trend = LocalTrend::new(300.0, 4.0, 5);
        for i in 0..500 {
            trend.update(i as f64 * 5.0, 10.0 + 0.2 * i as f64 * 5.0);
        }
        assert!((trend.slope() - 0.2).abs() < 1e-6, "{}", trend.slope());
        assert!((trend.level() - (10.0 + 0.2 * 499.0 * 5.0)).abs() < 1e-3);
        let f = trend.forecast(100.0);
        assert!((f.mean - (10.0 + 0.2 * (499.0 * 5.0 + 100.0))).abs() < 1e-3);
    }

    #[test]
    fn the_slope_interval_covers_the_truth_and_narrows_with_data() {
        let mut trend = LocalTrend::new(600.0, 4.0, 5);
        let mut widths = Vec::new();
        for i in 0..2000 {
            trend.update(i as f64, 0.01 * i as f64 + 2.0 * noise(i));
            if i == 100 || i == 1000 {
                widths.push(trend.slope_sd());
            }
        }
        let (slope, sd) = (trend.slope(), trend.slope_sd());
        assert!((slope - 0.01).abs() < 3.0 * sd, "slope {slope} ± {sd}");
        assert!(widths[1] < widths[0], "{widths:?}");
        let f = trend.forecast(60.0);
        assert!(f.sample_sd > f.mean_sd && f.mean_sd > 0.0);
    }

    #[test]
    fn a_blip_barely_moves_the_line_and_a_step_restarts_it() {
        let mut trend = LocalTrend::new(300.0, 4.0, 5);
        for i in 0..400 {
            trend.update(i as f64, 50.0 + noise(i));
        }
        trend.update(400.0, 500.0);
        assert!(trend.slope().abs() < 0.01, "blip slope {}", trend.slope());
        for i in 401..410 {
            trend.update(i as f64, 50.0 + noise(i));
        }
        let mut restarted = false;
        for i in 410..429 {
            restarted |= trend.update(i as f64, 80.0 + noise(i));
        }
        assert!(restarted && trend.restarts() == 1);
        assert!((trend.level() - 80.0).abs() < 1.0, "{}", trend.level());
        // Refitted to the run that showed the shift: five samples already.
        assert!(trend.samples() >= 5 + 10, "{}", trend.samples());
    }

    #[test]
    fn repeated_and_backwards_timestamps_are_one_instant() {
        let mut trend = LocalTrend::new(60.0, 4.0, 0);
        for (t, v) in [
            (0.0, 1.0),
            (1.0, 2.0),
            (1.0, 2.0),
            (0.5, 2.0),
            (f64::NAN, 2.0),
        ] {
            trend.update(t, v);
        }
        assert!(trend.slope().is_finite() && trend.level().is_finite());
        assert_eq!(trend.span(), 1.0);
    }

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.644_853_6) - 0.95).abs() < 1e-6);
        assert!((normal_cdf(-3.0) - 0.001_349_898).abs() < 1e-7);
    }
}
