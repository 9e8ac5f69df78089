//! `jitter`: delays data by a base delay ± a uniform jitter (Toxiproxy's `latency` toxic).

use super::setting_spec::*;
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::proxy::toxics::Latency;

const SETTINGS: &[SettingSpec] = &[
    opt("delay", ValueType::Duration),
    req("jitter", ValueType::Duration),
    DIRECTION,
    TOXICITY,
];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "jitter"
    }

    fn summary(&self) -> &'static str {
        "delay data by a base delay plus a uniform random jitter"
    }

    fn targets(&self) -> &'static [TargetFamily] {
        &[TcpLink, HttpLink]
    }

    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn failure_mode(&self) -> FailureMode {
        FailureMode::Latency
    }

    fn build(&self, settings: &Settings) -> Result<FaultAction, String> {
        let toxic = Latency::toxiproxy(settings.millis("delay"), settings.millis("jitter"));
        settings.toxic(toxic)
    }
}
