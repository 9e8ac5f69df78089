//! `pause`: freezes the process and its group with SIGSTOP (reverting sends SIGCONT), or
//! every process of a container with the cgroup freezer (`docker pause`, reverted by
//! `docker unpause`).

use super::{
    BoxFuture, Fault, FaultContext, FaultError, FaultKind, Prepared, RevertAction, params, running,
    running_container,
};
use crate::targets::{ContainerTarget, ProcessTarget, Signal};
use serde::{Deserialize, Serialize};

pub(super) const KIND: FaultKind = FaultKind {
    keyword: "pause",
    summary: "freeze the process and its group (SIGSTOP), or the container (freezer); resumed after",
    build: |value| Ok(Box::new(params::<Pause>("pause", value)?)),
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {}

impl Fault for Pause {
    fn keyword(&self) -> &'static str {
        "pause"
    }

    fn describe(&self) -> String {
        "pause (SIGSTOP)".to_string()
    }

    fn prepare_process(
        &self,
        target: &ProcessTarget,
        _ctx: &FaultContext,
    ) -> Result<Prepared, FaultError> {
        let identity = running(target, "pause")?;
        let revert = RevertAction::Resume {
            pid: identity.pid,
            start_time: identity.start_time,
            pgid: identity.pgid,
        };
        let target = target.clone();
        Ok(Prepared::new(revert, move || async move {
            target.signal_group(Signal::STOP)?;
            Ok(format!(
                "paused `{}` (pid {}) and its process group with SIGSTOP",
                target.name(),
                identity.pid
            ))
        }))
    }

    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            running_container(target, "pause").await?;
            let revert = RevertAction::UnpauseContainer {
                container: target.reference(),
            };
            let target = target.clone();
            Ok(Prepared::new(revert, move || async move {
                target.pause().await?;
                Ok(format!("paused container `{}`", target.name()))
            }))
        })
    }
}
