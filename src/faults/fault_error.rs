//! Everything that can go wrong preparing, recording or applying a fault.

use super::revert_action::{RevertError, RevertOutcome};
use crate::targets::{DockerError, TargetError};
use std::fmt;

#[derive(Debug)]
pub enum FaultError {
    /// The fault's parameters are invalid (the checker should have caught it).
    InvalidParams { fault: &'static str, reason: String },
    /// The target process is not running.
    NotRunning {
        fault: &'static str,
        resource: String,
    },
    /// The target container is not running (or already paused, for `pause`).
    ContainerNotRunning {
        fault: &'static str,
        container: String,
        status: String,
    },
    /// The machine cannot apply the fault (no writable cgroup controller...).
    Unsupported { fault: &'static str, reason: String },
    /// Starting, stopping or signalling the process failed.
    Target(TargetError),
    /// The Docker engine failed or refused.
    Docker(DockerError),
    /// A cgroup file could not be written or read.
    Cgroup {
        fault: &'static str,
        message: String,
    },
    /// The revert could not be recorded in the ledger: nothing was applied.
    Record {
        fault: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The task applying the fault failed (it panicked).
    Internal(String),
    /// Applying failed; whatever was partly applied has been reverted (`cleanup`).
    Apply {
        fault: &'static str,
        source: Box<FaultError>,
        cleanup: Result<RevertOutcome, RevertError>,
    },
}

impl FaultError {
    /// Whether the scenario is at fault (exit 2: bad parameters, a bad container selector)
    /// rather than the environment (exit 3).
    pub fn is_input(&self) -> bool {
        match self {
            FaultError::InvalidParams { .. } => true,
            FaultError::Docker(err) => err.is_input(),
            FaultError::Apply { source, .. } => source.is_input(),
            _ => false,
        }
    }
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultError::InvalidParams { fault, reason } => {
                write!(f, "invalid `{fault}` fault: {reason}")
            }
            FaultError::NotRunning { fault, resource } => write!(
                f,
                "cannot apply `{fault}` to `{resource}`: the process is not running"
            ),
            FaultError::ContainerNotRunning {
                fault,
                container,
                status,
            } => write!(
                f,
                "cannot apply `{fault}` to container `{container}`: it is {status}"
            ),
            FaultError::Docker(err) => err.fmt(f),
            FaultError::Unsupported { fault, reason } => {
                write!(f, "cannot apply `{fault}`: {reason}")
            }
            FaultError::Target(err) => err.fmt(f),
            FaultError::Cgroup { fault, message } => write!(f, "`{fault}`: {message}"),
            FaultError::Internal(message) => f.write_str(message),
            FaultError::Record { fault, source } => write!(
                f,
                "cannot record `{fault}` in the run ledger before applying it ({source}); it was not applied"
            ),
            FaultError::Apply {
                fault,
                source,
                cleanup,
            } => {
                write!(f, "applying `{fault}` failed: {source}")?;
                match cleanup {
                    Ok(outcome) => write!(f, " (cleaned up: {outcome})"),
                    Err(err) => write!(f, " (and cleaning up failed: {err}; run `pfi recover`)"),
                }
            }
        }
    }
}

impl std::error::Error for FaultError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FaultError::Target(err) => Some(err),
            FaultError::Docker(err) => Some(err),
            FaultError::Apply { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl From<TargetError> for FaultError {
    fn from(err: TargetError) -> FaultError {
        FaultError::Target(err)
    }
}

impl From<DockerError> for FaultError {
    fn from(err: DockerError) -> FaultError {
        FaultError::Docker(err)
    }
}
