//! How the container reverts undo their fault: each reads the container's state first, so
//! reverting twice, or after the container is gone, is harmless and says so.

use super::fault_target::FaultTarget;
use super::revert_outcome::RevertOutcome;
use crate::targets::docker::{ContainerLimits, ContainerRef, NetworkAttachment};
use crate::targets::{ContainerTarget, DockerEngine, DockerError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often a revert looks at a container that may still be stopping.
const STOPPING_POLL: Duration = Duration::from_millis(100);

/// Now, in milliseconds since the Unix epoch.
pub(super) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The live target when it is this container; else the container through the live target's
/// engine, or through a new connection (`pfi recover`).
pub(super) async fn target_for(
    reference: &ContainerRef,
    live: Option<&FaultTarget>,
) -> Result<ContainerTarget, DockerError> {
    match live.and_then(FaultTarget::as_container) {
        Some(container) if container.id() == reference.id => Ok(container.clone()),
        Some(container) => Ok(container.engine().container(reference)),
        None => Ok(DockerEngine::connect().await?.container(reference)),
    }
}

/// Runs a revert, turning "the container is gone" into nothing left to undo.
pub(super) async fn gone_is_done(
    reference: &ContainerRef,
    revert: impl Future<Output = Result<RevertOutcome, DockerError>>,
) -> Result<RevertOutcome, DockerError> {
    match revert.await {
        Err(err) if err.is_gone() => Ok(RevertOutcome::AlreadyReverted(format!(
            "{reference} no longer exists"
        ))),
        other => other,
    }
}

pub(super) async fn unpause(target: &ContainerTarget) -> Result<RevertOutcome, DockerError> {
    let name = target.name();
    if !target.info().await?.paused {
        return Ok(RevertOutcome::AlreadyReverted(format!(
            "container `{name}` is not paused"
        )));
    }
    target.unpause().await?;
    Ok(RevertOutcome::Reverted(format!(
        "unpaused container `{name}`"
    )))
}

/// Starts the container unless it is running. Until `stopping_until_ms` (Unix ms) a running
/// container may be in the middle of the fault's stop (its grace period): wait for it to stop
/// rather than find it running and leave it to exit a moment later.
pub(super) async fn start(
    target: &ContainerTarget,
    stopping_until_ms: Option<u64>,
) -> Result<RevertOutcome, DockerError> {
    let name = target.name();
    let mut info = target.info().await?;
    while info.running
        && let Some(until) = stopping_until_ms
        && unix_ms() < until
    {
        tokio::time::sleep(STOPPING_POLL).await;
        info = target.info().await?;
    }
    if info.running {
        return Ok(RevertOutcome::AlreadyReverted(format!(
            "container `{name}` is running"
        )));
    }
    target.start().await?;
    // Check what the engine did: a container that exits at once is reported, not assumed
    // running.
    let after = target.info().await?;
    if !after.running {
        return Err(DockerError::DidNotStayRunning {
            container: name.to_string(),
            status: after.status.to_string(),
        });
    }
    Ok(RevertOutcome::Reverted(format!(
        "started container `{name}` again"
    )))
}

pub(super) async fn restore_limits(
    target: &ContainerTarget,
    previous: &ContainerLimits,
) -> Result<RevertOutcome, DockerError> {
    let name = target.name();
    let info = target.info().await?;
    // Only what is left: a restore cut between its two steps (SIGKILL) is finished here.
    let steps = previous.remaining_steps(&info.limits);
    if steps.is_empty() {
        return Ok(RevertOutcome::AlreadyReverted(format!(
            "container `{name}` has its limits back ({})",
            previous.describe()
        )));
    }
    for step in steps {
        target.update_limits(&step).await?;
    }
    Ok(RevertOutcome::Reverted(format!(
        "restored the limits of container `{name}` ({})",
        previous.describe()
    )))
}

pub(super) async fn reconnect(
    target: &ContainerTarget,
    networks: &[NetworkAttachment],
) -> Result<RevertOutcome, DockerError> {
    let name = target.name();
    let info = target.info().await?;
    let mut reconnected = Vec::new();
    for attachment in networks {
        if info.network(&attachment.network).is_some() {
            continue;
        }
        target.connect(attachment).await?;
        reconnected.push(attachment.network.as_str());
    }
    if reconnected.is_empty() {
        return Ok(RevertOutcome::AlreadyReverted(format!(
            "container `{name}` is on its networks"
        )));
    }
    Ok(RevertOutcome::Reverted(format!(
        "reconnected container `{name}` to {}",
        reconnected.join(", ")
    )))
}
