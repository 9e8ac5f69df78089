//! Fault kinds, one file per kind named after its keyword in the language
//! (`src/faults/<keyword>.rs`), registered by one line in [`KINDS`].
//!
//! A kind's file holds a `Kind` implementing [`FaultKind`] (keyword, settings, targets,
//! failure mode, `build` from typed [`Settings`]) and what it does to each target it
//! supports: a link kind builds its toxic directly; a process or container kind implements
//! [`Fault`]. Injecting a [`Fault`] is two steps so nothing is applied before it can be
//! undone after a crash: [`Fault::prepare_process`] or [`Fault::prepare_container`] decides
//! everything and yields the [`RevertAction`] (the caller writes it to the run's ledger),
//! then [`Prepared::apply`] changes the system. [`inject`] does both around a recording
//! callback.

mod abort;
mod bandwidth;
mod blackhole;
pub mod cgroup;
mod cgroup_limit;
mod container_limit;
mod container_revert;
mod cpu_limit;
mod cpu_usage;
mod down;
mod drain;
mod effect;
mod fail_first;
mod fault_action;
mod fault_error;
mod fault_kind;
mod fault_target;
mod http_error;
mod in_flight;
mod io_limit;
mod jitter;
mod kill;
mod kinds;
mod latency;
mod limit_data;
mod memory_limit;
mod partition;
mod pause;
mod reset;
mod restart;
mod revert_action;
mod revert_outcome;
mod scale;
pub mod setting_spec;
mod settings;
mod slicer;
mod slow_close;
mod stop;
mod swarm_revert;
mod timeout;
mod update;

pub use cpu_limit::CpuLimit;
pub use cpu_usage::{CPU_WINDOW, CpuUsage, measure as measure_cpu_limit};
pub use effect::Effect;
pub use fault_action::FaultAction;
pub use fault_error::FaultError;
pub use fault_kind::{FailureMode, FaultKind};
pub use fault_target::FaultTarget;
pub use in_flight::{SETTLE_LIMIT, in_flight, settle};
pub use io_limit::IoLimit;
pub use kill::Kill;
pub use kinds::{failure_mode, kind, kinds_for};
pub use memory_limit::MemoryLimit;
pub use partition::Partition;
pub use pause::Pause;
pub use restart::Restart;
pub use revert_action::{RevertAction, RevertError, RevertOutcome};
pub use settings::Settings;
pub use stop::Stop;

use crate::targets::docker::ContainerInfo;
use crate::targets::{ContainerTarget, ProcessIdentity, ProcessTarget};
use std::fmt;
use std::future::Future;
use std::time::Duration;

/// How long a stopped or restarted container has to exit before SIGKILL, unless the fault
/// says (`grace`): short, so that the fault takes effect at its planned time whatever the
/// program does with SIGTERM (the engine's own default is 10 s).
pub const DEFAULT_CONTAINER_GRACE: Duration = Duration::from_secs(1);

/// Every fault kind, in the order listings show them: the one table of kinds. Adding a kind
/// is a file `src/faults/<keyword>.rs` with a `Kind` implementing [`FaultKind`], its `mod`
/// line above and one line here.
pub const KINDS: &[&dyn FaultKind] = &[
    &latency::Kind,
    &jitter::Kind,
    &bandwidth::Kind,
    &slow_close::Kind,
    &timeout::Kind,
    &blackhole::Kind,
    &reset::Kind,
    &slicer::Kind,
    &limit_data::Kind,
    &down::Kind,
    &http_error::Kind,
    &abort::Kind,
    &fail_first::Kind,
    &kill::Kind,
    &stop::Kind,
    &pause::Kind,
    &restart::Kind,
    &cpu_limit::Kind,
    &memory_limit::Kind,
    &io_limit::Kind,
    &partition::Kind,
    &scale::Kind,
    &drain::Kind,
    &update::Kind,
];

pub use crate::BoxFuture;

/// Names a fault instance, for cgroup names and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultContext {
    pub run_id: String,
    /// Unique within the run (`f3`, `pause-api-2`...).
    pub fault_id: String,
}

impl FaultContext {
    pub fn new(run_id: impl Into<String>, fault_id: impl Into<String>) -> FaultContext {
        FaultContext {
            run_id: run_id.into(),
            fault_id: fault_id.into(),
        }
    }

    /// The name of a cgroup created for this fault.
    pub fn cgroup_name(&self) -> String {
        format!("{}-{}", self.run_id, self.fault_id)
    }
}

/// A fault kind acting on process and container targets.
pub trait Fault: fmt::Debug + Send + Sync {
    /// The keyword of the kind in the language (`kill`, `cpu_limit`...).
    fn keyword(&self) -> &'static str;

