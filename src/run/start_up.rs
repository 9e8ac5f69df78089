//! Start-up: the run task starts the links and then the resources in plan order, the probes,
//! health and liveness watches, telemetry and the mitigation engine, then hands the timeline
//! to the schedule with a [`Driver`].

use super::containers::{self};
use super::driver::Driver;
use super::fault_windows::FaultWindows;
use super::health::{HealthBoard, HealthWatch};
use super::journal::{EventKind, Journal};
use super::liveness::{self, LivenessBoard};
use super::mitigation;
use super::predicted_abort::PredictedAbort;
use super::progress::{ProgressView, drive as drive_progress};
use super::resource_start::{located, start_link, start_resource};
use super::run_error::RunError;
use super::runtime::Runtime;
use super::schedule::{Ending, Schedule};
use super::telemetry::{self};
use crate::model::timeline;
use crate::monitor::{
    CommandProbe, ExpectedStatus, HttpProbe, MetricsStore, Probe, TcpProbe, run_probe,
};
use crate::plan::{Plan, ProbeCheck, ResourceTarget};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Starts everything, then probes and the schedule.
// The run's shared state, handed over one piece each so the run task owns clones of them.
#[allow(clippy::too_many_arguments)]
pub(super) async fn body(
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
        view.attach(super::progress::LiveSource {
            store: store.clone(),
            store_origin_ms: journal.elapsed_ms() - store.now().as_secs_f64() * 1000.0,
            ready_ms: journal.ms_at(zero.into_std()),
        });
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
