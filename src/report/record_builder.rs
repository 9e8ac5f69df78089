//! Builds the `RunRecord` from what the interpreter returns, the plan and the risk: every
//! time moved onto the run's one clock (ms since the run began, the log's clock). The
//! interpreter keeps three (the journal's; fault records and health from the moment every
//! resource was ready; checks, telemetry, predictions and mitigations on the metrics
//! store's), and says where the other two start on the journal's.

use super::fault_outcome::FaultOutcome;
use super::health_record::{HealthRecord, UnhealthySpan};
use super::mitigation_record::MitigationRecord;
use super::prediction_record::{PredictionRecord, SignalRecord};
use super::probe_record::{Check, Figures, ProbeRecord};
use super::run_record::{EndKind, JOURNAL_FORMAT, JOURNAL_VERSION, RunRecord};
use super::telemetry_series::{MAX_POINTS, TelemetrySeries};
use super::threshold_record::ThresholdRecord;
use super::threshold_text::written_text;
use crate::model::risk::RiskReport;
use crate::plan::Plan;
use crate::run::{ProbeFigures, RunReport};

/// What the record is built from besides the run's report.
pub struct RecordInput<'a> {
    /// The plan as run (thresholds at their effective limits).
    pub plan: &'a Plan,
    /// Each threshold's limit as written, in plan order.
    pub written_limits: &'a [f64],
    /// The scenario file as given.
    pub scenario: &'a str,
    pub risk: RiskReport,
}

