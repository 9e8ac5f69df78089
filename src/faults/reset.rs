//! `reset`: resets connections (TCP RST) after a timeout (the `reset_peer` toxic).

use super::setting_spec::*;
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::proxy::toxics::ResetPeer;

const SETTINGS: &[SettingSpec] = &[opt("timeout", ValueType::Duration), DIRECTION, TOXICITY];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "reset"
    }

    fn summary(&self) -> &'static str {
        "reset connections (TCP RST) after a timeout"
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
        settings.toxic(ResetPeer::new(settings.millis("timeout")))
    }
}
