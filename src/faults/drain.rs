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

    fn through_manager(&self) -> bool {
        true
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
                    reason: format!("container `{}` has no {NODE_ID_LABEL} label", target.name()),
                });
            };
            let engine = target.engine().clone();
            let previous = engine.node_availability(&node).await?;
            let revert = RevertAction::RestoreNodeAvailability {
                node: node.clone(),
                availability: previous,
            };
            let check = target.clone();
            let node_of_check = node.clone();
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
                let engine = check.engine();
                match engine.node_availability(&node_of_check).await {
                    Ok(NodeAvailability::Drain) => Effect::Observed(format!(
                        "node `{node_of_check}` is drained (task container `{}` is stopped by the manager)",
                        check.name()
                    )),
                    Ok(other) => Effect::NoEffect(format!(
                        "node `{node_of_check}` is {}",
                        other.name()
                    )),
                    Err(err) => Effect::NoEffect(format!("cannot inspect the node: {err}")),
                }
            }))
        })
    }
}
