//! `Interpreter`: runs a plan. Starts the links and then the resources in plan order, runs
//! the probes and the fault schedule, judges the thresholds, and always tears down: faults
//! reverted newest first (then anything the ledger still holds), links closed, processes
//! stopped in reverse start order — on a normal end, an abort, a shutdown request, a start
//! failure, and a panic of the run task alike.

use super::containers::Containers;
use super::fault_windows::FaultWindows;
use super::health::HealthBoard;
use super::journal::{EventKind, EventSink, Journal};
use super::ledger::{Ledger, new_run_id};
use super::liveness::LivenessBoard;
use super::mitigation;
use super::progress::ProgressView;
use super::run_error::RunError;
use super::run_report::{
    RunReport, compare_probes, judge_predictions, probe_checks, telemetry_points,
};
use super::runtime::Runtime;
use super::schedule::Ending;
use super::start_up::body;
use super::teardown::teardown;
use super::telemetry::Predictions;
use super::threshold_verdict::{ThresholdVerdict, fail_inconclusive, judge, skipped};
use crate::monitor::MetricsStore;
use crate::plan::Plan;
use crate::predict::Prediction;
use crate::proxy::ProxyServer;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where run ledgers and logs go (`.pfi`).
    pub state_dir: PathBuf,
    /// Overrides the experiment's seed.
    pub seed: Option<u64>,
}

pub struct Interpreter {
    plan: Arc<Plan>,
    options: RunOptions,
    journal: Journal,
    progress: Option<Arc<dyn ProgressView>>,
    predictions: tokio::sync::broadcast::Sender<Prediction>,
    /// `pfi run --no-abort`: predicted stop conditions only say when they would have stopped.
    no_abort: bool,
    /// `pfi run --fail-inconclusive`: thresholds judged on too few samples fail.
    fail_inconclusive: bool,
    /// Rules fired by hand: the sender handed out, the receiver the engine's.
    manual_sender: tokio::sync::mpsc::Sender<crate::mitigate::ManualFiring>,
    manual: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<crate::mitigate::ManualFiring>>>,
    /// The run's id, when the caller chose it (the service: its API id is the ledger's).
    run_id: Option<String>,
}

impl Interpreter {
    pub fn new(plan: Plan, options: RunOptions, sink: EventSink) -> Interpreter {
        let (manual_sender, manual) = tokio::sync::mpsc::channel(8);
        Interpreter {
            plan: Arc::new(plan),
            options,
            journal: Journal::new(sink),
            progress: None,
            predictions: tokio::sync::broadcast::channel(256).0,
            no_abort: false,
            fail_inconclusive: false,
            manual_sender,
            manual: std::sync::Mutex::new(Some(manual)),
            run_id: None,
        }
    }

    /// Runs under `id` instead of a new one: its ledger is `<state>/runs/<id>/` and its
    /// journal and report name it (the service gives its API id, so `pfi recover`, the ledger,
    /// the journal and the API name a run the same way). The ledger refuses an id already used.
    pub fn with_run_id(mut self, id: String) -> Interpreter {
        self.run_id = Some(id);
        self
    }

    /// A threshold judged on too few samples fails the run instead of being only reported
    /// (`pfi run --fail-inconclusive`).
    pub fn failing_inconclusive(mut self) -> Interpreter {
        self.fail_inconclusive = true;
        self
    }

    /// Where to ask for a `mitigate` rule to fire now (by its index): the engine answers with
    /// its firings. Sending fails when the run has no rules or its engine stopped.
    pub fn mitigation_trigger(&self) -> tokio::sync::mpsc::Sender<crate::mitigate::ManualFiring> {
        self.manual_sender.clone()
    }

    /// Predicted stop conditions (`abort predicted within`) record when they would have
    /// stopped the run but do not stop it (`pfi run --no-abort`, to compare).
    pub fn without_predicted_stops(mut self) -> Interpreter {
        self.no_abort = true;
        self
    }

    /// Shows the run's progress on `view` while the faults are scheduled.
    pub fn with_progress(mut self, view: Arc<dyn ProgressView>) -> Interpreter {
        self.progress = Some(view);
        self
    }

    /// The predictions of the run's prediction loop, as they are made (subscribe before
    /// `run`; a receiver that falls 256 behind skips the oldest).
    pub fn subscribe_predictions(&self) -> tokio::sync::broadcast::Receiver<Prediction> {
        self.predictions.subscribe()
    }

