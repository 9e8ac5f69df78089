//! The run's ledger: an append-only JSON-lines file, `<state>/runs/<run-id>/ledger.jsonl`.
//! Every fault is recorded (and synced to disk) with its revert BEFORE it is applied, and
//! every process start and exit and every container pfi creates is recorded, so `pfi recover`
//! can undo a run that crashed.

mod contents;
mod entry;
mod ledger_error;
mod recover;
mod run_id;

pub use contents::{
    LedgerContents, Outstanding, PendingContainer, PendingFault, PendingProcess, PendingSpawn,
};
pub use entry::{LedgerEntry, now_ms};
pub use ledger_error::LedgerError;
pub use recover::{
    ContainerRecovery, FaultRecovery, ProcessRecovery, RecoverOptions, RecoverReport, RunRecovery,
    recover, recover_ledger,
};
pub use run_id::new_run_id;

use crate::faults::RevertAction;
use crate::targets::{LifecycleRecorder, ProcessIdentity};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The state folder when none is given: `.pfi` in the current folder.
pub const DEFAULT_STATE_DIR: &str = ".pfi";

/// The ledger file of a run.
pub fn ledger_path(state_dir: &Path, run_id: &str) -> PathBuf {
    state_dir.join("runs").join(run_id).join("ledger.jsonl")
}

/// Every run ledger under a state folder, oldest run id first.
pub fn run_ledgers(state_dir: &Path) -> Result<Vec<PathBuf>, LedgerError> {
    let runs = state_dir.join("runs");
    let entries = match std::fs::read_dir(&runs) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(LedgerError::new("list", runs, err)),
    };
    let mut ledgers: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path().join("ledger.jsonl"))
        .filter(|path| path.is_file())
        .collect();
    ledgers.sort();
    Ok(ledgers)
}

/// An open ledger. Appends are serialised and each is synced before it returns.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    file: Mutex<File>,
}

impl Ledger {
    /// Creates the ledger of a new run and records this process as its owner.
    pub fn create(state_dir: &Path, run_id: &str) -> Result<Ledger, LedgerError> {
        let path = ledger_path(state_dir, run_id);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .map_err(|err| LedgerError::new("create", folder, err))?;
        }
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|err| LedgerError::new("create", &path, err))?;
        let ledger = Ledger {
            path,
            file: Mutex::new(file),
        };
        let owner = ProcessIdentity::current()
            .map_err(|err| LedgerError::new("create", &ledger.path, err))?;
        ledger.append(&LedgerEntry::RunStarted {
            run_id: run_id.to_string(),
            pid: owner.pid,
            start_time: owner.start_time,
            at: now_ms(),
        })?;
        if let Some(runs) = ledger.path.parent().and_then(Path::parent) {
            sync_folder(runs);
        }
        Ok(ledger)
    }

    /// Opens an existing ledger to append to it (recover). A torn last line is closed with a
    /// newline first so the next entry starts on its own line.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(|err| LedgerError::new("open", path, err))?;
        let ends_whole =
            ends_with_newline(&mut file).map_err(|err| LedgerError::new("read", path, err))?;
        let ledger = Ledger {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        };
        if !ends_whole {
            ledger.write_raw(b"\n")?;
        }
        Ok(ledger)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry and syncs it to disk.
    pub fn append(&self, entry: &LedgerEntry) -> Result<(), LedgerError> {
        let mut line = serde_json::to_vec(entry).map_err(|err| {
            LedgerError::new("encode an entry for", &self.path, io::Error::other(err))
        })?;
        line.push(b'\n');
        self.write_raw(&line)
    }

    /// Records a fault and its revert; call before applying it.
    pub fn applying(
        &self,
        id: &str,
        fault: &str,
        target: &str,
        revert: &RevertAction,
    ) -> Result<(), LedgerError> {
        self.append(&LedgerEntry::Applying {
            id: id.to_string(),
            fault: fault.to_string(),
            target: target.to_string(),
            revert: revert.clone(),
            at: now_ms(),
        })
    }

    /// Records that the fault `id` was reverted.
    pub fn reverted(&self, id: &str) -> Result<(), LedgerError> {
        self.append(&LedgerEntry::Reverted {
            id: id.to_string(),
            at: now_ms(),
        })
    }

    /// Records that everything the run did was undone.
    pub fn finished(&self) -> Result<(), LedgerError> {
        self.append(&LedgerEntry::RunFinished { at: now_ms() })
    }

    /// What the ledger holds so far.
    pub fn contents(&self) -> Result<LedgerContents, LedgerError> {
        LedgerContents::read(&self.path)
    }

    fn write_raw(&self, bytes: &[u8]) -> Result<(), LedgerError> {
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // One write call per line: appends from a crash-interrupted run are at worst torn at
        // the end, never interleaved.
        file.write_all(bytes)
            .and_then(|()| file.sync_data())
            .map_err(|err| LedgerError::new("write", &self.path, err))
    }
}

