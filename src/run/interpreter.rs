//! `Interpreter`: runs a plan. Starts the links and then the resources in plan order, runs
//! the probes and the fault schedule, judges the thresholds, and always tears down: faults
//! reverted newest first (then anything the ledger still holds), links closed, processes
//! stopped in reverse start order — on a normal end, an abort, a shutdown request, a start
//! failure, and a panic of the run task alike.

use super::containers::{self, AppliedContainers, Containers};
use super::fault_windows::FaultWindows;
use super::health::{HealthBoard, HealthReport, HealthWatch};
use super::journal::{EventKind, EventSink, Journal, RunEvent};
use super::ledger::{Ledger, new_run_id};
use super::liveness::{self, LivenessBoard, ResourceEvent};
use super::predicted_abort::PredictedAbort;
use super::program::resolve_program;
use super::progress::{ProgressView, drive as drive_progress};
use super::run_error::RunError;
use super::schedule::{Actuator, BoxFuture, Ending, Schedule};
use super::telemetry::{self, Predictions};
use super::threshold_verdict::{ThresholdVerdict, abort_fails, judge, metric_value, skipped};
use crate::faults::{
    AppliedFault, FaultAction, FaultContext, Recorded, RevertAction, inject, prepare_recorded,
};
use crate::model::degradation::{Degradation, Sample, seed_for};
use crate::model::{Activation, timeline};
use crate::monitor::{
    CommandProbe, ExpectedStatus, HttpProbe, MetricsStore, Observation, Probe, Selection, TcpProbe,
    run_probe,
};
use crate::plan::{
    CheckKind, LinkPlan, Plan, ProbeCheck, ResourcePlan, ResourceTarget, ThresholdPlan,
    format_duration,
};
use crate::predict::Prediction;
use crate::predict::outcome::{FaultStart, PredictionOutcome, outcomes};
use crate::proxy::{LinkConfig, ProxyServer, ToxicConfig};
use crate::targets::{ProcessSpec, ProcessTarget, Readiness};
use serde::Serialize;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;

#[path = "mitigation.rs"]
mod mitigation;

/// Start timeout of a resource without a `ready` check.
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where run ledgers and logs go (`.pfi`).
    pub state_dir: PathBuf,
    /// Overrides the experiment's seed.
    pub seed: Option<u64>,
}

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
        let metric = |name| metric_value(name, observations).unwrap_or(f64::NAN);
        Some(ProbeFigures {
            count: observations.len(),
            error_rate: metric("error_rate"),
            mean_ms: metric("mean"),
            p50_ms: metric("p50"),
            p99_ms: metric("p99"),
            max_ms: metric("max"),
        })
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
    /// resource was ready; that moment is `zero_ms` on the log's clock (the `[  1.23s]` of
    /// each event, and the times of `resource_events`), so a summary can print one clock.
    pub faults: Vec<FaultRecord>,
    pub zero_ms: f64,
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
    /// When every resource was ready, on the journal's clock (ms since the run began); fault
    /// records and health periods count from it. `None` when the run stopped before.
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

/// What is in effect, shared by the run task and the teardown.
struct Runtime {
    run_id: String,
    ledger: Arc<Ledger>,
    proxy: ProxyServer,
    links: Vec<String>,
    processes: Vec<ProcessTarget>,
    containers: Containers,
    probe_tasks: Vec<JoinHandle<()>>,
    /// Where the prediction loop sends its predictions, and keeps them for the report.
    prediction_sender: tokio::sync::broadcast::Sender<Prediction>,
    predicted: Predictions,
    /// The mitigation engine, when the plan has `mitigate` rules.
    mitigation: Option<mitigation::Running>,
    /// Applied activations in order of application.
    active: Vec<ActiveFault>,
    records: Vec<FaultRecord>,
    next_id: usize,
    /// When every resource was ready (time zero of fault records).
    ready_at: Option<Instant>,
    /// When every resource was ready (time zero of the fault records), in ms on the log's
    /// clock.
    zero_ms: f64,
}

