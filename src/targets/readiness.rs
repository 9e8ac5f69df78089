//! Waiting for a freshly spawned process to become ready, or to fail trying.

use super::exit::Exit;
use super::log_file;
use super::port_owner::PortOwner;
use super::process_spec::{ProcessSpec, Readiness};
use super::target_error::TargetError;
use crate::probes::{ExpectedStatus, HttpProbe, Probe, TcpProbe};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The pause between readiness checks during the first [`FAST_PHASE`] of a start; after it
/// the pause doubles after each failed check up to [`POLL`]. A process that is ready within
/// milliseconds is seen within a millisecond (a fixed 50 ms poll cost a fast service up to
/// 50 ms per start, and a doubling from the first check turned a few milliseconds of start-up
/// into 8 more of waiting for the next check), without polling a slow one more than 20 times
/// a second.
const FIRST_POLL: Duration = Duration::from_millis(1);
/// How long readiness is checked every [`FIRST_POLL`].
const FAST_PHASE: Duration = Duration::from_millis(20);
/// The longest pause between readiness checks.
const POLL: Duration = Duration::from_millis(50);
/// A process that is ready once started must still survive this long.
const SETTLE: Duration = Duration::from_millis(100);
/// Log lines quoted in an error.
const TAIL_LINES: usize = 10;

/// Where this start's output begins in the log files.
#[derive(Debug, Clone, Copy)]
pub(super) struct LogOffsets {
    pub stdout: u64,
    pub stderr: u64,
}

/// Waits until the spec's readiness condition holds. Returns the announced address for
/// `Readiness::Announced`. Fails when the process exits first or the deadline passes.
///
/// A port that answers counts only when the process `pid` (or a descendant) listens on it:
/// a port held by another process says nothing about this one, which may be about to exit
/// with "Address already in use".
pub(super) async fn wait_ready(
    spec: &ProcessSpec,
    pid: u32,
    exit: &mut watch::Receiver<Option<Exit>>,
    offsets: LogOffsets,
) -> Result<Option<SocketAddr>, TargetError> {
    let started = Instant::now();
    let deadline = started + spec.start_timeout;
    let mut last_check = "not checked yet".to_string();
    let mut pause = FIRST_POLL;
    loop {
        if let Some(status) = *exit.borrow() {
            return Err(TargetError::ExitedDuringStart {
                name: spec.name.clone(),
                exit: status,
                log_tail: log_tail(spec, offsets),
            });
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let timeout = remaining.clamp(Duration::from_millis(10), Duration::from_secs(1));
        match &spec.readiness {
            Readiness::Started => {
                if started.elapsed() >= SETTLE.min(spec.start_timeout) {
                    return Ok(None);
                }
            }
            Readiness::Tcp { address } => {
                let check = TcpProbe::new(address.clone(), timeout).check().await;
                last_check = check.detail;
                if check.success {
                    match foreign_owner(pid, port_of(address)) {
                        None => return Ok(None),
                        Some(owner) => last_check = owner,
                    }
                }
            }
            Readiness::Http { url } => {
                let probe = HttpProbe::new("GET", url, ExpectedStatus::Success, timeout).map_err(
                    |reason| TargetError::InvalidSpec {
                        reason: format!("process `{}`: readiness URL: {reason}", spec.name),
                    },
                )?;
                let check = probe.check().await;
                last_check = check.detail;
                if check.success {
                    let port = probe.url().port_u16().or(match probe.url().scheme_str() {
                        Some("https") => Some(443),
                        _ => Some(80),
                    });
                    match foreign_owner(pid, port) {
                        None => return Ok(None),
                        Some(owner) => last_check = owner,
                    }
                }
            }
            Readiness::Announced => {
                match log_file::announced_address(&spec.stdout_log(), offsets.stdout) {
                    Ok(Some(address)) => {
                        let check = TcpProbe::new(address.to_string(), timeout).check().await;
                        last_check = check.detail;
                        if check.success {
                            match foreign_owner(pid, Some(address.port())) {
                                None => return Ok(Some(address)),
                                Some(owner) => last_check = owner,
                            }
                        }
                    }
                    Ok(None) => last_check = "no `listening on` line on stdout yet".to_string(),
                    Err(err) => last_check = format!("cannot read the stdout log: {err}"),
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(TargetError::NotReady {
                name: spec.name.clone(),
                condition: describe(&spec.readiness),
                waited: started.elapsed(),
                last_check,
                log_tail: log_tail(spec, offsets),
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = exit.changed() => {}
        }
        if started.elapsed() >= FAST_PHASE {
            pause = (pause * 2).min(POLL);
        }
    }
}

/// The port of a `host:port` address.
fn port_of(address: &str) -> Option<u16> {
    address.rsplit_once(':')?.1.parse().ok()
}

/// When another process, not `pid` or its descendants, holds the port: what to say. `None`
/// when the port is ours, not local (a remote address), or its owner cannot be told.
fn foreign_owner(pid: u32, port: Option<u16>) -> Option<String> {
    let port = port?;
    match PortOwner::of(pid, port) {
        Ok(PortOwner::Foreign(owners)) => {
            let who: Vec<String> = owners
                .iter()
                .map(|(pid, name)| format!("pid {pid} ({name})"))
                .collect();
            Some(if who.is_empty() {
                format!("port {port} answers, but another process listens on it")
            } else {
                format!(
                    "port {port} answers, but it is held by another process: {}",
                    who.join(", ")
                )
            })
        }
        Ok(PortOwner::Ours | PortOwner::NoLocalListener) => None,
        Err(err) => {
            tracing::debug!(port, %err, "cannot tell who listens on the port");
            None
        }
    }
}

fn describe(readiness: &Readiness) -> String {
    match readiness {
        Readiness::Started => "the process to stay up".to_string(),
        Readiness::Tcp { address } => format!("a TCP connection to {address}"),
        Readiness::Http { url } => format!("a 2xx answer from {url}"),
        Readiness::Announced => "a `listening on ADDRESS` line on stdout".to_string(),
    }
}

/// The last lines of this start's stderr, or of its stdout when stderr is empty.
pub(super) fn log_tail(spec: &ProcessSpec, offsets: LogOffsets) -> Vec<String> {
    let stderr = log_file::tail(&spec.stderr_log(), offsets.stderr, TAIL_LINES).unwrap_or_default();
    if !stderr.is_empty() {
        return stderr;
    }
    log_file::tail(&spec.stdout_log(), offsets.stdout, TAIL_LINES).unwrap_or_default()
}
