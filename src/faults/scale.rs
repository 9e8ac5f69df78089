//! `scale`: sets the number of replicas of the Swarm service a task belongs to (through the
//! manager's API); the previous number is restored when the fault ends.

use super::setting_spec::*;
use super::swarm_revert::task_of;
use super::{BoxFuture, Effect, Fault, FaultContext, FaultError, Prepared, RevertAction};
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::targets::ContainerTarget;
use serde::{Deserialize, Serialize};
use std::time::Duration;

const SETTINGS: &[SettingSpec] = &[req("replicas", ValueType::Integer(0, 1000))];
/// How long the effect check waits for the service to run the new number of tasks.
const EFFECT_WAIT: Duration = Duration::from_secs(20);

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "scale"
    }

    fn summary(&self) -> &'static str {
        "scale the Swarm service of the task to a number of replicas; the previous number is restored after"
    }

    fn targets(&self) -> &'static [TargetFamily] {
        &[Container]
    }

    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn failure_mode(&self) -> FailureMode {
        FailureMode::Crash
    }

    fn build(&self, settings: &Settings) -> Result<FaultAction, String> {
        let replicas = settings.required_whole("replicas")?;
        settings.on_target(Scale { replicas })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    pub replicas: u64,
}

impl Fault for Scale {
    fn keyword(&self) -> &'static str {
        "scale"
    }

    fn through_manager(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("scale to {} replicas", self.replicas)
    }

    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            let (service, _) = task_of(target, "scale").await?;
            let Some(previous) = service.replicas().await? else {
                return Err(FaultError::Unsupported {
                    fault: "scale",
                    reason: format!("service `{}` is global, it has no replicas", service.name()),
                });
            };
            let revert = RevertAction::ScaleService {
                service: service.name().to_string(),
                replicas: previous,
            };
            let replicas = self.replicas;
            let check = service.clone();
            Ok(Prepared::new(revert, move || async move {
                service.scale(replicas).await?;
                Ok(format!(
                    "scaled service `{}` from {previous} to {replicas} replicas",
                    service.name()
                ))
            })
            .verified_by(move || async move {
                match check.wait_converged(EFFECT_WAIT).await {
                    Ok(took) => Effect::Observed(format!(
                        "service `{}` runs {replicas} task(s) {:.1} s after the update",
                        check.name(),
                        took.as_secs_f64()
                    )),
                    Err(err) => Effect::NoEffect(err.to_string()),
                }
            }))
        })
    }
}
