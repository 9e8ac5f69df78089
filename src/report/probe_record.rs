//! A probe's checks as a time series, and its figures over the run's phases.

use serde::{Deserialize, Serialize};

/// One check: when it was sent (run's clock), how long it took, whether it succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub at_ms: f64,
    pub latency_ms: f64,
    pub ok: bool,
}

/// A probe's figures over some of its checks; latencies in ms, the error rate a fraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub count: usize,
    pub error_rate: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRecord {
    pub probe: String,
    /// Every check.
    pub overall: Option<Figures>,
    /// The checks of the declared warm-up, before any fault.
    pub warmup: Option<Figures>,
    /// Every check that overlapped no fault (warm-up, gaps, recovery included).
    pub baseline: Option<Figures>,
    /// The checks that overlapped each fault.
    pub under: Vec<(String, Figures)>,
    pub checks: Vec<Check>,
}
