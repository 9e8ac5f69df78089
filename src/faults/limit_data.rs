//! `limit_data`: closes connections after a number of bytes.

use super::setting_spec::*;
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::proxy::toxics::LimitData;

const SETTINGS: &[SettingSpec] = &[req("bytes", ValueType::Size), DIRECTION, TOXICITY];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "limit_data"
    }

    fn summary(&self) -> &'static str {
        "close connections after a number of bytes"
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
        settings.toxic(LimitData::new(settings.required_whole("bytes")?))
    }
}
