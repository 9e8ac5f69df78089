//! `drain`: sets the Swarm node a task runs on to `drain` (the manager moves its tasks
//! elsewhere, or stops them when there is nowhere else); its availability is restored when
//! the fault ends.

use super::swarm_revert::{NODE_ID_LABEL, task_of};
use super::{BoxFuture, Effect, Fault, FaultContext, FaultError, Prepared, RevertAction};
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::targets::ContainerTarget;
use crate::targets::docker::NodeAvailability;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long the effect check waits for the task's container to stop.
const EFFECT_WAIT: Duration = Duration::from_secs(20);

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "drain"
    }

    fn summary(&self) -> &'static str {
        "drain the Swarm node the task runs on (its tasks move or stop); its availability is restored after"
    }

    fn targets(&self) -> &'static [TargetFamily] {
        &[Container]
    }

    fn settings(&self) -> &'static [super::setting_spec::SettingSpec] {
        &[]
    }

    fn failure_mode(&self) -> FailureMode {
        FailureMode::Crash
    }

    fn build(&self, settings: &Settings) -> Result<FaultAction, String> {
        settings.on_target(Drain {})
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drain {}

impl Fault for Drain {
    fn keyword(&self) -> &'static str {
        "drain"
    }

    fn describe(&self) -> String {
        "drain the node".to_string()
    }

    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            let (_, node) = task_of(target, "drain").await?;
            let Some(node) = node else {
                return Err(FaultError::Unsupported {
                    fault: "drain",
                    reason: format!(
                        "container `{}` has no {NODE_ID_LABEL} label",
                        target.name()
                    ),
                });
            };
            let engine = target.engine().clone();
            let previous = engine.node_availability(&node).await?;
            let revert = RevertAction::RestoreNodeAvailability {
                node: node.clone(),
                availability: previous,
            };
            let check = target.clone();
            Ok(Prepared::new(revert, move || async move {
                engine
                    .set_node_availability(&node, NodeAvailability::Drain)
                    .await?;
                Ok(format!(
                    "drained node `{node}` (was {})",
                    previous.name()
                ))
            })
            .verified_by(move || async move {
                let started = tokio::time::Instant::now();
                loop {
                    match check.info().await {
                        Ok(info) if !info.running => {
                            return Effect::Observed(format!(
                                "task container `{}` stopped {:.1} s after the drain",
                                check.name(),
                                started.elapsed().as_secs_f64()
                            ));
                        }
                        Err(err) if err.is_gone() => {
                            return Effect::Observed(format!(
                                "task container `{}` was removed",
                                check.name()
                            ));
                        }
                        Err(err) => return Effect::NoEffect(format!("cannot inspect it: {err}")),
                        Ok(_) if started.elapsed() > EFFECT_WAIT => {
                            return Effect::NoEffect(format!(
                                "task container `{}` still runs {} s after the drain",
                                check.name(),
                                EFFECT_WAIT.as_secs()
                            ));
                        }
                        Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            }))
        })
    }
}
