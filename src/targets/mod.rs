//! What faults act on: local processes that pfi starts from an argv (never a shell),
//! identified by pid and start time, in their own process group, with their output in log
//! files, and the `/proc` readings that tell their state; and Docker containers (`docker`).

mod agent_client;
mod agent_request;
pub mod docker;
mod exit;
mod lifecycle;
mod log_file;
mod pidfd;
mod port_owner;
mod proc_stat;
mod process;
mod process_identity;
pub mod process_marker;
mod process_spec;
mod readiness;
mod signal;
mod target_error;

pub use agent_client::{AgentClient, AgentError};
pub use agent_request::{AppliedResponse, ApplyRequest, FaultSummary, proof};
pub use docker::{ContainerTarget, DockerEngine, DockerError};
pub use exit::Exit;
pub use lifecycle::LifecycleRecorder;
pub use log_file::parse_announce;
pub use port_owner::PortOwner;
pub use proc_stat::{
    ProcStat, ProcessState, all_pids, clock_ticks_per_second, descendants, page_size,
};
pub use process::{ProcessTarget, StopOutcome};
pub use process_identity::{Liveness, ProcessIdentity, Termination};
pub use process_spec::{ProcessSpec, Readiness};
pub use signal::{Signal, group_exists};
pub use target_error::TargetError;
