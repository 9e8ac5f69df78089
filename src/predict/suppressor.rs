//! `Suppressor`: one alarm per incident.
//!
//! Once a score reaches the alarm level, the following `hold` scores are silenced, so an
//! incident yields one early alarm instead of a stream of them (operators, and NAB, count every
//! repeated alarm as a false positive, and reward the earliest one). A score that escalates
//! (beats the alarm that started the hold by the factor `escalate`) still gets through and
//! restarts the hold: a small precursor must not hide the real incident that follows it.

/// Silences scores for `hold` samples after one reaches `level`, unless they escalate.
#[derive(Debug, Clone)]
pub struct Suppressor {
    level: f64,
    hold: usize,
    escalate: f64,
    remaining: usize,
    peak: f64,
}

impl Suppressor {
    /// Scores at or above `level` start a hold of `hold` samples; during it, a score passes only
    /// if it is at least `level` and more than `escalate` times the score that started the hold.
    pub fn new(level: f64, hold: usize, escalate: f64) -> Suppressor {
        Suppressor {
            level,
            hold,
            escalate: escalate.max(1.0),
            remaining: 0,
            peak: 0.0,
        }
    }

    /// Passes one score through.
    pub fn apply(&mut self, score: f64) -> f64 {
        if self.remaining > 0 {
            self.remaining -= 1;
            if score >= self.level && score > self.peak * self.escalate {
                self.peak = score;
                self.remaining = self.hold;
                return score;
            }
            return 0.0;
        }
        if score >= self.level {
            self.remaining = self.hold;
            self.peak = score;
        }
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escalating_score_gets_through_the_hold() {
        let mut s = Suppressor::new(0.3, 5, 2.0);
        let out: Vec<f64> = [0.35, 0.6, 0.8, 0.1]
            .into_iter()
            .map(|v| s.apply(v))
            .collect();
        assert_eq!(out, vec![0.35, 0.0, 0.8, 0.0]);
    }

    #[test]
    fn holds_after_an_alarm_then_rearms() {
        let mut s = Suppressor::new(0.5, 3, 10.0);
        let out: Vec<f64> = [0.1, 0.9, 0.9, 0.8, 0.7, 0.9, 0.2]
            .into_iter()
            .map(|v| s.apply(v))
            .collect();
        // The hold ends after three samples; the next alarm starts a new one.
        assert_eq!(out, vec![0.1, 0.9, 0.0, 0.0, 0.0, 0.9, 0.0]);
    }
}
