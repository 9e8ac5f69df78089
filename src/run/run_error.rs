//! Why a run could not be carried out (as opposed to a threshold failing).

use std::fmt;

/// A run that failed for reasons outside the scenario's thresholds.
#[derive(Debug)]
pub enum RunError {
    /// The environment failed: a missing program, a port taken, a process that died at
    /// start, an unsupported target. The message names the resource and where it is declared.
    Environment(String),
    /// The scenario is wrong in a way only found when it runs (a bad container selector):
    /// exit 2 like a checker error.
    Input(String),
}

impl RunError {
    pub fn environment(message: impl Into<String>) -> RunError {
        RunError::Environment(message.into())
    }

    pub fn input(message: impl Into<String>) -> RunError {
        RunError::Input(message.into())
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Environment(message) | RunError::Input(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for RunError {}
