//! Signing a browser in to the dashboard: a plain browser cannot send
//! `Authorization: Bearer`, so `GET /ui/login` is a form that posts a token to
//! `POST /ui/login`, which sets it in an `HttpOnly; SameSite=Strict` cookie and sends the
//! browser on to the page it wanted (`/ui` pages opened with `?token=TOKEN` do the same).
//! The cookie only ever authorises reads (GET): anything else still needs the header, so a
//! page can never be made to write with it.

use super::app::App;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

/// The cookie's name.
pub const COOKIE: &str = "pfi_token";
/// How long a browser stays signed in.
const MAX_AGE_S: u64 = 8 * 3600;

const POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

#[derive(Debug, Deserialize)]
pub struct Wanted {
    next: Option<String>,
}

/// `GET /ui/login`: the form.
pub async fn form(Query(wanted): Query<Wanted>) -> Response {
    page(StatusCode::OK, &next_page(wanted.next.as_deref()), None)
}

/// `POST /ui/login` (`token=…&next=…`, form-encoded): the cookie and on to `next`, or the
/// form again with why.
pub async fn submit(State(app): State<App>, body: Bytes) -> Response {
    let mut token = String::new();
    let mut next = None;
    for (key, value) in form_urlencoded::parse(&body) {
        match &*key {
            "token" => token = value.trim().to_string(),
            "next" => next = Some(value.into_owned()),
            _ => {}
        }
    }
    let next = next_page(next.as_deref());
    match &app.config.tokens {
        None => see_other(&next, None),
        Some(tokens) if tokens.role_of(&token).is_some() => see_other(&next, Some(&token)),
        Some(_) => {
            tracing::warn!("a sign-in with an unknown token");
            page(
                StatusCode::UNAUTHORIZED,
                &next,
                Some("This server does not know that token."),
            )
        }
    }
}

/// A redirect to `location`, signing the browser in with `token`.
pub fn see_other(location: &str, token: Option<&str>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    if let Some(token) = token {
        let cookie = format!(
            "{COOKIE}={}; Path=/; Max-Age={MAX_AGE_S}; HttpOnly; SameSite=Strict",
            form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.insert(header::SET_COOKIE, value);
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The token in a request's `pfi_token` cookie.
pub fn cookie_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| {
            form_urlencoded::parse(format!("t={value}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
}

/// Where to go after signing in: a dashboard page of this server, else `/ui`.
pub fn next_page(next: Option<&str>) -> String {
    match next {
        Some(path)
            if (path == "/ui" || path.starts_with("/ui/") || path.starts_with("/ui?"))
                && !path.contains(['\\', '\r', '\n'])
                && !path.starts_with("/ui/login") =>
        {
            path.to_string()
        }
        _ => "/ui".to_string(),
    }
}

fn page(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let escape = crate::report::xml_escape;
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>pfi: sign in</title>\
         <style>body{{font:14px/1.45 system-ui,sans-serif;max-width:420px;margin:60px auto;padding:18px;color:#111}}label{{display:block;margin:12px 0 4px}}input[type=password]{{width:100%;padding:6px;font:inherit}}button{{margin-top:12px;padding:6px 14px;font:inherit}}.error{{color:#991b1b;font-weight:700}}</style></head><body>\n\
         <h1>pfi serve</h1><p>This server needs a token (a read token is enough to look).</p>{error}\
         <form method=\"post\" action=\"/ui/login\"><input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label for=\"token\">Token</label><input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"current-password\" required autofocus>\
         <button type=\"submit\">Sign in</button></form>\
         <p><small>The token is kept in an HttpOnly, SameSite=Strict cookie for 8 hours and only lets this browser read.</small></p></body></html>\n",
        error = error.map_or(String::new(), |e| format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(e)
        )),
        next = escape(next),
    );
    let mut response = (status, Html(html)).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dashboard_pages_are_followed_after_signing_in() {
        assert_eq!(next_page(Some("/ui/runs/r1")), "/ui/runs/r1");
        assert_eq!(next_page(Some("/ui")), "/ui");
        for bad in [
            "//evil.example/ui",
            "https://evil.example",
            "/v1/runs",
            "/ui/login",
            "/uix",
        ] {
            assert_eq!(next_page(Some(bad)), "/ui", "{bad}");
        }
        assert_eq!(next_page(None), "/ui");
    }

    #[test]
    fn the_cookie_carries_any_token_back() {
        let token = "a b;c=d%é";
        let response = see_other("/ui", Some(token));
        let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(set.contains("HttpOnly; SameSite=Strict"), "{set}");
        let value = set.split(';').next().unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {value}")).unwrap(),
        );
        assert_eq!(cookie_token(&headers).as_deref(), Some(token));
    }
}
