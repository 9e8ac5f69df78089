//! `restart`: stops the process gracefully and starts it again; nothing to revert.

use super::{Fault, FaultContext, FaultError, FaultKind, Prepared, RevertAction, params};
use crate::targets::ProcessTarget;
use serde::{Deserialize, Serialize};

pub(super) const KIND: FaultKind = FaultKind {
    keyword: "restart",
    summary: "stop the process gracefully and start it again (a new pid)",
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

    fn prepare(&self, target: &ProcessTarget, _ctx: &FaultContext) -> Result<Prepared, FaultError> {
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
}
