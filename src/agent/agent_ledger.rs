//! `AgentLedger`: the faults an agent holds, each with its revert and its lease, in a JSON
//! file rewritten (atomically, synced) before a fault is applied and after it is reverted.
//! A restarted agent reads it back and reverts the faults whose lease lapsed meanwhile.
//!
//! Renewals are written too: a restarted agent must see the lease as the run last extended
//! it. Without that it would read the lease the fault was applied with, long lapsed for a
//! fault held longer than one lease, and revert at once a fault whose run is alive and still
//! renewing it.

use crate::faults::RevertAction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One fault under a lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeasedFault {
    pub id: String,
    pub revert: RevertAction,
    /// The lease's length, for renewals.
    pub lease_ms: u64,
    /// When it lapses unless renewed (Unix ms).
    pub lease_until_ms: u64,
}

#[derive(Debug)]
pub struct AgentLedger {
    path: PathBuf,
    faults: BTreeMap<String, LeasedFault>,
}

impl AgentLedger {
    /// The ledger at `path`, read back if it exists.
    pub fn open(path: &Path) -> std::io::Result<AgentLedger> {
        let faults = match std::fs::read(path) {
            Ok(bytes) if bytes.is_empty() => BTreeMap::new(),
            Ok(bytes) => serde_json::from_slice::<Vec<LeasedFault>>(&bytes)
                .map_err(|err| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {err}", path.display()),
                    )
                })?
                .into_iter()
                .map(|fault| (fault.id.clone(), fault))
                .collect(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(err) => return Err(err),
        };
        Ok(AgentLedger {
            path: path.to_path_buf(),
            faults,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, id: &str) -> Option<&LeasedFault> {
        self.faults.get(id)
    }

    pub fn faults(&self) -> impl Iterator<Item = &LeasedFault> {
        self.faults.values()
    }

    /// Records a fault (before it is applied).
    pub fn insert(&mut self, fault: LeasedFault) -> std::io::Result<()> {
        self.faults.insert(fault.id.clone(), fault);
        self.save()
    }

    /// Extends a fault's lease to `until_ms` and writes it; whether the agent holds it.
    pub fn renew(&mut self, id: &str, until_ms: u64) -> std::io::Result<bool> {
        match self.faults.get_mut(id) {
            Some(fault) => {
                fault.lease_until_ms = fault.lease_until_ms.max(until_ms);
                self.save()?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Forgets a reverted fault.
    pub fn remove(&mut self, id: &str) -> std::io::Result<Option<LeasedFault>> {
        let removed = self.faults.remove(id);
        if removed.is_some() {
            self.save()?;
        }
        Ok(removed)
    }

    /// The faults whose lease lapsed at `now_ms`.
    pub fn lapsed(&self, now_ms: u64) -> Vec<LeasedFault> {
        self.faults
            .values()
            .filter(|fault| fault.lease_until_ms <= now_ms)
            .cloned()
            .collect()
    }

    fn save(&self) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let faults: Vec<&LeasedFault> = self.faults.values().collect();
        let bytes = serde_json::to_vec_pretty(&faults).map_err(std::io::Error::other)?;
        let temporary = self.path.with_extension("tmp");
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopened_ledger_holds_its_faults_and_their_leases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.json");
        let mut ledger = AgentLedger::open(&path).unwrap();
        let fault = |id: &str, until| LeasedFault {
            id: id.to_string(),
            revert: RevertAction::Nothing {
                reason: "test".into(),
            },
            lease_ms: 1000,
            lease_until_ms: until,
        };
        ledger.insert(fault("a", 100)).unwrap();
        ledger.insert(fault("b", 300)).unwrap();
        assert!(ledger.renew("a", 200).unwrap());
        assert!(!ledger.renew("c", 200).unwrap());
        let lapsed: Vec<String> = ledger.lapsed(250).into_iter().map(|f| f.id).collect();
        assert_eq!(lapsed, ["a"]);
        ledger.remove("a").unwrap();
        let reopened = AgentLedger::open(&path).unwrap();
        let ids: Vec<&str> = reopened.faults().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["b"]);
        assert_eq!(reopened.get("b").unwrap().lease_until_ms, 300);
    }

    #[test]
    fn a_renewal_is_on_disk_before_it_is_answered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.json");
        let mut ledger = AgentLedger::open(&path).unwrap();
        ledger
            .insert(LeasedFault {
                id: "a".into(),
                revert: RevertAction::Nothing {
                    reason: "test".into(),
                },
                lease_ms: 1000,
                lease_until_ms: 100,
            })
            .unwrap();
        assert!(ledger.renew("a", 5_000).unwrap());
        // A restarted agent reads the renewed lease, not the one the fault was applied with.
        let reopened = AgentLedger::open(&path).unwrap();
        assert_eq!(reopened.get("a").unwrap().lease_until_ms, 5_000);
        assert!(reopened.lapsed(4_999).is_empty());
    }
}
