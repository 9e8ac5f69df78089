//! The bearer-token check in front of every route but `/healthz`: without a tokens file the
//! server only listens on loopback and lets every request through; with one, a request needs
//! `Authorization: Bearer TOKEN` of a known token, and anything but GET needs an operator's.

use super::api_error::ApiError;
use super::app::App;
use super::tokens::Role;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn authorize(State(app): State<App>, request: Request, next: Next) -> Response {
    let Some(tokens) = &app.config.tokens else {
        return next.run(request).await;
    };
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let Some((role, name)) = presented.and_then(|token| tokens.role_of(token)) else {
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this server needs `Authorization: Bearer TOKEN` with a token it knows",
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"pfi\""),
        );
        return response;
    };
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if !reads && role != Role::Operator {
        tracing::warn!(token = %name, path = %request.uri().path(), "a read token tried to write");
        return ApiError::forbidden(format!(
            "the token `{name}` may only read (GET); {} needs an operator token",
            request.method()
        ))
        .into_response();
    }
    next.run(request).await
}
