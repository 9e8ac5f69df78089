//! `LoadedInputs`: what the checker read from disk besides the scenario, so the stages after
//! it read no file: the history file's incidents, the standard library's remediation entries,
//! and the source of every script the plan names (mitigation `script` actions, remediation
//! scripts). Not part of the plan's JSON, which names the files.

use super::RemediationPlan;
use super::history::History;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadedInputs {
    /// The incidents of the experiment's `history` file, when it has one.
    pub incidents: Option<History>,
    /// The entries of `std/remediation` (built into the binary).
    pub stdlib_remediations: Vec<RemediationPlan>,
    /// Script sources by the path the plan names them by.
    pub scripts: BTreeMap<PathBuf, String>,
}

impl LoadedInputs {
    /// The source of the script at `path`.
    pub fn script(&self, path: &Path) -> Result<&str, String> {
        self.scripts
            .get(path)
            .map(String::as_str)
            .ok_or_else(|| format!("{}: not loaded by the checker", path.display()))
    }
}
