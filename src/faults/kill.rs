//! `kill`: sends a signal (SIGKILL unless told otherwise) to the process and its group, or to
//! a container's main process. When the fault ends, the resource is started again if the
//! signal ended it.

use super::setting_spec::*;
use super::{
    BoxFuture, Fault, FaultContext, FaultError, Prepared, RevertAction, running, running_container,
};
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::targets::{ContainerTarget, ProcessTarget, Signal};
use serde::{Deserialize, Serialize};

const SETTINGS: &[SettingSpec] = &[opt(
    "signal",
    ValueType::Word(&[
        "SIGKILL", "SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGABRT",
    ]),
)];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "kill"
    }

    fn summary(&self) -> &'static str {
        "send a signal (default SIGKILL) to the process and its group, or to the container; started again when the fault ends"
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
        let signal = match settings.text("signal") {
            Some(signal) => signal.parse::<Signal>()?,
            None => Signal::KILL,
        };
        settings.on_target(Kill { signal })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kill {
    #[serde(default = "default_signal")]
    pub signal: Signal,
}

fn default_signal() -> Signal {
    Signal::KILL
}

impl Fault for Kill {
    fn keyword(&self) -> &'static str {
        "kill"
    }

    fn describe(&self) -> String {
        format!("kill with {}", self.signal)
    }

    fn prepare_process(
        &self,
        target: &ProcessTarget,
        _ctx: &FaultContext,
    ) -> Result<Prepared, FaultError> {
        let identity = running(target, "kill")?;
        let revert = RevertAction::Respawn {
            resource: target.name().to_string(),
        };
        let target = target.clone();
        let signal = self.signal;
        Ok(Prepared::new(revert, move || async move {
            target.signal_group(signal)?;
            Ok(format!(
                "sent {signal} to `{}` (pid {}) and its process group",
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
            running_container(target, "kill").await?;
            let revert = RevertAction::StartContainer {
                container: target.reference(),
                stopping_until_ms: None,
            };
            let target = target.clone();
            let signal = self.signal;
            Ok(Prepared::new(revert, move || async move {
                target.kill(signal).await?;
                Ok(format!("sent {signal} to container `{}`", target.name()))
            }))
        })
    }
}
