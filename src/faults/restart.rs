//! `restart`: stops the process or container gracefully and starts it again; nothing to
//! revert.

use super::Effect;
use super::setting_spec::*;
use super::{BoxFuture, Fault, FaultContext, FaultError, Prepared, RevertAction};
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::targets::{ContainerTarget, ProcessTarget};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const SETTINGS: &[SettingSpec] = &[GRACE];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "restart"
    }

    fn summary(&self) -> &'static str {
        "stop the process or container gracefully and start it again (a new pid)"
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
        settings.on_target(Restart {
            grace: settings.duration("grace"),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restart {
    /// How long the target has to exit before SIGKILL: for a container, default
    /// [`super::DEFAULT_CONTAINER_GRACE`] (not the container's own timeout, Docker's 10 s by
    /// default, which would let the fault take effect late); for a process, default the
    /// resource's `stop_grace`.
    #[serde(default)]
    pub grace: Option<Duration>,
}

impl Fault for Restart {
    fn keyword(&self) -> &'static str {
        "restart"
    }

    fn describe(&self) -> String {
        "restart".to_string()
    }

    fn prepare_process(
        &self,
        target: &ProcessTarget,
        _ctx: &FaultContext,
    ) -> Result<Prepared, FaultError> {
        let revert = RevertAction::Nothing {
            reason: format!("a restart leaves `{}` running", target.name()),
        };
        let target = target.clone();
        let grace = self.grace;
        let previous = target.identity();
        let check = target.clone();
        let verify = move || async move {
            match (previous, check.identity()) {
                (_, None) => Effect::NoEffect(format!("`{}` is not running", check.name())),
                (Some(before), Some(after)) if before == after => Effect::NoEffect(format!(
                    "`{}` still runs as pid {} from before the restart",
                    check.name(),
                    after.pid
                )),
                (before, Some(after)) => Effect::Observed(format!(
                    "`{}` runs as a new process (pid {}{})",
                    check.name(),
                    after.pid,
                    before.map_or(String::new(), |b| format!(", was {}", b.pid))
                )),
            }
        };
        Ok(Prepared::new(revert, move || async move {
            let before = target.pid();
            let after = target.restart_within(grace).await?;
            Ok(match before {
                Some(before) => format!(
                    "restarted `{}`: pid {before} → pid {}",
                    target.name(),
                    after.pid
                ),
                None => format!("started `{}` (pid {})", target.name(), after.pid),
            })
        })
        .verified_by(verify))
    }

    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            // Fails here, before anything is recorded, when the container does not exist.
            let before = target.info().await?;
            let revert = RevertAction::Nothing {
                reason: format!("a restart leaves container `{}` running", target.name()),
            };
            let target = target.clone();
            let check = target.clone();
            let grace = self.grace.unwrap_or(super::DEFAULT_CONTAINER_GRACE);
            Ok(Prepared::new(revert, move || async move {
                target.restart(Some(grace)).await?;
                Ok(format!("restarted container `{}`", target.name()))
            })
            .verified_by(move || async move {
                match check.info().await {
                    Ok(info) if info.running && info.started_at != before.started_at => {
                        Effect::Observed(format!(
                            "container `{}` runs again, started {} (was {})",
                            check.name(),
                            info.started_at,
                            before.started_at
                        ))
                    }
                    Ok(info) if info.running => Effect::NoEffect(format!(
                        "container `{}` has the start time it had before the restart ({})",
                        check.name(),
                        info.started_at
                    )),
                    Ok(info) => Effect::NoEffect(format!(
                        "container `{}` is {} after the restart",
                        check.name(),
                        info.status
                    )),
                    Err(err) => Effect::NoEffect(format!("cannot inspect it: {err}")),
                }
            }))
        })
    }
}
