//! A firing of a `mitigate` rule: what triggered it, the action, the outcome.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MitigationRecord {
    /// On the run's clock.
    pub at_ms: f64,
    pub trigger: String,
    pub prediction: Option<String>,
    pub confidence: Option<f64>,
    pub action: String,
    pub outcome: String,
    pub ok: bool,
}
