//! The risk score's vocabulary (scoring a run lives in `report::risk_assessment`, since it
//! needs the run's results): the probability of failure in production, from the profile's scenario
//! probabilities and what the run observed under each fault; and remediation suggestions
//! when the risk exceeds the tolerance of what is at risk.
//!
//! Per scenario (one applied fault `s`):
//!
//! - failure(s) = 1 when a threshold fails under `s` (each probe threshold re-judged at its
//!   effective limit on the probe's checks overlapping `s`, and any `during s` threshold that
//!   failed); otherwise the measured degradation, the largest over probes of
//!   max(error_rate under − error_rate in the baseline, (pQ under / pQ baseline − 1) / 4),
//!   clamped to [0, 1] (a pQ five times the baseline counts as a full failure; the baseline
//!   pQ is taken as at least 1 ms; Q is 99 with 500 checks or more, else the quantile that
//!   leaves 5 checks above it: see `degradation`).
//! - risk(s) = probability(s) × failure(s): the chance, within the horizon, that the fault
//!   happens in production and does to users what it did in the run.
//!
//! Per resource r: risk(r) = 1 − Π over observed scenarios s of (1 − risk(s) × reach(s, r)),
//! reach being P(r fails | the scenario's resource fails) from the dependency map.
//!
//! Uncertainty (`degradation`): the failure comes with a 95% bootstrap interval over the
//! checks (both ends 1 when a threshold failed), and so does the risk. The verdict is
//! `above tolerance` when the whole interval is above the tolerance, `within tolerance` when it
//! is all at or below, else `inconclusive` (the interval straddles the tolerance, or fewer than
//! `MIN_CHECKS` checks were made under the fault). Suggestions follow `above tolerance` only.
//!
//! Tolerance: 10% × the criticality factor of the dynamic thresholds (low 15%, medium 10%,
//! high 7.5%, critical 5%). A scenario uses its resource's, or medium.

use super::thresholds::factor;
use crate::faults::FailureMode;
use crate::plan::{Criticality, Plan};
use serde::{Deserialize, Serialize};

pub const BASE_TOLERANCE: f64 = 0.10;
pub use super::degradation::{LATENCY_SPAN, MIN_CHECKS};

