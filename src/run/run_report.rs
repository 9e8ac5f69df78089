//! `RunReport`: everything a finished run reports — the fault records, each probe's figures
//! (overall, warm-up, baseline, under each fault), the checks and telemetry as time series —
//! and how the interpreter builds it from the metrics store at the end of a run.

use super::fault_windows::FaultWindows;
use super::health::HealthReport;
use super::journal::{EventKind, Journal, RunEvent};
use super::liveness::ResourceEvent;
use super::telemetry::Predictions;
use super::threshold_verdict::ThresholdVerdict;
use crate::model::degradation::{Degradation, Sample, seed_for};
use crate::monitor::{MetricsStore, Observation, Selection};
use crate::plan::{Plan, ProbeStats};
use crate::predict::outcome::{FaultStart, PredictionOutcome, outcomes};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// One fired activation and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultRecord {
    pub fault: String,
    pub kind: String,
    pub target: String,
    /// When the plan said (ms after the resources were ready: baseline + start).
    pub planned_ms: f64,
    pub planned_duration_ms: f64,
    /// When it was applied and reverted, on the same clock.
    pub applied_ms: Option<f64>,
    pub reverted_ms: Option<f64>,
    pub detail: String,
    pub error: Option<String>,
    /// Set when the fault was applied but had no observable effect (its kind's check after
    /// applying, or a toxic no traffic went through): why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_effect: Option<String>,
    /// The effect measured in the background after applying, when it arrived before the end
    /// of the run and showed the fault acting (CPU use under `cpu_limit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<String>,
}

/// A probe's figures over some of its checks; latencies in ms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeFigures {
    pub count: usize,
    pub error_rate: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl ProbeFigures {
    /// The figures of `observations`; `None` when there are none.
    pub fn of(observations: &[Observation]) -> Option<ProbeFigures> {
        if observations.is_empty() {
            return None;
        }
        let stats = Observation::stats(observations);
        Some(ProbeFigures {
            count: observations.len(),
            error_rate: stats.error_rate,
            mean_ms: stats.mean_ms,
            p50_ms: stats.p50_ms,
            p99_ms: stats.p99_ms,
            max_ms: stats.max_ms,
        })
    }

    /// These figures as the plan's `ProbeStats`; p90 and p95 are not kept (NaN).
    pub fn stats(&self) -> ProbeStats {
        ProbeStats {
            count: self.count as f64,
            error_rate: self.error_rate,
            availability: 1.0 - self.error_rate,
            mean_ms: self.mean_ms,
            max_ms: self.max_ms,
            p50_ms: self.p50_ms,
            p90_ms: f64::NAN,
            p95_ms: f64::NAN,
            p99_ms: self.p99_ms,
        }
    }
}

/// A probe's figures: the whole run, the baseline (checks overlapping no fault), and under
/// each fault (checks overlapping it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeComparison {
    pub probe: String,
    pub overall: Option<ProbeFigures>,
    /// The checks of the declared warm-up (`baseline` of the experiment, before any fault).
    pub warmup: Option<ProbeFigures>,
    /// Every check that overlapped no fault (warm-up, gaps between faults, recovery).
    pub baseline: Option<ProbeFigures>,
    pub under: Vec<(String, ProbeFigures)>,
    /// The degradation under each fault against the baseline, with its bootstrap interval.
    #[serde(default)]
    pub degradation: Vec<(String, Degradation)>,
}

/// Everything a finished run reports.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub experiment: String,
    pub seed: u64,
    pub ledger: PathBuf,
    /// `completed`, `aborted: ...` or `interrupted: ...`.
    pub ending: String,
    pub completed: bool,
    pub thresholds: Vec<ThresholdVerdict>,
    /// Fault times (`planned_ms`, `applied_ms`, `reverted_ms`) count from the moment every
    /// resource was ready; that moment is `ready_ms` on the log's clock (the `[  1.23s]` of
    /// each event, and the times of `resource_events`), so a summary can print one clock.
    pub faults: Vec<FaultRecord>,
    pub probes: Vec<ProbeComparison>,
    /// Health of the resources that declare a `health` check.
    pub health: Vec<HealthReport>,
    /// Exits and restarts of the processes pfi started, each explained by a fault (or
    /// `may_exit`) or not; an unexplained one fails the run.
    pub resource_events: Vec<ResourceEvent>,
    /// Reverts or stops that failed at the end (the system may still be faulty).
    pub teardown_errors: Vec<String>,
    /// Every prediction of the `predict` block, and whether and when it came true.
    pub predictions: Vec<PredictionOutcome>,
    /// Every firing of a `mitigate` rule: trigger, prediction, confidence, action, outcome.
    pub mitigations: Vec<crate::mitigate::Firing>,
    pub wall_ms: f64,
    pub events: Vec<RunEvent>,
    /// When every resource was ready, on the journal's clock (ms since the run began): the one
    /// time zero of fault records and health periods (the live view's `ready_ms` is the same
    /// moment). `None` when the run stopped before.
    pub ready_ms: Option<f64>,
    /// When the metrics store's clock (checks, telemetry, predictions, mitigations) started,
    /// on the journal's clock.
    pub store_origin_ms: f64,
    /// Every check of every probe, in order (times on the store's clock).
    pub checks: Vec<ProbeChecks>,
    /// Every telemetry series (`<source>.<metric>`), in name order (store's clock).
    pub telemetry: Vec<SeriesPoints>,
}

