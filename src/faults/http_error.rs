//! `http_error`: answers matching requests on an http link with an error status, at a
//! rate (the `http_error` toxic).

use super::setting_spec::*;
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::proxy::toxics::HttpError;
use hyper::StatusCode;
use std::sync::Arc;

const SETTINGS: &[SettingSpec] = &[
    req("status", ValueType::Integer(100, 599)),
    opt("rate", ValueType::Probability),
    opt("body", ValueType::Text),
    METHOD,
    PATH,
    HEADER,
];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "http_error"
    }

    fn summary(&self) -> &'static str {
        "answer requests with an HTTP status at a rate"
    }

    fn targets(&self) -> &'static [TargetFamily] {
        &[HttpLink]
    }

    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn failure_mode(&self) -> FailureMode {
        FailureMode::HttpError
    }

    fn build(&self, settings: &Settings) -> Result<FaultAction, String> {
        let code = settings.required_whole("status")?;
        let status = u16::try_from(code)
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok())
            .ok_or_else(|| format!("`status` must be an HTTP status code, not {code}"))?;
        let body = settings.text("body").map(str::to_string);
        let toxic = HttpError::new(status, body, settings.http_match()?);
        let rate = settings
            .number("rate")
            .or(settings.number("toxicity"))
            .unwrap_or(1.0);
        settings.toxic_with(Arc::new(toxic), rate)
    }
}
