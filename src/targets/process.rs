//! `ProcessTarget`: a local process resource that pfi starts, watches, signals and stops.

use super::exit::Exit;
use super::lifecycle::LifecycleRecorder;
use super::pidfd::Pidfd;
use super::proc_stat::{ProcStat, ProcessState};
use super::process_identity::ProcessIdentity;
use super::process_marker;
use super::process_spec::ProcessSpec;
use super::readiness::{self, LogOffsets};
use super::signal::{self, Signal};
use super::target_error::TargetError;
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::watch;

/// How long a stop waits after SIGKILL before declaring the process stuck.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// A process resource. Cheap to clone; clones share the process.
///
/// The process runs in its own process group with stdout and stderr appended to log files.
/// It is never started through a shell. Stop it explicitly ([`stop`](Self::stop)); dropping
/// the last clone kills a still-running group with SIGKILL as a last resort, unless
/// [`detach`](Self::detach) was called.
#[derive(Clone)]
pub struct ProcessTarget {
    inner: Arc<Inner>,
}

struct Inner {
    spec: ProcessSpec,
    recorder: Option<Arc<dyn LifecycleRecorder>>,
    /// Serialises start, stop and restart.
    lifecycle: tokio::sync::Mutex<()>,
    current: Mutex<Option<Running>>,
    detached: AtomicBool,
}

#[derive(Clone)]
struct Running {
    identity: ProcessIdentity,
    pidfd: Option<Arc<Pidfd>>,
    /// Set by the task that reaps the process.
    exit: watch::Receiver<Option<Exit>>,
    listen_addr: Option<SocketAddr>,
}

impl Running {
    fn exited(&self) -> Option<Exit> {
        *self.exit.borrow()
    }
}

/// What a stop did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// There was no running process.
    NotRunning,
    /// The process had already exited on its own.
    AlreadyExited { pid: u32, exit: Exit },
    /// The process exited after SIGTERM (`forced`: only after SIGKILL).
    Stopped { pid: u32, exit: Exit, forced: bool },
}

impl ProcessTarget {
    pub fn new(spec: ProcessSpec) -> Result<ProcessTarget, TargetError> {
        ProcessTarget::build(spec, None)
    }

    /// A target whose every start and exit is recorded (in the run's ledger).
    pub fn recorded(
        spec: ProcessSpec,
        recorder: Arc<dyn LifecycleRecorder>,
    ) -> Result<ProcessTarget, TargetError> {
        ProcessTarget::build(spec, Some(recorder))
    }

    fn build(
        spec: ProcessSpec,
        recorder: Option<Arc<dyn LifecycleRecorder>>,
    ) -> Result<ProcessTarget, TargetError> {
        if let Some(reason) = spec.problem() {
            return Err(TargetError::InvalidSpec { reason });
        }
        Ok(ProcessTarget {
            inner: Arc::new(Inner {
                spec,
                recorder,
                lifecycle: tokio::sync::Mutex::new(()),
                current: Mutex::new(None),
                detached: AtomicBool::new(false),
            }),
        })
    }

    pub fn name(&self) -> &str {
        &self.inner.spec.name
    }

    pub fn spec(&self) -> &ProcessSpec {
        &self.inner.spec
    }

    pub fn stdout_log(&self) -> PathBuf {
        self.inner.spec.stdout_log()
    }

    pub fn stderr_log(&self) -> PathBuf {
        self.inner.spec.stderr_log()
    }

    /// Spawns the process and waits until it is ready. Fails when it is already running,
    /// cannot be spawned, exits during start, or is not ready in time (then it is killed).
    pub async fn start(&self) -> Result<ProcessIdentity, TargetError> {
        let _lifecycle = self.inner.lifecycle.lock().await;
        if let Some(running) = self.running() {
            return Err(TargetError::AlreadyRunning {
                name: self.name().to_string(),
                pid: running.identity.pid,
            });
        }
        self.spawn_and_wait().await
    }

