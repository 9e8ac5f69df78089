//! Container resources in a run: selecting existing containers (name, id, label, with the
//! seeded blast radius) or creating them from an image (recorded in the ledger first),
//! waiting until they are ready, their stats telemetry, container faults applied to every
//! selected container through the ledger, a watch for containers that disappear, and the
//! teardown that removes what the run created.
//!
//! An environment failure after the start (a container removed, the engine gone) is raised
//! through [`Fatal`]: the run stops, everything is reverted, and `pfi run` exits 3 with a
//! message naming the resource and where it is declared.

use super::agent_routes::{AgentRoutes, Route};
use super::journal::{EventKind, Journal};
use super::ledger::Ledger;
use super::liveness::{self, ContainerLife, LivenessBoard};
use super::run_error::RunError;
use crate::agent::{DEFAULT_LEASE, RemoteFault};
use crate::faults::{AppliedFault, Fault, FaultContext, FaultError, inject};
use crate::monitor::{DockerTelemetry, ExpectedStatus, HttpProbe, MetricsStore, Probe, TcpProbe};
use crate::plan::{CheckKind, Location, Params, Pick, Plan, ResourcePlan, ResourceTarget};
use crate::targets::docker::{
    ContainerInfo, ContainerSpec, PlacedTask, PortMapping, SwarmService, SwarmTasks,
    plan_selection, validate_pick,
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
    /// The agents of a Swarm service resource's nodes (`agent_service`), if any.
    routes: Option<AgentRoutes>,
}

/// A Swarm resource's tasks, from the manager's task list, with the same seeded pick.
#[derive(Clone)]
struct Reselect {
    engine: DockerEngine,
    tasks: SwarmTasks,
    pick: Pick,
    seed: u64,
    stream: String,
}

/// The Swarm tasks a resource names, `None` for other resources.
fn swarm_tasks(target: &ResourceTarget) -> Option<SwarmTasks> {
    match target {
        ResourceTarget::Service { name, .. } => Some(SwarmTasks::Named(name.clone())),
        ResourceTarget::ServiceLabel { selector, .. } => {
            Some(SwarmTasks::Labelled(selector.clone()))
        }
        _ => None,
    }
}

/// One container a fault is applied to, and the agent that applies it (`None`: this engine).
type Routed = (ContainerTarget, Option<AgentClient>);