impl LifecycleRecorder for Ledger {
    fn process_spawning(&self, resource: &str, marker: &str) -> io::Result<()> {
        self.append(&LedgerEntry::ProcessSpawning {
            resource: resource.to_string(),
            marker: marker.to_string(),
            at: now_ms(),
        })
        .map_err(|err| io::Error::other(err.to_string()))
    }

    fn process_started(&self, resource: &str, identity: &ProcessIdentity) -> io::Result<()> {
        self.append(&LedgerEntry::ProcessStarted {
            resource: resource.to_string(),
            pid: identity.pid,
            start_time: identity.start_time,
            pgid: identity.pgid,
            at: now_ms(),
        })
        .map_err(|err| io::Error::other(err.to_string()))
    }

    fn process_exited(
        &self,
        resource: &str,
        identity: &ProcessIdentity,
        exit: &str,
    ) -> io::Result<()> {
        self.append(&LedgerEntry::ProcessStopped {
            resource: resource.to_string(),
            pid: identity.pid,
            start_time: identity.start_time,
            exit: exit.to_string(),
            at: now_ms(),
        })
        .map_err(|err| io::Error::other(err.to_string()))
    }

    fn container_creating(&self, resource: &str, name: &str) -> io::Result<()> {
        self.append(&LedgerEntry::ContainerCreating {
            resource: resource.to_string(),
            name: name.to_string(),
            at: now_ms(),
        })
        .map_err(|err| io::Error::other(err.to_string()))
    }

    fn container_removed(&self, resource: &str, name: &str) -> io::Result<()> {
        self.append(&LedgerEntry::ContainerRemoved {
            resource: resource.to_string(),
            name: name.to_string(),
            at: now_ms(),
        })
        .map_err(|err| io::Error::other(err.to_string()))
    }
}

fn ends_with_newline(file: &mut File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Syncs a folder so a newly created file in it survives a power cut (best effort).
fn sync_folder(folder: &Path) {
    if let Ok(handle) = File::open(folder) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_entries_in_order_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::create(dir.path(), "r1").unwrap();
        assert_eq!(ledger.path(), dir.path().join("runs/r1/ledger.jsonl"));
        let revert = RevertAction::Nothing {
            reason: "test".into(),
        };
        ledger.applying("f1", "restart", "api", &revert).unwrap();
        ledger.reverted("f1").unwrap();
        let contents = ledger.contents().unwrap();
        assert_eq!(contents.entries.len(), 3);
        assert!(
            matches!(&contents.entries[0], LedgerEntry::RunStarted { run_id, pid, .. }
            if run_id == "r1" && *pid == std::process::id())
        );
        assert!(contents.outstanding().is_empty());
        assert_eq!(
            run_ledgers(dir.path()).unwrap(),
            vec![ledger.path().to_path_buf()]
        );
    }

    #[test]
    fn refuses_to_reuse_a_run_id() {
        let dir = tempfile::tempdir().unwrap();
        Ledger::create(dir.path(), "r1").unwrap();
        let err = Ledger::create(dir.path(), "r1").unwrap_err();
        assert!(
            err.to_string().starts_with("cannot create the run ledger"),
            "{err}"
        );
    }

    #[test]
    fn reopening_after_a_torn_line_starts_a_fresh_line() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::create(dir.path(), "r1").unwrap();
        let path = ledger.path().to_path_buf();
        drop(ledger);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"event":"applying","id":"f9","fau"#)
            .unwrap();
        drop(file);
        let ledger = Ledger::open(&path).unwrap();
        ledger.reverted("f0").unwrap();
        let contents = LedgerContents::read(&path).unwrap();
        assert_eq!(contents.bad_lines, vec![2]);
        assert!(!contents.torn_tail);
        assert!(
            matches!(contents.entries.last(), Some(LedgerEntry::Reverted { id, .. }) if id == "f0")
        );
    }

    #[test]
    fn no_state_folder_means_no_ledgers() {
        let dir = tempfile::tempdir().unwrap();
        assert!(run_ledgers(&dir.path().join("missing")).unwrap().is_empty());
    }
}
