//! `restart`: stops the process or container gracefully and starts it again; nothing to
//! revert.

use super::{
    BoxFuture, Fault, FaultContext, FaultError, FaultKind, Prepared, RevertAction, params,
};
use crate::targets::{ContainerTarget, ProcessTarget};
use serde::{Deserialize, Serialize};

pub(super) const KIND: FaultKind = FaultKind {
    keyword: "restart",
    summary: "stop the process or container gracefully and start it again (a new pid)",
    build: |value| Ok(Box::new(params::<Restart>("restart", value)?)),
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restart {}

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
        Ok(Prepared::new(revert, move || async move {
            let before = target.pid();
            let after = target.restart().await?;
            Ok(match before {
                Some(before) => format!(
                    "restarted `{}`: pid {before} → pid {}",
                    target.name(),
                    after.pid
                ),
                None => format!("started `{}` (pid {})", target.name(), after.pid),
            })
        }))
    }

    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        Box::pin(async move {
            // Fails here, before anything is recorded, when the container does not exist.
            target.info().await?;
            let revert = RevertAction::Nothing {
                reason: format!("a restart leaves container `{}` running", target.name()),
            };
            let target = target.clone();
            Ok(Prepared::new(revert, move || async move {
                target.restart(None).await?;
                Ok(format!("restarted container `{}`", target.name()))
            }))
        })
    }
}