    /// Runs the experiment until it ends, aborts, or `shutdown` completes (its output names
    /// why, e.g. `SIGINT`). Everything is undone before this returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = String> + Send + 'static,
    ) -> Result<RunReport, RunError> {
        let plan = self.plan.clone();
        let journal = self.journal.clone();
        let seed = self.options.seed.unwrap_or(plan.experiment.seed);
        let run_id = self.run_id.clone().unwrap_or_else(new_run_id);
        let ledger = Ledger::create(&self.options.state_dir, &run_id)
            .map_err(|err| RunError::environment(err.to_string()))?;
        let ledger = Arc::new(ledger);
        journal.record(EventKind::RunStarted {
            run_id: run_id.clone(),
            experiment: plan.experiment.name.clone(),
            seed,
        });
        let predicted: Predictions = Arc::default();
        let liveness = LivenessBoard::new();
        let runtime = Arc::new(Mutex::new(Runtime {
            run_id: run_id.clone(),
            ledger: ledger.clone(),
            proxy: ProxyServer::new(seed),
            links: Vec::new(),
            processes: Vec::new(),
            containers: Containers::noting_on(liveness.clone()),
            liveness: liveness.clone(),
            probe_tasks: Vec::new(),
            prediction_sender: self.predictions.clone(),
            predicted: predicted.clone(),
            mitigation: None,
            manual_mitigations: self.manual.lock().ok().and_then(|mut r| r.take()),
            active: Vec::new(),
            records: Vec::new(),
            next_id: 0,
            ready_at: None,
        }));
        let store = MetricsStore::new();
        let windows = FaultWindows::new();
        let health = HealthBoard::new();
        let logs = self
            .options
            .state_dir
            .join("runs")
            .join(&run_id)
            .join("logs");
        let mut body = tokio::spawn(body(
            plan.clone(),
            seed,
            logs,
            runtime.clone(),
            store.clone(),
            windows.clone(),
            (health.clone(), liveness.clone()),
            journal.clone(),
            self.progress.clone(),
            self.no_abort,
        ));
        let joined = tokio::select! {
            joined = &mut body => joined,
            reason = shutdown => {
                journal.record(EventKind::Interrupted { signal: reason.clone() });
                // Stop the run task before tearing down, so it applies nothing more.
                body.abort();
                let _ = (&mut body).await;
                Ok(Ok(Ending::Interrupted(reason)))
            }
        };
        let outcome = joined.unwrap_or_else(|err| {
            Err(RunError::environment(format!(
                "pfi failed internally ({err}); everything it started was undone"
            )))
        });
        let thresholds: Vec<ThresholdVerdict> = plan
            .thresholds
            .iter()
            .map(|t| match t.during.as_deref() {
                Some(fault) if plan.fault(fault).is_none() => skipped(t, fault),
                _ => judge(t, &store, &windows),
            })
            .map(|v| {
                if self.fail_inconclusive {
                    fail_inconclusive(v)
                } else {
                    v
                }
            })
            .collect();
        let mitigated = mitigation::stop(&runtime, &journal).await;
        let mut teardown_errors = teardown(&runtime, &journal).await;
        teardown_errors.extend(
            mitigated
                .revert_errors
                .iter()
                .map(|e| format!("mitigation {e}")),
        );
        if let Some(view) = &self.progress {
            view.finish();
        }
        let predictions = judge_predictions(&plan, &predicted, &windows, &store, &journal);
        let ending = outcome?;
        let (records, ready_at) = {
            let rt = runtime.lock().await;
            (rt.records.clone(), rt.ready_at)
        };
        let store_origin_ms = journal.elapsed_ms() - store.now().as_secs_f64() * 1000.0;
        let ready_ms = ready_at.map(|at| journal.ms_at(at.into_std()));
        let warmup = ready_at.map(|at| {
            let from = store.clock().offset_of(at);
            let to = from + Duration::from_secs_f64(plan.experiment.baseline_ms.max(0.0) / 1000.0);
            (from, to)
        });
        let report = RunReport {
            run_id,
            experiment: plan.experiment.name.clone(),
            seed,
            ledger: ledger.path().to_path_buf(),
            completed: ending == Ending::Completed,
            ending: match &ending {
                Ending::Completed => "completed".to_string(),
                Ending::Aborted(reason) => format!("aborted: {reason}"),
                Ending::Interrupted(reason) => format!("interrupted: {reason}"),
            },
            thresholds,
            faults: records,
            probes: compare_probes(&plan, &store, &windows, warmup, seed),
            health: health.reports(),
            resource_events: liveness.judged(&plan, &windows, &mitigated.firings),
            teardown_errors,
            predictions,
            mitigations: mitigated.firings,
            wall_ms: journal.elapsed_ms(),
            events: journal.events(),
            ready_ms,
            store_origin_ms,
            checks: probe_checks(&plan, &store),
            telemetry: telemetry_points(&store),
        };
        Ok(report)
    }
}
