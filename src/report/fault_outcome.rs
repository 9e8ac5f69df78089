//! One fired fault activation: planned against applied, with the delay.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultOutcome {
    pub fault: String,
    pub kind: String,
    pub target: String,
    /// When the timeline said, on the run's clock (ready + warm-up + the activation's start).
    pub planned_ms: f64,
    pub planned_duration_ms: f64,
    /// When it was applied and reverted; `None` if it was not (see `error`), or (reverted)
    /// when it was undone in the teardown.
    pub applied_ms: Option<f64>,
    pub reverted_ms: Option<f64>,
    /// Applied minus planned.
    pub delay_ms: Option<f64>,
    pub detail: String,
    pub error: Option<String>,
    /// The kind's check found nothing it changed (`None`: it took effect, or was not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_effect: Option<String>,
    /// The effect measured over a window after applying (CPU use under `cpu_limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<String>,
}

impl FaultOutcome {
    /// When the fault's effect ended: its revert, or `end_ms` if it was undone at the end.
    pub fn window(&self, end_ms: f64) -> Option<(f64, f64)> {
        let from = self.applied_ms?;
        Some((from, self.reverted_ms.unwrap_or(end_ms).max(from)))
    }
}
