//! `Cadence`: the sampling interval of a stream, learnt from its first timestamps.

/// Timestamp steps looked at before the interval is fixed.
const STEPS: usize = 15;

/// Learns the typical sampling interval (the median of the first positive timestamp steps),
/// then answers how many samples make up a period such as a day. Repeated, backwards or missing
/// timestamps are skipped; a stream without usable timestamps has no cadence.
#[derive(Debug, Clone, Default)]
pub struct Cadence {
    last: Option<f64>,
    steps: Vec<f64>,
    interval: Option<f64>,
    looked: usize,
}

impl Cadence {
    pub fn new() -> Cadence {
        Cadence::default()
    }

    /// Feeds one timestamp; returns true once the interval is settled (or known to be unknown).
    pub fn observe(&mut self, timestamp_secs: f64) -> bool {
        if self.is_settled() {
            return true;
        }
        self.looked += 1;
        if timestamp_secs.is_finite() {
            if let Some(last) = self.last {
                let step = timestamp_secs - last;
                if step > 0.0 {
                    self.steps.push(step);
                }
            }
            self.last = Some(timestamp_secs);
        }
        if self.steps.len() >= STEPS || self.looked >= 4 * STEPS {
            self.settle();
        }
        self.is_settled()
    }

    fn settle(&mut self) {
        self.looked = usize::MAX;
        if self.steps.is_empty() {
            return;
        }
        self.steps.sort_by(f64::total_cmp);
        self.interval = Some(self.steps[self.steps.len() / 2]);
        self.steps = Vec::new();
    }

    pub fn is_settled(&self) -> bool {
        self.looked == usize::MAX
    }

    /// The typical interval between samples, in seconds, once settled.
    pub fn interval_secs(&self) -> Option<f64> {
        self.interval
    }

    /// How many samples span `period_secs`, if the interval is known and the period is at least
    /// two samples long.
    pub fn samples_per(&self, period_secs: f64) -> Option<usize> {
        let interval = self.interval?;
        let samples = (period_secs / interval).round();
        (samples >= 2.0 && samples.is_finite()).then_some(samples as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_five_minute_samples_despite_glitches() {
        let mut cadence = Cadence::new();
        let mut t = 0.0;
        let mut settled = false;
        for i in 0..40 {
            // A repeated and a backwards timestamp, and one gap, among regular 300 s steps.
            let stamp = match i {
                5 => t,
                9 => t - 1000.0,
                _ => {
                    t += if i == 12 { 3000.0 } else { 300.0 };
                    t
                }
            };
            settled = cadence.observe(stamp);
        }
        assert!(settled);
        assert_eq!(cadence.interval_secs(), Some(300.0));
        assert_eq!(cadence.samples_per(86_400.0), Some(288));
    }

    #[test]
    fn no_timestamps_means_no_cadence() {
        let mut cadence = Cadence::new();
        for _ in 0..100 {
            cadence.observe(f64::NAN);
        }
        assert!(cadence.is_settled());
        assert_eq!(cadence.samples_per(86_400.0), None);
    }
}
