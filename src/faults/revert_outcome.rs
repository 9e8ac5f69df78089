//! `RevertOutcome`: what a revert did (below both `revert_action` and `container_revert`).

use std::fmt;

/// What a revert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertOutcome {
    /// The fault was undone.
    Reverted(String),
    /// There was nothing left to undo (reverted before, or the process is gone).
    AlreadyReverted(String),
    /// Deliberately not undone, for the reason given.
    Skipped(String),
}

impl fmt::Display for RevertOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevertOutcome::Reverted(detail) => f.write_str(detail),
            RevertOutcome::AlreadyReverted(detail) => write!(f, "nothing to undo: {detail}"),
            RevertOutcome::Skipped(detail) => write!(f, "skipped: {detail}"),
        }
    }
}
