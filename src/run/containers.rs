//! Container resources in a run: selecting existing containers (name, id, label, with the
//! seeded blast radius) or creating them from an image (recorded in the ledger first),
//! waiting until they are ready, their stats telemetry, container faults applied to every
//! selected container through the ledger, a watch for containers that disappear, and the
//! teardown that removes what the run created.
//!
//! An environment failure after the start (a container removed, the engine gone) is raised
//! through [`Fatal`]: the run stops, everything is reverted, and `pfi run` exits 3 with a
//! message naming the resource and where it is declared.

use super::journal::{EventKind, Journal};
use super::ledger::Ledger;
use super::liveness::{self, ContainerLife, LivenessBoard};
use super::run_error::RunError;
use crate::agent::{DEFAULT_LEASE, RemoteFault};
use crate::faults::{AppliedFault, Fault, FaultContext, FaultError, inject};
use crate::monitor::{DockerTelemetry, ExpectedStatus, HttpProbe, MetricsStore, Probe, TcpProbe};
use crate::plan::{CheckKind, Location, Params, Pick, Plan, ResourcePlan, ResourceTarget};
use crate::targets::docker::{
    ContainerInfo, ContainerSelector, ContainerSpec, PortMapping, SwarmService, plan_selection,
    validate_pick,
};
use crate::targets::{AgentClient, ContainerTarget, DockerEngine, DockerError, LifecycleRecorder};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long a container resource without a `ready` check may take to start.
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often readiness is checked.
const READY_POLL: Duration = Duration::from_millis(100);
/// How often every selected container is inspected to notice one that disappeared.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);
/// Consecutive failed inspections (engine unreachable...) before the run stops.
const WATCH_FAILURES: u32 = 4;
/// Pause before the stats stream is subscribed again after it ended.
const TELEMETRY_RETRY: Duration = Duration::from_secs(1);
/// The image `docker/build-demo-image.sh` builds.
const DEMO_IMAGE: &str = "pfi-demo:local";

/// The first environment failure seen after the start; the run stops when one is raised.
#[derive(Clone)]
pub(super) struct Fatal {
    slot: Arc<watch::Sender<Option<String>>>,
}

impl Default for Fatal {
    fn default() -> Fatal {
        Fatal {
            slot: Arc::new(watch::channel(None).0),
        }
    }
}

impl Fatal {
    /// Raises `message` unless another failure was raised first.
    pub(super) fn raise(&self, message: String) {
        self.slot.send_if_modified(|slot| {
            if slot.is_some() {
                return false;
            }
            *slot = Some(message);
            true
        });
    }

    /// Completes with the message once a failure is raised.
    pub(super) async fn wait(&self) -> String {
        let mut receiver = self.slot.subscribe();
        let message = receiver
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|message| message.clone());
        match message {
            Some(message) => message,
            None => std::future::pending().await,
        }
    }

    pub(super) fn raised(&self) -> Option<String> {
        self.slot.borrow().clone()
    }
}

/// The containers of one resource.
struct ContainerResource {
    name: String,
    at: Location,
    targets: Vec<ContainerTarget>,
    /// A Swarm service's tasks come and go (a killed task is replaced, a scaled or drained
    /// service gets new ones): its targets are selected again, with the same seeded pick,
    /// before each fault.
    reselect: Option<Reselect>,
    /// The pfi agent that applies this resource's faults on its node, if any.
    agent: Option<AgentClient>,
}

#[derive(Clone)]
struct Reselect {
    engine: DockerEngine,
    selectors: Vec<ContainerSelector>,
    pick: Pick,
    seed: u64,
    stream: String,
}

#[derive(Default)]
struct Inner {
    engine: Option<DockerEngine>,
    resources: Vec<ContainerResource>,
    tasks: Vec<JoinHandle<()>>,
}

/// Every container resource of a run. Cheap to clone; clones share the state.
#[derive(Clone, Default)]
pub(super) struct Containers {
    inner: Arc<Mutex<Inner>>,
    pub(super) fatal: Fatal,
    /// Where exits and restarts of the containers are noted.
    liveness: LivenessBoard,
}

/// A container fault in effect: one applied fault per selected container, with its ledger id.
pub(super) type AppliedContainers = Vec<(String, AppliedFault)>;