    /// Starts the process unless it is running; returns the running process either way.
    pub async fn ensure_running(&self) -> Result<ProcessIdentity, TargetError> {
        let _lifecycle = self.inner.lifecycle.lock().await;
        if let Some(running) = self.running() {
            return Ok(running.identity);
        }
        self.spawn_and_wait().await
    }

    /// Stops the process gracefully: SIGTERM to its group (after SIGCONT, in case it is
    /// paused), up to the spec's grace period, then SIGKILL. Children left in the group get
    /// the same treatment. Stopping a process that is not running is fine.
    pub async fn stop(&self) -> Result<StopOutcome, TargetError> {
        self.stop_within(None).await
    }

    /// [`ProcessTarget::stop`] with a grace period of its own (`None`: the spec's).
    pub async fn stop_within(&self, grace: Option<Duration>) -> Result<StopOutcome, TargetError> {
        let _lifecycle = self.inner.lifecycle.lock().await;
        self.stop_locked(grace).await
    }

    /// Stops (gracefully) and starts again; the new process has a new pid.
    pub async fn restart(&self) -> Result<ProcessIdentity, TargetError> {
        self.restart_within(None).await
    }

    /// [`ProcessTarget::restart`] with a grace period of its own (`None`: the spec's).
    pub async fn restart_within(
        &self,
        grace: Option<Duration>,
    ) -> Result<ProcessIdentity, TargetError> {
        let _lifecycle = self.inner.lifecycle.lock().await;
        self.stop_locked(grace).await?;
        self.spawn_and_wait().await
    }

    /// The current process, if one is running (it may be paused).
    pub fn identity(&self) -> Option<ProcessIdentity> {
        self.running().map(|running| running.identity)
    }

    pub fn pid(&self) -> Option<u32> {
        self.identity().map(|identity| identity.pid)
    }

    /// Whether a process is running (possibly paused).
    pub fn is_running(&self) -> bool {
        self.running().is_some()
    }

    /// The kernel's state of the current process, from `/proc`.
    pub fn state(&self) -> Option<ProcessState> {
        let identity = self.identity()?;
        match ProcStat::read(identity.pid) {
            Ok(Some(stat)) if stat.start_time == identity.start_time => Some(stat.state),
            _ => None,
        }
    }

    /// How the last process ended, when it has (and was not stopped or restarted since).
    pub fn exit(&self) -> Option<Exit> {
        self.lock_current().as_ref().and_then(Running::exited)
    }

    /// Waits up to `limit` for the current process to exit.
    pub async fn wait_exit(&self, limit: Duration) -> Option<Exit> {
        let mut exit = self.lock_current().as_ref()?.exit.clone();
        wait_for_exit(&mut exit, limit).await
    }

