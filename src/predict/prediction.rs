//! A prediction: the prediction loop's output during `pfi run`, the mitigation engine's input,
//! and a journal entry. One type shared by both so that neither depends on the other's
//! internals: the loop sends `Prediction`s on a channel, the mitigation engine receives them.

use super::crossing::Crossing;
use serde::Serialize;

/// One signal that drove a prediction: a watched metric and what the loop read from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    /// `source.metric`, e.g. `api.memory`.
    pub metric: String,
    /// The latest value of the metric.
    pub value: f64,
    /// The detector's anomaly score of the latest sample, in `[0, 1]`.
    pub anomaly: f64,
    /// `rising`, `falling` or `flat`, when the pattern read the metric's trend.
    pub trend: Option<String>,
}

/// A fault the loop expects, from a pattern that matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// When, in ms since the run's clock started (the metrics store's clock).
    pub at_ms: f64,
    /// The fault kind predicted (a pattern's `predicts`, e.g. `memory_leak`).
    pub kind: String,
    /// The pattern that matched.
    pub pattern: String,
    /// The resource (or other source) the pattern was bound to.
    pub resource: String,
    /// In `[0, 1]`; see the prediction loop's documentation for the formula.
    pub confidence: f64,
    pub signals: Vec<Signal>,
    /// When a metric the pattern read is expected to reach its limit, where a forecast exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Crossing>,
}
