//! What `cpu_limit`, `memory_limit` and `io_limit` share on containers: a change of the
//! container's limits through the engine (`docker update`), reverted by writing the previous
//! values back.

use super::{Effect, FaultError, Prepared, RevertAction};
use crate::targets::ContainerTarget;
use crate::targets::docker::ContainerLimits;

/// Plans a limit change on `target`: `change` gives the fields to set from the current
/// limits. With `verify`, applying reads the limits back and fails when the engine dropped
/// the change (it discards a block IO weight the kernel cannot apply, with only a warning).
/// Either way the effect is verified by reading the limits back from the engine (a kind
/// may check more, e.g. the memory in use, with its own `verified_by`).
pub(super) async fn prepare_container_limit(
    keyword: &'static str,
    target: &ContainerTarget,
    change: impl FnOnce(&ContainerLimits) -> ContainerLimits,
    verify: bool,
) -> Result<Prepared, FaultError> {
    let current = target.info().await?.limits;
    let change = change(&current);
    let revert = RevertAction::RestoreContainerLimits {
        container: target.reference(),
        previous: change.previous_in(&current),
    };
    let target = target.clone();
    let (check, wanted) = (target.clone(), change);
    Ok(Prepared::new(revert, move || async move {
        target.update_limits(&change).await?;
        if verify && !change.holds_in(&target.info().await?.limits) {
            return Err(FaultError::Unsupported {
                fault: keyword,
                reason: format!(
                    "the Docker engine discarded {} for container `{}`: the kernel does not support it (block IO weights need the BFQ scheduler)",
                    change.describe(),
                    target.name()
                ),
            });
        }
        Ok(format!(
            "limited container `{}`: {}",
            target.name(),
            change.describe()
        ))
    })
    .verified_by(move || async move {
        match check.info().await {
            Ok(info) if wanted.holds_in(&info.limits) => Effect::Observed(format!(
                "container `{}` has {}",
                check.name(),
                wanted.describe()
            )),
            Ok(_) => Effect::NoEffect(format!(
                "the engine does not hold {} for container `{}`",
                wanted.describe(),
                check.name()
            )),
            Err(err) => Effect::NoEffect(format!("cannot inspect it: {err}")),
        }
    }))
}
