//! A known run record for the report stage's tests: the quickstart's shape (one HTTP probe,
//! a latency fault twice, a freeze, a prediction and a mitigation), built from formulas so
//! every renderer's output is the same on every machine.

use super::fault_outcome::FaultOutcome;
use super::health_record::{HealthRecord, UnhealthySpan};
use super::mitigation_record::MitigationRecord;
use super::prediction_record::{PredictionRecord, SignalRecord};
use super::probe_record::{Check, Figures, ProbeRecord};
use super::run_record::{EndKind, JOURNAL_FORMAT, JOURNAL_VERSION, RunRecord};
use super::telemetry_series::TelemetrySeries;
use super::threshold_record::ThresholdRecord;
use crate::model::risk::{ResourceRisk, RiskReport, ScenarioRisk, Suggestion};
use crate::plan::{Comparator, Criticality, MetricUnit};
use crate::run::{EventKind, RunEvent};

const READY: f64 = 400.0;

fn figures(count: usize, error_rate: f64, p50: f64, p99: f64) -> Figures {
    Figures {
        count,
        error_rate,
        mean_ms: (p50 + p99) / 2.0,
        p50_ms: p50,
        p99_ms: p99,
        max_ms: p99 + 10.0,
    }
}

fn threshold(
    text: &str,
    unit: MetricUnit,
    op: Comparator,
    limit: f64,
    measured: f64,
    passed: bool,
) -> ThresholdRecord {
    ThresholdRecord {
        text: text.to_string(),
        metric: text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        unit,
        op,
        limit,
        written_limit: None,
        during: text.split(" during ").nth(1).map(|s| s.to_string()),
        over_ms: None,
        abort: text.ends_with(" abort"),
        measured: Some(measured),
        passed,
        note: None,
        skipped: false,
        inconclusive: false,
    }
}

fn fault(name: &str, kind: &str, target: &str, planned: f64, lasting: f64) -> FaultOutcome {
    FaultOutcome {
        fault: name.to_string(),
        kind: kind.to_string(),
        target: target.to_string(),
        planned_ms: planned,
        planned_duration_ms: lasting,
        applied_ms: Some(planned + 2.0),
        reverted_ms: Some(planned + 2.0 + lasting),
        delay_ms: Some(2.0),
        detail: String::new(),
        error: None,
        no_effect: None,
        measured: None,
    }
}