impl RunRecord {
    pub fn build(input: RecordInput<'_>, report: &RunReport) -> RunRecord {
        let plan = input.plan;
        let ready = report.ready_ms.unwrap_or(0.0);
        let store = report.store_origin_ms;
        let end = if report.ending.starts_with("aborted") {
            EndKind::Aborted
        } else if report.ending.starts_with("interrupted") {
            EndKind::Interrupted
        } else {
            EndKind::Completed
        };
        let thresholds = report
            .thresholds
            .iter()
            .zip(&plan.thresholds)
            .enumerate()
            .map(|(i, (verdict, t))| {
                let written = input.written_limits.get(i).copied().unwrap_or(t.value);
                ThresholdRecord {
                    text: written_text(t),
                    metric: format!("{}.{}", t.metric.source, t.metric.metric),
                    unit: t.unit,
                    op: t.op,
                    limit: t.value,
                    written_limit: ((written - t.value).abs() > 1e-12).then_some(written),
                    during: t.during.clone(),
                    over_ms: t.window_ms,
                    abort: t.abort,
                    measured: verdict.measured,
                    passed: verdict.passed,
                    note: verdict.note.clone(),
                    skipped: verdict.skipped,
                    inconclusive: verdict.inconclusive,
                }
            })
            .collect();
        let faults = report
            .faults
            .iter()
            .map(|f| FaultOutcome {
                fault: f.fault.clone(),
                kind: f.kind.clone(),
                target: f.target.clone(),
                planned_ms: ready + f.planned_ms,
                planned_duration_ms: f.planned_duration_ms,
                applied_ms: f.applied_ms.map(|t| ready + t),
                reverted_ms: f.reverted_ms.map(|t| ready + t),
                delay_ms: f.applied_ms.map(|t| t - f.planned_ms),
                detail: f.detail.clone(),
                error: f.error.clone(),
                no_effect: f.no_effect.clone(),
                measured: f.measured.clone(),
            })
            .collect();
        let probes = report
            .probes
            .iter()
            .map(|p| ProbeRecord {
                probe: p.probe.clone(),
                overall: p.overall.as_ref().map(figures),
                warmup: p.warmup.as_ref().map(figures),
                baseline: p.baseline.as_ref().map(figures),
                under: p
                    .under
                    .iter()
                    .map(|(f, s)| (f.clone(), figures(s)))
                    .collect(),
                checks: report
                    .checks
                    .iter()
                    .find(|c| c.probe == p.probe)
                    .map(|c| {
                        c.checks
                            .iter()
                            .map(|&(at, latency, ok)| Check {
                                at_ms: store + at,
                                latency_ms: latency,
                                ok,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        let telemetry = report
            .telemetry
            .iter()
            .map(|s| TelemetrySeries {
                series: s.series.clone(),
                points: thin(&s.points, MAX_POINTS)
                    .map(|&(at, v)| (store + at, v))
                    .collect(),
            })
            .collect();
        let health = report
            .health
            .iter()
            .map(|h| HealthRecord {
                resource: h.resource.clone(),
                check: h.check.clone(),
                checks: h.checks,
                failures: h.failures,
                unhealthy: h
                    .unhealthy
                    .iter()
                    .map(|u| UnhealthySpan {
                        from_ms: ready + u.from_ms,
                        until_ms: u.until_ms.map(|t| ready + t),
                        detail: u.detail.clone(),
                    })
                    .collect(),
            })
            .collect();
        let predictions = report
            .predictions
            .iter()
            .map(|o| PredictionRecord {
                at_ms: store + o.prediction.at_ms,
                kind: o.prediction.kind.clone(),
                pattern: o.prediction.pattern.clone(),
                resource: o.prediction.resource.clone(),
                confidence: o.prediction.confidence,
                signals: o
                    .prediction
                    .signals
                    .iter()
                    .map(|s| SignalRecord {
                        metric: s.metric.clone(),
                        value: s.value,
                        anomaly: s.anomaly,
                        trend: s.trend.clone(),
                    })
                    .collect(),
                happened_ms: o.happened_ms.map(|t| store + t),
                evidence: o.evidence.clone(),
                lead_ms: o.lead_ms,
                expected: o
                    .prediction
                    .expected
                    .as_ref()
                    .map(|c| format!("limit {}", c.with_confidence())),
            })
            .collect();
        let mitigations = report
            .mitigations
            .iter()
            .map(|m| MitigationRecord {
                at_ms: store + m.at_ms,
                trigger: m.trigger.clone(),
                prediction: m.prediction.clone(),
                confidence: m.confidence,
                action: m.action.clone(),
                outcome: m.outcome.clone(),
                ok: m.ok,
            })
            .collect();
        RunRecord {
            format: JOURNAL_FORMAT.to_string(),
            version: JOURNAL_VERSION,
            pfi_version: env!("CARGO_PKG_VERSION").to_string(),
            run_id: report.run_id.clone(),
            experiment: report.experiment.clone(),
            scenario: input.scenario.to_string(),
            seed: report.seed,
            ledger: report.ledger.display().to_string(),
            ending: report.ending.clone(),
            end,
            completed: report.completed,
            passed: report.passed(),
            wall_ms: report.wall_ms,
            ready_ms: report.ready_ms,
            warmup_ms: plan.experiment.baseline_ms,
            duration_ms: plan.experiment.duration_ms,
            thresholds,
            faults,
            probes,
            telemetry,
            health,
            predicting: plan.predict.is_some(),
            predictions,
            mitigation_rules: plan.mitigations.len(),
            mitigations,
            risk: input.risk,
            resource_events: report.resource_events.to_vec(),
            teardown_errors: report.teardown_errors.clone(),
            events: report.events.clone(),
        }
    }
}

fn figures(f: &ProbeFigures) -> Figures {
    Figures {
        count: f.count,
        error_rate: f.error_rate,
        mean_ms: f.mean_ms,
        p50_ms: f.p50_ms,
        p99_ms: f.p99_ms,
        max_ms: f.max_ms,
    }
}

/// At most `max` of `points`, evenly spaced, the last one always kept.
pub(super) fn thin<T>(points: &[T], max: usize) -> impl Iterator<Item = &T> {
    let step = points.len().div_ceil(max.max(1)).max(1);
    let last = points.len().saturating_sub(1);
    points
        .iter()
        .enumerate()
        .filter(move |(i, _)| i % step == 0 || *i == last)
        .map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::thin;

    #[test]
    fn thinning_keeps_the_ends_and_at_most_about_max() {
        let points: Vec<u32> = (0..10_000).collect();
        let kept: Vec<u32> = thin(&points, 2000).copied().collect();
        assert!(kept.len() <= 2001, "{}", kept.len());
        assert_eq!(kept.first(), Some(&0));
        assert_eq!(kept.last(), Some(&9999));
        let few: Vec<u32> = thin(&points[..5], 2000).copied().collect();
        assert_eq!(few, vec![0, 1, 2, 3, 4]);
    }
}
