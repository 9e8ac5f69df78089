//! `http_error`: answers matching requests with an error status instead of the upstream's
//! response. Upstream stream: the request never reaches the upstream; downstream (the
//! default): the upstream handles it and its response is replaced.

use crate::proxy::attributes::{AttributeError, Attributes};
use crate::proxy::http_match::HttpMatch;
use crate::proxy::toxic::{HttpEffect, Layer, Toxic};
use bytes::Bytes;
use hyper::StatusCode;
use hyper::http::request::Parts;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

/// Responds with `status` (default 500) and `body` (default: the status's reason).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpError {
    status: StatusCode,
    body: Bytes,
    matcher: HttpMatch,
}

impl HttpError {
    pub fn new(status: StatusCode, body: Option<String>, matcher: HttpMatch) -> Self {
        let body = body.unwrap_or_else(|| {
            format!(
                "{} (injected by pfi)\n",
                status.canonical_reason().unwrap_or("error")
            )
        });
        HttpError {
            status,
            body: Bytes::from(body),
            matcher,
        }
    }

    pub fn from_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        let code = a.whole("status", "an HTTP status code")?.unwrap_or(500);
        let status = u16::try_from(code)
            .ok()
            .filter(|c| (100..=599).contains(c))
            .and_then(|c| StatusCode::from_u16(c).ok())
            .ok_or_else(|| {
                AttributeError(format!(
                    "attribute `status` must be an HTTP status code from 100 to 599, got {code}"
                ))
            })?;
        Ok(HttpError::new(
            status,
            a.text("body")?.map(str::to_string),
            HttpMatch::from_attributes(a)?,
        ))
    }
}

impl Toxic for HttpError {
    fn type_name(&self) -> &'static str {
        "http_error"
    }

    fn attributes(&self) -> Value {
        let mut map = Map::new();
        map.insert("status".into(), json!(self.status.as_u16()));
        map.insert("body".into(), json!(String::from_utf8_lossy(&self.body)));
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
        HttpEffect::Respond {
            status: self.status,
            body: self.body.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seed::rng_for;

    #[test]
    fn responds_with_the_status_and_checks_it() {
        let v = json!({"status": 503, "path_prefix": "/api"});
        let t = HttpError::from_attributes(&Attributes::new(&v).unwrap()).unwrap();
        let parts = hyper::Request::get("/api/x")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert!(t.matches(&parts));
        match t.http_effect(&parts, &mut rng_for(1, "e")) {
            HttpEffect::Respond { status, body } => {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                assert!(String::from_utf8_lossy(&body).contains("Service Unavailable"));
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            json!({"status": 42}),
            json!({"status": 700}),
            json!({"status": -1}),
        ] {
            assert!(HttpError::from_attributes(&Attributes::new(&bad).unwrap()).is_err());
        }
    }
}
