//! Reading a ledger back, tolerant of a torn last line, and what it leaves undone.

use super::entry::LedgerEntry;
use super::ledger_error::LedgerError;
use crate::faults::RevertAction;
use crate::targets::ProcessIdentity;
use std::path::Path;

/// The entries of a ledger file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerContents {
    pub entries: Vec<LedgerEntry>,
    /// The last line was cut short (a crash mid-write) and was ignored.
    pub torn_tail: bool,
    /// 1-based numbers of complete lines that did not parse (ignored).
    pub bad_lines: Vec<usize>,
}

/// A fault applied and never reverted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFault {
    pub id: String,
    pub fault: String,
    pub target: String,
    pub revert: RevertAction,
    pub at: u64,
}

/// A process started and never recorded as stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingProcess {
    pub resource: String,
    pub identity: ProcessIdentity,
    pub at: u64,
}

/// A spawn announced and never recorded as started: its process may be running, unrecorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSpawn {
    pub resource: String,
    pub marker: String,
    pub at: u64,
}

/// A container created for the run and never removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingContainer {
    pub resource: String,
    pub name: String,
    pub at: u64,
}

/// What a run left behind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outstanding {
    pub run_id: Option<String>,
    /// The pfi process that owned the run.
    pub owner: Option<ProcessIdentity>,
    pub finished: bool,
    /// In the order they were applied.
    pub faults: Vec<PendingFault>,
    /// In the order they were started.
    pub processes: Vec<PendingProcess>,
    /// Spawns whose process was never recorded (the run died between the two lines).
    pub spawns: Vec<PendingSpawn>,
    /// In the order they were created.
    pub containers: Vec<PendingContainer>,
}

impl Outstanding {
    pub fn is_empty(&self) -> bool {
        self.faults.is_empty()
            && self.processes.is_empty()
            && self.spawns.is_empty()
            && self.containers.is_empty()
    }
}

impl LedgerContents {
    /// Reads a ledger file.
    pub fn read(path: &Path) -> Result<LedgerContents, LedgerError> {
        let bytes = std::fs::read(path).map_err(|err| LedgerError::new("read", path, err))?;
        Ok(LedgerContents::parse(&String::from_utf8_lossy(&bytes)))
    }

    /// Parses ledger text. A last line without its newline is torn and ignored (it was being
    /// written when the run died: its fault was not applied yet).
    pub fn parse(text: &str) -> LedgerContents {
        let mut entries = Vec::new();
        let mut bad_lines = Vec::new();
        let mut torn_tail = false;
        let mut lines: Vec<&str> = text.split('\n').collect();
        // `split` yields a last piece after the final newline: empty when the file is whole.
        if let Some(last) = lines.pop()
            && !last.trim().is_empty()
        {
            torn_tail = true;
        }
        for (index, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<LedgerEntry>(line) {
                Ok(entry) => entries.push(entry),
                Err(err) => {
                    tracing::warn!(
                        line = index + 1,
                        "ignoring an unreadable ledger line: {err}"
                    );
                    bad_lines.push(index + 1);
                }
            }
        }
        LedgerContents {
            entries,
            torn_tail,
            bad_lines,
        }
    }

