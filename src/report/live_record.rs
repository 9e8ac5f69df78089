//! The record of a run still running, for the service's live charts: what it measured so
//! far (checks, telemetry), the faults applied and reverted and the mitigations fired so far
//! (from its events), its predictions so far, and its thresholds not yet judged. Times are
//! on the run's clock, as in the finished record, so the charts drawn from it are the
//! report's charts.

use super::fault_outcome::FaultOutcome;
use super::mitigation_record::MitigationRecord;
use super::prediction_record::{PredictionRecord, SignalRecord};
use super::probe_record::{Check, ProbeRecord};
use super::record_builder::thin;
use super::run_record::{EndKind, JOURNAL_FORMAT, JOURNAL_VERSION, RunRecord};
use super::telemetry_series::{MAX_POINTS, TelemetrySeries};
use super::threshold_record::ThresholdRecord;
use super::threshold_text::written_text;
use crate::model::risk::RiskReport;
use crate::plan::Plan;
use crate::predict::Prediction;
use crate::run::{EventKind, ProbeChecks, RunEvent, SeriesPoints};

/// What a running run has so far.
pub struct LiveInput<'a> {
    pub plan: &'a Plan,
    pub scenario: &'a str,
    pub seed: u64,
    /// Now, on the run's clock.
    pub now_ms: f64,
    /// When every resource was ready, on the run's clock.
    pub ready_ms: Option<f64>,
    /// When the metrics store's clock started, on the run's clock.
    pub store_origin_ms: f64,
    pub checks: &'a [ProbeChecks],
    pub telemetry: &'a [SeriesPoints],
    pub events: &'a [RunEvent],
    pub predictions: &'a [Prediction],
}

impl RunRecord {
    /// The record so far of a run that has not ended. Its `wall_ms` is the planned end (or
    /// now, if later), so the time axis of its charts stays put while the run goes on.
    pub fn live(input: LiveInput<'_>) -> RunRecord {
        let plan = input.plan;
        let store = input.store_origin_ms;
        let planned_end = input.ready_ms.map_or(0.0, |ready| {
            ready + plan.experiment.baseline_ms + plan.experiment.duration_ms
        });
        let mut faults: Vec<FaultOutcome> = Vec::new();
        let mut run_id = String::new();
        let mut mitigations: Vec<MitigationRecord> = Vec::new();
        for event in input.events {
            match &event.kind {
                EventKind::RunStarted { run_id: id, .. } => run_id = id.clone(),
                EventKind::FaultApplied {
                    fault,
                    kind,
                    target,
                    duration_ms,
                } => faults.push(FaultOutcome {
                    fault: fault.clone(),
                    kind: kind.clone(),
                    target: target.clone(),
                    planned_ms: event.at_ms,
                    planned_duration_ms: *duration_ms,
                    applied_ms: Some(event.at_ms),
                    reverted_ms: None,
                    delay_ms: None,
                    detail: String::new(),
                    error: None,
                    no_effect: None,
                    measured: None,
                }),
                EventKind::FaultReverted { fault } => {
                    if let Some(open) = faults
                        .iter_mut()
                        .rev()
                        .find(|f| &f.fault == fault && f.reverted_ms.is_none())
                    {
                        open.reverted_ms = Some(event.at_ms);
                    }
                }
                EventKind::MitigationFired {
                    trigger,
                    prediction,
                    confidence,
                    action,
                    outcome,
                    ok,
                } => mitigations.push(MitigationRecord {
                    at_ms: event.at_ms,
                    trigger: trigger.clone(),
                    prediction: prediction.clone(),
                    confidence: *confidence,
                    action: action.clone(),
                    outcome: outcome.clone(),
                    ok: *ok,
                }),
                _ => {}
            }
        }
        let thresholds = plan
            .thresholds
            .iter()
            .map(|t| ThresholdRecord {
                text: written_text(t),
                metric: format!("{}.{}", t.metric.source, t.metric.metric),
                unit: t.unit,
                op: t.op,
                limit: t.value,
                written_limit: None,
                during: t.during.clone(),
                over_ms: t.window_ms,
                abort: t.abort,
                measured: None,
                passed: true,
                note: Some("judged when the run ends".into()),
                skipped: false,
                inconclusive: false,
            })
            .collect();
        let probes = input
            .checks
            .iter()
            .map(|c| ProbeRecord {
                probe: c.probe.clone(),
                overall: None,
                warmup: None,
                baseline: None,
                under: Vec::new(),
                checks: c
                    .checks
                    .iter()
                    .map(|&(at, latency, ok)| Check {
                        at_ms: store + at,
                        latency_ms: latency,
                        ok,
                    })
                    .collect(),
            })
            .collect();
        let telemetry = input
            .telemetry
            .iter()
            .map(|s| TelemetrySeries {
                series: s.series.clone(),
                points: thin(&s.points, MAX_POINTS)
                    .map(|&(at, v)| (store + at, v))
                    .collect(),
            })
            .collect();
        let predictions = input
            .predictions
            .iter()
            .map(|p| PredictionRecord {
                at_ms: store + p.at_ms,
                kind: p.kind.clone(),
                pattern: p.pattern.clone(),
                resource: p.resource.clone(),
                confidence: p.confidence,
                signals: p
                    .signals
                    .iter()
                    .map(|s| SignalRecord {
                        metric: s.metric.clone(),
                        value: s.value,
                        anomaly: s.anomaly,
                        trend: s.trend.clone(),
                    })
                    .collect(),
                happened_ms: None,
                evidence: None,
                lead_ms: None,
                expected: p.expected.as_ref().map(|c| format!("limit {c}")),
            })
            .collect();
        RunRecord {
            format: JOURNAL_FORMAT.to_string(),
            version: JOURNAL_VERSION,
            pfi_version: env!("CARGO_PKG_VERSION").to_string(),
            run_id,
            experiment: plan.experiment.name.clone(),
            scenario: input.scenario.to_string(),
            seed: input.seed,
            ledger: String::new(),
            ending: "running".into(),
            end: EndKind::Completed,
            completed: false,
            passed: false,
            // A watch has no planned end: its axis ends now.
            wall_ms: if planned_end.is_finite() && planned_end < input.now_ms + 3_600_000.0 {
                input.now_ms.max(planned_end)
            } else {
                input.now_ms
            },
            ready_ms: input.ready_ms,
            warmup_ms: plan.experiment.baseline_ms,
            duration_ms: plan.experiment.duration_ms,
            thresholds,
            faults,
            probes,
            telemetry,
            health: Vec::new(),
            predicting: plan.predict.is_some(),
            predictions,
            mitigation_rules: plan.mitigations.len(),
            mitigations,
            risk: RiskReport {
                scenarios: Vec::new(),
                resources: Vec::new(),
                suggestions: Vec::new(),
            },
            resource_events: Vec::new(),
            teardown_errors: Vec::new(),
            events: input.events.to_vec(),
        }
    }
}
