//! A telemetry series (`api.cpu`, `api_backend.connections`) over the run.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemetrySeries {
    /// `<source>.<metric>`.
    pub series: String,
    /// (ms on the run's clock, value); at most [`MAX_POINTS`] (evenly thinned).
    pub points: Vec<(f64, f64)>,
}

/// Points kept per series: enough for a plot a page wide.
pub const MAX_POINTS: usize = 2000;

impl TelemetrySeries {
    pub fn metric(&self) -> &str {
        self.series.rsplit_once('.').map_or("", |(_, m)| m)
    }

    pub fn source(&self) -> &str {
        self.series
            .rsplit_once('.')
            .map_or(&self.series, |(s, _)| s)
    }
}
