//! `abort`: aborts matching HTTP requests: the connection closes without a response
//! (the `http_abort` toxic), at a rate.

use super::setting_spec::*;
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::proxy::toxics::HttpAbort;
use std::sync::Arc;

const SETTINGS: &[SettingSpec] = &[opt("rate", ValueType::Probability), METHOD, PATH, HEADER];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "abort"
    }

    fn summary(&self) -> &'static str {
        "abort HTTP requests (close the connection without a response) at a rate"
    }

    fn targets(&self) -> &'static [TargetFamily] {
        &[HttpLink]
    }

    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn failure_mode(&self) -> FailureMode {
        FailureMode::DependencyFailure
    }

    fn build(&self, settings: &Settings) -> Result<FaultAction, String> {
        let toxic = HttpAbort::new(settings.http_match()?);
        let rate = settings
            .number("rate")
            .or(settings.number("toxicity"))
            .unwrap_or(1.0);
        settings.toxic_with(Arc::new(toxic), rate)
    }
}