fn located(resource: &str, at: &Location, message: impl std::fmt::Display) -> String {
    format!("resource `{resource}` (declared at {at}): {message}")
}

/// Checks every container resource's selector, blast radius and port mappings before
/// anything starts: a mistake there is bad input (exit 2), not an environment failure.
pub(super) fn validate(plan: &Plan) -> Result<(), RunError> {
    for resource in &plan.resources {
        let input =
            |message: String| RunError::input(located(&resource.name, &resource.at, message));
        match &resource.target {
            ResourceTarget::Process { .. } => {}
            ResourceTarget::Container { .. } => {
                plan_selection(&resource.target).map_err(|err| input(err.to_string()))?;
            }
            ResourceTarget::ContainerLabel { pick, .. } | ResourceTarget::Service { pick, .. } => {
                validate_pick(pick).map_err(|err| input(err.to_string()))?;
                plan_selection(&resource.target).map_err(|err| input(err.to_string()))?;
            }
            ResourceTarget::Image { image, ports, .. } => {
                if image.trim().is_empty() {
                    return Err(input("the image is empty".to_string()));
                }
                for port in ports {
                    PortMapping::parse(port)
                        .map_err(|reason| input(format!("invalid port mapping: {reason}")))?;
                }
            }
        }
    }
    Ok(())
}

