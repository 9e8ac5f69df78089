//! `RollingZ`: the early-warning baseline of the precursor benchmark — a plain z-score of each
//! sample against the mean and standard deviation of the samples of the last `window` seconds.
//! Not a registered detector (it is what the detectors are measured against).

use std::collections::VecDeque;

/// The baseline's alarm threshold, chosen once by `cargo bench --bench precursors` on the
/// generated development corpus (seed 1: best F1 with at most one false alarm a day): 0.67,
/// |z| ≈ 8. `pfi detect --precursors` uses it unchanged on every corpus.
pub const BASELINE_THRESHOLD: f64 = 0.67;

/// A rolling z-score over a time window.
#[derive(Debug, Clone)]
pub struct RollingZ {
    window_secs: f64,
    samples: VecDeque<(f64, f64)>,
    sum: f64,
    sum_sq: f64,
}

impl RollingZ {
    pub fn new(window_secs: f64) -> RollingZ {
        RollingZ {
            window_secs,
            samples: VecDeque::new(),
            sum: 0.0,
            sum_sq: 0.0,
        }
    }

    /// |z| mapped into [0, 1) as |z| / (|z| + 4): 0.5 at four standard deviations; 0 until
    /// ten samples are in the window, and for a missing value (which is not learnt from).
    pub fn update(&mut self, t: f64, v: f64) -> f64 {
        if !v.is_finite() {
            return 0.0;
        }
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| t - at > self.window_secs)
        {
            if let Some((_, old)) = self.samples.pop_front() {
                self.sum -= old;
                self.sum_sq -= old * old;
            }
        }
        let n = self.samples.len() as f64;
        let score = if n >= 10.0 {
            let mean = self.sum / n;
            let sd = (self.sum_sq / n - mean * mean).max(0.0).sqrt();
            let z = if sd > 0.0 { (v - mean).abs() / sd } else { 0.0 };
            z / (z + 4.0)
        } else {
            0.0
        };
        self.samples.push_back((t, v));
        self.sum += v;
        self.sum_sq += v * v;
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_a_jump_against_the_window_and_forgets_old_samples() {
        let mut z = RollingZ::new(60.0);
        for i in 0..60 {
            let v = if i % 2 == 0 { 9.0 } else { 11.0 };
            assert!(z.update(f64::from(i), v) < 0.5);
        }
        // Mean 10, sd 1: 18 is z = 8, score 8 / 12.
        let s = z.update(60.0, 18.0);
        assert!((s - 8.0 / 12.0).abs() < 0.02, "{s}");
        assert_eq!(z.update(61.0, f64::NAN), 0.0);
        // After a quiet minute at 18 the window holds only 18s: sd 0, score 0.
        for i in 62..130 {
            z.update(f64::from(i), 18.0);
        }
        assert_eq!(z.update(130.0, 18.0), 0.0);
    }
}