    /// The fault with its parameters, for reports (`cpu_limit 0.2 cores`).
    fn describe(&self) -> String;

    /// Whether it acts through the Swarm manager's API (a service or node change: `scale`,
    /// `update`, `drain`) rather than on the task's own node: such a fault is never routed
    /// to a node's agent.
    fn through_manager(&self) -> bool {
        false
    }

    /// Decides what the fault will do to a process and how to undo it, changing nothing.
    /// Kinds that cannot act on processes keep this default, which says so.
    fn prepare_process(
        &self,
        target: &ProcessTarget,
        _ctx: &FaultContext,
    ) -> Result<Prepared, FaultError> {
        Err(FaultError::Unsupported {
            fault: self.keyword(),
            reason: format!(
                "`{}` is a process, and this fault does not act on processes",
                target.name()
            ),
        })
    }

    /// Decides what the fault will do to a container and how to undo it, changing nothing
    /// (it reads the container's state to know what to restore). Kinds that cannot act on
    /// containers keep this default, which says so.
    fn prepare_container<'a>(
        &'a self,
        target: &'a ContainerTarget,
        _ctx: &'a FaultContext,
    ) -> BoxFuture<'a, Result<Prepared, FaultError>> {
        let keyword = self.keyword();
        Box::pin(async move {
            Err(FaultError::Unsupported {
                fault: keyword,
                reason: format!(
                    "`{}` is a container, and this fault does not act on containers",
                    target.name()
                ),
            })
        })
    }
}

type ApplyFn = Box<dyn FnOnce() -> BoxFuture<'static, Result<String, FaultError>> + Send>;
type VerifyFn = Box<dyn FnOnce() -> BoxFuture<'static, Effect> + Send>;

/// A fault ready to apply, with its revert decided, and how to check its effect.
pub struct Prepared {
    revert: RevertAction,
    apply: ApplyFn,
    verify: Option<VerifyFn>,
    measure: Option<VerifyFn>,
}

impl Prepared {
    pub fn new<F, Fut>(revert: RevertAction, apply: F) -> Prepared
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<String, FaultError>> + Send + 'static,
    {
        Prepared {
            revert,
            apply: Box::new(move || Box::pin(apply())),
            verify: None,
            measure: None,
        }
    }

    /// A measurement of the fault's effect that takes time (a window of CPU use): started in
    /// the background once the fault is applied, its result arrives later (see
    /// [`AppliedFault::take_measurement`]) and never delays the schedule.
    pub fn measured_by<F, Fut>(mut self, measure: F) -> Prepared
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Effect> + Send + 'static,
    {
        self.measure = Some(Box::new(move || Box::pin(measure())));
        self
    }

    /// How the kind checks, right after applying, that the fault took effect.
    pub fn verified_by<F, Fut>(mut self, verify: F) -> Prepared
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Effect> + Send + 'static,
    {
        self.verify = Some(Box::new(move || Box::pin(verify())));
        self
    }

    /// What undoes the fault: record it before applying.
    pub fn revert_action(&self) -> &RevertAction {
        &self.revert
    }

    /// Applies the fault; returns what was done, in a sentence. The apply runs as a task of
    /// its own, counted in flight (see `in_flight`): if the caller is dropped (the run was
    /// interrupted), it still finishes, and reverts wait for it.
    pub async fn apply(self) -> Result<String, FaultError> {
        self.apply_and_verify().await.map(|(detail, _, _)| detail)
    }

    /// Applies the fault (as [`Prepared::apply`]), then checks its effect. Also returns the
    /// moment applying finished, before the check: when the fault took hold.
    pub async fn apply_and_verify(
        self,
    ) -> Result<(String, Effect, std::time::Instant), FaultError> {
        let guard = in_flight::InFlight::begin();
        let Prepared { apply, verify, .. } = self;
        let task = tokio::spawn(async move {
            let _guard = guard;
            let detail = apply().await?;
            let applied_at = std::time::Instant::now();
            let effect = match verify {
                Some(verify) => verify().await,
                None => Effect::Unchecked,
            };
            Ok((detail, effect, applied_at))
        });
        task.await.unwrap_or_else(|err| {
            Err(FaultError::Internal(format!(
                "the task applying the fault failed: {err}"
            )))
        })
    }
}

/// A fault in effect on a target.
#[derive(Debug)]
pub struct AppliedFault {
    keyword: &'static str,
    target: FaultTarget,
    revert: RevertAction,
    detail: String,
    effect: Effect,
    /// The background measurement of its effect, while nobody has taken it.
    measurement: Option<tokio::task::JoinHandle<Effect>>,
    /// When applying finished (before its effect was checked).
    applied_at: std::time::Instant,
}

