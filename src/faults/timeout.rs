//! `timeout`: stops all data on a connection and closes it after a timeout (0: never).

use super::setting_spec::*;
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::proxy::toxics::Timeout;

const SETTINGS: &[SettingSpec] = &[opt("timeout", ValueType::Duration), DIRECTION, TOXICITY];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "timeout"
    }

    fn summary(&self) -> &'static str {
        "stop all data and close the connection after a timeout (0 = never)"
    }

    fn targets(&self) -> &'static [TargetFamily] {
        &[TcpLink, HttpLink]
    }

    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn failure_mode(&self) -> FailureMode {
        FailureMode::DependencyFailure
    }

    fn build(&self, settings: &Settings) -> Result<FaultAction, String> {
        settings.toxic(Timeout::new(settings.millis("timeout")))
    }
}
