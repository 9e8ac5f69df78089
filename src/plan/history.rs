//! Incident history as the plan carries it: the rows of the experiment's history file, loaded
//! by the checker (`model::history` parses the text), so the later stages read no file.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Minor,
    Major,
    Critical,
}

impl Severity {
    pub fn parse(text: &str) -> Option<Severity> {
        Some(match text.to_ascii_lowercase().as_str() {
            "minor" | "low" => Severity::Minor,
            "major" | "medium" | "high" => Severity::Major,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// One incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Seconds since the Unix epoch.
    pub timestamp_s: f64,
    pub resource: String,
    pub resource_type: String,
    pub fault_kind: String,
    pub duration_ms: f64,
    pub root_cause: String,
    pub severity: Option<Severity>,
    /// Where it came from: the CSV line (header = line 1) or the JSON record (first = 1).
    pub row: usize,
}

/// A loaded incident log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub incidents: Vec<Incident>,
}

impl History {
    /// The span of the log in seconds (last timestamp − first); 0 for fewer than two incidents.
    pub fn span_s(&self) -> f64 {
        let min = self
            .incidents
            .iter()
            .map(|i| i.timestamp_s)
            .fold(f64::INFINITY, f64::min);
        let max = self
            .incidents
            .iter()
            .map(|i| i.timestamp_s)
            .fold(f64::NEG_INFINITY, f64::max);
        if max > min { max - min } else { 0.0 }
    }
}
