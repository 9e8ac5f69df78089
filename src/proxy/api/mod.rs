//! The REST control API, compatible with Toxiproxy 2.x: same routes, JSON shapes, status
//! codes and error shape, so existing clients (toxiproxy-cli, the Go/Ruby/Python clients,
//! the Chaos Toolkit extension) work unchanged. pfi's extras are more toxic types, the
//! `both` stream, a `kind` field on proxies (`tcp`/`http`) and `GET /stats`.
//!
//! Handlers only call `ProxyServer` methods, which never wait for traffic, so the API stays
//! responsive while toxics change under load.

mod api_error;
mod api_thread;
mod json;
mod proxies;
mod toxics;

pub use api_error::ApiError;
pub use api_thread::ApiThread;
pub use json::{ProxyJson, ToxicJson};
pub use proxies::{Populated, populate_all};

use super::{ProxyServer, metrics};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::convert::Infallible;
use std::future::Future;
use tokio::net::TcpListener;

/// The Toxiproxy API version this server speaks.
pub const TOXIPROXY_API_VERSION: &str = "2.12.0";

/// Largest request body accepted.
const MAX_BODY: usize = 1024 * 1024;

/// Serves the API on `listener` until `shutdown` completes. Requests in flight finish.
pub async fn serve(listener: TcpListener, proxy: ProxyServer, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => return,
        };
        let socket = match accepted {
            Ok((socket, _)) => socket,
            Err(err) => {
                tracing::warn!(%err, "API accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let service = service_fn(|request| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(handle(&proxy, request).await) }
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(socket), service)
                .await
            {
                tracing::debug!(%err, "API connection ended with an error");
            }
        });
    }
}

/// A response before it is encoded.
pub(crate) struct Reply {
    status: StatusCode,
    body: Bytes,
    content_type: &'static str,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|err| {
            format!(r#"{{"error":"cannot encode the response: {err}","status":500}}"#).into_bytes()
        });
        Reply {
            status,
            body: Bytes::from(body),
            content_type: "application/json",
        }
    }

    pub(crate) fn empty(status: StatusCode) -> Self {
        Reply {
            status,
            body: Bytes::new(),
            content_type: "application/json",
        }
    }

    fn text(status: StatusCode, body: String, content_type: &'static str) -> Self {
        Reply {
            status,
            body: Bytes::from(body),
            content_type,
        }
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = self.status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        response
    }
}

/// Answers one request.
pub async fn handle(proxy: &ProxyServer, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = match route(proxy, request).await {
        Ok(reply) => reply,
        Err(err) => Reply::json(err.status_code(), &err),
    };
    reply.into_response()
}

async fn route(proxy: &ProxyServer, request: Request<Incoming>) -> Result<Reply, ApiError> {
    // Toxiproxy refuses browsers, so a web page cannot drive the API on localhost.
    let from_browser = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|ua| ua.to_str().ok())
        .is_some_and(|ua| ua.starts_with("Mozilla/"));
    if from_browser {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "User agent not allowed",
        ));
    }
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let body = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|err| {
            ApiError::bad_body(format!("cannot read the body ({err}); the limit is 1 MiB"))
        })?
        .to_bytes();
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["version"]) => Ok(Reply::json(
            StatusCode::OK,
            &serde_json::json!({"version": TOXIPROXY_API_VERSION, "server": concat!("pfi ", env!("CARGO_PKG_VERSION"))}),
        )),
        (&Method::GET, ["metrics"]) => Ok(Reply::text(
            StatusCode::OK,
            metrics::render(&proxy.all_stats()),
            "text/plain; version=0.0.4; charset=utf-8",
        )),
        (&Method::GET, ["stats"]) => Ok(Reply::json(StatusCode::OK, &proxy.all_stats())),
        (&Method::POST, ["reset"]) => proxies::reset(proxy).await,
        (&Method::POST, ["populate"]) => proxies::populate(proxy, &body).await,
        (&Method::GET, ["proxies"]) => proxies::index(proxy).await,
        (&Method::POST, ["proxies"]) => proxies::create(proxy, &body).await,
        (&Method::GET, ["proxies", name]) => proxies::show(proxy, name).await,
        (&Method::POST | &Method::PATCH, ["proxies", name]) => {
            proxies::update(proxy, name, &body).await
        }
        (&Method::DELETE, ["proxies", name]) => proxies::delete(proxy, name).await,
        (&Method::GET, ["proxies", name, "toxics"]) => toxics::index(proxy, name).await,
        (&Method::POST, ["proxies", name, "toxics"]) => toxics::create(proxy, name, &body).await,
        (&Method::GET, ["proxies", name, "toxics", toxic]) => {
            toxics::show(proxy, name, toxic).await
        }
        (&Method::POST | &Method::PATCH, ["proxies", name, "toxics", toxic]) => {
            toxics::update(proxy, name, toxic, &body).await
        }
        (&Method::DELETE, ["proxies", name, "toxics", toxic]) => {
            toxics::delete(proxy, name, toxic).await
        }
        (_, ["version" | "metrics" | "stats" | "reset" | "populate" | "proxies"])
        | (_, ["proxies", _] | ["proxies", _, "toxics"] | ["proxies", _, "toxics", _]) => {
            Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("method {method} is not allowed on {path}"),
            ))
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no such endpoint: {path} (see /proxies, /populate, /reset, /version, /metrics)"
            ),
        )),
    }
}

/// Decodes `%XX` escapes of a path segment (names may hold spaces or slashes).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(percent_decode("my%20proxy"), "my proxy");
        assert_eq!(percent_decode("a%2Fb"), "a/b");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
        assert_eq!(percent_decode("end%2"), "end%2");
    }
}
