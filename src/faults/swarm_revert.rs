//! How the Swarm reverts undo their fault through the manager's API: each reads the real
//! state first (the service's replicas or limits, the node's availability), so reverting
//! twice, or from `pfi recover`, is harmless and says so.

use super::fault_target::FaultTarget;
use super::revert_outcome::RevertOutcome;
use super::{FaultError, running_container};
use crate::targets::docker::{
    NodeAvailability, PlacedTask, SERVICE_NAME_LABEL, ServiceLimits, SwarmService,
};
use crate::targets::{ContainerTarget, DockerEngine, DockerError};
use std::time::Duration;

/// The label the engine puts on every task container: the node it runs on.
pub(super) const NODE_ID_LABEL: &str = "com.docker.swarm.node.id";
/// How long a revert waits for the service to run its tasks again.
pub(super) const CONVERGE_TIMEOUT: Duration = Duration::from_secs(60);

/// The engine of the live target, or a new connection (`pfi recover`).
pub(super) async fn engine_for(live: Option<&FaultTarget>) -> Result<DockerEngine, DockerError> {
    match live.and_then(FaultTarget::as_container) {
        Some(container) => Ok(container.engine().clone()),
        None => DockerEngine::connect().await,
    }
}

/// The service and node of a running task container, or why it is not one.
pub(super) async fn task_of(
    target: &ContainerTarget,
    keyword: &'static str,
) -> Result<(SwarmService, Option<String>), FaultError> {
    let info = match running_container(target, keyword).await {
        Ok(info) => info,
        Err(err) => {
            // A task on another node is not in this engine: the manager knows its service
            // and node from the task id in its container's name.
            let Some(task) = PlacedTask::task_id_in(target.name()) else {
                return Err(err);
            };
            return match target.engine().task_placement(task).await {
                Ok((service, node)) => {
                    Ok((SwarmService::new(target.engine(), &service), Some(node)))
                }
                Err(_) => Err(err),
            };
        }
    };
    let Some(service) = info.labels.get(SERVICE_NAME_LABEL) else {
        return Err(FaultError::Unsupported {
            fault: keyword,
            reason: format!(
                "container `{}` is not a task of a Swarm service (declare the resource as `service \"name\"`)",
                target.name()
            ),
        });
    };
    Ok((
        SwarmService::new(target.engine(), service),
        info.labels.get(NODE_ID_LABEL).cloned(),
    ))
}

pub(super) async fn scale(
    engine: &DockerEngine,
    service: &str,
    replicas: u64,
) -> Result<RevertOutcome, DockerError> {
    let service = SwarmService::new(engine, service);
    let now = service.replicas().await?;
    if now == Some(replicas) {
        return Ok(RevertOutcome::AlreadyReverted(format!(
            "service `{}` asks for {replicas} replicas",
            service.name()
        )));
    }
    service.scale(replicas).await?;
    // The manager starts the tasks; the revert does not hold the run up waiting for them.
    if service.replicas().await? != Some(replicas) {
        return Err(DockerError::Engine {
            action: "scale",
            object: format!("service `{}`", service.name()),
            status: 0,
            message: "the manager did not keep the replicas written back".to_string(),
        });
    }
    Ok(RevertOutcome::Reverted(format!(
        "scaled service `{}` back to {replicas} replicas",
        service.name()
    )))
}

pub(super) async fn limits(
    engine: &DockerEngine,
    service: &str,
    previous: &ServiceLimits,
) -> Result<RevertOutcome, DockerError> {
    let service = SwarmService::new(engine, service);
    if service.limits().await? == *previous {
        return Ok(RevertOutcome::AlreadyReverted(format!(
            "service `{}` has its limits back ({})",
            service.name(),
            previous.describe()
        )));
    }
    service.set_limits(previous).await?;
    if service.limits().await? != *previous {
        return Err(DockerError::Engine {
            action: "update",
            object: format!("service `{}`", service.name()),
            status: 0,
            message: "the manager did not keep the limits written back".to_string(),
        });
    }
    Ok(RevertOutcome::Reverted(format!(
        "restored the limits of service `{}` ({})",
        service.name(),
        previous.describe()
    )))
}

pub(super) async fn availability(
    engine: &DockerEngine,
    node: &str,
    previous: NodeAvailability,
) -> Result<RevertOutcome, DockerError> {
    if engine.node_availability(node).await? == previous {
        return Ok(RevertOutcome::AlreadyReverted(format!(
            "node `{node}` is {}",
            previous.name()
        )));
    }
    engine.set_node_availability(node, previous).await?;
    Ok(RevertOutcome::Reverted(format!(
        "set node `{node}` back to {}",
        previous.name()
    )))
}

pub(super) async fn converged(
    engine: &DockerEngine,
    service: &str,
) -> Result<RevertOutcome, DockerError> {
    let service = SwarmService::new(engine, service);
    let (ok, running, _) = service.converged().await?;
    if ok {
        return Ok(RevertOutcome::AlreadyReverted(format!(
            "service `{}` runs its {running} task(s)",
            service.name()
        )));
    }
    let took = service.wait_converged(CONVERGE_TIMEOUT).await?;
    Ok(RevertOutcome::Reverted(format!(
        "service `{}` runs its tasks again (waited {:.1} s)",
        service.name(),
        took.as_secs_f64()
    )))
}
