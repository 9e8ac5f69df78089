//! `blackhole`: swallows all data; connections stay open and silent (a `timeout` toxic
//! that never closes).

use super::setting_spec::*;
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::proxy::toxics::Timeout;

const SETTINGS: &[SettingSpec] = &[DIRECTION, TOXICITY];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "blackhole"
    }

    fn summary(&self) -> &'static str {
        "swallow all data; connections stay open and silent"
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
        settings.toxic(Timeout::new(0))
    }
}