impl AppliedFault {
    /// The background measurement of the fault's effect (`Prepared::measured_by`), if the
    /// kind makes one; taken once.
    pub fn take_measurement(&mut self) -> Option<tokio::task::JoinHandle<Effect>> {
        self.measurement.take()
    }

    pub fn keyword(&self) -> &'static str {
        self.keyword
    }

    /// When applying finished: the moment the fault took hold, before its effect check.
    pub fn applied_at(&self) -> std::time::Instant {
        self.applied_at
    }

    pub fn target(&self) -> &FaultTarget {
        &self.target
    }

    pub fn revert_action(&self) -> &RevertAction {
        &self.revert
    }

    /// What applying did, in a sentence.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// What the fault was seen to do right after it was applied.
    pub fn effect(&self) -> &Effect {
        &self.effect
    }

    /// Undoes the fault (idempotent).
    pub async fn revert(&self) -> Result<RevertOutcome, RevertError> {
        self.revert.revert(Some(&self.target)).await
    }
}

/// Prepares `fault` for `target` (a process or a container), hands its revert to `record`
/// (the ledger: written and synced), and only then applies it. If applying fails, whatever
/// was partly applied is reverted and the error says how that went.
pub async fn inject<E>(
    fault: &dyn Fault,
    target: impl Into<FaultTarget>,
    ctx: &FaultContext,
    record: impl FnOnce(&RevertAction) -> Result<(), E>,
) -> Result<AppliedFault, FaultError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    prepare_recorded(fault, target, ctx, record)
        .await?
        .apply()
        .await
}

/// The first half of [`inject`]: prepares `fault` for `target` and hands its revert to
/// `record`, without applying anything yet. The run engine does this a little ahead of an
/// activation's time, so that the ledger's fsync is not on the activation's critical path;
/// a recorded fault that is never applied is harmless to revert.
pub async fn prepare_recorded<E>(
    fault: &dyn Fault,
    target: impl Into<FaultTarget>,
    ctx: &FaultContext,
    record: impl FnOnce(&RevertAction) -> Result<(), E>,
) -> Result<Recorded, FaultError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let keyword = fault.keyword();
    let target = target.into();
    let prepared = match &target {
        FaultTarget::Process(process) => fault.prepare_process(process, ctx)?,
        FaultTarget::Container(container) => fault.prepare_container(container, ctx).await?,
    };
    record(prepared.revert_action()).map_err(|err| FaultError::Record {
        fault: keyword,
        source: err.into(),
    })?;
    Ok(Recorded {
        keyword,
        target,
        prepared,
    })
}

/// A fault prepared and recorded in the ledger, not applied yet.
pub struct Recorded {
    keyword: &'static str,
    target: FaultTarget,
    prepared: Prepared,
}

impl Recorded {
    /// What undoes the fault (already in the ledger).
    pub fn revert_action(&self) -> &RevertAction {
        self.prepared.revert_action()
    }

    /// Applies the fault. If applying fails, whatever was partly applied is reverted and the
    /// error says how that went.
    pub async fn apply(self) -> Result<AppliedFault, FaultError> {
        let Recorded {
            keyword,
            target,
            prepared,
        } = self;
        let revert = prepared.revert_action().clone();
        let mut prepared = prepared;
        let measure = prepared.measure.take();
        match prepared.apply_and_verify().await {
            Ok((detail, effect, applied_at)) => {
                tracing::info!(fault = keyword, resource = %target.name(), %effect, "{detail}");
                Ok(AppliedFault {
                    keyword,
                    target,
                    revert,
                    detail,
                    effect,
                    measurement: measure.map(|measure| tokio::spawn(measure())),
                    applied_at,
                })
            }
            Err(err) => {
                let cleanup = revert.revert(Some(&target)).await;
                Err(FaultError::Apply {
                    fault: keyword,
                    source: Box::new(err),
                    cleanup,
                })
            }
        }
    }
}

/// The running process of a target, or the error for a fault that needs one.
fn running(target: &ProcessTarget, keyword: &'static str) -> Result<ProcessIdentity, FaultError> {
    target.identity().ok_or_else(|| FaultError::NotRunning {
        fault: keyword,
        resource: target.name().to_string(),
    })
}

/// The container's state, or the error for a fault that needs it running (and unpaused).
async fn running_container(
    target: &ContainerTarget,
    keyword: &'static str,
) -> Result<ContainerInfo, FaultError> {
    let info = target.info().await?;
    if !info.running || info.paused {
        return Err(FaultError::ContainerNotRunning {
            fault: keyword,
            container: target.name().to_string(),
            status: info.status.to_string(),
        });
    }
    Ok(info)
}
