//! `RevertAction`: how to undo a fault, decided before the fault is applied so the run's
//! ledger holds it first. Serialisable; reverting is idempotent (twice, or after the process
//! or container is gone, is fine and says so).

use super::cgroup::CgroupPlacement;
use super::container_revert::{self, gone_is_done, target_for};
use super::fault_target::FaultTarget;
use super::swarm_revert;
use crate::targets::docker::{
    ContainerLimits, ContainerRef, NetworkAttachment, NodeAvailability, ServiceLimits,
};
use crate::targets::{Liveness, ProcessIdentity, Signal};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RevertAction {
    /// The fault leaves nothing to undo (a restart).
    Nothing { reason: String },
    /// Continue a paused process (SIGCONT, to its group when it leads one).
    Resume {
        pid: u32,
        start_time: u64,
        pgid: u32,
    },
    /// Start the resource again unless it is running (after `stop` or `kill`). Needs the
    /// live target: `pfi recover` does not restart processes, it stops the run's processes.
    Respawn { resource: String },
    /// Move the processes back to their cgroup and remove the fault's cgroup.
    RemoveCgroup { placement: CgroupPlacement },
    /// Unpause a container (when it is paused).
    UnpauseContainer { container: ContainerRef },
    /// Start a container the fault stopped or killed (unless it is running). `pfi recover`
    /// does this too: the engine keeps the container's configuration.
    StartContainer {
        container: ContainerRef,
        /// When a stop the fault asked for is sure to be over (Unix ms: asked + grace +
        /// the kill): until then a running container may still be stopping, so the revert
        /// waits for it to stop (as `pfi recover` after a SIGKILL mid-stop must).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stopping_until_ms: Option<u64>,
    },
    /// Write the container's previous limits back (`docker update`).
    RestoreContainerLimits {
        container: ContainerRef,
        previous: ContainerLimits,
    },
    /// Reconnect the container to the networks it was on, with the same aliases and fixed
    /// addresses.
    ReconnectContainer {
        container: ContainerRef,
        networks: Vec<NetworkAttachment>,
    },
    /// Set a Swarm service's replicas back and wait until its tasks run.
    ScaleService { service: String, replicas: u64 },
    /// Set a Swarm service's CPU and memory limits back and wait until its tasks run.
    RestoreServiceLimits {
        service: String,
        previous: ServiceLimits,
    },
    /// Set a Swarm node's availability back.
    RestoreNodeAvailability {
        node: String,
        availability: NodeAvailability,
    },
    /// Wait until a Swarm service runs its tasks again (after a task was killed: the manager
    /// replaces it; nothing is started by hand).
    AwaitService { service: String },
    /// Ask the pfi agent at `agent` to revert fault `id` (it applied it on `container`); its
    /// token is read from `PFI_AGENT_TOKEN`. If the agent cannot be reached, its lease
    /// reverts the fault when it lapses.
    Agent {
        agent: String,
        id: String,
        container: String,
    },
}

pub use super::revert_outcome::RevertOutcome;

/// A revert that failed; the fault may still be in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevertError {
    /// The action, described.
    pub action: String,
    pub message: String,
}

impl fmt::Display for RevertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot {}: {}", self.action, self.message)
    }
}

impl std::error::Error for RevertError {}

