//! `stop`: stops the process or container gracefully (SIGTERM or the container's stop
//! signal, a grace period, SIGKILL); reverting starts it again.

use super::Effect;
use super::setting_spec::*;
use super::{
    BoxFuture, Fault, FaultContext, FaultError, Prepared, RevertAction, running, running_container,
};
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::targets::{ContainerTarget, ProcessTarget, StopOutcome};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long the engine may take to kill a container after its grace period, and report it.
const STOP_KILL_MARGIN: Duration = Duration::from_secs(3);

const SETTINGS: &[SettingSpec] = &[GRACE];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "stop"
    }

    fn summary(&self) -> &'static str {
        "stop the process or container gracefully (SIGTERM, then SIGKILL after the grace period); started again when the fault ends"
    }

    fn targets(&self) -> &'static [TargetFamily] {
        &[Process, Container]
    }

    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn failure_mode(&self) -> FailureMode {
        FailureMode::Crash
    }

    fn build(&self, settings: &Settings) -> Result<FaultAction, String> {
        settings.on_target(Stop {
            grace: settings.duration("grace"),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    /// How long the target has to exit before SIGKILL: for a container, default
    /// [`super::DEFAULT_CONTAINER_GRACE`] (not the container's own timeout, Docker's 10 s by
    /// default, which would let the fault take effect late); for a process, default the
    /// resource's `stop_grace`.
    #[serde(default)]
    pub grace: Option<Duration>,
}

impl Fault for Stop {
    fn keyword(&self) -> &'static str {
        "stop"
    }

    fn describe(&self) -> String {
        match self.grace {
            Some(grace) => format!("stop (graceful, {} ms)", grace.as_millis()),
            None => "stop (graceful)".to_string(),
        }
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
        let check = target.clone();
        let grace = self.grace;
        Ok(Prepared::new(revert, move || async move {
            let name = target.name().to_string();
            Ok(match target.stop_within(grace).await? {
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
        })
        .verified_by(move || async move {
            match check.identity() {
                None => Effect::Observed(format!("`{}` is not running", check.name())),
                Some(identity) => Effect::NoEffect(format!(
                    "`{}` is running (pid {}) after the stop",
                    check.name(),
                    identity.pid
                )),
            }
        }))
    }

    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            running_container(target, "stop").await?;
            let grace = self.grace.unwrap_or(super::DEFAULT_CONTAINER_GRACE);
            // Asked now (the apply follows the ledger's record at once): over by the end of
            // the grace period plus the engine's kill.
            let until = super::container_revert::unix_ms()
                + grace.as_millis() as u64
                + STOP_KILL_MARGIN.as_millis() as u64;
            let revert = RevertAction::StartContainer {
                container: target.reference(),
                stopping_until_ms: Some(until),
            };
            let target = target.clone();
            let check = target.clone();
            Ok(Prepared::new(revert, move || async move {
                target.stop(Some(grace)).await?;
                Ok(format!(
                    "stopped container `{}` (SIGKILL after {} ms)",
                    target.name(),
                    grace.as_millis()
                ))
            })
            .verified_by(move || async move {
                match check.info().await {
                    Ok(info) if !info.running => {
                        Effect::Observed(format!("container `{}` is {}", check.name(), info.status))
                    }
                    Ok(info) => Effect::NoEffect(format!(
                        "container `{}` is {} after the stop",
                        check.name(),
                        info.status
                    )),
                    Err(err) => Effect::NoEffect(format!("cannot inspect it: {err}")),
                }
            }))
        })
    }
}