pub fn tolerance(c: Criticality) -> f64 {
    BASE_TOLERANCE * factor(c)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskReport {
    pub scenarios: Vec<ScenarioRisk>,
    pub resources: Vec<ResourceRisk>,
    pub suggestions: Vec<Suggestion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRisk {
    pub fault: String,
    pub kind: String,
    pub resource: Option<String>,
    pub probability: f64,
    /// Whether the fault was applied and some probe was checked under it.
    pub observed: bool,
    pub failure: f64,
    /// Thresholds whose verdict failed and that concern this fault (`during` it, or judged
    /// on checks that overlapped it).
    pub thresholds_failed: Vec<String>,
    /// Thresholds that passed over the run but whose limit the checks under this fault
    /// exceeded (judged again on those checks alone).
    #[serde(default)]
    pub exceeded_under: Vec<String>,
    pub error_increase: f64,
    pub latency_ratio: Option<f64>,
    pub risk: f64,
    pub tolerance: f64,
    /// The failure modes observed (`latency`, `dependency_failure`, ...).
    pub modes: Vec<String>,
    /// The failure's 95% interval (both 1 when a threshold failed) and the risk's.
    #[serde(default)]
    pub failure_low: f64,
    #[serde(default)]
    pub failure_high: f64,
    #[serde(default)]
    pub risk_low: f64,
    #[serde(default)]
    pub risk_high: f64,
    /// The fewest checks any probe made under the fault.
    #[serde(default)]
    pub checks: usize,
    /// `above tolerance`, `within tolerance`, `inconclusive: ...` or `not observed`.
    #[serde(default)]
    pub verdict: String,
}

/// Whether a scenario's risk is above its tolerance, as far as its interval tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Above,
    Within,
    Inconclusive,
    NotObserved,
}

impl ScenarioRisk {
    pub fn verdict_kind(&self) -> Verdict {
        if !self.observed {
            Verdict::NotObserved
        } else if self.verdict == "above tolerance" {
            Verdict::Above
        } else if self.verdict == "within tolerance" {
            Verdict::Within
        } else {
            Verdict::Inconclusive
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRisk {
    pub resource: String,
    pub criticality: Criticality,
    pub risk: f64,
    pub tolerance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub fault: String,
    pub resource: Option<String>,
    pub mode: String,
    pub text: String,
    /// Where the text came from: `scenario` (the file or its imports), `stdlib`, or a script.
    pub source: String,
    /// A rhai script that refines the suggestion (run by the caller, in the sandbox).
    pub script: Option<std::path::PathBuf>,
}

/// One remediation entry: a failure mode and its advice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remedy {
    pub mode: String,
    pub text: String,
    pub source: String,
    pub script: Option<std::path::PathBuf>,
}

/// The failure modes a scenario's observation points to: the kind's own, unless what was
/// seen (latency more than errors, dependents that failed) says otherwise.
pub fn modes(
    kind: &str,
    errors: f64,
    latency: f64,
    has_dependents: bool,
    spof: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let mode = crate::faults::failure_mode(kind);
    let primary = match mode {
        FailureMode::Starvation => mode.name(),
        _ if latency > errors => FailureMode::Latency.name(),
        FailureMode::HttpError => mode.name(),
        _ if has_dependents => FailureMode::DependencyFailure.name(),
        _ => mode.name(),
    };
    out.push(primary.to_string());
    if spof {
        out.push("single_point_of_failure".to_string());
    }
    out
}

/// The remediation table of `plan`: its own entries (the file and its imports) first, then
/// the stdlib's entries (loaded into the plan by the checker) that it did not already import.
pub fn remedies(plan: &Plan) -> Vec<Remedy> {
    let mut out: Vec<Remedy> = plan
        .remediations
        .iter()
        .map(|r| Remedy {
            mode: r.mode.clone(),
            text: r.text.clone(),
            source: "scenario".to_string(),
            script: r.script.clone(),
        })
        .collect();
    for r in &plan.loaded.stdlib_remediations {
        if !out.iter().any(|o| o.mode == r.mode && o.text == r.text) {
            out.push(Remedy {
                mode: r.mode.clone(),
                text: r.text.clone(),
                source: "stdlib".to_string(),
                script: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_modes_follow_the_observation() {
        assert_eq!(modes("latency", 0.0, 0.5, true, false), vec!["latency"]);
        assert_eq!(
            modes("kill", 0.9, 0.0, true, true),
            vec!["dependency_failure", "single_point_of_failure"]
        );
        assert_eq!(modes("kill", 0.9, 0.0, false, false), vec!["crash"]);
        assert_eq!(
            modes("cpu_limit", 0.0, 2.0, false, false),
            vec!["starvation"]
        );
        assert_eq!(
            modes("http_error", 0.3, 0.0, false, false),
            vec!["http_error"]
        );
    }

    #[test]
    fn the_stdlib_table_covers_every_mode() {
        let table = crate::check::loader::stdlib_remediations();
        for mode in [
            "latency",
            "http_error",
            "dependency_failure",
            "starvation",
            "single_point_of_failure",
            "crash",
        ] {
            assert!(table.iter().any(|r| r.mode == mode), "{mode}");
        }
    }

    #[test]
    fn tolerance_shrinks_with_criticality() {
        assert!((tolerance(Criticality::Medium) - 0.10).abs() < 1e-12);
        assert!((tolerance(Criticality::Critical) - 0.05).abs() < 1e-12);
        assert!((tolerance(Criticality::Low) - 0.15).abs() < 1e-12);
    }
}