impl RevertAction {
    /// Undoes the fault. `live` is the resource's target during a run (needed to respawn a
    /// process; a container's reuses its engine connection); `None` from `pfi recover`.
    pub async fn revert(&self, live: Option<&FaultTarget>) -> Result<RevertOutcome, RevertError> {
        let fail = |message: String| RevertError {
            action: self.to_string(),
            message,
        };
        // An apply still in flight (the run was interrupted while it ran) would change the
        // target after this revert looked at it: wait for it first.
        if !super::in_flight::settle(super::in_flight::SETTLE_LIMIT).await {
            tracing::warn!(
                action = %self,
                "a fault was still being applied after {} s; reverting anyway",
                super::in_flight::SETTLE_LIMIT.as_secs()
            );
        }
        match self {
            RevertAction::Nothing { reason } => Ok(RevertOutcome::AlreadyReverted(reason.clone())),
            RevertAction::Resume {
                pid,
                start_time,
                pgid,
            } => {
                let identity = ProcessIdentity {
                    pid: *pid,
                    start_time: *start_time,
                    pgid: *pgid,
                };
                match identity.liveness().map_err(|err| fail(err.to_string()))? {
                    Liveness::Gone => {
                        return Ok(RevertOutcome::AlreadyReverted(format!(
                            "process {pid} is gone"
                        )));
                    }
                    Liveness::Reused => {
                        return Ok(RevertOutcome::AlreadyReverted(format!(
                            "process {pid} is gone (the pid now belongs to another process, left alone)"
                        )));
                    }
                    Liveness::Alive(_) => {}
                }
                let sent = identity
                    .signal_group(Signal::CONT)
                    .map_err(|err| fail(err.to_string()))?;
                Ok(if sent {
                    RevertOutcome::Reverted(format!("sent SIGCONT to process {pid}"))
                } else {
                    RevertOutcome::AlreadyReverted(format!("process {pid} has exited"))
                })
            }
            RevertAction::Respawn { resource } => match live.and_then(FaultTarget::as_process) {
                None => Ok(RevertOutcome::Skipped(format!(
                    "`{resource}` is not started again outside a run"
                ))),
                Some(target) => {
                    if let Some(identity) = target.identity() {
                        return Ok(RevertOutcome::AlreadyReverted(format!(
                            "`{resource}` is running (pid {})",
                            identity.pid
                        )));
                    }
                    let identity = target
                        .ensure_running()
                        .await
                        .map_err(|err| fail(err.to_string()))?;
                    Ok(RevertOutcome::Reverted(format!(
                        "started `{resource}` again (pid {})",
                        identity.pid
                    )))
                }
            },
            RevertAction::RemoveCgroup { placement } => {
                let placement = placement.clone();
                tokio::task::spawn_blocking(move || placement.revert())
                    .await
                    .map_err(|err| fail(format!("the revert task failed: {err}")))?
                    .map_err(fail)
            }
            RevertAction::UnpauseContainer { container } => {
                let revert =
                    async { container_revert::unpause(&target_for(container, live).await?).await };
                gone_is_done(container, revert)
                    .await
                    .map_err(|err| fail(err.to_string()))
            }
            RevertAction::StartContainer {
                container,
                stopping_until_ms,
            } => {
                let revert = async {
                    container_revert::start(&target_for(container, live).await?, *stopping_until_ms)
                        .await
                };
                gone_is_done(container, revert)
                    .await
                    .map_err(|err| fail(err.to_string()))
            }
            RevertAction::RestoreContainerLimits {
                container,
                previous,
            } => {
                let revert = async {
                    container_revert::restore_limits(&target_for(container, live).await?, previous)
                        .await
                };
                gone_is_done(container, revert)
                    .await
                    .map_err(|err| fail(err.to_string()))
            }
            RevertAction::ReconnectContainer {
                container,
                networks,
            } => {
                let revert = async {
                    container_revert::reconnect(&target_for(container, live).await?, networks).await
                };
                gone_is_done(container, revert)
                    .await
                    .map_err(|err| fail(err.to_string()))
            }
            RevertAction::ScaleService { service, replicas } => {
                let engine = swarm_revert::engine_for(live).await;
                let engine = engine.map_err(|err| fail(err.to_string()))?;
                swarm_revert::scale(&engine, service, *replicas)
                    .await
                    .map_err(|err| fail(err.to_string()))
            }
            RevertAction::RestoreServiceLimits { service, previous } => {
                let engine = swarm_revert::engine_for(live).await;
                let engine = engine.map_err(|err| fail(err.to_string()))?;
                swarm_revert::limits(&engine, service, previous)
                    .await
                    .map_err(|err| fail(err.to_string()))
            }
            RevertAction::RestoreNodeAvailability { node, availability } => {
                let engine = swarm_revert::engine_for(live).await;
                let engine = engine.map_err(|err| fail(err.to_string()))?;
                swarm_revert::availability(&engine, node, *availability)
                    .await
                    .map_err(|err| fail(err.to_string()))
            }
            RevertAction::Agent { agent, id, .. } => {
                let token = std::env::var("PFI_AGENT_TOKEN").map_err(|_| {
                    fail("set PFI_AGENT_TOKEN to the agent's token (its lease reverts the fault anyway when it lapses)".to_string())
                })?;
                let outcome = crate::targets::AgentClient::new(agent, &token)
                    .revert(id)
                    .await
                    .map_err(|err| {
                        fail(format!(
                            "{err} (its lease reverts the fault when it lapses)"
                        ))
                    })?;
                Ok(
                    if outcome.starts_with("not held") || outcome.starts_with("nothing to undo") {
                        RevertOutcome::AlreadyReverted(format!("agent {agent}: {outcome}"))
                    } else {
                        RevertOutcome::Reverted(format!("agent {agent}: {outcome}"))
                    },
                )
            }
            RevertAction::AwaitService { service } => {
                let engine = swarm_revert::engine_for(live).await;
                let engine = engine.map_err(|err| fail(err.to_string()))?;
                swarm_revert::converged(&engine, service)
                    .await
                    .map_err(|err| fail(err.to_string()))
            }
        }
    }
}

