//! `slow_close`: delays the closing of connections.

use super::setting_spec::*;
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::proxy::toxics::SlowClose;

const SETTINGS: &[SettingSpec] = &[req("delay", ValueType::Duration), DIRECTION, TOXICITY];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "slow_close"
    }

    fn summary(&self) -> &'static str {
        "delay the closing of connections"
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
        settings.toxic(SlowClose::new(settings.millis("delay")))
    }
}
