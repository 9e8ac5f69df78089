//! The bearer-token check in front of every route but `/healthz` and the sign-in form:
//! without a tokens file the server only listens on loopback and lets every request through;
//! with one, a request needs `Authorization: Bearer TOKEN` of a known token, and anything but
//! GET needs an operator's. A browser signs in instead (`login`): a GET may carry the token in
//! the `pfi_token` cookie, and a dashboard page opened with `?token=TOKEN` sets that cookie
//! and comes back without it; a dashboard page asked for without a token sends the browser
//! to the sign-in form.

use super::api_error::ApiError;
use super::app::App;
use super::login;
use super::tokens::Role;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Who made a request: the name of its token, or `loopback` on a server without tokens.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

pub async fn authorize(State(app): State<App>, mut request: Request, next: Next) -> Response {
    let Some(tokens) = &app.config.tokens else {
        request.extensions_mut().insert(Caller("loopback".into()));
        return next.run(request).await;
    };
    let path = request.uri().path();
    if path == "/healthz" || path == "/ui/login" {
        return next.run(request).await;
    }
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    let page = reads && (path == "/ui" || path.starts_with("/ui/"));
    if page {
        if let Some((token, rest)) = query_token(request.uri()) {
            if tokens.role_of(&token).is_some() {
                let location = match rest {
                    Some(query) => format!("{path}?{query}"),
                    None => path.to_string(),
                };
                return login::see_other(&location, Some(&token));
            }
        }
    }
    let header_token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|value| value.trim().to_string());
    let presented = match header_token {
        Some(token) => Some(token),
        // The cookie only ever reads.
        None if reads => login::cookie_token(request.headers()),
        None => None,
    };
    let Some((role, name)) = presented.as_deref().and_then(|token| tokens.role_of(token)) else {
        if page {
            let wanted = match request.uri().query() {
                Some(query) => format!("{path}?{query}"),
                None => path.to_string(),
            };
            let next: String = form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
            return login::see_other(&format!("/ui/login?next={next}"), None);
        }
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
    if !reads && role != Role::Operator {
        tracing::warn!(token = %name, path = %request.uri().path(), "a read token tried to write");
        return ApiError::forbidden(format!(
            "the token `{name}` may only read (GET); {} needs an operator token",
            request.method()
        ))
        .into_response();
    }
    let caller = Caller(name.to_string());
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The `token` of a URI's query, and the rest of the query without it.
fn query_token(uri: &axum::http::Uri) -> Option<(String, Option<String>)> {
    let query = uri.query()?;
    let mut token = None;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    let mut kept = false;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == "token" {
            token = Some(value.into_owned());
        } else {
            rest.append_pair(&key, &value);
            kept = true;
        }
    }
    Some((token?, kept.then(|| rest.finish())))
}
