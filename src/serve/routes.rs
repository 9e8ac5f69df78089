//! The router: one table of every route (which the OpenAPI document is checked against),
//! and the layers every request goes through — latency and logs, tokens, the body size
//! limit and the timeout.

use super::api_error::ApiError;
use super::app::App;
use super::{auth, dashboard, events, findings, login, manual, runs, scenarios, system};
use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use std::time::Instant;
use tower::ServiceBuilder;
use tower::timeout::error::Elapsed;

/// Every route: method, path, handler.
pub fn table() -> Vec<(&'static str, &'static str, MethodRouter<App>)> {
    vec![
        ("GET", "/healthz", get(system::healthz)),
        ("GET", "/metrics", get(system::metrics)),
        ("GET", "/v1/openapi.json", get(system::openapi)),
        ("POST", "/v1/runs", post(runs::submit)),
        ("GET", "/v1/runs", get(runs::list)),
        ("GET", "/v1/runs/{id}", get(runs::get)),
        ("POST", "/v1/runs/{id}/abort", post(runs::abort)),
        ("GET", "/v1/runs/{id}/events", get(events::stream)),
        ("POST", "/v1/runs/{id}/mitigations", post(manual::fire)),
        ("POST", "/v1/check", post(scenarios::check)),
        ("POST", "/v1/plan", post(scenarios::plan)),
        ("GET", "/v1/predictions", get(findings::predictions)),
        ("GET", "/v1/predictions/stream", get(findings::stream)),
        ("POST", "/v1/predictions/{id}/ack", post(manual::ack)),
        ("GET", "/v1/mitigations", get(findings::mitigations)),
        ("GET", "/ui", get(dashboard::index)),
        ("GET", "/ui/login", get(login::form)),
        ("POST", "/ui/login", post(login::submit)),
        ("GET", "/ui/runs/{id}", get(dashboard::run)),
        ("GET", "/ui/runs/{id}/charts", get(dashboard::charts)),
    ]
}

pub fn router(app: App) -> Router {
    let mut paths: Vec<(&str, MethodRouter<App>)> = Vec::new();
    for (_, path, handler) in table() {
        match paths.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => *existing = std::mem::take(existing).merge(handler),
            None => paths.push((path, handler)),
        }
    }
    let timeout = app.config.request_timeout;
    let limit = app.config.body_limit;
    paths
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router.route(path, handler)
        })
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(timed_out))
                .timeout(timeout),
        )
        .layer(middleware::from_fn_with_state(app.clone(), auth::authorize))
        .layer(middleware::from_fn_with_state(app.clone(), observe))
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /v1/openapi.json",
    )
}

async fn timed_out(err: tower::BoxError) -> ApiError {
    if err.is::<Elapsed>() {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the request took longer than the server allows",
        )
    } else {
        ApiError::internal(err)
    }
}

/// Counts every request and its latency by route, and logs it.
async fn observe(State(app): State<App>, request: Request, next: Next) -> Response {
    let began = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let took = began.elapsed();
    let status = response.status().as_u16();
    app.metrics.request(&method, &route, status, took);
    tracing::debug!(%method, %path, status, ms = took.as_secs_f64() * 1000.0, "request");
    response
}
