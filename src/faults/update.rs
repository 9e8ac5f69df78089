//! `update`: sets the CPU and memory limits of the Swarm service a task belongs to (the
//! manager replaces its tasks to apply them); the previous limits are restored when the
//! fault ends.

use super::setting_spec::*;
use super::swarm_revert::task_of;
use super::{BoxFuture, Effect, Fault, FaultContext, FaultError, Prepared, RevertAction};
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::targets::ContainerTarget;
use crate::targets::docker::ServiceLimits;
use serde::{Deserialize, Serialize};

const SETTINGS: &[SettingSpec] = &[
    opt("cpus", ValueType::Positive),
    opt("memory", ValueType::Size),
];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "update"
    }

    fn summary(&self) -> &'static str {
        "set the CPU and memory limits of the Swarm service of the task; the previous limits are restored after"
    }

    fn targets(&self) -> &'static [TargetFamily] {
        &[Container]
    }

    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn failure_mode(&self) -> FailureMode {
        FailureMode::Starvation
    }

    fn build(&self, settings: &Settings) -> Result<FaultAction, String> {
        let cpus = settings.number("cpus");
        let memory = settings.number("memory");
        if cpus.is_none() && memory.is_none() {
            return Err("`update` needs `cpus` or `memory` (or both)".to_string());
        }
        if memory.is_some_and(|m| m < 6.0 * 1024.0 * 1024.0) {
            return Err("the engine refuses a memory limit under 6MiB".to_string());
        }
        settings.on_target(Update {
            limits: ServiceLimits {
                nano_cpus: cpus.map(|c| (c * 1e9).round() as i64),
                memory_bytes: memory.map(|m| m.round() as i64),
            },
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    pub limits: ServiceLimits,
}

impl Fault for Update {
    fn keyword(&self) -> &'static str {
        "update"
    }

    fn through_manager(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("update the limits to {}", self.limits.describe())
    }

    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            let (service, _) = task_of(target, "update").await?;
            let previous = service.limits().await?;
            let revert = RevertAction::RestoreServiceLimits {
                service: service.name().to_string(),
                previous,
            };
            let limits = ServiceLimits {
                nano_cpus: self.limits.nano_cpus.or(previous.nano_cpus),
                memory_bytes: self.limits.memory_bytes.or(previous.memory_bytes),
            };
            let check = service.clone();
            Ok(Prepared::new(revert, move || async move {
                service.set_limits(&limits).await?;
                Ok(format!(
                    "set the limits of service `{}` to {} (were {})",
                    service.name(),
                    limits.describe(),
                    previous.describe()
                ))
            })
            .verified_by(move || async move {
                match check.limits().await {
                    // The manager replaces the tasks in a rolling update; not waited for here.
                    Ok(now) if now == limits => Effect::Observed(format!(
                        "service `{}` has {} (its tasks are being replaced)",
                        check.name(),
                        now.describe()
                    )),
                    Ok(now) => Effect::NoEffect(format!(
                        "service `{}` has {}",
                        check.name(),
                        now.describe()
                    )),
                    Err(err) => Effect::NoEffect(format!("cannot inspect it: {err}")),
                }
            }))
        })
    }
}