/// One probe's checks: (ms on the store's clock, latency ms, success).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeChecks {
    pub probe: String,
    pub checks: Vec<(f64, f64, bool)>,
}

/// One telemetry series: (ms on the store's clock, value).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesPoints {
    pub series: String,
    pub points: Vec<(f64, f64)>,
}

impl RunReport {
    /// Whether the run completed, every threshold passed and everything was undone.
    pub fn passed(&self) -> bool {
        self.completed
            && self.thresholds.iter().all(|t| t.passed)
            && self.teardown_errors.is_empty()
            && self.unexplained_events().next().is_none()
    }

    /// Exits and restarts of resources that no fault explains.
    pub fn unexplained_events(&self) -> impl Iterator<Item = &ResourceEvent> {
        self.resource_events
            .iter()
            .filter(|event| event.explained_by.is_none())
    }
}

/// Whether and when each prediction came true; journals each verdict.
pub(super) fn judge_predictions(
    plan: &Plan,
    predicted: &Predictions,
    windows: &FaultWindows,
    store: &MetricsStore,
    journal: &Journal,
) -> Vec<PredictionOutcome> {
    let made = predicted
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let applied: Vec<FaultStart> = windows
        .starts()
        .into_iter()
        .filter_map(|(fault, at)| {
            let declared = plan.fault(&fault)?;
            Some(FaultStart {
                kind: declared.kind.clone(),
                target: declared.target.clone(),
                fault,
                at,
            })
        })
        .collect();
    let judged = outcomes(&made, plan, &applied, store);
    for outcome in &judged {
        let p = &outcome.prediction;
        journal.record(EventKind::PredictionJudged {
            kind: p.kind.clone(),
            resource: p.resource.clone(),
            at_ms: p.at_ms,
            evidence: outcome.evidence.clone(),
            lead_ms: outcome.lead_ms,
        });
    }
    judged
}

/// Every check of every probe of `plan`.
pub(crate) fn probe_checks(plan: &Plan, store: &MetricsStore) -> Vec<ProbeChecks> {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    plan.probes
        .iter()
        .map(|probe| ProbeChecks {
            probe: probe.name.clone(),
            checks: store
                .observations(&probe.name, &Selection::all())
                .iter()
                .map(|o| (ms(o.at), ms(o.latency), o.success))
                .collect(),
        })
        .collect()
}

/// Every telemetry series of the store.
pub(crate) fn telemetry_points(store: &MetricsStore) -> Vec<SeriesPoints> {
    store
        .series_names()
        .into_iter()
        .map(|series| SeriesPoints {
            points: store
                .points(&series, &Selection::all())
                .iter()
                .map(|p| (p.at.as_secs_f64() * 1000.0, p.value))
                .collect(),
            series,
        })
        .collect()
}

/// The least span of baseline checks paired with a fault on each side of its window.
const PAIRED_LEAST: Duration = Duration::from_secs(2);

/// Each probe's figures; `warmup` is the declared warm-up on the store's clock.
pub(super) fn compare_probes(
    plan: &Plan,
    store: &MetricsStore,
    windows: &FaultWindows,
    warmup: Option<(Duration, Duration)>,
    seed: u64,
) -> Vec<ProbeComparison> {
    let faults: Vec<&str> = plan.faults.iter().map(|f| f.name.as_str()).collect();
    plan.probes
        .iter()
        .map(|probe| {
            let all = store.observations(&probe.name, &Selection::all());
            let only = |keep: &dyn Fn(&Observation) -> bool| -> Vec<Observation> {
                all.iter().filter(|o| keep(o)).cloned().collect()
            };
            let baseline = only(&|o| !windows.covers(None, o));
            let samples = |observations: &[Observation]| -> Vec<Sample> {
                observations
                    .iter()
                    .map(|o| Sample {
                        latency_ms: o.latency.as_secs_f64() * 1000.0,
                        success: o.success,
                    })
                    .collect()
            };
            let baseline_samples = samples(&baseline);
            let mut under = Vec::new();
            let mut degradation = Vec::new();
            for fault in &faults {
                let checks = only(&|o| windows.covers(Some(fault), o));
                let Some(figures) = ProbeFigures::of(&checks) else {
                    continue;
                };
                under.push((fault.to_string(), figures));
                let seed = seed_for(seed, &[&probe.name, fault]);
                // Judged against the baseline checks next to the fault's windows (as long
                // before and after each as it lasted, at least `PAIRED_LEAST`), made under the
                // same machine load; against every check outside faults when those are too
                // few.
                let end = store.now();
                let paired = samples(
                    &baseline
                        .iter()
                        .filter(|o| windows.near(fault, o, PAIRED_LEAST, end))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                let against = if paired.len() >= crate::model::degradation::MIN_CHECKS {
                    &paired
                } else {
                    &baseline_samples
                };
                if let Some(d) = Degradation::of(against, &samples(&checks), seed) {
                    degradation.push((fault.to_string(), d));
                }
            }
            ProbeComparison {
                probe: probe.name.clone(),
                overall: ProbeFigures::of(&all),
                warmup: warmup.and_then(|(from, to)| {
                    ProbeFigures::of(&only(&|o| {
                        o.at >= from && o.at + o.latency <= to && !windows.covers(None, o)
                    }))
                }),
                baseline: ProbeFigures::of(&baseline),
                under,
                degradation,
            }
        })
        .collect()
}
