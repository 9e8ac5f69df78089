//! One line of the ledger.

use crate::faults::RevertAction;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// An event of a run, one JSON object per line, tagged by `event`. `at` is milliseconds
/// since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LedgerEntry {
    /// The run began; `pid` and `start_time` name the pfi process that owns it.
    RunStarted {
        run_id: String,
        pid: u32,
        start_time: u64,
        at: u64,
    },
    /// A fault is about to be applied; written and synced before anything changes.
    Applying {
        id: String,
        fault: String,
        target: String,
        revert: RevertAction,
        at: u64,
    },
    /// The fault with this id was reverted.
    Reverted { id: String, at: u64 },
    /// A process resource is about to be spawned; written and synced before the spawn. The
    /// child carries `marker` in its environment (`PFI_SPAWN_MARKER`), so that `pfi recover`
    /// finds it even when the run died before `process_started` was written.
    ProcessSpawning {
        resource: String,
        marker: String,
        at: u64,
    },
    /// `pfi recover` dealt with a spawn that was never recorded as started (it stopped every
    /// process carrying the marker, or found none).
    SpawnSettled { marker: String, at: u64 },
    /// A process resource was spawned.
    ProcessStarted {
        resource: String,
        pid: u32,
        start_time: u64,
        pgid: u32,
        at: u64,
    },
    /// The process exited (or was found gone by `pfi recover`).
    ProcessStopped {
        resource: String,
        pid: u32,
        start_time: u64,
        exit: String,
        at: u64,
    },
    /// A container is about to be created for a resource under `name`.
    ContainerCreating {
        resource: String,
        name: String,
        at: u64,
    },
    /// The container was removed (or its creation failed).
    ContainerRemoved {
        resource: String,
        name: String,
        at: u64,
    },
    /// Everything the run applied and started was undone.
    RunFinished { at: u64 },
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_one_tagged_object_per_entry() {
        let entry = LedgerEntry::Applying {
            id: "f1".into(),
            fault: "pause".into(),
            target: "api".into(),
            revert: RevertAction::Resume {
                pid: 10,
                start_time: 20,
                pgid: 10,
            },
            at: 1,
        };
        let json = serde_json::to_string(&entry).unwrap();
        assert_eq!(
            json,
            r#"{"event":"applying","id":"f1","fault":"pause","target":"api","revert":{"action":"resume","pid":10,"start_time":20,"pgid":10},"at":1}"#
        );
        assert_eq!(serde_json::from_str::<LedgerEntry>(&json).unwrap(), entry);
    }
}
