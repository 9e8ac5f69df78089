//! The `Toxic` trait: one fault the proxy can inject, declared once per file in `toxics/`.
//!
//! A toxic says what it needs through this trait and nothing else: a stream toxic returns a
//! per-connection `Stage` for the byte pipeline, `down` refuses connections, an HTTP toxic
//! returns an `HttpEffect` per request. The pipeline never matches on a concrete toxic.

use super::stage::{Stage, StageContext};
use bytes::Bytes;
use hyper::StatusCode;
use hyper::http::request::Parts;
use rand_chacha::ChaCha8Rng;
use std::fmt;
use std::time::Duration;

/// Where a toxic acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// On the bytes of a connection (any link).
    Stream,
    /// On HTTP requests and responses (HTTP links only).
    Http,
}

/// What an HTTP toxic does to one request (upstream) or response (downstream).
#[derive(Debug, Clone, PartialEq)]
pub enum HttpEffect {
    /// Nothing.
    Pass,
    /// Wait this long before going on.
    Delay(Duration),
    /// Answer with this status and body instead of the upstream's response.
    Respond { status: StatusCode, body: Bytes },
    /// Close the client connection without a response.
    Abort,
}

/// One kind of fault. Implementations are immutable values: changing a toxic replaces it.
pub trait Toxic: Send + Sync + fmt::Debug + 'static {
    /// The `type` in the API (`latency`, `bandwidth`, ...).
    fn type_name(&self) -> &'static str;

    /// The `attributes` object in the API, in Toxiproxy's shape for Toxiproxy's types.
    fn attributes(&self) -> serde_json::Value;

    /// Where the toxic acts.
    fn layer(&self) -> Layer {
        Layer::Stream
    }

    /// Whether a connection it applies to is refused at accept time.
    fn refuses_connections(&self) -> bool {
        false
    }

    /// The per-connection, per-direction stage of a stream toxic.
    fn stage(&self, _ctx: StageContext) -> Option<Box<dyn Stage>> {
        None
    }

    /// The effect of an HTTP toxic on one request it applies to (already matched and drawn
    /// against toxicity). `rng` is the request's own seeded stream.
    fn http_effect(&self, _request: &Parts, _rng: &mut ChaCha8Rng) -> HttpEffect {
        HttpEffect::Pass
    }

    /// Whether an HTTP toxic applies to this request at all (method, path, header matchers).
    fn matches(&self, _request: &Parts) -> bool {
        true
    }
}
