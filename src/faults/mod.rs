//! Faults on process and container targets, one file per kind named after its keyword in the
//! language; a kind's file holds what it does to a process and what it does to a container.
//!
//! Every kind implements [`Fault`]. Injecting is two steps so nothing is applied before it
//! can be undone after a crash: [`Fault::prepare_process`] or [`Fault::prepare_container`]
//! decides everything and yields the [`RevertAction`] (the caller writes it to the run's
//! ledger), then [`Prepared::apply`] changes the system. [`inject`] does both around a
//! recording callback. Which kinds a target family supports is one table per family
//! ([`PROCESS_FAULTS`], [`CONTAINER_FAULTS`]).

pub mod cgroup;
mod cgroup_limit;
mod container_limit;
mod container_revert;
mod cpu_limit;
mod fault_error;
mod fault_target;
mod io_limit;
mod kill;
mod memory_limit;
mod partition;
mod pause;
mod restart;
mod revert_action;
mod stop;

pub use cpu_limit::CpuLimit;
pub use fault_error::FaultError;
pub use fault_target::FaultTarget;
pub use io_limit::IoLimit;
pub use kill::Kill;
pub use memory_limit::MemoryLimit;
pub use partition::Partition;
pub use pause::Pause;
pub use restart::Restart;
pub use revert_action::{RevertAction, RevertError, RevertOutcome};
pub use stop::Stop;

use crate::targets::docker::ContainerInfo;
use crate::targets::{ContainerTarget, ProcessIdentity, ProcessTarget};
use serde::de::DeserializeOwned;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so faults can live behind `dyn Fault`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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

/// A fault ready to apply, with its revert decided.
pub struct Prepared {
    revert: RevertAction,
    apply: ApplyFn,
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
        }
    }

    /// What undoes the fault: record it before applying.
    pub fn revert_action(&self) -> &RevertAction {
        &self.revert
    }

    /// Applies the fault; returns what was done, in a sentence.
    pub async fn apply(self) -> Result<String, FaultError> {
        (self.apply)().await
    }
}

/// A fault in effect on a target.
#[derive(Debug)]
pub struct AppliedFault {
    keyword: &'static str,
    target: FaultTarget,
    revert: RevertAction,
    detail: String,
}

impl AppliedFault {
    pub fn keyword(&self) -> &'static str {
        self.keyword
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
        match prepared.apply().await {
            Ok(detail) => {
                tracing::info!(fault = keyword, resource = %target.name(), "{detail}");
                Ok(AppliedFault {
                    keyword,
                    target,
                    revert,
                    detail,
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

/// One fault kind in the table: its keyword, a summary, and how to build it from its
/// parameters as JSON (`{"signal": "SIGTERM"}`, `{"cores": 0.2}`).
pub struct FaultKind {
    pub keyword: &'static str,
    pub summary: &'static str,
    pub build: fn(serde_json::Value) -> Result<Box<dyn Fault>, FaultError>,
}

/// Every fault kind a process target supports.
pub const PROCESS_FAULTS: &[FaultKind] = &[
    kill::KIND,
    pause::KIND,
    stop::KIND,
    restart::KIND,
    cpu_limit::KIND,
    memory_limit::KIND,
    io_limit::KIND,
];

/// Every fault kind a container target supports.
pub const CONTAINER_FAULTS: &[FaultKind] = &[
    kill::KIND,
    pause::KIND,
    stop::KIND,
    restart::KIND,
    cpu_limit::KIND,
    memory_limit::KIND,
    io_limit::KIND,
    partition::KIND,
];

/// The process fault kind with this keyword.
pub fn process_fault(keyword: &str) -> Option<&'static FaultKind> {
    PROCESS_FAULTS.iter().find(|kind| kind.keyword == keyword)
}

/// The container fault kind with this keyword.
pub fn container_fault(keyword: &str) -> Option<&'static FaultKind> {
    CONTAINER_FAULTS.iter().find(|kind| kind.keyword == keyword)
}

/// Reads a fault's parameters (unknown fields are errors).
fn params<T: DeserializeOwned>(
    keyword: &'static str,
    value: serde_json::Value,
) -> Result<T, FaultError> {
    let value = if value.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        value
    };
    serde_json::from_value(value).map_err(|err| FaultError::InvalidParams {
        fault: keyword,
        reason: err.to_string(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_table_has_one_entry_per_keyword() {
        for table in [PROCESS_FAULTS, CONTAINER_FAULTS] {
            let mut keywords: Vec<&str> = table.iter().map(|kind| kind.keyword).collect();
            keywords.sort();
            keywords.dedup();
            assert_eq!(keywords.len(), table.len());
        }
        assert_eq!(process_fault("pause").unwrap().keyword, "pause");
        assert!(process_fault("latency").is_none());
        assert!(process_fault("partition").is_none());
        assert_eq!(container_fault("partition").unwrap().keyword, "partition");
        assert_eq!(container_fault("cpu_limit").unwrap().keyword, "cpu_limit");
    }

    #[test]
    fn builds_every_kind_from_json_parameters() {
        let cases = [
            (
                "kill",
                serde_json::json!({"signal": "TERM"}),
                "kill with SIGTERM",
            ),
            ("kill", serde_json::Value::Null, "kill with SIGKILL"),
            ("pause", serde_json::json!({}), "pause (SIGSTOP)"),
            ("stop", serde_json::json!({}), "stop (graceful)"),
            ("restart", serde_json::json!({}), "restart"),
            (
                "cpu_limit",
                serde_json::json!({"cores": 0.2}),
                "cpu_limit 0.2 cores",
            ),
            (
                "memory_limit",
                serde_json::json!({"bytes": 67108864}),
                "memory_limit 64 MiB",
            ),
            (
                "io_limit",
                serde_json::json!({"read_bps": 1048576, "weight": 50}),
                "io_limit read 1048576 B/s, weight 50",
            ),
        ];
        for (keyword, params, described) in cases {
            let fault = (process_fault(keyword).unwrap().build)(params).unwrap();
            assert_eq!(fault.keyword(), keyword);
            assert_eq!(fault.describe(), described);
        }
    }

    #[test]
    fn rejects_bad_parameters_with_the_keyword() {
        let build = |keyword: &str, params| {
            (process_fault(keyword).unwrap().build)(params)
                .unwrap_err()
                .to_string()
        };
        assert!(build("kill", serde_json::json!({"signal": "SIGNOPE"})).contains("unknown signal"));
        assert!(build("cpu_limit", serde_json::json!({"cores": 0})).contains("more than 0"));
        assert!(
            build("cpu_limit", serde_json::json!({"cpus": 1}))
                .starts_with("invalid `cpu_limit` fault")
        );
        assert!(build("memory_limit", serde_json::json!({"bytes": 10})).contains("at least"));
        assert!(build("io_limit", serde_json::json!({})).contains("read_bps, write_bps or weight"));
        assert!(build("pause", serde_json::json!({"for": 1})).contains("unknown field"));
        let err = (container_fault("partition").unwrap().build)(serde_json::json!({"x": 1}));
        assert!(err.is_err_and(|err| err.is_input()));
    }
}
