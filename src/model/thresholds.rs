//! Dynamic thresholds: a threshold's tolerance scales with the criticality of what it
//! measures. More critical → less tolerance.
//!
//! Factor by criticality: low 1.5, medium 1 (the default: thresholds as written), high 0.75,
//! critical 0.5. An upper limit (`<`, `<=`) becomes `limit × factor`; a lower limit (`>`,
//! `>=`) on a fraction (availability) keeps `1 − (1 − limit) × factor`, so the allowed
//! shortfall scales; any other lower limit becomes `limit / factor`; `==` and `!=` are kept.
//!
//! Whose criticality: a resource metric's resource; a link metric's upstream resource (or
//! the dependency reached through the link); a probe's link when the probe's address is the
//! link's listening address, then that link's resource; otherwise medium.

use crate::plan::{Comparator, Criticality, MetricUnit, Plan, SourceKind, ThresholdPlan};
use serde::Serialize;

pub fn factor(c: Criticality) -> f64 {
    match c {
        Criticality::Low => 1.5,
        Criticality::Medium => 1.0,
        Criticality::High => 0.75,
        Criticality::Critical => 0.5,
    }
}

/// A threshold's written and effective limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectiveThreshold {
    pub text: String,
    pub criticality: Criticality,
    /// The resource whose criticality applies, if any.
    pub resource: Option<String>,
    pub factor: f64,
    pub unit: MetricUnit,
    pub written: f64,
    pub effective: f64,
}

/// The limit of `t` under `criticality`.
pub fn scale(t: &ThresholdPlan, criticality: Criticality) -> f64 {
    let f = factor(criticality);
    match t.op {
        Comparator::Lt | Comparator::Le => t.value * f,
        Comparator::Gt | Comparator::Ge if t.unit == MetricUnit::Fraction => {
            (1.0 - (1.0 - t.value) * f).clamp(0.0, 1.0)
        }
        Comparator::Gt | Comparator::Ge => t.value / f,
        Comparator::Eq | Comparator::Ne => t.value,
    }
}

/// The resource whose criticality governs a metric source.
pub fn resource_of(plan: &Plan, kind: SourceKind, source: &str) -> Option<String> {
    match kind {
        SourceKind::Resource => Some(source.to_string()),
        SourceKind::Link => link_resource(plan, source),
        SourceKind::Probe => {
            let probe = plan.probes.iter().find(|p| p.name == source)?;
            let address = match &probe.check {
                crate::plan::ProbeCheck::Http { url, .. } => url.clone(),
                crate::plan::ProbeCheck::Tcp { address } => address.clone(),
                crate::plan::ProbeCheck::Command { .. } => return None,
            };
            let link = plan.links.iter().find(|l| {
                address.contains(&format!("//{}", l.listen))
                    || address == l.listen
                    || address.contains(&format!("//{}/", l.listen))
            })?;
            link_resource(plan, &link.name)
        }
        SourceKind::Telemetry | SourceKind::Param => None,
    }
}

/// The resource behind a link: its upstream resource, or the dependency reached through it.
pub fn link_resource(plan: &Plan, link: &str) -> Option<String> {
    let l = plan.link(link)?;
    l.upstream_resource.clone().or_else(|| {
        plan.dependencies
            .iter()
            .find(|d| d.via.as_deref() == Some(link))
            .map(|d| d.to.clone())
    })
}

/// Every threshold of `plan` with its effective limit.
pub fn effective(plan: &Plan) -> Vec<EffectiveThreshold> {
    let lookup = super::profile::Lookup::new(plan);
    plan.thresholds
        .iter()
        .map(|t| {
            let resource = resource_of(plan, t.metric.source_kind, &t.metric.source);
            let criticality = resource
                .as_deref()
                .and_then(|r| lookup.resource(r))
                .map(|r| r.criticality)
                .unwrap_or(Criticality::Medium);
            EffectiveThreshold {
                text: t.text.clone(),
                criticality,
                resource,
                factor: factor(criticality),
                unit: t.unit,
                written: t.value,
                effective: scale(t, criticality),
            }
        })
        .collect()
}

/// Replaces every threshold's limit with its effective value (what `pfi run` judges).
pub fn apply(plan: &mut Plan) {
    let effective = effective(plan);
    for (t, e) in plan.thresholds.iter_mut().zip(effective) {
        t.value = e.effective;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Location, MetricRef};

    fn threshold(op: Comparator, unit: MetricUnit, value: f64) -> ThresholdPlan {
        ThresholdPlan {
            text: "x".into(),
            metric: MetricRef {
                source: "db".into(),
                source_kind: SourceKind::Resource,
                metric: "cpu".into(),
            },
            unit,
            op,
            value,
            window_ms: None,
            during: None,
            abort: false,
            abort_predicted_ms: None,
            at: Location {
                file: "f".into(),
                line: 1,
                column: 1,
                start: 0,
                end: 0,
            },
        }
    }

    #[test]
    fn more_critical_means_less_tolerance() {
        let p99 = threshold(Comparator::Lt, MetricUnit::Milliseconds, 400.0);
        assert_eq!(scale(&p99, Criticality::Low), 600.0);
        assert_eq!(scale(&p99, Criticality::Medium), 400.0);
        assert_eq!(scale(&p99, Criticality::High), 300.0);
        assert_eq!(scale(&p99, Criticality::Critical), 200.0);
        let availability = threshold(Comparator::Gt, MetricUnit::Fraction, 0.99);
        assert!((scale(&availability, Criticality::Critical) - 0.995).abs() < 1e-12);
        assert!((scale(&availability, Criticality::Low) - 0.985).abs() < 1e-12);
        let count = threshold(Comparator::Ge, MetricUnit::Count, 10.0);
        assert_eq!(scale(&count, Criticality::Critical), 20.0);
        let eq = threshold(Comparator::Eq, MetricUnit::Count, 3.0);
        assert_eq!(scale(&eq, Criticality::Critical), 3.0);
    }
}
