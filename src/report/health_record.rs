//! A resource's health checks and unhealthy periods.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthRecord {
    pub resource: String,
    pub check: String,
    pub checks: usize,
    pub failures: usize,
    pub unhealthy: Vec<UnhealthySpan>,
}

/// On the run's clock; `until_ms` `None`: still unhealthy at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnhealthySpan {
    pub from_ms: f64,
    pub until_ms: Option<f64>,
    pub detail: String,
}