impl Containers {
    /// Containers whose exits and restarts are noted on `board`.
    pub(super) fn noting_on(board: LivenessBoard) -> Containers {
        Containers {
            liveness: board,
            ..Containers::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The engine, connected on first use.
    async fn engine(&self) -> Result<DockerEngine, DockerError> {
        if let Some(engine) = self.lock().engine.clone() {
            return Ok(engine);
        }
        let engine = DockerEngine::connect().await?;
        self.lock().engine = Some(engine.clone());
        Ok(engine)
    }

    /// Docker API calls made so far in this run.
    pub(super) fn api_calls(&self) -> u64 {
        self.lock()
            .engine
            .as_ref()
            .map_or(0, DockerEngine::api_calls)
    }

    /// Selects or creates the resource's containers, waits until they are ready, and starts
    /// their telemetry and the watch for containers that disappear.
    pub(super) async fn start(
        &self,
        resource: &ResourcePlan,
        seed: u64,
        run_id: &str,
        ledger: Arc<Ledger>,
        store: &MetricsStore,
        journal: &Journal,
    ) -> Result<(), RunError> {
        let env =
            |message: String| RunError::environment(located(&resource.name, &resource.at, message));
        let from_docker = |err: DockerError| {
            let hint = match &err {
                DockerError::NoSuchImage { image } if image == DEMO_IMAGE => {
                    "; build it with `docker/build-demo-image.sh`"
                }
                _ => "",
            };
            let message = located(&resource.name, &resource.at, format!("{err}{hint}"));
            if err.is_input() {
                RunError::input(message)
            } else {
                RunError::environment(message)
            }
        };
        let engine = self.engine().await.map_err(from_docker)?;
        let mut entry = ContainerResource {
            name: resource.name.clone(),
            at: resource.at.clone(),
            targets: Vec::new(),
            reselect: None,
            agent: None,
        };
        if let Some(address) = &resource.agent {
            let token = std::env::var("PFI_AGENT_TOKEN").map_err(|_| {
                env(format!(
                    "its faults go through the agent at {address}: set PFI_AGENT_TOKEN to the agent's token"
                ))
            })?;
            let client = AgentClient::new(address, &token);
            // One call proves the agent is there and holds the same token.
            client
                .faults()
                .await
                .map_err(|err| env(format!("agent {address}: {err}")))?;
            entry.agent = Some(client);
        }
        match ContainerSpec::from_plan(&resource.name, &resource.target) {
            Some(spec) => {
                journal.record(EventKind::ContainerCreating {
                    resource: resource.name.clone(),
                    image: spec.image.to_string(),
                });
                let recorder: Arc<dyn LifecycleRecorder> = ledger;
                let target = engine
                    .create(&spec, run_id, Some(recorder))
                    .await
                    .map_err(from_docker)?;
                entry.targets.push(target);
            }
            None => {
                if let ResourceTarget::Service { name, .. } = &resource.target {
                    // Readiness of a service: as many tasks running as it asks for.
                    SwarmService::new(&engine, name)
                        .wait_converged(DEFAULT_READY_TIMEOUT)
                        .await
                        .map_err(from_docker)?;
                }
                let Some((selectors, pick)) =
                    plan_selection(&resource.target).map_err(from_docker)?
                else {
                    return Err(env("not a container resource".to_string()));
                };
                let stream = format!("resource:{}", resource.name);
                let targets = engine
                    .select(&selectors, &pick, seed, &stream)
                    .await
                    .map_err(from_docker)?;
                entry.targets = targets;
                if matches!(resource.target, ResourceTarget::Service { .. }) {
                    entry.reselect = Some(Reselect {
                        engine: engine.clone(),
                        selectors,
                        pick,
                        seed,
                        stream,
                    });
                }
            }
        }
        // Held from here, so the teardown removes a created container whatever happens next.
        let targets = entry.targets.clone();
        self.lock().resources.push(entry);
        let timeout = match &resource.ready {
            Some(ready) => {
                Duration::from_secs_f64(ready.interval_ms.max(ready.timeout_ms).max(1.0) / 1000.0)
            }
            None => DEFAULT_READY_TIMEOUT,
        };
        for target in &targets {
            wait_ready(target, resource, timeout).await.map_err(&env)?;
        }
        journal.record(EventKind::ContainerReady {
            resource: resource.name.clone(),
            containers: targets.iter().map(|t| t.name().to_string()).collect(),
        });
        let mut tasks = Vec::new();
        for target in &targets {
            let series = if targets.len() == 1 {
                resource.name.clone()
            } else {
                format!("{}[{}]", resource.name, target.name())
            };
            tasks.push(tokio::spawn(DockerTelemetry::new(series).run(
                target.clone(),
                store.clone(),
                TELEMETRY_RETRY,
                std::future::pending::<()>(),
            )));
        }
        // A task of a Swarm service may go (a fault killed it, the service was scaled or its
        // node drained): the manager replaces it, so that is not an environment failure.
        if !matches!(resource.target, ResourceTarget::Service { .. }) {
            tasks.push(tokio::spawn(watch_resource(
                resource.name.clone(),
                resource.at.clone(),
                targets,
                self.fatal.clone(),
                (self.liveness.clone(), store.clone(), journal.clone()),
            )));
        }
        self.lock().tasks.extend(tasks);
        Ok(())
    }

    /// Applies `fault` to every container of `resource`, each recorded in the ledger first
    /// (`ledger_id`, or `ledger_id.N` when there are several). If one fails, the ones already
    /// applied are reverted; an environment failure (the container is gone, the engine is
    /// unreachable) also stops the run.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn apply(
        &self,
        resource: &str,
        fault: &dyn Fault,
        params: &Params,
        fault_name: &str,
        run_id: &str,
        ledger_id: &str,
        ledger: &Ledger,
    ) -> Result<AppliedContainers, String> {
        let found = self
            .lock()
            .resources
            .iter()
            .find(|r| r.name == resource)
            .map(|r| {
                (
                    r.targets.clone(),
                    r.at.clone(),
                    r.reselect.clone(),
                    r.agent.clone(),
                )
            });
        let Some((mut targets, at, reselect, agent)) = found else {
            return Err(format!("resource `{resource}` is not running"));
        };
        if let Some(again) = reselect {
            targets = again
                .engine
                .select(&again.selectors, &again.pick, again.seed, &again.stream)
                .await
                .map_err(|err| format!("selecting the tasks of `{resource}` again: {err}"))?;
        }
        let remote =
            agent.map(|client| RemoteFault::new(client, fault, params.clone(), DEFAULT_LEASE));
        let fault: &dyn Fault = match &remote {
            Some(remote) => remote,
            None => fault,
        };
        let mut applied: AppliedContainers = Vec::new();
        for (index, target) in targets.iter().enumerate() {
            let id = if targets.len() == 1 {
                ledger_id.to_string()
            } else {
                format!("{ledger_id}.{}", index + 1)
            };
            let ctx = FaultContext::new(run_id, id.clone());
            let recorded_target = if targets.len() == 1 {
                resource.to_string()
            } else {
                format!("{resource} ({})", target.name())
            };
            let result = inject(fault, target, &ctx, |revert| {
                ledger.applying(&id, fault_name, &recorded_target, revert)
            })
            .await;
            match result {
                Ok(fault) => applied.push((id, fault)),
                Err(err) => {
                    let mut message = format!("container `{}`: {err}", target.name());
                    if let Err(undo) = revert(&applied, ledger).await {
                        message.push_str(&format!(
                            "; undoing it on the other containers failed: {undo}"
                        ));
                    }
                    if let Some(docker) = environment_failure(&err) {
                        self.fatal.raise(located(
                            resource,
                            &at,
                            format!("fault `{fault_name}` could not be applied: {docker}"),
                        ));
                    }
                    return Err(message);
                }
            }
        }
        Ok(applied)
    }

    /// Stops the telemetry and watch tasks, then removes every container the run created
    /// (also ones recorded in the ledger whose creation was interrupted). Returns what failed.
    pub(super) async fn teardown(
        &self,
        ledger: &Ledger,
        run_id: &str,
        journal: &Journal,
    ) -> Vec<String> {
        let (tasks, resources, engine) = {
            let mut inner = self.lock();
            (
                std::mem::take(&mut inner.tasks),
                std::mem::take(&mut inner.resources),
                inner.engine.clone(),
            )
        };
        for task in tasks {
            task.abort();
        }
        if engine.is_some() {
            journal.record(EventKind::DockerApiCalls {
                calls: self.api_calls(),
            });
        }
        let mut errors = Vec::new();
        for resource in resources.iter().rev() {
            for target in resource.targets.iter().filter(|t| t.is_created_by_pfi()) {
                match target.remove().await {
                    Ok(()) => journal.record(EventKind::ContainerRemoved {
                        container: target.name().to_string(),
                        resource: resource.name.clone(),
                        how: None,
                    }),
                    Err(err) => errors.push(located(&resource.name, &resource.at, err)),
                }
            }
        }
        // A creation interrupted by Ctrl-C is still completing in the engine: wait for it, so
        // that the container it makes is found (and removed) below rather than left behind.
        if let Some(engine) = &engine {
            engine.settle_creations().await;
        }
        let leftover = match ledger.contents() {
            Ok(contents) => contents.outstanding().containers,
            Err(err) => {
                errors.push(err.to_string());
                Vec::new()
            }
        };
        if leftover.is_empty() {
            return errors;
        }
        let engine = match engine {
            Some(engine) => Ok(engine),
            None => DockerEngine::connect().await,
        };
        match engine {
            Ok(engine) => {
                for container in leftover.iter().rev() {
                    match engine.remove_created(&container.name, run_id).await {
                        Ok(removal) => {
                            journal.record(EventKind::ContainerRemoved {
                                container: container.name.clone(),
                                resource: container.resource.clone(),
                                how: Some(format!("{removal:?}")),
                            });
                            if let Err(err) =
                                ledger.container_removed(&container.resource, &container.name)
                            {
                                errors.push(err.to_string());
                            }
                        }
                        Err(err) => {
                            errors.push(format!("resource `{}`: {err}", container.resource))
                        }
                    }
                }
            }
            Err(err) => errors.push(format!(
                "cannot remove the containers this run created ({}): {err}",
                leftover
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        errors
    }
}

/// Reverts a container fault on every container it was applied to, newest first, marking each
/// reverted in the ledger. A container that is gone counts as reverted.
pub(super) async fn revert(
    applied: &[(String, AppliedFault)],
    ledger: &Ledger,
) -> Result<(), String> {
    let mut errors = Vec::new();
    for (id, fault) in applied.iter().rev() {
        match fault.revert().await {
            Ok(_) => {
                if let Err(err) = ledger.reverted(id) {
                    errors.push(err.to_string());
                }
            }
            Err(err) => errors.push(format!("container `{}`: {err}", fault.target().name())),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// What applying a fault ran into that stops the run (the environment failed), if anything.
fn environment_failure(err: &FaultError) -> Option<&DockerError> {
    match err {
        FaultError::Docker(
            docker @ (DockerError::NoSuchContainer { .. }
            | DockerError::Unreachable { .. }
            | DockerError::PermissionDenied { .. }),
        ) => Some(docker),
        FaultError::Apply { source, .. } => environment_failure(source),
        _ => None,
    }
}

/// Waits until the container runs and its `ready` check passes (without one: until every
/// published port accepts a connection).
async fn wait_ready(
    target: &ContainerTarget,
    resource: &ResourcePlan,
    timeout: Duration,
) -> Result<(), String> {
    let started = Instant::now();
    let deadline = started + timeout;
    loop {
        let info = target.info().await.map_err(|err| err.to_string())?;
        if !info.running {
            let exit = info
                .exit_code
                .map_or(String::new(), |code| format!(" with exit code {code}"));
            return Err(format!(
                "container `{}` is not running ({}{exit}); see `docker logs {}`",
                target.name(),
                info.status,
                target.name()
            ));
        }
        if info.paused {
            return Err(format!(
                "container `{}` is paused; unpause it first (`docker unpause {}`)",
                target.name(),
                target.name()
            ));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let check_timeout = remaining.clamp(Duration::from_millis(50), Duration::from_secs(1));
        let last = match ready_check(&info, resource, check_timeout).await {
            Ok(()) => return Ok(()),
            Err(detail) => detail,
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "container `{}` was not ready after {:.1}s: {last}; see `docker logs {}`",
                target.name(),
                started.elapsed().as_secs_f64(),
                target.name()
            ));
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

async fn ready_check(
    info: &ContainerInfo,
    resource: &ResourcePlan,
    timeout: Duration,
) -> Result<(), String> {
    match resource.ready.as_ref().map(|ready| &ready.check) {
        Some(CheckKind::Http { url }) => {
            let probe = HttpProbe::new("GET", url, ExpectedStatus::Success, timeout)?;
            let check = probe.check().await;
            if check.success {
                Ok(())
            } else {
                Err(format!("GET {url}: {}", check.detail))
            }
        }
        Some(CheckKind::Tcp { address }) => {
            let check = TcpProbe::new(address.clone(), timeout).check().await;
            if check.success {
                Ok(())
            } else {
                Err(format!("tcp {address}: {}", check.detail))
            }
        }
        None => {
            for (port, addresses) in &info.ports {
                if !port.ends_with("/tcp") {
                    continue;
                }
                if let Some(address) = info.host_address(port) {
                    let check = TcpProbe::new(address.to_string(), timeout).check().await;
                    if !check.success {
                        return Err(format!(
                            "published port {port} ({address}): {}",
                            check.detail
                        ));
                    }
                } else if addresses.is_empty() {
                    continue;
                }
            }
            Ok(())
        }
    }
}

/// Inspects the resource's containers until the task is aborted; raises `fatal` when one is
/// gone, or when the engine failed several times in a row.
async fn watch_resource(
    resource: String,
    at: Location,
    targets: Vec<ContainerTarget>,
    fatal: Fatal,
    (board, store, journal): (LivenessBoard, MetricsStore, Journal),
) {
    let mut failures = 0;
    let mut interval = tokio::time::interval(WATCH_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let series = format!("{resource}.up");
    // The last inspection of each container (they were all ready when the watch started).
    let mut lives: Vec<Option<ContainerLife>> = vec![None; targets.len()];
    loop {
        interval.tick().await;
        for (target, last) in targets.iter().zip(lives.iter_mut()) {
            match target.info().await {
                Ok(info) => {
                    failures = 0;
                    let now = ContainerLife {
                        running: info.running,
                        started_at: info.started_at.clone(),
                        exit_code: info.exit_code,
                    };
                    if let Some(what) = last
                        .as_ref()
                        .and_then(|before| liveness::container_change(target.name(), before, &now))
                    {
                        liveness::note(&board, &store, &journal, &resource, what);
                    }
                    *last = Some(now);
                }
                Err(err) if err.is_gone() => {
                    fatal.raise(located(&resource, &at, format!("during the run: {err}")));
                    return;
                }
                Err(err) => {
                    failures += 1;
                    tracing::debug!(resource = %resource, "inspect failed: {err}");
                    if failures >= WATCH_FAILURES {
                        fatal.raise(located(&resource, &at, format!("during the run: {err}")));
                        return;
                    }
                }
            }
        }
        let up = lives.iter().all(|l| l.as_ref().is_some_and(|l| l.running));
        store.record_now(&series, if up { 1.0 } else { 0.0 });
    }
}
