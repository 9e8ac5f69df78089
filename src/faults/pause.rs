//! `pause`: freezes the process and its group with SIGSTOP; reverting sends SIGCONT.

use super::{Fault, FaultContext, FaultError, FaultKind, Prepared, RevertAction, params, running};
use crate::targets::{ProcessTarget, Signal};
use serde::{Deserialize, Serialize};

pub(super) const KIND: FaultKind = FaultKind {
    keyword: "pause",
    summary: "freeze the process and its group (SIGSTOP); resumed with SIGCONT",
    build: |value| Ok(Box::new(params::<Pause>("pause", value)?)),
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {}

impl Fault for Pause {
    fn keyword(&self) -> &'static str {
        "pause"
    }

    fn describe(&self) -> String {
        "pause (SIGSTOP)".to_string()
    }

    fn prepare(&self, target: &ProcessTarget, _ctx: &FaultContext) -> Result<Prepared, FaultError> {
        let identity = running(target, "pause")?;
        let revert = RevertAction::Resume {
            pid: identity.pid,
            start_time: identity.start_time,
            pgid: identity.pgid,
        };
        let target = target.clone();
        Ok(Prepared::new(revert, move || async move {
            target.signal_group(Signal::STOP)?;
            Ok(format!(
                "paused `{}` (pid {}) and its process group with SIGSTOP",
                target.name(),
                identity.pid
            ))
        }))
    }
}
