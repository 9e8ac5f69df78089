//! `Crossing`: when a metric is expected to reach a limit, with an interval.

use serde::Serialize;
use std::fmt;

/// A forecast that a metric reaches `limit`: expected in `eta_secs`, between `low_secs` and
/// `high_secs` (a 90% interval from the uncertainty of the trend; `high_secs` is infinite when
/// the trend could be flat), and the probability that it happens within the forecaster's horizon.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Crossing {
    pub limit: f64,
    pub eta_secs: f64,
    pub low_secs: f64,
    pub high_secs: f64,
    /// Probability of reaching the limit within `horizon_secs` (the forecaster's own).
    pub probability: f64,
    /// The same, calibrated (`calibration::FORECAST`): what a user is shown.
    pub confidence: f64,
    pub horizon_secs: f64,
}

/// A duration in seconds as people read it: `45 s`, `4.5 min`, `2.1 h`, `>1 d`.
pub fn human_secs(secs: f64) -> String {
    if !secs.is_finite() || secs > 86_400.0 * 30.0 {
        return "never".to_string();
    }
    if secs < 120.0 {
        format!("{:.0} s", secs.max(0.0))
    } else if secs < 7200.0 {
        format!("{:.1} min", secs / 60.0)
    } else if secs < 172_800.0 {
        format!("{:.1} h", secs / 3600.0)
    } else {
        format!("{:.1} d", secs / 86_400.0)
    }
}

impl Crossing {
    /// `expected in 40 s (25 s–70 s), confidence 0.93 within 2.0 min`.
    pub fn with_confidence(&self) -> String {
        format!(
            "{self}, confidence {:.2} within {}",
            self.confidence,
            human_secs(self.horizon_secs)
        )
    }
}

impl fmt::Display for Crossing {
    /// `expected in 40 s (25 s–70 s)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let high = if self.high_secs.is_finite() {
            human_secs(self.high_secs)
        } else {
            "never".to_string()
        };
        write!(
            f,
            "expected in {} ({}–{})",
            human_secs(self.eta_secs),
            human_secs(self.low_secs),
            high
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_like_a_person_would_say_it() {
        let c = Crossing {
            limit: 64.0,
            eta_secs: 40.2,
            low_secs: 25.0,
            high_secs: 70.0,
            probability: 0.9,
            confidence: 0.95,
            horizon_secs: 120.0,
        };
        assert_eq!(c.to_string(), "expected in 40 s (25 s–70 s)");
        assert_eq!(
            c.with_confidence(),
            "expected in 40 s (25 s–70 s), confidence 0.95 within 2.0 min"
        );
        let open = Crossing {
            high_secs: f64::INFINITY,
            eta_secs: 600.0,
            ..c
        };
        assert_eq!(open.to_string(), "expected in 10.0 min (25 s–never)");
    }
}
