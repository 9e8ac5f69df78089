//! A process named so that a reused pid is never mistaken for it: pid plus start time.

use super::proc_stat::{ProcStat, ProcessState};
use super::signal::{self, Signal};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io;
use std::time::Duration;

/// A pid, the start time the kernel gave that process (field 22 of `/proc/<pid>/stat`, in
/// clock ticks after boot) and its process group. A later process that reuses the pid has a
/// different start time, so a ledger written before a crash can tell ours from a stranger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    pub pid: u32,
    pub start_time: u64,
    pub pgid: u32,
}

/// What `/proc` says about a recorded process now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The same process exists (it may be stopped or a zombie: see the state).
    Alive(ProcessState),
    /// No process has the pid.
    Gone,
    /// Another process has the pid now.
    Reused,
}

impl ProcessIdentity {
    /// The identity of a running process; `Ok(None)` when no process has the pid.
    pub fn of(pid: u32) -> io::Result<Option<ProcessIdentity>> {
        Ok(ProcStat::read(pid)?.map(|stat| ProcessIdentity {
            pid,
            start_time: stat.start_time,
            pgid: stat.pgrp,
        }))
    }

    /// The identity of this very process.
    pub fn current() -> io::Result<ProcessIdentity> {
        ProcessIdentity::of(std::process::id())?
            .ok_or_else(|| io::Error::other("cannot read /proc/self/stat"))
    }

    pub fn liveness(&self) -> io::Result<Liveness> {
        Ok(match ProcStat::read(self.pid)? {
            None => Liveness::Gone,
            Some(stat) if stat.start_time != self.start_time => Liveness::Reused,
            Some(stat) => Liveness::Alive(stat.state),
        })
    }

    /// Whether the recorded process still exists and has not exited.
    pub fn is_running(&self) -> bool {
        matches!(self.liveness(), Ok(Liveness::Alive(state)) if !state.has_exited())
    }

    /// Whether the process leads its own group (pfi starts every process that way), so a
    /// signal to the group reaches its children too.
    pub fn leads_group(&self) -> bool {
        self.pgid == self.pid
    }

    /// Sends a signal after checking the pid still names this process. Returns `Ok(false)`
    /// when the process is gone or the pid was reused (nothing was sent).
    pub fn signal(&self, signal: Signal) -> io::Result<bool> {
        match self.liveness()? {
            Liveness::Alive(state) if !state.has_exited() => {}
            _ => return Ok(false),
        }
        match signal.send_to_pid(self.pid) {
            Ok(()) => Ok(true),
            Err(err) if err.raw_os_error() == Some(libc::ESRCH) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Like [`signal`](Self::signal) but to the whole group when the process leads one.
    pub fn signal_group(&self, signal: Signal) -> io::Result<bool> {
        if !self.leads_group() {
            return self.signal(signal);
        }
        match self.liveness()? {
            Liveness::Alive(state) if !state.has_exited() => {}
            _ => return Ok(false),
        }
        match signal.send_to_group(self.pgid) {
            Ok(()) => Ok(true),
            Err(err) if err.raw_os_error() == Some(libc::ESRCH) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Stops a process that is not our child (after a crash, from the ledger): SIGTERM to its
    /// group, up to `grace` for it to exit, then SIGKILL. Never signals a reused pid.
    pub async fn terminate(&self, grace: Duration) -> io::Result<Termination> {
        match self.liveness()? {
            Liveness::Gone => return Ok(Termination::AlreadyGone),
            Liveness::Reused => return Ok(Termination::PidReused),
            Liveness::Alive(state) if state.has_exited() => return Ok(Termination::AlreadyGone),
            Liveness::Alive(state) => {
                // A stopped process cannot handle SIGTERM until it is continued.
                if state == ProcessState::Stopped {
                    self.signal_group(Signal::CONT)?;
                }
            }
        }
        self.signal_group(Signal::TERM)?;
        if self.wait_gone(grace).await? {
            return Ok(Termination::Exited);
        }
        self.signal_group(Signal::KILL)?;
        if self.wait_gone(Duration::from_secs(5)).await? {
            Ok(Termination::Killed)
        } else {
            Err(io::Error::other(format!(
                "process {} survived SIGKILL for 5 s (it may be in uninterruptible disk sleep)",
                self.pid
            )))
        }
    }

    /// Polls until the process has exited (gone, reused or a zombie), up to `limit`.
    async fn wait_gone(&self, limit: Duration) -> io::Result<bool> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let gone = match self.liveness()? {
                Liveness::Alive(state) => state.has_exited(),
                Liveness::Gone | Liveness::Reused => true,
            };
            if gone {
                // Stragglers of the group (children that ignored SIGTERM) get SIGKILL.
                if self.leads_group() && signal::group_exists(self.pgid) {
                    let _ = Signal::KILL.send_to_group(self.pgid);
                }
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// How [`ProcessIdentity::terminate`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// The process exited after SIGTERM.
    Exited,
    /// The process had to be killed with SIGKILL.
    Killed,
    /// It was already gone.
    AlreadyGone,
    /// The pid belongs to another process now: nothing was signalled.
    PidReused,
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Termination::Exited => "exited after SIGTERM",
            Termination::Killed => "killed with SIGKILL after the grace period",
            Termination::AlreadyGone => "already gone",
            Termination::PidReused => "pid reused by another process; left alone",
        })
    }
}

impl fmt::Display for ProcessIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} (started at tick {})", self.pid, self.start_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_reads_as_reused() {
        let me = ProcessIdentity::current().unwrap();
        assert!(matches!(me.liveness().unwrap(), Liveness::Alive(_)));
        assert!(me.is_running());
        let impostor = ProcessIdentity {
            start_time: me.start_time + 1,
            ..me
        };
        assert_eq!(impostor.liveness().unwrap(), Liveness::Reused);
        // A reused pid is never signalled.
        assert!(!impostor.signal(Signal::TERM).unwrap());
    }

    #[tokio::test]
    async fn terminating_a_missing_process_is_harmless() {
        let ghost = ProcessIdentity {
            pid: u32::MAX - 1,
            start_time: 1,
            pgid: u32::MAX - 1,
        };
        assert_eq!(ghost.liveness().unwrap(), Liveness::Gone);
        let outcome = ghost.terminate(Duration::from_millis(10)).await.unwrap();
        assert_eq!(outcome, Termination::AlreadyGone);
    }
}
