//! `recover`: undoes what crashed runs left behind, from their ledgers. Reverts every fault
//! never reverted (newest first), then stops every recorded process whose pid and start time
//! still match, then removes every container the run created (when it still carries the
//! run's label). Each success is written back to the ledger, so a second recover finds
//! nothing to do.

use super::contents::{LedgerContents, Outstanding};
use super::entry::{LedgerEntry, now_ms};
use super::ledger_error::LedgerError;
use super::{Ledger, run_ledgers};
use crate::faults::{RevertError, RevertOutcome};
use crate::targets::docker::Removal;
use crate::targets::process_marker::processes_with_marker;
use crate::targets::{DockerEngine, Liveness, Termination};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long after a container's creation was recorded an engine may still complete a create
/// request from a pfi that was killed meanwhile.
const CREATE_SETTLE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct RecoverOptions {
    /// How long a process gets after SIGTERM before SIGKILL.
    pub grace: Duration,
    /// Recover runs whose pfi process is still alive too.
    pub force: bool,
}

impl Default for RecoverOptions {
    fn default() -> RecoverOptions {
        RecoverOptions {
            grace: Duration::from_secs(5),
            force: false,
        }
    }
}

/// What recover did for every run in the state folder.
#[derive(Debug, Default)]
pub struct RecoverReport {
    pub runs: Vec<RunRecovery>,
}

#[derive(Debug)]
pub struct RunRecovery {
    pub run_id: String,
    pub ledger: PathBuf,
    /// The ledger's last line was torn (ignored: its fault was never applied).
    pub torn_tail: bool,
    /// Why the run was left alone (its pfi process is still running).
    pub skipped: Option<String>,
    pub faults: Vec<FaultRecovery>,
    pub processes: Vec<ProcessRecovery>,
    pub containers: Vec<ContainerRecovery>,
}

#[derive(Debug)]
pub struct FaultRecovery {
    pub id: String,
    pub fault: String,
    pub target: String,
    pub outcome: Result<RevertOutcome, RevertError>,
}

#[derive(Debug)]
pub struct ContainerRecovery {
    pub resource: String,
    pub name: String,
    pub outcome: Result<Removal, String>,
}

#[derive(Debug)]
pub struct ProcessRecovery {
    pub resource: String,
    pub pid: u32,
    pub outcome: Result<Termination, String>,
}

impl RecoverReport {
    /// Whether there was nothing to undo anywhere.
    pub fn nothing_to_do(&self) -> bool {
        self.runs.iter().all(|run| {
            run.faults.is_empty()
                && run.processes.is_empty()
                && run.containers.is_empty()
                && run.skipped.is_none()
        })
    }

    /// How many reverts or stops failed (the system may still be faulty).
    pub fn failures(&self) -> usize {
        self.runs
            .iter()
            .map(|run| {
                run.faults.iter().filter(|f| f.outcome.is_err()).count()
                    + run.processes.iter().filter(|p| p.outcome.is_err()).count()
                    + run.containers.iter().filter(|c| c.outcome.is_err()).count()
            })
            .sum()
    }
}

/// Recovers every run under `state_dir` that left something behind.
pub async fn recover(
    state_dir: &Path,
    options: &RecoverOptions,
) -> Result<RecoverReport, LedgerError> {
    let mut report = RecoverReport::default();
    for path in run_ledgers(state_dir)? {
        if let Some(run) = recover_ledger(&path, options).await? {
            report.runs.push(run);
        }
    }
    Ok(report)
}