impl fmt::Display for RevertAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevertAction::Nothing { .. } => f.write_str("do nothing"),
            RevertAction::Resume { pid, .. } => write!(f, "resume process {pid}"),
            RevertAction::Respawn { resource } => write!(f, "start `{resource}` again"),
            RevertAction::RemoveCgroup { placement } => {
                write!(f, "remove cgroup {}", placement.path.display())
            }
            RevertAction::UnpauseContainer { container } => write!(f, "unpause {container}"),
            RevertAction::StartContainer { container, .. } => {
                write!(f, "start {container} again")
            }
            RevertAction::RestoreContainerLimits {
                container,
                previous,
            } => write!(
                f,
                "restore the limits of {container} ({})",
                previous.describe()
            ),
            RevertAction::ReconnectContainer {
                container,
                networks,
            } => {
                let names: Vec<&str> = networks.iter().map(|n| n.network.as_str()).collect();
                write!(f, "reconnect {container} to {}", names.join(", "))
            }
            RevertAction::ScaleService { service, replicas } => {
                write!(f, "scale service `{service}` back to {replicas} replicas")
            }
            RevertAction::RestoreServiceLimits { service, previous } => write!(
                f,
                "restore the limits of service `{service}` ({})",
                previous.describe()
            ),
            RevertAction::RestoreNodeAvailability { node, availability } => {
                write!(f, "set node `{node}` back to {}", availability.name())
            }
            RevertAction::AwaitService { service } => {
                write!(f, "wait until service `{service}` runs its tasks again")
            }
            RevertAction::Agent {
                agent,
                id,
                container,
            } => write!(
                f,
                "ask the agent at {agent} to revert `{id}` on container `{container}`"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_an_action_tag() {
        let action = RevertAction::Resume {
            pid: 12,
            start_time: 34,
            pgid: 12,
        };
        let json = serde_json::to_string(&action).unwrap();
        assert_eq!(
            json,
            r#"{"action":"resume","pid":12,"start_time":34,"pgid":12}"#
        );
        let back: RevertAction = serde_json::from_str(&json).unwrap();
        assert_eq!(back, action);
    }

    #[tokio::test]
    async fn resuming_a_gone_process_is_harmless() {
        let action = RevertAction::Resume {
            pid: u32::MAX - 1,
            start_time: 1,
            pgid: u32::MAX - 1,
        };
        let outcome = action.revert(None).await.unwrap();
        assert!(
            matches!(outcome, RevertOutcome::AlreadyReverted(_)),
            "{outcome:?}"
        );
    }

    #[test]
    fn container_reverts_serialise_with_their_previous_state() {
        let action = RevertAction::RestoreContainerLimits {
            container: ContainerRef {
                id: "abc".into(),
                name: "web-1".into(),
            },
            previous: ContainerLimits {
                cpu_quota: Some(0),
                ..ContainerLimits::default()
            },
        };
        let json = serde_json::to_string(&action).unwrap();
        assert_eq!(
            json,
            r#"{"action":"restore_container_limits","container":{"id":"abc","name":"web-1"},"previous":{"cpu_quota":0}}"#
        );
        assert_eq!(serde_json::from_str::<RevertAction>(&json).unwrap(), action);
        assert_eq!(
            action.to_string(),
            "restore the limits of container `web-1` (CpuQuota=0)"
        );
    }

    #[test]
    fn a_start_after_a_stop_keeps_when_the_stop_is_over_and_reads_old_ledgers() {
        let container = ContainerRef {
            id: "abc".into(),
            name: "web-1".into(),
        };
        let action = RevertAction::StartContainer {
            container: container.clone(),
            stopping_until_ms: Some(1_700_000_000_000),
        };
        let json = serde_json::to_string(&action).unwrap();
        assert_eq!(
            json,
            r#"{"action":"start_container","container":{"id":"abc","name":"web-1"},"stopping_until_ms":1700000000000}"#
        );
        assert_eq!(serde_json::from_str::<RevertAction>(&json).unwrap(), action);
        let old = r#"{"action":"start_container","container":{"id":"abc","name":"web-1"}}"#;
        assert_eq!(
            serde_json::from_str::<RevertAction>(old).unwrap(),
            RevertAction::StartContainer {
                container,
                stopping_until_ms: None
            }
        );
    }

    #[tokio::test]
    async fn respawn_is_skipped_without_a_live_target() {
        let action = RevertAction::Respawn {
            resource: "api".to_string(),
        };
        let outcome = action.revert(None).await.unwrap();
        assert_eq!(
            outcome.to_string(),
            "skipped: `api` is not started again outside a run"
        );
    }
}
