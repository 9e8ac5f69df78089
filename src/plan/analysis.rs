//! `analysis "src/"`: what `pfi analyze` found in a source folder, per dependency, loaded by
//! the checker so that the plan is self-contained (`plan` and `run` never read the source).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisPlan {
    /// The source folder, resolved against the scenario's folder.
    pub source: PathBuf,
    /// Source files read.
    pub files: usize,
    /// Outbound calls found.
    pub calls: usize,
    /// Per dependency the code calls, in name order.
    pub dependencies: Vec<AnalyzedDependency>,
}

/// The calls to one dependency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzedDependency {
    /// As the code names it: a host, or an environment variable or config key without its
    /// `_URL`-like suffix.
    pub dependency: String,
    /// The scenario's resource it reaches (by name, type, or the kind of service), if any.
    pub resource: Option<String>,
    pub calls: usize,
    /// Calls with no timeout, or with nothing handling their failure (no retry, circuit
    /// breaker nor fallback).
    pub unguarded: usize,
    /// `file:line:column` of the worst unguarded call.
    pub worst: Option<String>,
}