    /// The faults never reverted, the processes never stopped and the containers never
    /// removed.
    pub fn outstanding(&self) -> Outstanding {
        let mut outstanding = Outstanding::default();
        for entry in &self.entries {
            match entry {
                LedgerEntry::RunStarted {
                    run_id,
                    pid,
                    start_time,
                    ..
                } => {
                    outstanding.run_id = Some(run_id.clone());
                    outstanding.owner = Some(ProcessIdentity {
                        pid: *pid,
                        start_time: *start_time,
                        pgid: 0,
                    });
                }
                LedgerEntry::Applying {
                    id,
                    fault,
                    target,
                    revert,
                    at,
                } => outstanding.faults.push(PendingFault {
                    id: id.clone(),
                    fault: fault.clone(),
                    target: target.clone(),
                    revert: revert.clone(),
                    at: *at,
                }),
                LedgerEntry::Reverted { id, .. } => {
                    if let Some(index) = outstanding.faults.iter().rposition(|f| &f.id == id) {
                        outstanding.faults.remove(index);
                    }
                }
                LedgerEntry::ProcessSpawning {
                    resource,
                    marker,
                    at,
                } => outstanding.spawns.push(PendingSpawn {
                    resource: resource.clone(),
                    marker: marker.clone(),
                    at: *at,
                }),
                LedgerEntry::SpawnSettled { marker, .. } => {
                    outstanding.spawns.retain(|s| &s.marker != marker);
                }
                LedgerEntry::ProcessStarted {
                    resource,
                    pid,
                    start_time,
                    pgid,
                    at,
                } => {
                    // The spawn announced for this resource happened and is recorded.
                    if let Some(i) = outstanding
                        .spawns
                        .iter()
                        .rposition(|s| &s.resource == resource)
                    {
                        outstanding.spawns.remove(i);
                    }
                    outstanding.processes.push(PendingProcess {
                        resource: resource.clone(),
                        identity: ProcessIdentity {
                            pid: *pid,
                            start_time: *start_time,
                            pgid: *pgid,
                        },
                        at: *at,
                    })
                }
                LedgerEntry::ProcessStopped {
                    pid, start_time, ..
                } => {
                    outstanding.processes.retain(|p| {
                        !(p.identity.pid == *pid && p.identity.start_time == *start_time)
                    });
                }
                LedgerEntry::ContainerCreating { resource, name, at } => {
                    outstanding.containers.push(PendingContainer {
                        resource: resource.clone(),
                        name: name.clone(),
                        at: *at,
                    })
                }
                LedgerEntry::ContainerRemoved { name, .. } => {
                    outstanding.containers.retain(|c| &c.name != name);
                }
                LedgerEntry::RunFinished { .. } => {
                    outstanding.finished = true;
                    // A run that finished saw each of its spawns either recorded or failed.
                    outstanding.spawns.clear();
                }
            }
        }
        outstanding
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(entry: &LedgerEntry) -> String {
        format!("{}\n", serde_json::to_string(entry).unwrap())
    }

    fn applying(id: &str) -> LedgerEntry {
        LedgerEntry::Applying {
            id: id.into(),
            fault: "pause".into(),
            target: "api".into(),
            revert: RevertAction::Resume {
                pid: 5,
                start_time: 6,
                pgid: 5,
            },
            at: 1,
        }
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_reported() {
        let whole = line(&applying("f1"));
        let torn = &line(&applying("f2"))[..30];
        let contents = LedgerContents::parse(&format!("{whole}{torn}"));
        assert_eq!(contents.entries, vec![applying("f1")]);
        assert!(contents.torn_tail);
        assert!(contents.bad_lines.is_empty());
        let outstanding = contents.outstanding();
        assert_eq!(outstanding.faults.len(), 1);
        assert_eq!(outstanding.faults[0].id, "f1");
    }

    #[test]
    fn a_corrupt_middle_line_is_skipped() {
        let text = format!(
            "{}{{not json}}\n{}",
            line(&applying("f1")),
            line(&applying("f2"))
        );
        let contents = LedgerContents::parse(&text);
        assert_eq!(contents.entries.len(), 2);
        assert_eq!(contents.bad_lines, vec![2]);
        assert!(!contents.torn_tail);
    }

    #[test]
    fn reverted_faults_and_stopped_processes_are_not_outstanding() {
        let started = |pid, start_time| LedgerEntry::ProcessStarted {
            resource: "api".into(),
            pid,
            start_time,
            pgid: pid,
            at: 2,
        };
        let text = [
            line(&LedgerEntry::RunStarted {
                run_id: "r1".into(),
                pid: 1,
                start_time: 2,
                at: 0,
            }),
            line(&started(100, 7)),
            line(&applying("f1")),
            line(&applying("f2")),
            line(&LedgerEntry::Reverted {
                id: "f1".into(),
                at: 3,
            }),
            line(&LedgerEntry::ProcessStopped {
                resource: "api".into(),
                pid: 100,
                start_time: 7,
                exit: "signal SIGKILL".into(),
                at: 4,
            }),
            line(&started(101, 9)),
        ]
        .concat();
        let outstanding = LedgerContents::parse(&text).outstanding();
        assert_eq!(outstanding.run_id.as_deref(), Some("r1"));
        assert_eq!(
            outstanding
                .faults
                .iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>(),
            ["f2"]
        );
        assert_eq!(outstanding.processes.len(), 1);
        assert_eq!(outstanding.processes[0].identity.pid, 101);
        assert!(!outstanding.finished);
        assert!(!outstanding.is_empty());
    }

    #[test]
    fn removed_containers_are_not_outstanding() {
        let creating = |name: &str| LedgerEntry::ContainerCreating {
            resource: "db".into(),
            name: name.into(),
            at: 1,
        };
        let text = [
            line(&creating("pfi-r1-db")),
            line(&creating("pfi-r1-cache")),
            line(&LedgerEntry::ContainerRemoved {
                resource: "db".into(),
                name: "pfi-r1-db".into(),
                at: 2,
            }),
        ]
        .concat();
        let outstanding = LedgerContents::parse(&text).outstanding();
        assert_eq!(outstanding.containers.len(), 1);
        assert_eq!(outstanding.containers[0].name, "pfi-r1-cache");
        assert!(!outstanding.is_empty());
    }

    #[test]
    fn an_empty_file_has_nothing_outstanding() {
        let contents = LedgerContents::parse("");
        assert!(!contents.torn_tail);
        assert!(contents.outstanding().is_empty());
    }
}
