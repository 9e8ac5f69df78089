//! What the run and the pfi agent (`src/agent/`) exchange: a fault to apply on a container of the agent's node
//! (its kind and typed settings, as in a plan), its lease, and what the agent did.

use crate::plan::Params;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A fault to apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyRequest {
    /// The run's id for it (unique on the agent: `RUN/FAULT`).
    pub id: String,
    /// The container, by id or name.
    pub container: String,
    /// The fault kind's keyword (`pause`, `stop`, `kill`, `cpu_limit`, `memory_limit`...).
    pub kind: String,
    /// Its settings, typed and in base units, as in a plan.
    #[serde(default)]
    pub params: Params,
    /// How long the fault stays applied without a renewal.
    pub lease_ms: u64,
}

/// What the agent did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedResponse {
    pub id: String,
    /// What undoes it (in the agent's ledger), as the agent's `RevertAction` in JSON.
    pub revert: serde_json::Value,
    /// What applying did, in a sentence.
    pub detail: String,
    /// The effect check, as text.
    pub effect: String,
    /// When the lease lapses unless renewed (Unix ms).
    pub lease_until_ms: u64,
}

/// A fault the agent holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSummary {
    pub id: String,
    pub revert: String,
    pub lease_until_ms: u64,
}

/// The agent's proof that it holds the token: hex SHA-256 of `token:nonce`.
pub fn proof(token: &str, nonce: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(token.as_bytes());
    hasher.update(b":");
    hasher.update(nonce.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
