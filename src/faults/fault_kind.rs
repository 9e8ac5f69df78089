//! `FaultKind`: one kind of fault as the language and the run know it. Its keyword, its
//! settings, the targets it acts on and its failure mode (for risk and remediation) are what
//! the checker and the risk model read; `build` turns a planned fault's typed settings into
//! what the run applies: a [`super::Fault`] on a process or container (which prepares,
//! applies, verifies and reverts), or a toxic installed on a link.
//!
//! Each kind is one file named after its keyword (`src/faults/<keyword>.rs`), registered by
//! one line in [`super::KINDS`].

use super::fault_action::FaultAction;
use super::setting_spec::SettingSpec;
use super::settings::Settings;
use crate::plan::{Params, TargetFamily, Value};
use std::fmt;

pub trait FaultKind: Sync {
    /// The keyword in the language (`latency`, `pause`...).
    fn keyword(&self) -> &'static str;

    /// One line for listings and help.
    fn summary(&self) -> &'static str;

    /// The target families it acts on.
    fn targets(&self) -> &'static [TargetFamily];

    /// Its settings (the schedule settings every fault takes are not listed).
    fn settings(&self) -> &'static [SettingSpec];

    /// What it does to a service, for risk and remediation.
    fn failure_mode(&self) -> FailureMode;

    /// What the run applies for a planned fault with these settings (checked by the checker
    /// against [`FaultKind::settings`]; an error here is a value out of the runtime's range).
    fn build(&self, settings: &Settings) -> Result<FaultAction, String>;

    /// Makes a planned fault of this kind milder, for a rehearsal at `severity` (0 to 1):
    /// loosens its settings in `params` and says how. `None` (the default): the kind has no
    /// setting to loosen, and the caller lowers its toxicity or shortens it instead.
    fn soften(&self, _params: &mut Params, _severity: f64) -> Option<String> {
        None
    }
}

/// Multiplies the numeric setting `name` of `params` by `by`; its new value.
pub fn scale_setting(params: &mut Params, name: &str, by: f64) -> Option<f64> {
    match params.get_mut(name)? {
        Value::Size(x) | Value::Bandwidth(x) | Value::Fraction(x) | Value::Number(x) => {
            *x *= by;
            Some(*x)
        }
        _ => None,
    }
}

impl fmt::Debug for dyn FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultKind({})", self.keyword())
    }
}

/// What a fault kind does to a service, in the remediation library's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// It starves the service of a resource (CPU, memory, I/O).
    Starvation,
    /// It takes the service down or freezes it.
    Crash,
    /// It slows traffic down.
    Latency,
    /// It answers requests with errors.
    HttpError,
    /// It cuts or breaks a dependency.
    DependencyFailure,
}

impl FailureMode {
    /// The mode's name in the remediation library (`starvation`, `crash`...).
    pub fn name(self) -> &'static str {
        match self {
            FailureMode::Starvation => "starvation",
            FailureMode::Crash => "crash",
            FailureMode::Latency => "latency",
            FailureMode::HttpError => "http_error",
            FailureMode::DependencyFailure => "dependency_failure",
        }
    }
}
