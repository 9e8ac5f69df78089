//! After a run: did each predicted fault happen, when, and how long after the prediction (the
//! lead time)?
//!
//! A prediction of kind K about resource R came true at the first of these at or after the
//! prediction's time (all on the metrics store's clock):
//! - a fault of kind K — or of a kind that realises K ([`REALISED_BY`]) — applied by the plan
//!   to R (to any target when the prediction has no resource);
//! - for `memory_leak` and `crash_loop`: R's process died or exited (`R.up` fell to 0) or was
//!   replaced (`R.restarts` went up);
//! - for `memory_leak`: R's memory reached its limit: the container's `R.memory_limit`, or the
//!   `limit` of a `memory_limit` fault of the plan on R.
//!
//! The lead time is that moment minus the prediction's time; a prediction that did not come
//! true has none.

use super::prediction::Prediction;
use crate::monitor::{MetricsStore, Selection};
use crate::plan::{Plan, Value};
use serde::Serialize;
use std::time::Duration;

/// Fault kinds of the plan that count as a predicted kind happening.
pub const REALISED_BY: &[(&str, &[&str])] = &[
    ("cpu_starvation", &["cpu_limit"]),
    ("disk_contention", &["io_limit"]),
    ("crash_loop", &["kill", "restart"]),
    ("connection_exhaustion", &["limit_data", "down"]),
    (
        "dependency_degradation",
        &["latency", "jitter", "http_error", "partition"],
    ),
];

/// A fault the run applied, on the store's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultStart {
    pub fault: String,
    pub kind: String,
    pub target: String,
    pub at: Duration,
}

/// A prediction and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionOutcome {
    #[serde(flatten)]
    pub prediction: Prediction,
    /// When the predicted fault happened (ms on the store's clock), if it did.
    pub happened_ms: Option<f64>,
    /// What showed it had happened.
    pub evidence: Option<String>,
    /// `happened_ms - at_ms`.
    pub lead_ms: Option<f64>,
}

/// Judges every prediction against the faults the run applied and the telemetry it recorded.
pub fn outcomes(
    predictions: &[Prediction],
    plan: &Plan,
    applied: &[FaultStart],
    store: &MetricsStore,
) -> Vec<PredictionOutcome> {
    predictions
        .iter()
        .map(|prediction| {
            let from = Duration::from_secs_f64(prediction.at_ms.max(0.0) / 1000.0);
            let found = happened(prediction, plan, applied, store, from);
            let happened_ms = found.as_ref().map(|(at, _)| at.as_secs_f64() * 1000.0);
            PredictionOutcome {
                prediction: prediction.clone(),
                happened_ms,
                evidence: found.map(|(_, why)| why),
                lead_ms: happened_ms.map(|at| at - prediction.at_ms),
            }
        })
        .collect()
}

