//! `latency`: delays data on a tcp link by a distribution (the `latency_distribution`
//! toxic), or matching requests on an http link (`http_delay`).

use super::setting_spec::*;
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::proxy::toxics::{HttpDelay, Latency};

const SETTINGS: &[SettingSpec] = &[
    req("delay", ValueType::DurationDist),
    DIRECTION,
    TOXICITY,
    METHOD,
    PATH,
    HEADER,
];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "latency"
    }

    fn summary(&self) -> &'static str {
        "delay data (tcp) or requests (http) by a distribution"
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
        let delay = settings
            .distribution("delay")
            .ok_or("latency needs a `delay`")?
            .clone();
        if settings.is_http() {
            let toxic = HttpDelay::new(delay, settings.http_match()?).map_err(|err| err.0)?;
            settings.toxic(toxic)
        } else {
            settings.toxic(Latency::distribution(delay).map_err(|err| err.0)?)
        }
    }
}