/// A selected task as a target: its container here when it runs on this engine's node, else
/// known by id and name (for its node's agent, or the manager).
async fn task_target(
    engine: &DockerEngine,
    task: &PlacedTask,
    local_node: Option<&str>,
) -> Result<(ContainerTarget, bool), DockerError> {
    if local_node == Some(task.node_id.as_str()) {
        Ok((engine.local_task(task).await?, true))
    } else {
        Ok((engine.remote_task(task), false))
    }
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
            ResourceTarget::ContainerLabel { pick, .. }
            | ResourceTarget::Service { pick, .. }
            | ResourceTarget::ServiceLabel { pick, .. } => {
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
            routes: None,
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
        if let Some(service) = &resource.agent_service {
            let token = std::env::var("PFI_AGENT_TOKEN").map_err(|_| {
                env(format!(
                    "its faults go through the agents of service `{service}`: set PFI_AGENT_TOKEN to their token"
                ))
            })?;
            let routes = AgentRoutes::discover(&engine, service, &token)
                .await
                .map_err(|err| env(format!("the agents of `{service}`: {err}")))?;
            for (node, client) in routes.agents() {
                client.faults().await.map_err(|err| {
                    env(format!(
                        "the agent of node `{node}` at {}: {err}",
                        client.address()
                    ))
                })?;
            }
            entry.routes = Some(routes);
        }
        // Tasks of another node: no readiness wait, telemetry or watch here (their engine is
        // not this one); the manager says they run.
        let mut remote: Vec<String> = Vec::new();
        let swarm_set = swarm_tasks(&resource.target);
        match (
            ContainerSpec::from_plan(&resource.name, &resource.target),
            swarm_set.clone(),
        ) {
            (Some(spec), _) => {
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
            (None, Some(tasks)) => {
                // Readiness of a service: as many tasks running as it asks for (then, below,
                // each selected local task's healthcheck passing when it has one).
                for service in tasks.services(&engine).await.map_err(from_docker)? {
                    SwarmService::new(&engine, &service)
                        .wait_converged(DEFAULT_READY_TIMEOUT)
                        .await
                        .map_err(from_docker)?;
                }
                let pick = match &resource.target {
                    ResourceTarget::Service { pick, .. }
                    | ResourceTarget::ServiceLabel { pick, .. } => pick.clone(),
                    _ => Pick::All,
                };
                let stream = format!("resource:{}", resource.name);
                let local_node = engine.swarm_node_id().await.map_err(from_docker)?;
                let placed = tasks
                    .select(&engine, &pick, seed, &stream)
                    .await
                    .map_err(from_docker)?;
                for task in &placed {
                    let (target, local) = task_target(&engine, task, local_node.as_deref())
                        .await
                        .map_err(from_docker)?;
                    if !local {
                        remote.push(target.name().to_string());
                    }
                    entry.targets.push(target);
                }
                entry.reselect = Some(Reselect {
                    engine: engine.clone(),
                    tasks,
                    pick,
                    seed,
                    stream,
                });
            }
            (None, None) => {
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
        let swarm = swarm_set.is_some();
        let targets: Vec<ContainerTarget> = targets
            .into_iter()
            .filter(|t| !remote.iter().any(|name| name == t.name()))
            .collect();
        for target in &targets {
            wait_ready(target, resource, timeout, swarm)
                .await
                .map_err(&env)?;
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
        if !swarm {
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
                    r.routes.clone(),
                )
            });
        let Some((targets, at, reselect, agent, routes)) = found else {
            return Err(format!("resource `{resource}` is not running"));
        };
        let routed: Vec<Routed> = match reselect {
            Some(again) => route_tasks(&again, routes.as_ref(), agent.as_ref(), fault)
                .await
                .map_err(|err| format!("selecting the tasks of `{resource}` again: {err}"))?,
            None => targets
                .into_iter()
                .map(|target| (target, agent.clone()))
                .collect(),
        };
        let targets: Vec<&ContainerTarget> = routed.iter().map(|(target, _)| target).collect();
        let mut applied: AppliedContainers = Vec::new();
        for (index, (target, via)) in routed.iter().enumerate() {
            let remote = via
                .clone()
                .map(|client| RemoteFault::new(client, fault, params.clone(), DEFAULT_LEASE));
            let fault: &dyn Fault = match &remote {
                Some(remote) => remote,
                None => fault,
            };
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

/// A Swarm resource's tasks selected again, each with the agent its fault goes through: the
/// agent of its node (`agent_service`), else the resource's one agent (`agent`), else this
/// engine. Faults through the manager (`scale`, `update`, `drain`) always go through this
/// engine, which is a manager.
async fn route_tasks(
    again: &Reselect,
    routes: Option<&AgentRoutes>,
    agent: Option<&AgentClient>,
    fault: &dyn Fault,
) -> Result<Vec<Routed>, String> {
    let engine = &again.engine;
    let placed = again
        .tasks
        .select(engine, &again.pick, again.seed, &again.stream)
        .await
        .map_err(|err| err.to_string())?;
    let local_node = engine
        .swarm_node_id()
        .await
        .map_err(|err| err.to_string())?;
    let mut routed = Vec::new();
    for task in &placed {
        let (target, local) = task_target(engine, task, local_node.as_deref())
            .await
            .map_err(|err| err.to_string())?;
        let via = if fault.through_manager() {
            None
        } else if let Some(routes) = routes {
            match routes.route(&task.node_id)? {
                Route::Local => None,
                Route::Agent(address) => routes.client(&address),
            }
        } else if let Some(agent) = agent {
            Some(agent.clone())
        } else if local {
            None
        } else {
            return Err(format!(
                "task `{}` runs on node `{}`, not this engine's: declare the agents (`agent_service`) to reach it",
                task.name, task.node_id
            ));
        };
        routed.push((target, via));
    }
    Ok(routed)
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
/// published port accepts a connection); with `healthy` (a Swarm task), also until its Docker
/// healthcheck passes when it has one.
async fn wait_ready(
    target: &ContainerTarget,
    resource: &ResourcePlan,
    timeout: Duration,
    healthy: bool,
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
        // A Swarm task is ready once its Docker healthcheck passes, when it has one.
        let health = info
            .health
            .as_deref()
            .filter(|status| healthy && *status != "healthy");
        let last = match health {
            Some(status) => format!("its healthcheck is `{status}`, not `healthy`"),
            None => match ready_check(&info, resource, check_timeout).await {
                Ok(()) => return Ok(()),
                Err(detail) => detail,
            },
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