struct ActiveFault {
    /// (fault, arrival index) of the activation.
    key: (String, usize),
    ledger_id: String,
    record: usize,
    applied: Applied,
}

enum Applied {
    Process(Box<AppliedFault>),
    /// One applied fault per selected container, each with its ledger id.
    Containers(AppliedContainers),
    Toxic {
        link: String,
        toxic: String,
    },
}

pub struct Interpreter {
    plan: Arc<Plan>,
    options: RunOptions,
    journal: Journal,
    progress: Option<Arc<dyn ProgressView>>,
    predictions: tokio::sync::broadcast::Sender<Prediction>,
    /// `pfi run --no-abort`: predicted stop conditions only say when they would have stopped.
    no_abort: bool,
}

impl Interpreter {
    pub fn new(plan: Plan, options: RunOptions, sink: EventSink) -> Interpreter {
        Interpreter {
            plan: Arc::new(plan),
            options,
            journal: Journal::new(sink),
            progress: None,
            predictions: tokio::sync::broadcast::channel(256).0,
            no_abort: false,
        }
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
        let run_id = new_run_id();
        let ledger = Ledger::create(&self.options.state_dir, &run_id)
            .map_err(|err| RunError::environment(err.to_string()))?;
        let ledger = Arc::new(ledger);
        journal.record(EventKind::RunStarted {
            run_id: run_id.clone(),
            experiment: plan.experiment.name.clone(),
            seed,
        });
        let predicted: Predictions = Arc::default();
        let runtime = Arc::new(Mutex::new(Runtime {
            run_id: run_id.clone(),
            ledger: ledger.clone(),
            proxy: ProxyServer::new(seed),
            links: Vec::new(),
            processes: Vec::new(),
            containers: Containers::default(),
            probe_tasks: Vec::new(),
            prediction_sender: self.predictions.clone(),
            predicted: predicted.clone(),
            mitigation: None,
            active: Vec::new(),
            records: Vec::new(),
            next_id: 0,
            ready_at: None,
            zero_ms: 0.0,
        }));
        let store = MetricsStore::new();
        let windows = FaultWindows::new();
        let health = HealthBoard::new();
        let liveness = LivenessBoard::new();
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
        let (records, ready_at, zero_ms) = {
            let rt = runtime.lock().await;
            (rt.records.clone(), rt.ready_at, rt.zero_ms)
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
            zero_ms,
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

/// Starts everything, then probes and the schedule.
// The run's shared state, handed over one piece each so the run task owns clones of them.
#[allow(clippy::too_many_arguments)]
async fn body(
    plan: Arc<Plan>,
    seed: u64,
    logs: PathBuf,
    runtime: Arc<Mutex<Runtime>>,
    store: MetricsStore,
    windows: FaultWindows,
    (health, liveness): (HealthBoard, LivenessBoard),
    journal: Journal,
    progress: Option<Arc<dyn ProgressView>>,
    no_abort: bool,
) -> Result<Ending, RunError> {
    containers::validate(&plan)?;
    for link in &plan.links {
        start_link(link, &runtime, &journal).await?;
    }
    let (containers, ledger, run_id) = {
        let rt = runtime.lock().await;
        (rt.containers.clone(), rt.ledger.clone(), rt.run_id.clone())
    };
    for resource in plan.resources.iter().filter(|r| !r.standby) {
        if matches!(resource.target, ResourceTarget::Process { .. }) {
            start_resource(resource, &logs, &runtime, &journal).await?;
        } else {
            containers
                .start(resource, seed, &run_id, ledger.clone(), &store, &journal)
                .await?;
        }
    }
    let probes = build_probes(&plan)?;
    // Time zero of fault records and health periods: every resource is ready.
    let zero = Instant::now();
    runtime.lock().await.zero_ms = journal.elapsed_ms();
    {
        let mut rt = runtime.lock().await;
        rt.ready_at = Some(zero);
        for resource in plan.resources.iter().filter(|r| !r.standby) {
            if let Some(watch) = HealthWatch::of(resource) {
                let watch = watch.map_err(|err| {
                    located(&format!("health of `{}`", resource.name), &resource.at, err)
                })?;
                let task = watch.watch(&health, store.clone(), journal.clone(), zero);
                rt.probe_tasks.push(tokio::spawn(task));
            }
        }
        for process in rt.processes.clone() {
            let task = liveness::watch(process, liveness.clone(), store.clone(), journal.clone());
            rt.probe_tasks.push(tokio::spawn(task));
        }
        for (name, probe, interval) in probes {
            let task = run_probe(
                name,
                probe,
                interval,
                store.clone(),
                std::future::pending::<()>(),
            );
            rt.probe_tasks.push(tokio::spawn(task));
        }
        let watchers = telemetry::spawn(
            &plan,
            &rt.processes,
            &rt.proxy,
            &store,
            &rt.prediction_sender,
            &rt.predicted,
            &journal,
        )?;
        rt.probe_tasks.extend(watchers);
        mitigation::spawn(&plan, &runtime, &mut rt, &logs, &store, &journal, seed);
    }
    let timeline = timeline(&plan, seed);
    let schedule = Schedule::new(
        &timeline.activations,
        plan.experiment.baseline_ms,
        plan.experiment.duration_ms,
    );
    if let Some(view) = progress {
        let task = drive_progress(
            view,
            store.clone(),
            plan.probes.iter().map(|p| p.name.clone()).collect(),
            zero,
            Duration::from_secs_f64(plan.experiment.baseline_ms.max(0.0) / 1000.0),
            schedule.end(),
        );
        runtime.lock().await.probe_tasks.push(tokio::spawn(task));
    }
    journal.record(EventKind::AllReady {
        baseline_ms: plan.experiment.baseline_ms,
        duration_ms: plan.experiment.duration_ms,
        activations: timeline.activations.iter().filter(|a| a.fired).count(),
    });
    let mut driver = Driver {
        plan: plan.clone(),
        runtime,
        store,
        windows,
        journal: journal.clone(),
        zero,
        aborts: plan
            .thresholds
            .iter()
            .filter(|t| t.abort)
            .cloned()
            .collect(),
        predicted_aborts: plan
            .thresholds
            .iter()
            .filter_map(PredictedAbort::new)
            .collect(),
        no_abort,
        prepared: HashMap::new(),
    };
    let fatal = containers.fatal.clone();
    if let Some(message) = fatal.raised() {
        return Err(RunError::environment(message));
    }
    let ending = schedule.run(&mut driver, fatal.wait()).await;
    if let Some(message) = fatal.raised() {
        journal.record(EventKind::Stopping {
            reason: message.clone(),
        });
        return Err(RunError::environment(message));
    }
    match &ending {
        Ending::Completed => journal.record(EventKind::Completed),
        Ending::Aborted(reason) => journal.record(EventKind::Aborting {
            reason: reason.clone(),
        }),
        Ending::Interrupted(_) => {}
    }
    Ok(ending)
}

fn located(what: &str, at: &crate::plan::Location, message: impl std::fmt::Display) -> RunError {
    RunError::environment(format!("{what} (declared at {at}): {message}"))
}

async fn start_link(
    link: &LinkPlan,
    runtime: &Arc<Mutex<Runtime>>,
    journal: &Journal,
) -> Result<(), RunError> {
    let what = format!("link `{}`", link.name);
    let listen: SocketAddr = link.listen.parse().map_err(|_| {
        located(
            &what,
            &link.at,
            format!("`{}` is not an address", link.listen),
        )
    })?;
    let upstream = match &link.upstream_resource {
        Some(_) => {
            let port = link.upstream.rsplit(':').next().unwrap_or_default();
            format!("127.0.0.1:{port}")
        }
        None => link.upstream.clone(),
    };
    let config = if link.http {
        LinkConfig::http(&link.name, listen, &upstream)
    } else {
        LinkConfig::tcp(&link.name, listen, &upstream)
    };
    let mut rt = runtime.lock().await;
    let info = rt.proxy.add_link(config).await.map_err(|err| {
        located(
            &what,
            &link.at,
            format!("cannot listen on {listen}: {err}; free the port or pick another"),
        )
    })?;
    rt.links.push(link.name.clone());
    journal.record(EventKind::LinkListening {
        link: link.name.clone(),
        listen: info.listen.to_string(),
        upstream,
    });
    Ok(())
}

async fn start_resource(
    resource: &ResourcePlan,
    logs: &std::path::Path,
    runtime: &Arc<Mutex<Runtime>>,
    journal: &Journal,
) -> Result<(), RunError> {
    let what = format!("resource `{}`", resource.name);
    let ResourceTarget::Process {
        argv,
        env,
        cwd,
        stop_grace_ms,
    } = &resource.target
    else {
        return Err(located(
            &what,
            &resource.at,
            "not a process resource (containers start in `containers`)",
        ));
    };
    let mut argv = argv.clone();
    let Some(program) = argv.first().cloned() else {
        return Err(located(&what, &resource.at, "no command to run"));
    };
    let Some(resolved) = resolve_program(&program) else {
        return Err(located(
            &what,
            &resource.at,
            format!(
                "program `{program}` was not found on PATH nor beside pfi; install it or give its full path"
            ),
        ));
    };
    argv[0] = resolved.to_string_lossy().into_owned();
    let (readiness, timeout) = match &resource.ready {
        Some(ready) => (
            match &ready.check {
                CheckKind::Http { url } => Readiness::Http { url: url.clone() },
                CheckKind::Tcp { address } => Readiness::Tcp {
                    address: address.clone(),
                },
            },
            Duration::from_secs_f64(ready.interval_ms.max(ready.timeout_ms).max(1.0) / 1000.0),
        ),
        None => (Readiness::Started, DEFAULT_START_TIMEOUT),
    };
    let mut spec = ProcessSpec::new(&resource.name, argv, logs)
        .readiness(readiness)
        .start_timeout(timeout)
        .stop_grace(Duration::from_secs_f64(stop_grace_ms.max(0.0) / 1000.0));
    for (key, value) in env {
        spec = spec.env(key, value);
    }
    if let Some(cwd) = cwd {
        spec = spec.cwd(cwd);
    }
    let ledger = runtime.lock().await.ledger.clone();
    let target =
        ProcessTarget::recorded(spec, ledger).map_err(|err| located(&what, &resource.at, err))?;
    runtime.lock().await.processes.push(target.clone());
    journal.record(EventKind::ResourceStarting {
        resource: resource.name.clone(),
    });
    let identity = target
        .start()
        .await
        .map_err(|err| located(&what, &resource.at, err))?;
    journal.record(EventKind::ResourceReady {
        resource: resource.name.clone(),
        pid: identity.pid,
    });
    Ok(())
}

type ProbeSetup = (String, Arc<dyn Probe>, Duration);

fn build_probes(plan: &Plan) -> Result<Vec<ProbeSetup>, RunError> {
    let mut probes: Vec<ProbeSetup> = Vec::new();
    for probe in &plan.probes {
        let timeout = Duration::from_secs_f64(probe.timeout_ms.max(1.0) / 1000.0);
        let built: Arc<dyn Probe> = match &probe.check {
            ProbeCheck::Http {
                method,
                url,
                expect_status,
                expect_body,
                headers,
                body,
            } => {
                let expect = expect_status.map_or(ExpectedStatus::Success, ExpectedStatus::Exact);
                let mut built = HttpProbe::new(method, url, expect, timeout)
                    .and_then(|built| built.with_request(headers, body.as_deref()))
                    .map_err(|err| located(&format!("probe `{}`", probe.name), &probe.at, err))?;
                if let Some(text) = expect_body {
                    built = built.expecting_body(text.clone());
                }
                Arc::new(built)
            }
            ProbeCheck::Tcp { address } => Arc::new(TcpProbe::new(address.clone(), timeout)),
            ProbeCheck::Command {
                argv,
                expect_exit,
                expect_stdout,
            } => {
                let mut built = CommandProbe::new(argv.clone(), timeout)
                    .map_err(|err| located(&format!("probe `{}`", probe.name), &probe.at, err))?
                    .expecting_exit(*expect_exit);
                if let Some(text) = expect_stdout {
                    built = built.expecting_stdout(text.clone());
                }
                Arc::new(built)
            }
        };
        let interval = Duration::from_secs_f64(probe.interval_ms.max(1.0) / 1000.0);
        probes.push((probe.name.clone(), built, interval));
    }
    Ok(probes)
}

/// Drives the schedule: applies and reverts through the ledger, checks abort thresholds.
struct Driver {
    plan: Arc<Plan>,
    runtime: Arc<Mutex<Runtime>>,
    store: MetricsStore,
    windows: FaultWindows,
    journal: Journal,
    zero: Instant,
    aborts: Vec<ThresholdPlan>,
    /// Predicted stop conditions, and whether they only record (`--no-abort`).
    predicted_aborts: Vec<PredictedAbort>,
    no_abort: bool,
    /// Activations prepared ahead of their time (recorded in the ledger), by (fault, index).
    prepared: HashMap<(String, usize), Early>,
}

/// An activation prepared and recorded, waiting for its time.
struct Early {
    ledger_id: String,
    change: EarlyChange,
}

enum EarlyChange {
    Process(Box<Recorded>),
    Toxic { config: ToxicConfig, name: String },
}

impl Driver {
    fn now_ms(&self) -> f64 {
        self.zero.elapsed().as_secs_f64() * 1000.0
    }

    /// Builds, prepares and records a process fault or a toxic ahead of its time; anything
    /// else (or anything that fails here) is done in full at the activation's time.
    async fn prepare_activation(&mut self, activation: &Activation) {
        let mut rt = self.runtime.lock().await;
        let toxic_name = format!("{}-{}", activation.fault, activation.index);
        let Some(Ok(action)) = self
            .plan
            .fault(&activation.fault)
            .map(|fault| FaultAction::build(fault, &toxic_name))
        else {
            return;
        };
        let ledger_id = format!("f{}", rt.next_id + 1);
        let change = match action {
            FaultAction::Process(fault) => {
                let Some(target) = rt
                    .processes
                    .iter()
                    .find(|p| p.name() == &*activation.target)
                else {
                    return;
                };
                let ctx = FaultContext::new(rt.run_id.clone(), ledger_id.clone());
                let ledger = rt.ledger.clone();
                let recorded = prepare_recorded(fault.as_ref(), target, &ctx, |revert| {
                    ledger.applying(&ledger_id, &activation.fault, &activation.target, revert)
                })
                .await;
                match recorded {
                    Ok(recorded) => EarlyChange::Process(Box::new(recorded)),
                    Err(_) => return,
                }
            }
            FaultAction::Toxic(config) => {
                let revert = RevertAction::Nothing {
                    reason: "a proxy toxic ends with the pfi process that holds it".to_string(),
                };
                if rt
                    .ledger
                    .applying(&ledger_id, &activation.fault, &activation.target, &revert)
                    .is_err()
                {
                    return;
                }
                EarlyChange::Toxic {
                    config,
                    name: toxic_name,
                }
            }
            FaultAction::Container(_) => return,
        };
        rt.next_id += 1;
        self.prepared.insert(
            (activation.fault.to_string(), activation.index),
            Early { ledger_id, change },
        );
    }

    async fn apply_activation(&mut self, activation: &Activation) {
        let planned_ms = self.plan.experiment.baseline_ms + activation.start_ms;
        let early = self
            .prepared
            .remove(&(activation.fault.to_string(), activation.index));
        let mut rt = self.runtime.lock().await;
        let toxic_name = format!("{}-{}", activation.fault, activation.index);
        let (ledger_id, applied) = match early {
            Some(Early { ledger_id, change }) => {
                let applied = match change {
                    EarlyChange::Process(recorded) => recorded
                        .apply()
                        .await
                        .map(|f| Applied::Process(Box::new(f)))
                        .map_err(|err| err.to_string()),
                    EarlyChange::Toxic { config, name } => rt
                        .proxy
                        .add_toxic(&activation.target, config)
                        .map_err(|err| err.to_string())
                        .map(|_| Applied::Toxic {
                            link: activation.target.to_string(),
                            toxic: name,
                        }),
                };
                (ledger_id, applied)
            }
            None => {
                rt.next_id += 1;
                let ledger_id = format!("f{}", rt.next_id);
                let plan = self.plan.clone();
                let applied = apply_now(&plan, &mut rt, activation, &ledger_id, &toxic_name).await;
                (ledger_id, applied)
            }
        };
        self.record_applied(&mut rt, activation, planned_ms, ledger_id, applied);
    }
}

/// Builds, records and applies an activation that was not prepared ahead.
async fn apply_now(
    plan: &Plan,
    rt: &mut Runtime,
    activation: &Activation,
    ledger_id: &str,
    toxic_name: &str,
) -> Result<Applied, String> {
    let ledger_id = ledger_id.to_string();
    let result = match plan.fault(&activation.fault) {
        Some(fault) => FaultAction::build(fault, toxic_name),
        None => Err(format!("fault `{}` is not in the plan", activation.fault)),
    };
    match result {
        Err(err) => Err(err),
        Ok(FaultAction::Process(fault)) => {
            match rt
                .processes
                .iter()
                .find(|p| p.name() == &*activation.target)
            {
                None => Err(format!("resource `{}` is not running", activation.target)),
                Some(target) => {
                    let ctx = FaultContext::new(rt.run_id.clone(), ledger_id.clone());
                    let ledger = rt.ledger.clone();
                    inject(fault.as_ref(), target, &ctx, |revert| {
                        ledger.applying(&ledger_id, &activation.fault, &activation.target, revert)
                    })
                    .await
                    .map(|f| Applied::Process(Box::new(f)))
                    .map_err(|err| err.to_string())
                }
            }
        }
        Ok(FaultAction::Container(fault)) => rt
            .containers
            .apply(
                &activation.target,
                fault.as_ref(),
                &plan
                    .fault(&activation.fault)
                    .map(|f| f.params.clone())
                    .unwrap_or_default(),
                &activation.fault,
                &rt.run_id,
                &ledger_id,
                &rt.ledger,
            )
            .await
            .map(Applied::Containers),
        Ok(FaultAction::Toxic(config)) => {
            let revert = RevertAction::Nothing {
                reason: "a proxy toxic ends with the pfi process that holds it".to_string(),
            };
            rt.ledger
                .applying(&ledger_id, &activation.fault, &activation.target, &revert)
                .map_err(|err| err.to_string())
                .and_then(|()| {
                    rt.proxy
                        .add_toxic(&activation.target, config)
                        .map_err(|err| err.to_string())
                })
                .map(|_| Applied::Toxic {
                    link: activation.target.to_string(),
                    toxic: toxic_name.to_string(),
                })
        }
    }
}

impl Driver {
    /// Notes what became of an activation: its record, the fault windows, the journal.
    fn record_applied(
        &self,
        rt: &mut Runtime,
        activation: &Activation,
        planned_ms: f64,
        ledger_id: String,
        applied: Result<Applied, String>,
    ) {
        let applied_ms = self.now_ms();
        let mut record = FaultRecord {
            fault: activation.fault.to_string(),
            kind: activation.kind.to_string(),
            target: activation.target.to_string(),
            planned_ms,
            planned_duration_ms: activation.duration_ms,
            applied_ms: None,
            reverted_ms: None,
            detail: activation.strength.to_string(),
            error: None,
            no_effect: None,
        };
        match applied {
            Ok(applied) => {
                record.applied_ms = Some(applied_ms);
                self.store.fault_started(&activation.fault);
                self.windows.opened(&activation.fault, self.store.now());
                match &applied {
                    Applied::Process(fault) => {
                        record.detail = fault.detail().to_string();
                        record.no_effect = fault.effect().no_effect().map(str::to_string);
                    }
                    Applied::Containers(faults) => {
                        let details: Vec<&str> = faults.iter().map(|(_, f)| f.detail()).collect();
                        record.detail = details.join("; ");
                        let none: Vec<&str> = faults
                            .iter()
                            .filter_map(|(_, f)| f.effect().no_effect())
                            .collect();
                        record.no_effect = (!none.is_empty()).then(|| none.join("; "));
                    }
                    Applied::Toxic { .. } => {}
                }
                if let Some(reason) = &record.no_effect {
                    self.journal.record(EventKind::FaultNoEffect {
                        fault: activation.fault.to_string(),
                        reason: reason.clone(),
                    });
                }
                self.journal.record(EventKind::FaultApplied {
                    fault: activation.fault.to_string(),
                    kind: activation.kind.to_string(),
                    target: activation.target.to_string(),
                    duration_ms: activation.duration_ms,
                });
                let index = rt.records.len();
                rt.records.push(record);
                rt.active.push(ActiveFault {
                    key: (activation.fault.to_string(), activation.index),
                    ledger_id,
                    record: index,
                    applied,
                });
            }
            Err(err) => {
                self.journal.record(EventKind::FaultNotApplied {
                    fault: activation.fault.to_string(),
                    error: err.clone(),
                });
                record.error = Some(err);
                rt.records.push(record);
            }
        }
    }

    async fn revert_activation(&mut self, activation: &Activation) {
        let key = (activation.fault.to_string(), activation.index);
        let mut rt = self.runtime.lock().await;
        let Some(position) = rt.active.iter().position(|a| a.key == key) else {
            return;
        };
        let active = rt.active.remove(position);
        let now = self.now_ms();
        match revert(&rt, &active).await {
            Ok(no_effect) => {
                rt.records[active.record].reverted_ms = Some(now);
                if let Some(reason) = no_effect {
                    self.journal.record(EventKind::FaultNoEffect {
                        fault: activation.fault.to_string(),
                        reason: reason.clone(),
                    });
                    rt.records[active.record].no_effect = Some(reason);
                }
                self.journal.record(EventKind::FaultReverted {
                    fault: activation.fault.to_string(),
                });
            }
            Err(err) => {
                self.journal.record(EventKind::FaultNotReverted {
                    fault: activation.fault.to_string(),
                    error: err.clone(),
                });
                rt.records[active.record].error = Some(err);
            }
        }
        self.store.fault_ended(&activation.fault);
        self.windows.closed(&activation.fault, self.store.now());
    }
}

impl Actuator for Driver {
    fn prepare<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()> {
        Box::pin(self.prepare_activation(activation))
    }

    fn apply<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()> {
        Box::pin(self.apply_activation(activation))
    }

    fn revert<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()> {
        Box::pin(self.revert_activation(activation))
    }

    fn abort_reason(&mut self) -> Option<String> {
        for predicted in &mut self.predicted_aborts {
            let called = predicted.check(&self.store);
            if let Some((at, failed)) = predicted.take_breach() {
                self.journal.event(format!(
                    "predicted stop: the threshold failed at {}, {} after the forecast called it \
                     at {}",
                    format_duration((failed * 1000.0).round()),
                    format_duration(((failed - at) * 1000.0).round()),
                    format_duration((at * 1000.0).round())
                ));
            }
            let Some(breach) = called else {
                continue;
            };
            let expected = breach
                .crossing
                .map_or(String::new(), |c| format!(", breach {c}"));
            let reason = format!(
                "threshold `{}` predicted to fail within {} (probability {:.2}{expected})",
                breach.text,
                format_duration(breach.within_ms),
                breach.probability
            );
            if self.no_abort {
                self.journal
                    .event(format!("{reason}: not stopping (--no-abort)"));
                continue;
            }
            return Some(reason);
        }
        self.aborts.iter().find_map(|threshold| {
            let verdict = abort_fails(threshold, &self.store, &self.windows)?;
            Some(format!(
                "abort threshold `{}` failed (measured {})",
                verdict.text,
                verdict
                    .measured
                    .map_or("nothing".to_string(), |v| format!("{v:.3}"))
            ))
        })
    }
}

/// Undoes an active fault; for a toxic, also says whether it had no observable effect (no
/// connection or request met it while it was installed).
async fn revert(rt: &Runtime, active: &ActiveFault) -> Result<Option<String>, String> {
    let mut no_effect = None;
    if let Applied::Toxic { link, toxic } = &active.applied {
        no_effect = toxic_unseen(&rt.proxy, link, toxic);
    }
    match &active.applied {
        Applied::Process(fault) => fault
            .revert()
            .await
            .map(|_| ())
            .map_err(|err| err.to_string())?,
        Applied::Containers(applied) => {
            return containers::revert(applied, &rt.ledger).await.map(|()| None);
        }
        Applied::Toxic { link, toxic } => rt
            .proxy
            .remove_toxic(link, toxic)
            .map_err(|err| err.to_string())?,
    }
    rt.ledger
        .reverted(&active.ledger_id)
        .map_err(|err| err.to_string())?;
    Ok(no_effect)
}

/// Why toxic `toxic` on `link` had no observable effect, if no traffic met it.
fn toxic_unseen(proxy: &ProxyServer, link: &str, toxic: &str) -> Option<String> {
    let stats = proxy.stats(link).ok()?;
    let counters = stats.toxics.iter().find(|t| t.name == toxic)?;
    (counters.applied == 0).then(|| {
        format!(
            "no connection or request through link `{link}` met the toxic while it was installed"
        )
    })
}

/// Undoes everything; returns what could not be undone.
async fn teardown(runtime: &Arc<Mutex<Runtime>>, journal: &Journal) -> Vec<String> {
    let mut errors = Vec::new();
    let mut rt = runtime.lock().await;
    for task in rt.probe_tasks.drain(..) {
        task.abort();
    }
    while let Some(active) = rt.active.pop() {
        match revert(&rt, &active).await {
            Ok(no_effect) => {
                journal.record(EventKind::FaultReverted {
                    fault: active.key.0.clone(),
                });
                if let Some(reason) = no_effect {
                    rt.records[active.record].no_effect = Some(reason);
                }
            }
            Err(err) => errors.push(format!("fault {}: {err}", active.key.0)),
        }
    }
    // Anything recorded but not in `active` (a run task stopped mid-apply).
    match rt.ledger.contents() {
        Ok(contents) => {
            for pending in contents.outstanding().faults.iter().rev() {
                let outcome = pending.revert.revert(None).await;
                match outcome {
                    Ok(_) => {
                        if let Err(err) = rt.ledger.reverted(&pending.id) {
                            errors.push(err.to_string());
                        }
                    }
                    Err(err) => errors.push(format!("fault {}: {err}", pending.fault)),
                }
            }
        }
        Err(err) => errors.push(err.to_string()),
    }
    rt.proxy.shutdown().await;
    for link in rt.links.drain(..) {
        journal.record(EventKind::LinkClosed { link });
    }
    while let Some(process) = rt.processes.pop() {
        match process.stop().await {
            Ok(_) => journal.record(EventKind::ResourceStopped {
                resource: process.name().to_string(),
            }),
            Err(err) => errors.push(err.to_string()),
        }
    }
    let containers = rt.containers.clone();
    errors.extend(containers.teardown(&rt.ledger, &rt.run_id, journal).await);
    if errors.is_empty() {
        if let Err(err) = rt.ledger.finished() {
            errors.push(err.to_string());
        }
    } else {
        errors.push(format!(
            "run `pfi recover` to retry what could not be undone (ledger {})",
            rt.ledger.path().display()
        ));
    }
    errors
}

/// Whether and when each prediction came true; journals each verdict.
fn judge_predictions(
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
fn probe_checks(plan: &Plan, store: &MetricsStore) -> Vec<ProbeChecks> {
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
fn telemetry_points(store: &MetricsStore) -> Vec<SeriesPoints> {
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

/// Each probe's figures; `warmup` is the declared warm-up on the store's clock.
fn compare_probes(
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
                if let Some(d) = Degradation::of(&baseline_samples, &samples(&checks), seed) {
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