    /// The address the process announced (`listening on ...`), with `Readiness::Announced`.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.running().and_then(|running| running.listen_addr)
    }

    /// Sends a signal to the process itself (through a pidfd: never to a reused pid).
    pub fn signal(&self, signal: Signal) -> Result<(), TargetError> {
        let running = self.running().ok_or_else(|| self.not_running())?;
        let sent = match &running.pidfd {
            Some(pidfd) => pidfd.send(signal),
            None => signal.send_to_pid(running.identity.pid),
        };
        sent.map_err(|source| self.signal_error(signal, source))
    }

    /// Sends a signal to the process and every process of its group (its children).
    pub fn signal_group(&self, signal: Signal) -> Result<(), TargetError> {
        let running = self.running().ok_or_else(|| self.not_running())?;
        signal
            .send_to_group(running.identity.pgid)
            .map_err(|source| self.signal_error(signal, source))
    }

    /// Leaves the process running when the last clone is dropped (to hand it over, or to
    /// simulate a crash of pfi in tests).
    pub fn detach(&self) {
        self.inner.detached.store(true, Ordering::SeqCst);
    }

    fn running(&self) -> Option<Running> {
        self.lock_current()
            .as_ref()
            .filter(|running| running.exited().is_none())
            .cloned()
    }

    fn lock_current(&self) -> MutexGuard<'_, Option<Running>> {
        // A panic while holding this lock cannot leave the Option half-written.
        self.inner
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn not_running(&self) -> TargetError {
        TargetError::NotRunning {
            name: self.name().to_string(),
        }
    }

    fn signal_error(&self, signal: Signal, source: std::io::Error) -> TargetError {
        if source.raw_os_error() == Some(libc::ESRCH) {
            return self.not_running();
        }
        TargetError::Signal {
            name: self.name().to_string(),
            signal,
            source,
        }
    }

    async fn spawn_and_wait(&self) -> Result<ProcessIdentity, TargetError> {
        let spec = &self.inner.spec;
        let (running, offsets) = self.spawn()?;
        let mut exit = running.exit.clone();
        *self.lock_current() = Some(running.clone());
        match readiness::wait_ready(spec, running.identity.pid, &mut exit, offsets).await {
            Ok(listen_addr) => {
                if let Some(current) = self.lock_current().as_mut() {
                    current.listen_addr = listen_addr;
                }
                tracing::info!(resource = %spec.name, pid = running.identity.pid, "process ready");
                Ok(running.identity)
            }
            Err(err) => {
                // Never leave a half-started process behind.
                let _ = Signal::KILL.send_to_group(running.identity.pgid);
                wait_for_exit(&mut exit, KILL_WAIT).await;
                Err(err)
            }
        }
    }

    fn spawn(&self) -> Result<(Running, LogOffsets), TargetError> {
        let spec = &self.inner.spec;
        let name = spec.name.clone();
        let stdout_path = spec.stdout_log();
        let stderr_path = spec.stderr_log();
        std::fs::create_dir_all(&spec.log_dir).map_err(|source| TargetError::LogFile {
            name: name.clone(),
            path: spec.log_dir.clone(),
            source,
        })?;
        let open = |path: &PathBuf| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| TargetError::LogFile {
                    name: name.clone(),
                    path: path.clone(),
                    source,
                })
        };
        let stdout = open(&stdout_path)?;
        let stderr = open(&stderr_path)?;
        let offsets = LogOffsets {
            stdout: stdout.metadata().map(|m| m.len()).unwrap_or(0),
            stderr: stderr.metadata().map(|m| m.len()).unwrap_or(0),
        };

        // The intent first: a run killed between the spawn and `process_started` would
        // otherwise leave a process nobody knows of. The marker finds it (`pfi recover`).
        let marker = process_marker::new_marker(&name);
        if let Some(recorder) = &self.inner.recorder {
            recorder
                .process_spawning(&name, &marker)
                .map_err(|source| TargetError::Record {
                    name: name.clone(),
                    source,
                })?;
        }
        let mut command = Command::new(&spec.argv[0]);
        command
            .args(&spec.argv[1..])
            .env(process_marker::MARKER_VAR, &marker)
            .envs(&spec.env)
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .process_group(0)
            .kill_on_drop(false);
        if let Some(cwd) = &spec.cwd {
            command.current_dir(cwd);
        }
        let mut child = command.spawn().map_err(|source| TargetError::Spawn {
            name: name.clone(),
            program: spec.argv[0].clone(),
            source,
        })?;
        let pid = child.id().ok_or_else(|| TargetError::Spawn {
            name: name.clone(),
            program: spec.argv[0].clone(),
            source: std::io::Error::other("the child exited before its pid could be read"),
        })?;
        // Before anything reaps the child, so the pidfd names exactly this process.
        let pidfd = Pidfd::open(pid).ok().map(Arc::new);
        let start_time = ProcStat::read(pid)
            .ok()
            .flatten()
            .map(|stat| stat.start_time)
            .unwrap_or(0);
        let identity = ProcessIdentity {
            pid,
            start_time,
            pgid: pid,
        };

        if let Some(recorder) = &self.inner.recorder
            && let Err(source) = recorder.process_started(&name, &identity)
        {
            let _ = Signal::KILL.send_to_group(pid);
            return Err(TargetError::Record { name, source });
        }

        let (exit_tx, exit_rx) = watch::channel(None);
        let recorder = self.inner.recorder.clone();
        tokio::spawn(async move {
            let exit = match child.wait().await {
                Ok(status) => Exit::from(status),
                Err(err) => {
                    tracing::warn!(resource = %name, pid, "cannot wait for the process: {err}");
                    Exit::Unknown
                }
            };
            tracing::info!(resource = %name, pid, "process exited with {exit}");
            if let Some(recorder) = recorder
                && let Err(err) = recorder.process_exited(&name, &identity, &exit.to_string())
            {
                tracing::warn!(resource = %name, pid, "cannot record the exit: {err}");
            }
            let _ = exit_tx.send(Some(exit));
        });
        tracing::info!(resource = %spec.name, pid, argv = ?spec.argv, "process spawned");
        let running = Running {
            identity,
            pidfd,
            exit: exit_rx,
            listen_addr: None,
        };
        Ok((running, offsets))
    }

    async fn stop_locked(&self, grace: Option<Duration>) -> Result<StopOutcome, TargetError> {
        let Some(running) = self.lock_current().clone() else {
            return Ok(StopOutcome::NotRunning);
        };
        let pid = running.identity.pid;
        let pgid = running.identity.pgid;
        if let Some(exit) = running.exited() {
            self.kill_stragglers(pgid, Duration::ZERO).await;
            *self.lock_current() = None;
            return Ok(StopOutcome::AlreadyExited { pid, exit });
        }
        let grace = grace.unwrap_or(self.inner.spec.stop_grace);
        let started = tokio::time::Instant::now();
        // A paused process cannot act on SIGTERM until it is continued.
        let _ = Signal::CONT.send_to_group(pgid);
        let _ = Signal::TERM.send_to_group(pgid);
        let mut exit_rx = running.exit.clone();
        let mut forced = false;
        let mut exit = wait_for_exit(&mut exit_rx, grace).await;
        if exit.is_none() {
            forced = true;
            let _ = Signal::KILL.send_to_group(pgid);
            exit = wait_for_exit(&mut exit_rx, KILL_WAIT).await;
            if exit.is_none() {
                return Err(TargetError::StopFailed {
                    name: self.name().to_string(),
                    pid,
                });
            }
        }
        let exit = exit.unwrap_or(Exit::Unknown);
        self.kill_stragglers(pgid, grace.saturating_sub(started.elapsed()))
            .await;
        *self.lock_current() = None;
        tracing::info!(resource = %self.name(), pid, forced, "process stopped ({exit})");
        Ok(StopOutcome::Stopped { pid, exit, forced })
    }

    /// Waits up to `grace` for the rest of the group (children) to exit, then kills it.
    async fn kill_stragglers(&self, pgid: u32, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        while signal::group_exists(pgid) {
            if tokio::time::Instant::now() >= deadline {
                let _ = Signal::KILL.send_to_group(pgid);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The exit, once the reaping task reports it, or `None` after `limit`.
async fn wait_for_exit(exit: &mut watch::Receiver<Option<Exit>>, limit: Duration) -> Option<Exit> {
    match tokio::time::timeout(limit, exit.wait_for(Option::is_some)).await {
        Ok(Ok(status)) => *status,
        _ => None,
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.detached.load(Ordering::SeqCst) {
            return;
        }
        let current = self
            .current
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(running) = current.as_ref().filter(|r| r.exited().is_none()) {
            tracing::warn!(resource = %self.spec.name, pid = running.identity.pid,
                "process target dropped while running; killing its group");
            if let Some(pidfd) = &running.pidfd {
                let _ = pidfd.send(Signal::KILL);
            }
            let _ = Signal::KILL.send_to_group(running.identity.pgid);
        }
    }
}

impl std::fmt::Debug for ProcessTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessTarget")
            .field("name", &self.name())
            .field("identity", &self.identity())
            .finish()
    }
}
