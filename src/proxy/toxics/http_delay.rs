//! `http_delay`: delays matching requests (upstream) or responses (downstream) by a drawn
//! delay: `latency` ± `jitter` ms, or any `distribution` in ms.

use crate::plan::Distribution;
use crate::proxy::attributes::{AttributeError, Attributes};
use crate::proxy::delay_spec::DelaySpec;
use crate::proxy::http_match::HttpMatch;
use crate::proxy::toxic::{HttpEffect, Layer, Toxic};
use hyper::http::request::Parts;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

/// Adds a per-request delay.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpDelay {
    delay: DelaySpec,
    matcher: HttpMatch,
}

impl HttpDelay {
    pub fn new(delay: Distribution, matcher: HttpMatch) -> Result<Self, AttributeError> {
        Ok(HttpDelay {
            delay: DelaySpec::distribution(delay)?,
            matcher,
        })
    }

    pub fn from_attributes(a: &Attributes) -> Result<Self, AttributeError> {
        Ok(HttpDelay {
            delay: DelaySpec::from_either(a)?,
            matcher: HttpMatch::from_attributes(a)?,
        })
    }
}

impl Toxic for HttpDelay {
    fn type_name(&self) -> &'static str {
        "http_delay"
    }

    fn attributes(&self) -> Value {
        let mut map = Map::new();
        self.delay.write_attributes(&mut map);
        self.matcher.write_attributes(&mut map);
        Value::Object(map)
    }

    fn layer(&self) -> Layer {
        Layer::Http
    }

    fn matches(&self, request: &Parts) -> bool {
        self.matcher.matches(request)
    }

    fn http_effect(&self, _request: &Parts, rng: &mut ChaCha8Rng) -> HttpEffect {
        HttpEffect::Delay(self.delay.sample(rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::seed::rng_for;
    use std::time::Duration;

    #[test]
    fn delays_are_drawn_from_the_distribution() {
        let t = HttpDelay::new(Distribution::Fixed { value: 30.0 }, HttpMatch::default()).unwrap();
        let parts = hyper::Request::get("/").body(()).unwrap().into_parts().0;
        assert_eq!(
            t.http_effect(&parts, &mut rng_for(1, "d")),
            HttpEffect::Delay(Duration::from_millis(30))
        );
    }

    #[test]
    fn both_attribute_forms_are_accepted() {
        let v = serde_json::json!({"latency": 10, "jitter": 2, "path_prefix": "/slow"});
        let t = HttpDelay::from_attributes(&Attributes::new(&v).unwrap()).unwrap();
        assert_eq!(t.attributes(), v);
        let v = serde_json::json!({"distribution": {"kind": "exponential", "mean": 5.0}});
        assert!(HttpDelay::from_attributes(&Attributes::new(&v).unwrap()).is_ok());
    }
}
