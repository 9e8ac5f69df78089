//! `http_abort`: closes the client connection without answering matching requests.

use crate::proxy::attributes::{AttributeError, Attributes};
use crate::proxy::http_match::HttpMatch;
use crate::proxy::toxic::{HttpEffect, Layer, Toxic};
use hyper::http::request::Parts;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

/// Aborts the connection: the client sees it closed before any response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HttpAbort {
    matcher: HttpMatch,
}

impl HttpAbort {
    pub fn new(matcher: HttpMatch) -> Self {
        HttpAbort { matcher }
    }

    pub fn from_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        Ok(HttpAbort::new(HttpMatch::from_attributes(a)?))
    }
}

impl Toxic for HttpAbort {
    fn type_name(&self) -> &'static str {
        "http_abort"
    }

    fn attributes(&self) -> Value {
        let mut map = Map::new();
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
        HttpEffect::Abort
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seed::rng_for;

    #[test]
    fn aborts_matching_requests() {
        let v = serde_json::json!({"method": "PUT"});
        let t = HttpAbort::from_attributes(&Attributes::new(&v).unwrap()).unwrap();
        let put = hyper::Request::put("/").body(()).unwrap().into_parts().0;
        let get = hyper::Request::get("/").body(()).unwrap().into_parts().0;
        assert!(t.matches(&put) && !t.matches(&get));
        assert_eq!(t.http_effect(&put, &mut rng_for(1, "a")), HttpEffect::Abort);
        assert_eq!(t.attributes(), v);
    }
}
