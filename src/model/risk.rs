//! The risk score: the probability of failure in production, from the profile's scenario
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

use super::profile::{Lookup, Profile};
use super::thresholds::factor;
use crate::plan::{Criticality, Plan, SourceKind};
use crate::run::RunReport;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

pub const BASE_TOLERANCE: f64 = 0.10;
pub use super::degradation::LATENCY_SPAN;
use super::degradation::MIN_CHECKS;

pub fn tolerance(c: Criticality) -> f64 {
    BASE_TOLERANCE * factor(c)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskReport {
    pub scenarios: Vec<ScenarioRisk>,
    pub resources: Vec<ResourceRisk>,
    pub suggestions: Vec<Suggestion>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioRisk {
    pub fault: String,
    pub kind: String,
    pub resource: Option<String>,
    pub probability: f64,
    /// Whether the fault was applied and some probe was checked under it.
    pub observed: bool,
    pub failure: f64,
    pub thresholds_failed: Vec<String>,
    pub error_increase: f64,
    pub latency_ratio: Option<f64>,
    pub risk: f64,
    pub tolerance: f64,
    /// The failure modes observed (`latency`, `dependency_failure`, ...).
    pub modes: Vec<String>,
    /// The failure's 95% interval (both 1 when a threshold failed) and the risk's.
    pub failure_low: f64,
    pub failure_high: f64,
    pub risk_low: f64,
    pub risk_high: f64,
    /// The fewest checks any probe made under the fault.
    pub checks: usize,
    /// `above tolerance`, `within tolerance`, `inconclusive: ...` or `not observed`.
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceRisk {
    pub resource: String,
    pub criticality: Criticality,
    pub risk: f64,
    pub tolerance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Remedy {
    pub mode: String,
    pub text: String,
    pub source: String,
    pub script: Option<std::path::PathBuf>,
}

fn probe_metric(figures: &crate::run::ProbeFigures, metric: &str) -> Option<f64> {
    Some(match metric {
        "p50" => figures.p50_ms,
        "p99" => figures.p99_ms,
        "mean" => figures.mean_ms,
        "max" => figures.max_ms,
        "error_rate" => figures.error_rate,
        "availability" => 1.0 - figures.error_rate,
        "count" => figures.count as f64,
        _ => return None,
    })
    .filter(|v| v.is_finite())
}

/// The failure modes a scenario's observation points to.
fn modes(kind: &str, errors: f64, latency: f64, has_dependents: bool, spof: bool) -> Vec<String> {
    let mut out = Vec::new();
    let primary = match kind {
        "cpu_limit" | "memory_limit" | "io_limit" => "starvation",
        _ if latency > errors => "latency",
        "http_error" => "http_error",
        _ if has_dependents => "dependency_failure",
        "kill" | "stop" | "restart" | "pause" => "crash",
        "latency" | "jitter" | "bandwidth" => "latency",
        _ => "dependency_failure",
    };
    out.push(primary.to_string());
    if spof {
        out.push("single_point_of_failure".to_string());
    }
    out
}

/// The risk of every scenario and resource of `plan` (thresholds at their effective limits)
/// given `profile` and the `report` of a run, with suggestions from `remedies` (the first
/// entries for a mode win; every entry for a mode is suggested).
pub fn assess(
    plan: &Plan,
    profile: &Profile,
    report: &RunReport,
    remedies: &[Remedy],
) -> RiskReport {
    // Lookups built once (a profile can have tens of thousands of scenarios).
    let lookup = Lookup::new(plan);
    let applied_faults: HashSet<&str> = report
        .faults
        .iter()
        .filter(|f| f.applied_ms.is_some())
        .map(|f| f.fault.as_str())
        .collect();
    // Per probe, its figures under each fault (the first entry of a fault).
    let under_of: Vec<HashMap<&str, &crate::run::ProbeFigures>> = report
        .probes
        .iter()
        .map(|p| {
            let mut m = HashMap::with_capacity(p.under.len());
            for (f, figures) in &p.under {
                m.entry(f.as_str()).or_insert(figures);
            }
            m
        })
        .collect();
    let mut outlooks: HashMap<&str, &super::profile::ResourceOutlook> = HashMap::new();
    for o in &profile.resources {
        outlooks.entry(o.name.as_str()).or_insert(o);
    }
    let depended_on: HashSet<&str> = plan.dependencies.iter().map(|d| d.to.as_str()).collect();
    let mut scenarios = Vec::new();
    for s in &profile.scenarios {
        let applied = applied_faults.contains(s.fault.as_str());
        let mut failed: Vec<String> = Vec::new();
        let (mut errors, mut latency, mut ratio, mut observed) = (0.0f64, 0.0f64, None, false);
        let (mut low, mut high, mut checks, mut conclusive) = (0.0f64, 0.0f64, usize::MAX, true);
        for (probe, under_of) in report.probes.iter().zip(&under_of) {
            let Some(under) = under_of.get(s.fault.as_str()).copied() else {
                continue;
            };
            observed = true;
            match probe.degradation.iter().find(|(f, _)| *f == s.fault) {
                Some((_, d)) => {
                    low = low.max(d.low);
                    high = high.max(d.high);
                    checks = checks.min(d.checks);
                    conclusive &= d.conclusive();
                }
                None => {
                    // No baseline to compare with: nothing to conclude from this probe.
                    checks = checks.min(under.count);
                    conclusive = false;
                }
            }
            for t in &plan.thresholds {
                if t.metric.source_kind != SourceKind::Probe || t.metric.source != probe.probe {
                    continue;
                }
                if t.during.as_deref().is_some_and(|d| d != s.fault) {
                    continue;
                }
                if let Some(v) = probe_metric(under, &t.metric.metric)
                    && !t.op.holds(v, t.value)
                    && !failed.contains(&t.text)
                {
                    failed.push(t.text.clone());
                }
            }
            if let Some(base) = &probe.baseline {
                if base.error_rate.is_finite() && under.error_rate.is_finite() {
                    errors = errors.max(under.error_rate - base.error_rate);
                }
                if base.p99_ms.is_finite() && under.p99_ms.is_finite() {
                    let r = under.p99_ms / base.p99_ms.max(1.0);
                    ratio = Some(ratio.map_or(r, |x: f64| x.max(r)));
                    // The latency term at the quantile the checks support (`degradation`).
                    let term = match probe.degradation.iter().find(|(f, _)| *f == s.fault) {
                        Some((_, d)) => d.latency,
                        None => (r - 1.0) / LATENCY_SPAN,
                    };
                    latency = latency.max(term);
                }
            }
        }
        for (v, t) in report.thresholds.iter().zip(&plan.thresholds) {
            if t.during.as_deref() == Some(s.fault.as_str())
                && !v.passed
                && !failed.contains(&t.text)
            {
                failed.push(t.text.clone());
            }
        }
        let observed = observed && applied;
        let failure = if !observed {
            0.0
        } else if failed.is_empty() {
            errors.max(latency).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let (failure_low, failure_high) = if !observed {
            (0.0, 0.0)
        } else if failed.is_empty() {
            (low.min(failure), high.max(failure))
        } else {
            (1.0, 1.0)
        };
        let checks = if checks == usize::MAX { 0 } else { checks };
        let criticality = s
            .resource
            .as_deref()
            .and_then(|r| lookup.resource(r))
            .map(|r| r.criticality)
            .unwrap_or(Criticality::Medium);
        let outlook = s.resource.as_deref().and_then(|r| outlooks.get(r));
        let has_dependents = s
            .resource
            .as_deref()
            .is_some_and(|r| depended_on.contains(r));
        let spof = outlook.is_some_and(|o| o.single_point_of_failure);
        let tolerance = tolerance(criticality);
        let (risk_low, risk_high) = (s.probability * failure_low, s.probability * failure_high);
        let verdict = if !observed {
            "not observed".to_string()
        } else if !failed.is_empty() {
            // A failed threshold is a verdict of its own, however few the checks.
            if s.probability > tolerance {
                "above tolerance".to_string()
            } else {
                "within tolerance".to_string()
            }
        } else if !conclusive {
            format!(
                "inconclusive: {checks} checks under {} (at least {MIN_CHECKS} needed)",
                s.fault
            )
        } else if risk_low > tolerance {
            "above tolerance".to_string()
        } else if risk_high <= tolerance {
            "within tolerance".to_string()
        } else {
            format!(
                "inconclusive: risk between {:.2}% and {:.2}%, around the tolerance {:.1}%",
                risk_low * 100.0,
                risk_high * 100.0,
                tolerance * 100.0
            )
        };
        scenarios.push(ScenarioRisk {
            fault: s.fault.clone(),
            kind: s.kind.clone(),
            resource: s.resource.clone(),
            probability: s.probability,
            observed,
            failure,
            thresholds_failed: failed,
            error_increase: errors.max(0.0),
            latency_ratio: ratio,
            risk: s.probability * failure,
            tolerance,
            modes: if observed && failure > 0.0 {
                modes(&s.kind, errors, latency, has_dependents, spof)
            } else {
                Vec::new()
            },
            failure_low,
            failure_high,
            risk_low,
            risk_high,
            checks,
            verdict,
        });
    }

    // Per resource, the factors (1 − risk(s) × reach(s, r)) of the observed scenarios that
    // reach it, in scenario order.
    let mut profiled: HashMap<&str, &super::profile::Scenario> = HashMap::new();
    for p in &profile.scenarios {
        profiled.entry(p.fault.as_str()).or_insert(p);
    }
    let mut factors: HashMap<&str, Vec<f64>> = HashMap::new();
    for s in scenarios.iter().filter(|s| s.observed) {
        let Some(p) = profiled.get(s.fault.as_str()) else {
            continue;
        };
        let mut seen: HashSet<&str> = HashSet::new();
        for (name, reach) in p.reach.iter() {
            if seen.insert(name.as_str()) {
                factors
                    .entry(name.as_str())
                    .or_default()
                    .push(1.0 - s.risk * reach);
            }
        }
    }
    let resources = plan
        .resources
        .iter()
        .map(|r| {
            let survive: f64 = factors.get(r.name.as_str()).into_iter().flatten().product();
            ResourceRisk {
                resource: r.name.clone(),
                criticality: r.criticality,
                risk: 1.0 - survive,
                tolerance: tolerance(r.criticality),
            }
        })
        .collect();

    let mut suggestions = Vec::new();
    for s in scenarios
        .iter()
        .filter(|s| s.verdict_kind() == Verdict::Above)
    {
        for mode in &s.modes {
            for remedy in remedies.iter().filter(|r| r.mode == *mode) {
                if suggestions
                    .iter()
                    .any(|x: &Suggestion| x.fault == s.fault && x.text == remedy.text)
                {
                    continue;
                }
                suggestions.push(Suggestion {
                    fault: s.fault.clone(),
                    resource: s.resource.clone(),
                    mode: mode.clone(),
                    text: remedy.text.clone(),
                    source: remedy.source.clone(),
                    script: remedy.script.clone(),
                });
            }
        }
    }
    RiskReport {
        scenarios,
        resources,
        suggestions,
    }
}

/// The stdlib table (`std/remediation`), built into the binary.
pub fn stdlib_remedies() -> Vec<Remedy> {
    let Some((_, text)) = crate::check::loader::STDLIB
        .iter()
        .find(|(name, _)| *name == "std/remediation")
    else {
        return Vec::new();
    };
    let Ok((file, _)) = crate::syntax::parse(crate::diagnostic::FileId(0), text) else {
        return Vec::new();
    };
    file.items
        .iter()
        .filter_map(|i| match i {
            crate::syntax::ast::Item::Remediation(r) => Some(Remedy {
                mode: r.mode.node.clone(),
                text: r.text.node.clone(),
                source: "stdlib".to_string(),
                script: None,
            }),
            _ => None,
        })
        .collect()
}

/// The remediation table of `plan`: its own entries (the file and its imports) first, then
/// the stdlib's entries that it did not already import.
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
    for r in stdlib_remedies() {
        if !out.iter().any(|o| o.mode == r.mode && o.text == r.text) {
            out.push(r);
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
        let table = stdlib_remedies();
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
