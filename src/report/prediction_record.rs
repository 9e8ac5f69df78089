//! A prediction of the `predict` block and whether it came true.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    /// When it was made, on the run's clock.
    pub at_ms: f64,
    /// The fault kind predicted (`memory_leak`).
    pub kind: String,
    pub pattern: String,
    pub resource: String,
    /// In [0, 1].
    pub confidence: f64,
    pub signals: Vec<SignalRecord>,
    /// When the predicted fault happened, if it did (run's clock).
    pub happened_ms: Option<f64>,
    pub evidence: Option<String>,
    /// Time from the prediction to the failure: `happened_ms - at_ms`.
    pub lead_ms: Option<f64>,
    /// When a metric it read was forecast to reach its limit (`limit expected in 40 s
    /// (25 s–70 s), confidence 0.93 within 1.0 min`: the calibrated probability of reaching it
    /// within the forecast's horizon), where a forecast exists.
    #[serde(default)]
    pub expected: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalRecord {
    pub metric: String,
    pub value: f64,
    pub anomaly: f64,
    pub trend: Option<String>,
}
