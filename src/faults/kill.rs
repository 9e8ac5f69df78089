//! `kill`: sends a signal (SIGKILL unless told otherwise) to the process and its group, or to
//! a container's main process. When the fault ends, the resource is started again if the
//! signal ended it.
//!
//! Verified after applying: the process is gone (or replaced), the container stopped running
//! or was restarted (a new start time, by its restart policy); a signal the program handles
//! and survives is reported as having no observable effect.

use super::Effect;
use super::setting_spec::*;
use super::{
    BoxFuture, Fault, FaultContext, FaultError, Prepared, RevertAction, running, running_container,
};
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::targets::docker::{SERVICE_NAME_LABEL, SwarmService};
use crate::targets::{ContainerTarget, ProcessTarget, Signal};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a killed target has to be seen gone.
const SEEN_WITHIN: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(10);
use tokio::time::Instant;

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
        let gone = identity;
        Ok(Prepared::new(revert, move || async move {
            target.signal_group(signal)?;
            Ok(format!(
                "sent {signal} to `{}` (pid {}) and its process group",
                target.name(),
                identity.pid
            ))
        })
        .verified_by(move || async move {
            let started = tokio::time::Instant::now();
            while started.elapsed() < SEEN_WITHIN {
                if !gone.is_running() {
                    return Effect::Observed(format!(
                        "process {} is gone after {signal} ({} ms)",
                        gone.pid,
                        started.elapsed().as_millis()
                    ));
                }
                tokio::time::sleep(POLL).await;
            }
            Effect::NoEffect(format!(
                "process {} still runs {} ms after {signal}",
                gone.pid,
                SEEN_WITHIN.as_millis()
            ))
        }))
    }

    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            let before = running_container(target, "kill").await?;
            if let Some(service) = before.labels.get(SERVICE_NAME_LABEL) {
                return Ok(kill_task(target, service, self.signal));
            }
            let revert = RevertAction::StartContainer {
                container: target.reference(),
                stopping_until_ms: None,
            };
            let target = target.clone();
            let check = target.clone();
            let signal = self.signal;
            Ok(Prepared::new(revert, move || async move {
                target.kill(signal).await?;
                Ok(format!("sent {signal} to container `{}`", target.name()))
            })
            .verified_by(move || async move {
                let started = tokio::time::Instant::now();
                let mut last = None;
                while started.elapsed() < SEEN_WITHIN {
                    match check.info().await {
                        Ok(info) if !info.running => {
                            return Effect::Observed(format!(
                                "container `{}` is {} after {signal}",
                                check.name(),
                                info.status
                            ));
                        }
                        Ok(info) if info.started_at != before.started_at => {
                            return Effect::Observed(format!(
                                "container `{}` was restarted after {signal} (started {})",
                                check.name(),
                                info.started_at
                            ));
                        }
                        Ok(info) => last = Some(info.status.to_string()),
                        Err(err) if err.is_gone() => {
                            return Effect::Observed(format!(
                                "container `{}` is gone after {signal}",
                                check.name()
                            ));
                        }
                        Err(err) => return Effect::NoEffect(format!("cannot inspect it: {err}")),
                    }
                    tokio::time::sleep(POLL * 5).await;
                }
                Effect::NoEffect(format!(
                    "container `{}` is still {} {} ms after {signal}, with the same start time",
                    check.name(),
                    last.unwrap_or_else(|| "running".to_string()),
                    SEEN_WITHIN.as_millis()
                ))
            }))
        })
    }
}

/// How long the effect check waits for the manager to run a replacement task.
const REPLACEMENT_WAIT: Duration = Duration::from_secs(30);

/// Kills a task container of a Swarm service: the manager replaces the task, so nothing is
/// started by hand; the revert waits until the service runs its tasks again, and the effect
/// is the time until a replacement task runs.
fn kill_task(target: &ContainerTarget, service: &str, signal: Signal) -> Prepared {
    let revert = RevertAction::AwaitService {
        service: service.to_string(),
    };
    let service = SwarmService::new(target.engine(), service);
    let named = service.clone();
    let killed = target.id().to_string();
    let target = target.clone();
    Prepared::new(revert, move || async move {
        target.kill(signal).await?;
        Ok(format!(
            "sent {signal} to task container `{}` of service `{}`",
            target.name(),
            named.name()
        ))
    })
    .verified_by(move || async move {
        let started = Instant::now();
        loop {
            let tasks = match service.running_tasks().await {
                Ok(tasks) => tasks,
                Err(err) => return Effect::NoEffect(format!("cannot list the tasks: {err}")),
            };
            let replaced = tasks
                .iter()
                .all(|t| t.container_id.as_deref() != Some(killed.as_str()));
            let wanted = service.replicas().await.ok().flatten();
            let enough = wanted.is_none_or(|n| tasks.len() as u64 >= n);
            if replaced && enough && !tasks.is_empty() {
                return Effect::Observed(format!(
                    "a replacement task of service `{}` runs {:.2} s after the kill",
                    service.name(),
                    started.elapsed().as_secs_f64()
                ));
            }
            if started.elapsed() > REPLACEMENT_WAIT {
                return Effect::NoEffect(format!(
                    "no replacement task of service `{}` runs {} s after the kill",
                    service.name(),
                    REPLACEMENT_WAIT.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}