fn happened(
    prediction: &Prediction,
    plan: &Plan,
    applied: &[FaultStart],
    store: &MetricsStore,
    from: Duration,
) -> Option<(Duration, String)> {
    let kind = prediction.kind.as_str();
    let resource = prediction.resource.as_str();
    let realising: Vec<&str> = REALISED_BY
        .iter()
        .filter(|(k, _)| *k == kind)
        .flat_map(|(_, kinds)| kinds.iter().copied())
        .chain(std::iter::once(kind))
        .collect();
    let mut found: Vec<(Duration, String)> = applied
        .iter()
        .filter(|f| f.at >= from && realising.contains(&f.kind.as_str()))
        .filter(|f| resource.is_empty() || f.target == resource)
        .map(|f| {
            (
                f.at,
                format!("fault {} ({} on {}) applied", f.fault, f.kind, f.target),
            )
        })
        .collect();
    if !resource.is_empty() && matches!(kind, "memory_leak" | "crash_loop") {
        let points =
            |metric: &str| store.points(&format!("{resource}.{metric}"), &Selection::all());
        if let Some(p) = points("up").iter().find(|p| p.at >= from && p.value == 0.0) {
            found.push((p.at, format!("{resource} died or exited")));
        }
        let restarts = points("restarts");
        if let Some(pair) = restarts
            .windows(2)
            .find(|w| w[1].at >= from && w[1].value > w[0].value)
        {
            found.push((pair[1].at, format!("{resource} restarted")));
        }
    }
    if !resource.is_empty() && kind == "memory_leak" {
        let memory = store.points(&format!("{resource}.memory"), &Selection::all());
        let limits = store.points(&format!("{resource}.memory_limit"), &Selection::all());
        let fault_limit = plan
            .faults
            .iter()
            .filter(|f| f.kind == "memory_limit" && f.target == resource)
            .filter_map(|f| match f.params.get("limit") {
                Some(Value::Size(bytes)) => Some(*bytes),
                _ => None,
            })
            .fold(f64::INFINITY, f64::min);
        let reached = memory.iter().filter(|p| p.at >= from).find_map(|p| {
            let container = limits
                .iter()
                .rev()
                .find(|l| l.at <= p.at)
                .map_or(f64::INFINITY, |l| l.value);
            let limit = container.min(fault_limit);
            (limit.is_finite() && p.value >= limit).then_some((p.at, limit))
        });
        if let Some((at, limit)) = reached {
            found.push((
                at,
                format!(
                    "{resource} memory reached its limit ({} bytes)",
                    limit as u64
                ),
            ));
        }
    }
    found.into_iter().min_by_key(|(at, _)| *at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(kind: &str, resource: &str, at_ms: f64) -> Prediction {
        Prediction {
            at_ms,
            kind: kind.into(),
            pattern: kind.into(),
            resource: resource.into(),
            confidence: 0.9,
            signals: Vec::new(),
            expected: None,
        }
    }

    fn empty_plan() -> Plan {
        let checked = crate::check::check_text(
            std::path::Path::new("o.pfi"),
            "experiment \"o\" { duration 1s }\n",
        );
        checked.plan.expect("a valid plan")
    }

    #[test]
    fn a_death_after_the_prediction_is_the_leak_happening() {
        let store = MetricsStore::new();
        for i in 0..10u64 {
            store.record(
                "api.up",
                Duration::from_secs(i),
                if i < 7 { 1.0 } else { 0.0 },
            );
            store.record("api.restarts", Duration::from_secs(i), 0.0);
        }
        let plan = empty_plan();
        let made = [
            prediction("memory_leak", "api", 3000.0),
            prediction("memory_leak", "db", 3000.0),
            prediction("memory_leak", "api", 8000.0),
        ];
        let judged = outcomes(&made, &plan, &[], &store);
        assert_eq!(judged[0].happened_ms, Some(7000.0));
        assert_eq!(judged[0].lead_ms, Some(4000.0));
        assert!(judged[0].evidence.as_deref().unwrap().contains("died"));
        assert_eq!(judged[1].happened_ms, None);
        // Still down at 8 s and 9 s: the first sample at or after the prediction counts.
        assert_eq!(judged[2].lead_ms, Some(0.0));
    }

    #[test]
    fn faults_of_the_kind_or_realising_it_count_on_the_same_target() {
        let store = MetricsStore::new();
        let plan = empty_plan();
        let applied = [
            FaultStart {
                fault: "squeeze".into(),
                kind: "cpu_limit".into(),
                target: "db".into(),
                at: Duration::from_secs(5),
            },
            FaultStart {
                fault: "other".into(),
                kind: "cpu_limit".into(),
                target: "api".into(),
                at: Duration::from_secs(2),
            },
        ];
        let judged = outcomes(
            &[prediction("cpu_starvation", "db", 1500.0)],
            &plan,
            &applied,
            &store,
        );
        assert_eq!(judged[0].lead_ms, Some(3500.0));
        assert!(judged[0].evidence.as_deref().unwrap().contains("squeeze"));
    }

    #[test]
    fn memory_reaching_a_container_limit_counts() {
        let store = MetricsStore::new();
        for i in 0..10u64 {
            store.record("db.memory_limit", Duration::from_secs(i), 100.0);
            store.record("db.memory", Duration::from_secs(i), 20.0 * i as f64);
        }
        let judged = outcomes(
            &[prediction("memory_leak", "db", 1000.0)],
            &empty_plan(),
            &[],
            &store,
        );
        assert_eq!(judged[0].happened_ms, Some(5000.0));
    }
}
