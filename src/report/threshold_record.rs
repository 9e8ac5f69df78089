//! A threshold and its verdict, as written and as judged.

use super::percent::value_in;
use crate::plan::{Comparator, MetricUnit};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdRecord {
    /// Exactly as written: the comparison, `over W`, `during F`, `abort`.
    pub text: String,
    /// `source.metric`.
    pub metric: String,
    pub unit: MetricUnit,
    pub op: Comparator,
    /// The limit judged (the written one scaled by the criticality of what it measures).
    pub limit: f64,
    /// The limit as written, when the criticality changed it.
    pub written_limit: Option<f64>,
    pub during: Option<String>,
    pub over_ms: Option<f64>,
    pub abort: bool,
    /// In the metric's unit (fractions as 0..1); `None` when nothing could be measured.
    pub measured: Option<f64>,
    pub passed: bool,
    /// Why it could not be measured.
    pub note: Option<String>,
    /// Not judged: it is `during` a fault left out of the run (`--profile top:N`).
    #[serde(default)]
    pub skipped: bool,
    /// Judged on too few samples to say (the note says how many): reported, and it does not
    /// fail the run unless the run was told so (`--fail-inconclusive`, then `passed` is false).
    #[serde(default)]
    pub inconclusive: bool,
}

impl ThresholdRecord {
    /// `PASS`, `FAIL`, `SKIP` or `INCONCLUSIVE`.
    pub fn status(&self) -> &'static str {
        if self.skipped {
            "SKIP"
        } else if self.inconclusive {
            "INCONCLUSIVE"
        } else if self.passed {
            "PASS"
        } else {
            "FAIL"
        }
    }

    /// `measured 50%` / `no samples while ...` / `not measured`.
    pub fn outcome(&self) -> String {
        match (self.measured, &self.note) {
            (Some(value), Some(note)) if self.inconclusive => {
                format!("measured {}, {note}", value_in(self.unit, value))
            }
            (Some(value), _) => format!("measured {}", value_in(self.unit, value)),
            (None, Some(note)) => note.clone(),
            (None, None) => "not measured".to_string(),
        }
    }

    /// The limit judged, in the metric's unit, with the written one when it differs.
    pub fn limit_text(&self) -> String {
        let limit = format!("{} {}", self.op.as_str(), value_in(self.unit, self.limit));
        match self.written_limit {
            Some(written) => format!(
                "{limit} (written {}, scaled by criticality)",
                value_in(self.unit, written)
            ),
            None => limit,
        }
    }

    /// The probe or series name and the metric of `source.metric`.
    pub fn source_and_metric(&self) -> (&str, &str) {
        self.metric.split_once('.').unwrap_or((&self.metric, ""))
    }
}
