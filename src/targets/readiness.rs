//! Waiting for a freshly spawned process to become ready, or to fail trying.

use super::exit::Exit;
use super::log_file;
use super::process_spec::{ProcessSpec, Readiness};
use super::target_error::TargetError;
use crate::monitor::{ExpectedStatus, HttpProbe, Probe, TcpProbe};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The first pause between readiness checks; it doubles after each failed check up to
/// [`POLL`], so a process that is ready within milliseconds is seen within milliseconds
/// (a fixed 50 ms poll cost a fast service up to 50 ms per start), without polling a slow
/// one more than 20 times a second.
const FIRST_POLL: Duration = Duration::from_millis(2);
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
pub(super) async fn wait_ready(
    spec: &ProcessSpec,
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
                if check.success {
                    return Ok(None);
                }
                last_check = check.detail;
            }
            Readiness::Http { url } => {
                let probe = HttpProbe::new("GET", url, ExpectedStatus::Success, timeout).map_err(
                    |reason| TargetError::InvalidSpec {
                        reason: format!("process `{}`: readiness URL: {reason}", spec.name),
                    },
                )?;
                let check = probe.check().await;
                if check.success {
                    return Ok(None);
                }
                last_check = check.detail;
            }
            Readiness::Announced => {
                match log_file::announced_address(&spec.stdout_log(), offsets.stdout) {
                    Ok(Some(address)) => {
                        let check = TcpProbe::new(address.to_string(), timeout).check().await;
                        if check.success {
                            return Ok(Some(address));
                        }
                        last_check = check.detail;
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
        pause = (pause * 2).min(POLL);
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
