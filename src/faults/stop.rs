//! `stop`: stops the process gracefully (SIGTERM, grace period, SIGKILL); reverting starts
//! it again.

use super::{Fault, FaultContext, FaultError, FaultKind, Prepared, RevertAction, params, running};
use crate::targets::{ProcessTarget, StopOutcome};
use serde::{Deserialize, Serialize};

pub(super) const KIND: FaultKind = FaultKind {
    keyword: "stop",
    summary: "stop the process gracefully (SIGTERM, then SIGKILL after the grace period); started again when the fault ends",
    build: |value| Ok(Box::new(params::<Stop>("stop", value)?)),
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {}

impl Fault for Stop {
    fn keyword(&self) -> &'static str {
        "stop"
    }

    fn describe(&self) -> String {
        "stop (graceful)".to_string()
    }

    fn prepare(&self, target: &ProcessTarget, _ctx: &FaultContext) -> Result<Prepared, FaultError> {
        running(target, "stop")?;
        let revert = RevertAction::Respawn {
            resource: target.name().to_string(),
        };
        let target = target.clone();
        Ok(Prepared::new(revert, move || async move {
            let name = target.name().to_string();
            Ok(match target.stop().await? {
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
        }))
    }
}