/// The record.
pub fn sample_record() -> RunRecord {
    let faults = vec![
        fault("slow_backend", "latency", "api_backend", 4400.0, 2500.0),
        fault("freeze", "pause", "backend", 15400.0, 1000.0),
        fault("slow_backend", "latency", "api_backend", 10400.0, 2200.0),
    ];
    let checks: Vec<Check> = (0..230)
        .map(|i| {
            let at = READY + f64::from(i) * 100.0;
            let slow = faults
                .iter()
                .filter(|f| f.kind == "latency")
                .any(|f| f.window(0.0).is_some_and(|(a, b)| at >= a && at < b));
            let frozen = (15_402.0..16_402.0).contains(&at);
            Check {
                at_ms: at,
                latency_ms: if frozen {
                    900.0
                } else if slow {
                    45.0 + f64::from(i % 7)
                } else {
                    3.0 + f64::from(i % 5) * 0.5
                },
                ok: !frozen || i % 2 == 0,
            }
        })
        .collect();
    let mut thresholds = vec![
        threshold(
            "checkout.p99 < 1500ms",
            MetricUnit::Milliseconds,
            Comparator::Lt,
            1500.0,
            912.0,
            true,
        ),
        threshold(
            "checkout.p99 < 250ms during slow_backend",
            MetricUnit::Milliseconds,
            Comparator::Lt,
            187.5,
            51.0,
            true,
        ),
        threshold(
            "checkout.error_rate < 5%",
            MetricUnit::Fraction,
            Comparator::Lt,
            0.05,
            0.5,
            false,
        ),
        threshold(
            "checkout.availability > 90% abort",
            MetricUnit::Fraction,
            Comparator::Gt,
            0.9,
            0.957,
            true,
        ),
    ];
    thresholds[1].written_limit = Some(250.0);
    let telemetry = vec![
        TelemetrySeries {
            series: "backend.cpu".to_string(),
            points: (0..93)
                .map(|i| {
                    let at = READY + f64::from(i) * 250.0;
                    (at, 0.02 + f64::from(i % 4) * 0.01)
                })
                .collect(),
        },
        TelemetrySeries {
            series: "backend.memory".to_string(),
            points: (0..93)
                .map(|i| (READY + f64::from(i) * 250.0, 4.0e6 + f64::from(i) * 2.0e4))
                .collect(),
        },
        TelemetrySeries {
            series: "api_backend.connections".to_string(),
            points: (0..93)
                .map(|i| (READY + f64::from(i) * 250.0, f64::from(1 + i % 3)))
                .collect(),
        },
    ];
    let event = |at_ms: f64, kind: EventKind| RunEvent { at_ms, kind };
    RunRecord {
        format: JOURNAL_FORMAT.to_string(),
        version: JOURNAL_VERSION,
        pfi_version: "0.1.0".to_string(),
        run_id: "20261207-153000-0001".to_string(),
        experiment: "checkout survives a slow and a frozen backend".to_string(),
        scenario: "experiments/quickstart.pfi".to_string(),
        seed: 7,
        ledger: ".pfi/runs/20261207-153000-0001/ledger.jsonl".to_string(),
        ending: "completed".to_string(),
        end: EndKind::Completed,
        completed: true,
        passed: false,
        wall_ms: 23_650.0,
        ready_ms: Some(READY),
        warmup_ms: 3000.0,
        duration_ms: 20_000.0,
        thresholds,
        probes: vec![ProbeRecord {
            probe: "checkout".to_string(),
            overall: Some(figures(230, 0.022, 4.0, 912.0)),
            warmup: Some(figures(30, 0.0, 4.0, 5.0)),
            baseline: Some(figures(150, 0.0, 4.0, 6.0)),
            under: vec![
                ("slow_backend".to_string(), figures(47, 0.0, 48.0, 51.0)),
                ("freeze".to_string(), figures(10, 0.5, 900.0, 912.0)),
            ],
            checks,
        }],
        faults,
        telemetry,
        health: vec![HealthRecord {
            resource: "backend".to_string(),
            check: "tcp 127.0.0.1:17001".to_string(),
            checks: 90,
            failures: 4,
            unhealthy: vec![UnhealthySpan {
                from_ms: 15_600.0,
                until_ms: Some(16_500.0),
                detail: "timed out".to_string(),
            }],
        }],
        predicting: true,
        predictions: vec![PredictionRecord {
            at_ms: 14_900.0,
            kind: "stall".to_string(),
            pattern: "latency_creep".to_string(),
            resource: "backend".to_string(),
            confidence: 0.82,
            signals: vec![SignalRecord {
                metric: "checkout.p99".to_string(),
                value: 51.0,
                anomaly: 0.9,
                trend: Some("rising".to_string()),
            }],
            happened_ms: Some(15_402.0),
            evidence: Some("fault freeze applied".to_string()),
            lead_ms: Some(502.0),
            expected: None,
        }],
        mitigation_rules: 1,
        mitigations: vec![MitigationRecord {
            at_ms: 15_000.0,
            trigger: "predicted(stall)".to_string(),
            prediction: Some("stall on backend (latency_creep)".to_string()),
            confidence: Some(0.82),
            action: "alert".to_string(),
            outcome: "alert \"backend stalls\"".to_string(),
            ok: true,
        }],
        risk: RiskReport {
            scenarios: vec![
                ScenarioRisk {
                    fault: "freeze".to_string(),
                    kind: "pause".to_string(),
                    resource: Some("backend".to_string()),
                    probability: 0.2,
                    observed: true,
                    failure: 1.0,
                    thresholds_failed: vec!["checkout.error_rate < 5%".to_string()],
                    exceeded_under: Vec::new(),
                    error_increase: 0.5,
                    latency_ratio: Some(152.0),
                    risk: 0.2,
                    tolerance: 0.075,
                    modes: vec!["crash".to_string()],
                    failure_low: 1.0,
                    failure_high: 1.0,
                    risk_low: 0.2,
                    risk_high: 0.2,
                    checks: 10,
                    verdict: "above tolerance".to_string(),
                },
                ScenarioRisk {
                    fault: "slow_backend".to_string(),
                    kind: "latency".to_string(),
                    resource: Some("backend".to_string()),
                    probability: 0.3,
                    observed: true,
                    failure: 1.0,
                    thresholds_failed: Vec::new(),
                    exceeded_under: vec!["checkout.p99 < 50ms".to_string()],
                    error_increase: 0.0,
                    latency_ratio: Some(8.5),
                    risk: 0.3,
                    tolerance: 0.075,
                    modes: vec!["latency".to_string()],
                    failure_low: 1.0,
                    failure_high: 1.0,
                    risk_low: 0.3,
                    risk_high: 0.3,
                    checks: 47,
                    verdict: "above tolerance".to_string(),
                },
            ],
            resources: vec![ResourceRisk {
                resource: "backend".to_string(),
                criticality: Criticality::High,
                risk: 0.44,
                tolerance: 0.075,
            }],
            suggestions: vec![Suggestion {
                fault: "freeze".to_string(),
                resource: Some("backend".to_string()),
                mode: "crash".to_string(),
                text: "Run a second backend behind the API & retry once.".to_string(),
                source: "stdlib".to_string(),
                script: None,
            }],
        },
        resource_events: Vec::new(),
        teardown_errors: Vec::new(),
        events: vec![
            event(
                0.0,
                EventKind::RunStarted {
                    run_id: "20261207-153000-0001".to_string(),
                    experiment: "checkout survives a slow and a frozen backend".to_string(),
                    seed: 7,
                },
            ),
            event(
                READY,
                EventKind::AllReady {
                    baseline_ms: 3000.0,
                    duration_ms: 20_000.0,
                    activations: 3,
                },
            ),
            event(23_400.0, EventKind::Completed),
        ],
    }
}
