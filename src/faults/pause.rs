//! `pause`: freezes the process and its group with SIGSTOP (reverting sends SIGCONT), or
//! every process of a container with the cgroup freezer (`docker pause`, reverted by
//! `docker unpause`).

use super::Effect;
use super::setting_spec::*;
use super::{
    BoxFuture, Fault, FaultContext, FaultError, Prepared, RevertAction, running, running_container,
};
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::targets::{ContainerTarget, ProcStat, ProcessState, ProcessTarget, Signal};
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "pause"
    }

    fn summary(&self) -> &'static str {
        "freeze the process and its group (SIGSTOP), or the container (freezer); resumed after"
    }

    fn targets(&self) -> &'static [TargetFamily] {
        &[Process, Container]
    }

    fn settings(&self) -> &'static [SettingSpec] {
        &[]
    }

    fn failure_mode(&self) -> FailureMode {
        FailureMode::Crash
    }

    fn build(&self, settings: &Settings) -> Result<FaultAction, String> {
        settings.on_target(Pause {})
    }
}

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
        })
        .verified_by(move || stopped_state(identity.pid)))
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
            let check = target.clone();
            Ok(Prepared::new(revert, move || async move {
                target.pause().await?;
                Ok(format!("paused container `{}`", target.name()))
            })
            .verified_by(move || async move {
                match check.info().await {
                    Ok(info) if info.paused => {
                        Effect::Observed(format!("container `{}` is paused", check.name()))
                    }
                    Ok(info) => Effect::NoEffect(format!(
                        "container `{}` is {}, not paused",
                        check.name(),
                        info.status
                    )),
                    Err(err) => Effect::NoEffect(format!("cannot inspect it: {err}")),
                }
            }))
        })
    }
}

/// Whether process `pid` reached state T (stopped) soon after SIGSTOP (the signal is
/// delivered asynchronously; a process in uninterruptible sleep stops when it wakes).
async fn stopped_state(pid: u32) -> Effect {
    let mut last = None;
    // The state usually turns T within a millisecond: look often at first (so the check adds
    // little to the apply's latency), then every 10 ms, for 500 ms in all.
    for attempt in 0..60u64 {
        match ProcStat::read(pid) {
            Ok(Some(stat)) if stat.state == ProcessState::Stopped => {
                return Effect::Observed(format!("process {pid} is in state T (stopped)"));
            }
            Ok(Some(stat)) => last = Some(stat.state.letter()),
            Ok(None) => return Effect::NoEffect(format!("process {pid} is gone")),
            Err(err) => return Effect::NoEffect(format!("cannot read /proc/{pid}/stat: {err}")),
        }
        let pause = if attempt < 10 { 1 } else { 10 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    Effect::NoEffect(format!(
        "process {pid} is still in state {} 500 ms after SIGSTOP, not T",
        last.unwrap_or('?')
    ))
}
