//! Everything that can go wrong starting, stopping or signalling a process resource.

use super::exit::Exit;
use super::signal::Signal;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug)]
pub enum TargetError {
    /// The spec cannot be started (no command...).
    InvalidSpec {
        reason: String,
    },
    /// The program could not be spawned.
    Spawn {
        name: String,
        program: String,
        source: io::Error,
    },
    /// A log file could not be opened.
    LogFile {
        name: String,
        path: PathBuf,
        source: io::Error,
    },
    /// The process exited before it was ready.
    ExitedDuringStart {
        name: String,
        exit: Exit,
        log_tail: Vec<String>,
    },
    /// The readiness condition did not hold before the deadline; the process was killed.
    NotReady {
        name: String,
        condition: String,
        waited: Duration,
        last_check: String,
        log_tail: Vec<String>,
    },
    AlreadyRunning {
        name: String,
        pid: u32,
    },
    NotRunning {
        name: String,
    },
    Signal {
        name: String,
        signal: Signal,
        source: io::Error,
    },
    /// The process survived SIGKILL (stuck in uninterruptible sleep).
    StopFailed {
        name: String,
        pid: u32,
    },
    /// The start could not be recorded in the ledger; the process was killed.
    Record {
        name: String,
        source: io::Error,
    },
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::InvalidSpec { reason } => f.write_str(reason),
            TargetError::Spawn {
                name,
                program,
                source,
            } => {
                write!(f, "cannot start process `{name}`: `{program}`: {source}")?;
                if source.kind() == io::ErrorKind::NotFound {
                    write!(f, "; check the program name, or give its full path")?;
                }
                Ok(())
            }
            TargetError::LogFile { name, path, source } => write!(
                f,
                "cannot open the log file {} of process `{name}`: {source}",
                path.display()
            ),
            TargetError::ExitedDuringStart {
                name,
                exit,
                log_tail,
            } => {
                write!(f, "process `{name}` exited with {exit} during start")?;
                write_tail(f, log_tail)
            }
            TargetError::NotReady {
                name,
                condition,
                waited,
                last_check,
                log_tail,
            } => {
                write!(
                    f,
                    "process `{name}` was not ready after {:.1} s (waiting for {condition}; last check: {last_check}); it was stopped",
                    waited.as_secs_f64()
                )?;
                write_tail(f, log_tail)
            }
            TargetError::AlreadyRunning { name, pid } => {
                write!(f, "process `{name}` is already running (pid {pid})")
            }
            TargetError::NotRunning { name } => write!(f, "process `{name}` is not running"),
            TargetError::Signal {
                name,
                signal,
                source,
            } => write!(f, "cannot send {signal} to process `{name}`: {source}"),
            TargetError::StopFailed { name, pid } => write!(
                f,
                "process `{name}` (pid {pid}) survived SIGKILL; it is probably stuck in uninterruptible disk sleep"
            ),
            TargetError::Record { name, source } => write!(
                f,
                "cannot record process `{name}` in the run ledger ({source}); it was stopped so that nothing outlives a crash"
            ),
        }
    }
}

fn write_tail(f: &mut fmt::Formatter<'_>, tail: &[String]) -> fmt::Result {
    if tail.is_empty() {
        return f.write_str("; it printed nothing");
    }
    f.write_str("; last log lines:")?;
    for line in tail {
        write!(f, "\n  {line}")?;
    }
    Ok(())
}

impl std::error::Error for TargetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TargetError::Spawn { source, .. }
            | TargetError::LogFile { source, .. }
            | TargetError::Signal { source, .. }
            | TargetError::Record { source, .. } => Some(source),
            _ => None,
        }
    }
}
