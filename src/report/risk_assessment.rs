//! Scoring a run's risk: the probability of failure in production, from the profile's
//! scenario probabilities and what the run observed under each fault (the formula is in
//! `model::risk`). It reads the run's results, so it lives in the report stage and `model`
//! stays pure.
//!
//! The reasons are the verdicts': a threshold is listed as failed only when its verdict
//! failed; a threshold that passed over its scope but whose limit the checks under a fault
//! exceed is listed apart (`exceeded_under`), and both make the scenario a full failure.

use super::threshold_text::written_text;
use crate::model::profile::{Lookup, Profile};
use crate::model::risk::{
    LATENCY_SPAN, MIN_CHECKS, Remedy, ResourceRisk, RiskReport, ScenarioRisk, Suggestion, Verdict,
    modes, tolerance,
};
use crate::plan::{Criticality, Plan, ProbeStat, SourceKind};
use crate::run::{ProbeFigures, RunReport};
use std::collections::{HashMap, HashSet};

fn probe_metric(figures: &ProbeFigures, metric: &str) -> Option<f64> {
    ProbeStat::parse(metric)
        .map(|stat| stat.value(&figures.stats()))
        .filter(|v| v.is_finite())
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
    let under_of: Vec<HashMap<&str, &ProbeFigures>> = report
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
    let mut outlooks: HashMap<&str, &crate::model::profile::ResourceOutlook> = HashMap::new();
    for o in &profile.resources {
        outlooks.entry(o.name.as_str()).or_insert(o);
    }
    let depended_on: HashSet<&str> = plan.dependencies.iter().map(|d| d.to.as_str()).collect();
    let mut scenarios = Vec::new();
    for s in &profile.scenarios {
        let applied = applied_faults.contains(s.fault.as_str());
        let mut failed: Vec<String> = Vec::new();
        let mut exceeded: Vec<String> = Vec::new();
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
            for (i, t) in plan.thresholds.iter().enumerate() {
                if t.metric.source_kind != SourceKind::Probe || t.metric.source != probe.probe {
                    continue;
                }
                if t.during.as_deref().is_some_and(|d| d != s.fault) {
                    continue;
                }
                let Some(v) = probe_metric(under, &t.metric.metric) else {
                    continue;
                };
                if t.op.holds(v, t.value) {
                    continue;
                }
                // The checks under this fault break the limit: a failure of the threshold's
                // own verdict, or (when the verdict passed over its whole scope) an excess
                // seen only under the fault — reported as such, never as "failed".
                let verdict_failed = report.thresholds.get(i).is_some_and(|v| !v.passed);
                let written = written_text(t);
                let list = if verdict_failed {
                    &mut failed
                } else {
                    &mut exceeded
                };
                if !list.contains(&written) {
                    list.push(written);
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
            let written = written_text(t);
            if t.during.as_deref() == Some(s.fault.as_str())
                && !v.passed
                && !failed.contains(&written)
            {
                failed.push(written);
            }
        }
        let observed = observed && applied;
        let failure = if !observed {
            0.0
        } else if failed.is_empty() && exceeded.is_empty() {
            errors.max(latency).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let (failure_low, failure_high) = if !observed {
            (0.0, 0.0)
        } else if failed.is_empty() && exceeded.is_empty() {
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
        } else if !failed.is_empty() || !exceeded.is_empty() {
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
            exceeded_under: exceeded,
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
    let mut profiled: HashMap<&str, &crate::model::profile::Scenario> = HashMap::new();
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
