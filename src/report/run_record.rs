//! `RunRecord`: everything one run did and measured, typed, on one clock (ms since the run
//! began, the clock of the log lines). The run builds it once; every report renders it (the
//! terminal summary, JUnit, Markdown, HTML) and the JSON journal is its serialisation,
//! versioned so that `pfi report` can read it back and say when a journal is too old.

use super::fault_outcome::FaultOutcome;
use super::health_record::HealthRecord;
use super::mitigation_record::MitigationRecord;
use super::percent::percent;
use super::prediction_record::PredictionRecord;
use super::probe_record::ProbeRecord;
use super::telemetry_series::TelemetrySeries;
use super::threshold_record::ThresholdRecord;
use crate::model::risk::RiskReport;
use crate::run::RunEvent;
use serde::{Deserialize, Serialize};

/// The `format` field of every journal.
pub const JOURNAL_FORMAT: &str = "pfi-journal";
/// The journal version this pfi writes and reads. Version 1 is the unversioned journal of
/// earlier pfi (preformatted events, no time series).
pub const JOURNAL_VERSION: u32 = 2;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndKind {
    Completed,
    /// An abort threshold failed.
    Aborted,
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Always [`JOURNAL_FORMAT`].
    pub format: String,
    /// [`JOURNAL_VERSION`] when written by this pfi.
    pub version: u32,
    /// The pfi that ran it.
    pub pfi_version: String,
    pub run_id: String,
    pub experiment: String,
    /// The scenario file as given on the command line.
    pub scenario: String,
    pub seed: u64,
    pub ledger: String,
    /// `completed`, `aborted: <why>` or `interrupted: <signal>`.
    pub ending: String,
    pub end: EndKind,
    pub completed: bool,
    /// Completed, every threshold passed and everything was undone.
    pub passed: bool,
    /// Whole run, from the first log line to the end of the teardown.
    pub wall_ms: f64,
    /// When every resource was ready (the warm-up baseline begins); `None` if never.
    pub ready_ms: Option<f64>,
    /// The declared warm-up (`baseline` of the experiment).
    pub warmup_ms: f64,
    /// The declared fault phase (`duration` of the experiment).
    pub duration_ms: f64,
    pub thresholds: Vec<ThresholdRecord>,
    pub faults: Vec<FaultOutcome>,
    pub probes: Vec<ProbeRecord>,
    /// Resource, link and probe telemetry (`<source>.<metric>`).
    pub telemetry: Vec<TelemetrySeries>,
    pub health: Vec<HealthRecord>,
    /// Whether the scenario has a `predict` block.
    pub predicting: bool,
    pub predictions: Vec<PredictionRecord>,
    /// The scenario's `mitigate` rules.
    pub mitigation_rules: usize,
    pub mitigations: Vec<MitigationRecord>,
    pub risk: RiskReport,
    /// Exits and restarts of started resources during the run, and what explains each.
    #[serde(default)]
    pub resource_events: Vec<crate::run::ResourceEvent>,
    /// Reverts or stops that failed at the end (the system may still be faulty).
    pub teardown_errors: Vec<String>,
    pub events: Vec<RunEvent>,
}

impl RunRecord {
    /// When the warm-up ends and the faults may begin, on the run's clock.
    pub fn faults_from_ms(&self) -> Option<f64> {
        self.ready_ms.map(|ready| ready + self.warmup_ms)
    }

    /// One line saying what failed and why, or that everything passed.
    pub fn headline(&self) -> String {
        let failed: Vec<&ThresholdRecord> = self.thresholds.iter().filter(|t| !t.passed).collect();
        let mut parts: Vec<String> = Vec::new();
        match self.end {
            EndKind::Aborted => parts.push(format!("the run {}", self.ending)),
            EndKind::Interrupted => parts.push(format!("the run was {}", self.ending)),
            EndKind::Completed => {}
        }
        if let Some(first) = failed.first() {
            let more = match failed.len() {
                1 => String::new(),
                n => format!(
                    " (and {} more threshold{})",
                    n - 1,
                    if n > 2 { "s" } else { "" }
                ),
            };
            parts.push(format!("{} failed: {}{more}", first.text, first.outcome()));
        }
        if !self.teardown_errors.is_empty() {
            parts.push(format!(
                "{} thing(s) could not be undone: {}",
                self.teardown_errors.len(),
                self.teardown_errors[0]
            ));
        }
        let above: Vec<String> = self
            .risk
            .scenarios
            .iter()
            .filter(|s| s.observed && s.risk > s.tolerance)
            .map(|s| format!("{} {}", s.fault, percent(s.risk)))
            .chain(
                self.risk
                    .resources
                    .iter()
                    .filter(|r| r.risk > r.tolerance)
                    .map(|r| format!("resource {} {}", r.resource, percent(r.risk))),
            )
            .collect();
        if parts.is_empty() {
            let inconclusive = self
                .thresholds
                .iter()
                .filter(|t| t.inconclusive && t.passed)
                .count();
            parts.push(if inconclusive == 0 {
                format!(
                    "every threshold passed ({}) and everything was undone",
                    self.thresholds.len()
                )
            } else {
                format!(
                    "no threshold failed ({} passed, {inconclusive} inconclusive: too few samples) and everything was undone",
                    self.thresholds.len() - inconclusive
                )
            });
        }
        if !above.is_empty() {
            parts.push(format!("risk above tolerance: {}", above.join(", ")));
        }
        parts.join("; ")
    }
}
