//! One client connection of an HTTP link.
//!
//! The client's bytes go through the same stream pump as a TCP link (so `latency`,
//! `bandwidth`, `reset_peer`... work on HTTP links too) into an in-memory pipe that hyper
//! serves. Each request draws the HTTP toxics that match it from its own seeded stream,
//! applies the upstream effects, forwards the request with a pooled client, then applies
//! the downstream effects to the response.

use super::link::Link;
use super::pump::{Outcome, Pump, drive};
use super::seeding;
use super::stage::Ending;
use super::stats::{ActiveConnection, LinkCounters, ToxicCounters};
use super::stream::Direction;
use super::toxic::HttpEffect;
use crate::plan::seed::rng_for;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// The body of every response the proxy sends.
pub(crate) type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Buffer of the in-memory pipe between the client socket and hyper.
const PIPE: usize = 64 * 1024;

/// Headers that describe one hop, not the message.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Returned by the service to make hyper drop the connection without a response.
#[derive(Debug)]
struct Aborted;

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection aborted by an http_abort toxic")
    }
}

impl std::error::Error for Aborted {}

pub(crate) async fn serve(
    link: &Link,
    mut client: TcpStream,
    connection: u64,
    stop: watch::Receiver<()>,
) {
    let _active = ActiveConnection::open(&link.counters);
    let mut stopping = stop.clone();
    let (proxy_end, hyper_end) = tokio::io::duplex(PIPE);
    let outcome = {
        let (client_read, client_write) = client.split();
        let (from_hyper, to_hyper) = tokio::io::split(proxy_end);
        let up = Pump::new(link, connection, Direction::Upstream, client_read, to_hyper);
        let down = Pump::new(
            link,
            connection,
            Direction::Downstream,
            from_hyper,
            client_write,
        );
        let http = async {
            let served = http1::Builder::new()
                .serve_connection(TokioIo::new(hyper_end), service_fn(|req| handle(link, req)))
                .await;
            if let Err(err) = served {
                tracing::debug!(link = %link.name, %err, "http connection ended with an error");
            }
        };
        tokio::select! {
            (outcome, ()) = async { tokio::join!(drive(up.run(), down.run(), stop), http) } => outcome,
            _ = stopping.changed() => Outcome::End(Ending::Close),
        }
    };
    if outcome == Outcome::End(Ending::Reset) {
        let _ = client.set_zero_linger();
    }
}

/// One planned effect: which direction, what, and which toxic to credit.
type Planned = (Direction, HttpEffect, Arc<ToxicCounters>);

async fn handle(link: &Link, request: Request<Incoming>) -> Result<Response<ProxyBody>, Aborted> {
    let started = Instant::now();
    let index = link.next_request();
    LinkCounters::bump(&link.counters.requests_total);
    let (parts, body) = request.into_parts();
    let plan = plan_effects(link, index, &parts);
    let response = match apply(link, &plan, Direction::Upstream).await {
        Some(injected) => injected,
        None => {
            let response = forward(link, parts, body).await;
            match apply(link, &plan, Direction::Downstream).await {
                Some(injected) => injected,
                None => Ok(response),
            }
        }
    };
    link.counters.request_latency.record(started.elapsed());
    response
}

/// Draws, for every HTTP toxic matching the request, whether it applies and what it does,
/// from the request's own stream (so concurrency does not change the draws).
fn plan_effects(link: &Link, index: u64, parts: &Parts) -> Vec<Planned> {
    let set = link.toxic_set();
    let mut plan = Vec::new();
    for installed in set.http_toxics() {
        let toxic = &installed.config.toxic;
        if !toxic.matches(parts) {
            continue;
        }
        let mut rng = rng_for(
            link.seed,
            &seeding::request_stream(&link.name, &installed.config.name, index),
        );
        if !seeding::applies_with(&mut rng, installed.config.toxicity) {
            continue;
        }
        LinkCounters::bump(&installed.counters.applied);
        for direction in Direction::ALL {
            if installed.config.stream.covers(direction) {
                let effect = toxic.http_effect(parts, &mut rng);
                plan.push((direction, effect, Arc::clone(&installed.counters)));
            }
        }
    }
    plan
}

/// Applies the effects planned for `direction`; returns the injected outcome if one replaces
/// the normal response.
async fn apply(
    link: &Link,
    plan: &[Planned],
    direction: Direction,
) -> Option<Result<Response<ProxyBody>, Aborted>> {
    for (d, effect, counters) in plan {
        if *d != direction {
            continue;
        }
        match effect {
            HttpEffect::Pass => {}
            HttpEffect::Delay(delay) => {
                counters.record_delay(*delay);
                link.timer.sleep_until(Instant::now() + *delay).await;
            }
            HttpEffect::Respond { status, body } => {
                counters.injected(&link.counters);
                return Some(Ok(text_response(*status, body.clone())));
            }
            HttpEffect::Abort => {
                counters.injected(&link.counters);
                return Some(Err(Aborted));
            }
        }
    }
    None
}

async fn forward(link: &Link, mut parts: Parts, body: Incoming) -> Response<ProxyBody> {
    let upstream = link.upstream();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = match format!("http://{upstream}{path}").parse::<Uri>() {
        Ok(uri) => uri,
        Err(err) => {
            return bad_gateway(
                link,
                format!("pfi proxy: upstream {upstream:?} is not a valid host:port ({err})"),
            );
        }
    };
    parts.uri = uri;
    strip_hop_by_hop(&mut parts.headers);
    let Some(client) = &link.http_client else {
        return bad_gateway(link, "pfi proxy: this link has no HTTP client".into());
    };
    match client.request(Request::from_parts(parts, body)).await {
        Ok(response) => {
            let (mut head, body) = response.into_parts();
            strip_hop_by_hop(&mut head.headers);
            Response::from_parts(head, body.boxed())
        }
        Err(err) => {
            tracing::warn!(link = %link.name, %upstream, %err, "upstream request failed");
            bad_gateway(
                link,
                format!("pfi proxy: cannot reach upstream {upstream}: {err}\n"),
            )
        }
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

fn bad_gateway(link: &Link, message: String) -> Response<ProxyBody> {
    LinkCounters::bump(&link.counters.upstream_errors);
    text_response(StatusCode::BAD_GATEWAY, Bytes::from(message))
}

fn text_response(status: StatusCode, body: Bytes) -> Response<ProxyBody> {
    let mut response = Response::new(Full::new(body).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
