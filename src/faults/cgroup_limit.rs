//! What `cpu_limit`, `memory_limit` and `io_limit` share: a cgroup of their own for the
//! process, with the limits written to it.

use super::Effect;
use super::cgroup::{CgroupPlacement, CgroupSetting, Cgroups, Controller, Hierarchy};
use super::{FaultContext, FaultError, Prepared, RevertAction, running};
use crate::targets::{ProcessIdentity, ProcessTarget};

/// Plans a limit on `target` in the hierarchy that has `controller`; `settings` gives the
/// limit files for that hierarchy.
pub(super) fn prepare_limit(
    keyword: &'static str,
    controller: Controller,
    target: &ProcessTarget,
    ctx: &FaultContext,
    settings: impl FnOnce(&Hierarchy, &ProcessIdentity) -> Result<Vec<CgroupSetting>, FaultError>,
) -> Result<Prepared, FaultError> {
    let identity = running(target, keyword)?;
    let cgroups = Cgroups::detect().map_err(|err| FaultError::Unsupported {
        fault: keyword,
        reason: format!("cannot read /proc/self/mountinfo: {err}"),
    })?;
    let hierarchy = cgroups
        .hierarchy(controller)
        .map_err(|reason| FaultError::Unsupported {
            fault: keyword,
            reason: format!("cannot limit {controller}: {reason}"),
        })?;
    let settings = settings(&hierarchy, &identity)?;
    let pid = identity.pid;
    let process_cgroups =
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).map_err(|err| {
            FaultError::Cgroup {
                fault: keyword,
                message: format!("cannot read /proc/{pid}/cgroup: {err}"),
            }
        })?;
    let placement = hierarchy
        .place(
            &process_cgroups,
            pid,
            identity.start_time,
            &ctx.cgroup_name(),
            settings,
        )
        .map_err(|message| FaultError::Cgroup {
            fault: keyword,
            message,
        })?;
    let revert = RevertAction::RemoveCgroup {
        placement: placement.clone(),
    };
    let resource = target.name().to_string();
    let check = placement.clone();
    Ok(Prepared::new(revert, move || async move {
        let applied = tokio::task::spawn_blocking(move || placement.apply())
            .await
            .map_err(|err| FaultError::Cgroup {
                fault: keyword,
                message: format!("the cgroup task failed: {err}"),
            })?;
        applied
            .map(|detail| format!("limited `{resource}` (pid {pid}): {detail}"))
            .map_err(|message| FaultError::Cgroup {
                fault: keyword,
                message,
            })
    })
    .verified_by(move || async move {
        tokio::task::spawn_blocking(move || limit_effect(&check))
            .await
            .unwrap_or_else(|err| Effect::NoEffect(format!("the check failed: {err}")))
    }))
}

/// The limit's effect: the values read back from the kernel and the process in the cgroup.
/// (How much CPU a limited process then uses takes a few quota periods to see: `cpu_limit`
/// measures it in the background, `cpu_usage.rs`.)
fn limit_effect(placement: &CgroupPlacement) -> Effect {
    match placement.in_place() {
        Ok(held) => Effect::Observed(held),
        Err(missing) => Effect::NoEffect(missing),
    }
}