/// Recovers one run from its ledger; `None` when it left nothing behind.
pub async fn recover_ledger(
    path: &Path,
    options: &RecoverOptions,
) -> Result<Option<RunRecovery>, LedgerError> {
    let contents = LedgerContents::read(path)?;
    let outstanding = contents.outstanding();
    if outstanding.is_empty() {
        return Ok(None);
    }
    let run_id = outstanding.run_id.clone().unwrap_or_else(|| {
        path.parent()
            .and_then(Path::file_name)
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let mut run = RunRecovery {
        run_id,
        ledger: path.to_path_buf(),
        torn_tail: contents.torn_tail,
        skipped: None,
        faults: Vec::new(),
        processes: Vec::new(),
        containers: Vec::new(),
    };
    if !options.force
        && let Some(reason) = owner_alive(&outstanding)
    {
        run.skipped = Some(reason);
        return Ok(Some(run));
    }
    let ledger = Ledger::open(path)?;
    for fault in outstanding.faults.iter().rev() {
        let outcome = fault.revert.revert(None).await;
        if outcome.is_ok() {
            ledger.reverted(&fault.id)?;
        }
        match &outcome {
            Ok(done) => tracing::info!(fault = %fault.fault, id = %fault.id, "recover: {done}"),
            Err(err) => {
                tracing::warn!(fault = %fault.fault, id = %fault.id, "recover failed: {err}")
            }
        }
        run.faults.push(FaultRecovery {
            id: fault.id.clone(),
            fault: fault.fault.clone(),
            target: fault.target.clone(),
            outcome,
        });
    }
    for process in outstanding.processes.iter().rev() {
        let identity = process.identity;
        let outcome = identity
            .terminate(options.grace)
            .await
            .map_err(|err| err.to_string());
        if let Ok(termination) = &outcome {
            ledger.append(&LedgerEntry::ProcessStopped {
                resource: process.resource.clone(),
                pid: identity.pid,
                start_time: identity.start_time,
                exit: format!("recover: {termination}"),
                at: now_ms(),
            })?;
        }
        if let Err(err) = &outcome {
            tracing::warn!(resource = %process.resource, pid = identity.pid, "recover failed: {err}");
        }
        run.processes.push(ProcessRecovery {
            resource: process.resource.clone(),
            pid: identity.pid,
            outcome,
        });
    }
    // Spawns never recorded as started: stop whatever carries their marker, then settle them.
    for spawn in outstanding.spawns.iter().rev() {
        let found = processes_with_marker(&spawn.marker);
        let mut settled = true;
        for identity in found {
            let outcome = identity
                .terminate(options.grace)
                .await
                .map_err(|err| err.to_string());
            match &outcome {
                Ok(termination) => tracing::info!(
                    resource = %spawn.resource, pid = identity.pid,
                    "recover: an unrecorded process of this run (found by its marker): {termination}"
                ),
                Err(err) => {
                    settled = false;
                    tracing::warn!(resource = %spawn.resource, pid = identity.pid, "recover failed: {err}");
                }
            }
            run.processes.push(ProcessRecovery {
                resource: spawn.resource.clone(),
                pid: identity.pid,
                outcome,
            });
        }
        if settled {
            ledger.append(&LedgerEntry::SpawnSettled {
                marker: spawn.marker.clone(),
                at: now_ms(),
            })?;
        }
    }
    let mut engine: Option<Result<DockerEngine, String>> = None;
    for container in outstanding.containers.iter().rev() {
        let connected = match &engine {
            Some(connected) => connected.clone(),
            None => {
                let connected = DockerEngine::connect().await.map_err(|err| err.to_string());
                engine = Some(connected.clone());
                connected
            }
        };
        let outcome = match connected {
            Ok(engine) => {
                let mut removal = engine.remove_created(&container.name, &run.run_id).await;
                // A create request sent before pfi was killed completes in the engine anyway,
                // after it: a container recover found no trace of could appear a moment later
                // and stay (found by the interrupt harness: SIGKILL 168 ms into a run, recover
                // done in 27 ms, a `Created` container after it). Look again until
                // `CREATE_SETTLE` after the intent was recorded.
                while matches!(removal, Ok(Removal::AlreadyGone))
                    && now_ms() < container.at + CREATE_SETTLE.as_millis() as u64
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    removal = engine.remove_created(&container.name, &run.run_id).await;
                }
                removal.map_err(|err| err.to_string())
            }
            Err(err) => Err(err),
        };
        if outcome.is_ok() {
            ledger.append(&LedgerEntry::ContainerRemoved {
                resource: container.resource.clone(),
                name: container.name.clone(),
                at: now_ms(),
            })?;
        }
        match &outcome {
            Ok(done) => tracing::info!(container = %container.name, "recover: {done:?}"),
            Err(err) => tracing::warn!(container = %container.name, "recover failed: {err}"),
        }
        run.containers.push(ContainerRecovery {
            resource: container.resource.clone(),
            name: container.name.clone(),
            outcome,
        });
    }
    let all_done = run.faults.iter().all(|f| f.outcome.is_ok())
        && run.processes.iter().all(|p| p.outcome.is_ok())
        && run.containers.iter().all(|c| c.outcome.is_ok());
    if all_done && !outstanding.finished {
        ledger.finished()?;
    }
    Ok(Some(run))
}

/// Why a run must be left alone: the pfi process that owns it is still running.
fn owner_alive(outstanding: &Outstanding) -> Option<String> {
    let owner = outstanding.owner?;
    match owner.liveness() {
        Ok(Liveness::Alive(state)) if !state.has_exited() => Some(format!(
            "its pfi process (pid {}) is still running; stop that run first (it reverts its faults itself), or force the recovery",
            owner.pid
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::RevertAction;

    fn write_ledger(dir: &Path, owner_pid: u32, entries: &[LedgerEntry]) -> PathBuf {
        let path = dir.join("runs/r1/ledger.jsonl");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut text = serde_json::to_string(&LedgerEntry::RunStarted {
            run_id: "r1".into(),
            pid: owner_pid,
            start_time: 1,
            at: 0,
        })
        .unwrap();
        text.push('\n');
        for entry in entries {
            text.push_str(&serde_json::to_string(entry).unwrap());
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    fn pending_resume() -> LedgerEntry {
        LedgerEntry::Applying {
            id: "f1".into(),
            fault: "pause".into(),
            target: "api".into(),
            revert: RevertAction::Resume {
                pid: u32::MAX - 1,
                start_time: 1,
                pgid: u32::MAX - 1,
            },
            at: 1,
        }
    }

    #[tokio::test]
    async fn a_dead_owner_is_recovered_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_ledger(dir.path(), u32::MAX - 1, &[pending_resume()]);
        let report = recover(dir.path(), &RecoverOptions::default())
            .await
            .unwrap();
        assert_eq!(report.runs.len(), 1);
        let run = &report.runs[0];
        assert_eq!(run.run_id, "r1");
        assert!(run.skipped.is_none());
        assert!(matches!(
            run.faults[0].outcome,
            Ok(RevertOutcome::AlreadyReverted(_))
        ));
        assert_eq!(report.failures(), 0);
        let contents = LedgerContents::read(&path).unwrap();
        assert!(matches!(
            contents.entries.last(),
            Some(LedgerEntry::RunFinished { .. })
        ));

        let again = recover(dir.path(), &RecoverOptions::default())
            .await
            .unwrap();
        assert!(again.runs.is_empty());
        assert!(again.nothing_to_do());
    }

    /// A run killed between a spawn and its `process_started` line: the process is found by
    /// the marker recorded before the spawn, stopped, and the spawn settled.
    #[tokio::test]
    async fn an_unrecorded_spawn_is_found_by_its_marker_and_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let marker = crate::targets::process_marker::new_marker("api");
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .env(crate::targets::process_marker::MARKER_VAR, &marker)
            .spawn()
            .unwrap();
        let pid = child.id();
        let path = write_ledger(
            dir.path(),
            u32::MAX - 1,
            &[LedgerEntry::ProcessSpawning {
                resource: "api".into(),
                marker: marker.clone(),
                at: 1,
            }],
        );
        // The environment is readable once the child has exec'd `sleep`.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while crate::targets::process_marker::processes_with_marker(&marker).is_empty()
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let report = recover(dir.path(), &RecoverOptions::default())
            .await
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "the process was not stopped: {status}");
        let run = &report.runs[0];
        assert_eq!(run.processes.len(), 1);
        assert_eq!(run.processes[0].pid, pid);
        assert!(run.processes[0].outcome.is_ok());
        assert_eq!(report.failures(), 0);
        let contents = LedgerContents::read(&path).unwrap();
        assert!(contents.outstanding().is_empty());
        let again = recover(dir.path(), &RecoverOptions::default())
            .await
            .unwrap();
        assert!(again.nothing_to_do());
    }

    #[tokio::test]
    async fn a_live_owner_is_left_alone_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let me = crate::targets::ProcessIdentity::current().unwrap();
        let path = dir.path().join("runs/r1/ledger.jsonl");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let started = LedgerEntry::RunStarted {
            run_id: "r1".into(),
            pid: me.pid,
            start_time: me.start_time,
            at: 0,
        };
        let text = format!(
            "{}\n{}\n",
            serde_json::to_string(&started).unwrap(),
            serde_json::to_string(&pending_resume()).unwrap()
        );
        std::fs::write(&path, text).unwrap();
        let report = recover(dir.path(), &RecoverOptions::default())
            .await
            .unwrap();
        let reason = report.runs[0].skipped.as_deref().unwrap();
        assert!(reason.contains("still running"), "{reason}");
        assert!(!report.nothing_to_do());

        let forced = RecoverOptions {
            force: true,
            ..RecoverOptions::default()
        };
        let report = recover(dir.path(), &forced).await.unwrap();
        assert!(report.runs[0].skipped.is_none());
        assert_eq!(report.runs[0].faults.len(), 1);
    }
}
