//! `fail_first`: the first `count` matching requests through an http link fail (with
//! `status`, 503 by default), the ones after pass. For testing that a client retries, and
//! stops retrying once the service is back (Toxiproxy issue #404). The count starts when the
//! fault starts; each activation counts afresh.
//!
//! This kind is the whole of its own implementation: the toxic is here too (it is not one of
//! the API's toxic types), and the link removes it when the fault ends.

use super::setting_spec::*;
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::proxy::{HttpEffect, HttpMatch, Layer, Toxic};
use bytes::Bytes;
use hyper::StatusCode;
use hyper::http::request::Parts;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const SETTINGS: &[SettingSpec] = &[
    req("count", ValueType::Integer(1, 1_000_000_000)),
    opt("status", ValueType::Integer(100, 599)),
    opt("body", ValueType::Text),
    METHOD,
    PATH,
    HEADER,
];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "fail_first"
    }

    fn summary(&self) -> &'static str {
        "fail the first N matching HTTP requests with a status, then let them pass (tests retries)"
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
        let code = settings.whole("status").unwrap_or(503);
        let status = u16::try_from(code)
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok())
            .ok_or_else(|| format!("`status` must be an HTTP status code, not {code}"))?;
        let toxic = FailFirst::new(
            settings.required_whole("count")?,
            status,
            settings.text("body").map(str::to_string),
            settings.http_match()?,
        );
        settings.toxic_with(Arc::new(toxic), 1.0)
    }
}

/// Answers the first `count` matching requests with `status`; lets the rest through.
#[derive(Debug)]
pub struct FailFirst {
    count: u64,
    status: StatusCode,
    body: Bytes,
    matcher: HttpMatch,
    /// Requests failed so far.
    failed: AtomicU64,
}

impl FailFirst {
    pub fn new(count: u64, status: StatusCode, body: Option<String>, matcher: HttpMatch) -> Self {
        let body = body.unwrap_or_else(|| {
            format!(
                "{} (injected by pfi: fail_first)\n",
                status.canonical_reason().unwrap_or("error")
            )
        });
        FailFirst {
            count,
            status,
            body: Bytes::from(body),
            matcher,
            failed: AtomicU64::new(0),
        }
    }

    /// Requests failed so far.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

impl Toxic for FailFirst {
    fn type_name(&self) -> &'static str {
        "fail_first"
    }

    fn attributes(&self) -> Value {
        let mut map = Map::new();
        map.insert("count".into(), json!(self.count));
        map.insert("status".into(), json!(self.status.as_u16()));
        map.insert("failed".into(), json!(self.failed()));
        self.matcher.write_attributes(&mut map);
        Value::Object(map)
    }

    fn layer(&self) -> Layer {
        Layer::Http
    }

    fn matches(&self, request: &Parts) -> bool {
        self.matcher.matches(request)
    }

    fn http_effect(&self, _request: &Parts, _rng: &mut ChaCha8Rng) -> HttpEffect {
        // One slot per request, taken atomically: concurrent requests fail exactly `count`.
        let took = self
            .failed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |failed| {
                (failed < self.count).then_some(failed + 1)
            })
            .is_ok();
        if took {
            HttpEffect::Respond {
                status: self.status,
                body: self.body.clone(),
            }
        } else {
            HttpEffect::Pass
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::kinds::tests::plan;
    use crate::plan::Value as Setting;
    use crate::plan::seed::rng_for;

    fn request(path: &str) -> Parts {
        hyper::Request::get(path).body(()).unwrap().into_parts().0
    }

    #[test]
    fn fails_exactly_the_first_count_matching_requests() {
        let toxic = FailFirst::new(
            2,
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            HttpMatch::parse(None, Some("/api"), None).unwrap(),
        );
        let mut rng = rng_for(1, "f");
        assert!(!toxic.matches(&request("/health")));
        let effects: Vec<HttpEffect> = (0..4)
            .map(|_| toxic.http_effect(&request("/api/x"), &mut rng))
            .collect();
        assert!(matches!(
            &effects[0],
            HttpEffect::Respond { status, .. } if *status == StatusCode::SERVICE_UNAVAILABLE
        ));
        assert!(matches!(&effects[1], HttpEffect::Respond { .. }));
        assert_eq!(effects[2], HttpEffect::Pass);
        assert_eq!(effects[3], HttpEffect::Pass);
        assert_eq!(toxic.failed(), 2);
        assert_eq!(toxic.attributes()["failed"], 2);
    }

    #[test]
    fn concurrent_requests_fail_exactly_count_times() {
        let toxic = Arc::new(FailFirst::new(
            100,
            StatusCode::BAD_GATEWAY,
            Some("no".into()),
            HttpMatch::default(),
        ));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let toxic = toxic.clone();
                std::thread::spawn(move || {
                    let mut rng = rng_for(i, "t");
                    (0..50)
                        .filter(|_| {
                            matches!(
                                toxic.http_effect(&request("/"), &mut rng),
                                HttpEffect::Respond { .. }
                            )
                        })
                        .count()
                })
            })
            .collect();
        let failed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(failed, 100);
    }

    #[test]
    fn builds_from_its_settings_on_http_links_only() {
        let fault = plan(
            "fail_first",
            HttpLink,
            &[
                ("count", Setting::Integer(3)),
                ("status", Setting::Integer(500)),
            ],
        );
        match FaultAction::build(&fault, "ff-1").unwrap() {
            FaultAction::Toxic(config) => {
                assert_eq!(config.toxic.type_name(), "fail_first");
                assert_eq!(config.toxic.attributes()["count"], 3);
                assert_eq!(config.toxic.attributes()["status"], 500);
                assert_eq!(config.stream, crate::proxy::Stream::Upstream);
            }
            other => panic!("{other:?}"),
        }
        let tcp = plan("fail_first", TcpLink, &[("count", Setting::Integer(3))]);
        let err = FaultAction::build(&tcp, "x").unwrap_err();
        assert!(err.contains("cannot act on a tcp link"), "{err}");
    }
}
