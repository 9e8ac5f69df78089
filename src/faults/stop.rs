//! `stop`: stops the process or container gracefully (SIGTERM or the container's stop
//! signal, a grace period, SIGKILL); reverting starts it again.

use super::{
    BoxFuture, Fault, FaultContext, FaultError, FaultKind, Prepared, RevertAction, params, running,
    running_container,
};
use crate::targets::{ContainerTarget, ProcessTarget, StopOutcome};
use serde::{Deserialize, Serialize};

pub(super) const KIND: FaultKind = FaultKind {
    keyword: "stop",
    summary: "stop the process or container gracefully (SIGTERM, then SIGKILL after the grace period); started again when the fault ends",
    build: |value| Ok(Box::new(params::<Stop>("stop", value)?)),
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {}

impl Fault for Stop {
    fn keyword(&self) -> &'static str {
        "stop"
    }

    fn describe(&self) -> String {
        "stop (graceful)".to_string()
    }

    fn prepare_process(
        &self,
        target: &ProcessTarget,
        _ctx: &FaultContext,
    ) -> Result<Prepared, FaultError> {
        running(target, "stop")?;
        let revert = RevertAction::Respawn {
            resource: target.name().to_string(),
        };
        let target = target.clone();
        Ok(Prepared::new(revert, move || async move {
            let name = target.name().to_string();
            Ok(match target.stop().await? {
                StopOutcome::NotRunning => format!("`{name}` was not running"),
                StopOutcome::AlreadyExited { pid, exit } => {
                    format!("`{name}` (pid {pid}) had already exited with {exit}")
                }
                StopOutcome::Stopped { pid, exit, forced } => format!(
                    "stopped `{name}` (pid {pid}, {exit}){}",
                    if forced {
                        " with SIGKILL after the grace period"
                    } else {
                        ""
                    }
                ),
            })
        }))
    }

    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            running_container(target, "stop").await?;
            let revert = RevertAction::StartContainer {
                container: target.reference(),
            };
            let target = target.clone();
            Ok(Prepared::new(revert, move || async move {
                // The container's own stop timeout is its grace period.
                target.stop(None).await?;
                Ok(format!("stopped container `{}`", target.name()))
            }))
        })
    }
}
