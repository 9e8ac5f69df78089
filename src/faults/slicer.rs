//! `slicer`: slices data into small packets with delays between them.

use super::setting_spec::*;
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::proxy::toxics::Slicer;

const SETTINGS: &[SettingSpec] = &[
    req("size", ValueType::Size),
    opt("variation", ValueType::Size),
    opt("delay", ValueType::Duration),
    DIRECTION,
    TOXICITY,
];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "slicer"
    }

    fn summary(&self) -> &'static str {
        "slice data into small packets with delays between them"
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
        let size = settings.required_whole("size")?;
        let variation = settings.whole("variation").unwrap_or(0);
        let delay_us = settings.millis("delay") * 1000;
        settings.toxic(Slicer::new(size, variation, delay_us).map_err(|err| err.0)?)
    }
}
