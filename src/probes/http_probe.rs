//! `http` probe: one request (plain HTTP or HTTPS), success when the status matches and,
//! when asked, the body contains a text.

use super::probe::{BoxFuture, Check, Probe, error_chain, short_duration};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::TokioExecutor;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Which statuses count as success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedStatus {
    /// Any 2xx.
    Success,
    /// Exactly this status.
    Exact(u16),
}

impl ExpectedStatus {
    pub fn accepts(self, status: StatusCode) -> bool {
        match self {
            ExpectedStatus::Success => status.is_success(),
            ExpectedStatus::Exact(code) => status.as_u16() == code,
        }
    }
}

impl fmt::Display for ExpectedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedStatus::Success => f.write_str("2xx"),
            ExpectedStatus::Exact(code) => write!(f, "{code}"),
        }
    }
}

/// An HTTP or HTTPS request; each check opens a fresh connection (and TLS session), as a new
/// client would, so connection-level faults show. HTTPS verifies the server's certificate
/// against the system's roots (`SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured).
pub struct HttpProbe {
    method: Method,
    url: Uri,
    expect: ExpectedStatus,
    timeout: Duration,
    /// Headers sent with every request, after `user-agent: pfi-probe` (which they can replace).
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The request body; empty when `None`.
    body: Option<Bytes>,
    /// Text the response body must contain.
    body_contains: Option<String>,
    client: HttpClient,
}

/// A client for plain HTTP, or for HTTPS (rustls).
enum HttpClient {
    Plain(Client<HttpConnector, Full<Bytes>>),
    Tls(Client<HttpsConnector<HttpConnector>, Full<Bytes>>),
}

impl HttpClient {
    fn request(&self, request: Request<Full<Bytes>>) -> ResponseFuture {
        match self {
            HttpClient::Plain(client) => client.request(request),
            HttpClient::Tls(client) => client.request(request),
        }
    }
}

/// The TLS configuration of every HTTPS probe: the system's roots, loaded once.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let loaded = rustls_native_certs::load_native_certs();
            for err in &loaded.errors {
                tracing::debug!(%err, "a system root certificate could not be loaded");
            }
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(loaded.certs);
            if added == 0 {
                return Err(
                    "no trusted root certificates found (install ca-certificates or set SSL_CERT_FILE)"
                        .to_string(),
                );
            }
            // ring: it builds with a C compiler alone (aws-lc-rs needs cmake). Its provider is
            // deprecated for lacking post-quantum key exchange, which probes do not need.
            #[allow(deprecated)]
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|err| format!("cannot set up TLS: {err}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

impl HttpProbe {
    /// Checks the method and URL now, so a bad one is reported before the run.
    pub fn new(
        method: &str,
        url: &str,
        expect: ExpectedStatus,
        timeout: Duration,
    ) -> Result<HttpProbe, String> {
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("`{method}` is not an HTTP method"))?;
        let url: Uri = url
            .parse()
            .map_err(|err| format!("`{url}` is not a valid URL: {err}"))?;
        let tls = match url.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => {
                return Err(format!(
                    "`{url}` needs an http:// or https:// scheme and a host"
                ));
            }
        };
        if url.host().is_none() {
            return Err(format!("`{url}` has no host"));
        }
        if let ExpectedStatus::Exact(code) = expect
            && StatusCode::from_u16(code).is_err()
        {
            return Err(format!("{code} is not an HTTP status"));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let mut builder = Client::builder(TokioExecutor::new());
        builder.pool_max_idle_per_host(0);
        let client = if tls {
            connector.enforce_http(false);
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config((*tls_config()?).clone())
                .https_only()
                .enable_http1()
                .wrap_connector(connector);
            HttpClient::Tls(builder.build(https))
        } else {
            HttpClient::Plain(builder.build(connector))
        };
        Ok(HttpProbe {
            method,
            url,
            expect,
            timeout,
            headers: Vec::new(),
            body: None,
            body_contains: None,
            client,
        })
    }

    /// Sends these headers and this body with every request. Header names and values are
    /// checked now. A body without a `content-type` header is sent as `application/json`
    /// when it parses as JSON, else as `text/plain`.
    pub fn with_request(
        mut self,
        headers: &[(String, String)],
        body: Option<&str>,
    ) -> Result<HttpProbe, String> {
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| format!("`{name}` is not a valid header name"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of header `{name}` is not a valid header value"))?;
            self.headers.push((name, value));
        }
        if let Some(body) = body {
            if !self.headers.iter().any(|(name, _)| name == CONTENT_TYPE) {
                let kind = if serde_json::from_str::<serde_json::Value>(body).is_ok() {
                    "application/json"
                } else {
                    "text/plain; charset=utf-8"
                };
                self.headers
                    .push((CONTENT_TYPE, HeaderValue::from_static(kind)));
            }
            self.body = Some(Bytes::copy_from_slice(body.as_bytes()));
        }
        Ok(self)
    }

    /// Success also needs the response body to contain `text`.
    pub fn expecting_body(mut self, text: impl Into<String>) -> HttpProbe {
        self.body_contains = Some(text.into());
        self
    }

    pub fn url(&self) -> &Uri {
        &self.url
    }

    async fn request(&self) -> Check {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(self.url.clone());
        if let Some(headers) = builder.headers_mut() {
            headers.insert(
                hyper::header::USER_AGENT,
                HeaderValue::from_static("pfi-probe"),
            );
            for (name, value) in &self.headers {
                if name == hyper::header::USER_AGENT {
                    headers.insert(name.clone(), value.clone());
                } else {
                    headers.append(name.clone(), value.clone());
                }
            }
        }
        let body = self.body.clone().unwrap_or_default();
        let request = match builder.body(Full::new(body)) {
            Ok(request) => request,
            Err(err) => return Check::failure(format!("cannot build the request: {err}")),
        };
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(err) => return Check::failure(error_chain(&err)),
        };
        let status = response.status();
        // Read the whole body: a response is only complete once its body arrived.
        let body = match response.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(err) => return Check::failure(format!("status {status}, body failed: {err}")),
        };
        if !self.expect.accepts(status) {
            return Check::failure(format!("status {status}, expected {}", self.expect));
        }
        match &self.body_contains {
            Some(text) if !contains(&body, text.as_bytes()) => Check::failure(format!(
                "status {status}, body ({} bytes) lacks \"{text}\"",
                body.len()
            )),
            _ => Check::success(status.to_string()),
        }
    }
}

/// Whether `needle` occurs in `haystack` (an empty needle always does).
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

impl Probe for HttpProbe {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn describe(&self) -> String {
        let mut text = format!("{} {} expecting {}", self.method, self.url, self.expect);
        if let Some(body) = &self.body_contains {
            text.push_str(&format!(" and a body containing \"{body}\""));
        }
        text
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn check(&self) -> BoxFuture<'_, Check> {
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, self.request()).await {
                Ok(check) => check,
                Err(_) => {
                    Check::failure(format!("timed out after {}", short_duration(self.timeout)))
                }
            }
        })
    }
}

impl fmt::Debug for HttpProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProbe")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("expect", &self.expect)
            .field("timeout", &self.timeout)
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.as_ref().map(Bytes::len))
            .field("body_contains", &self.body_contains)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_methods_and_urls() {
        let timeout = Duration::from_secs(1);
        let err =
            HttpProbe::new("GE T", "http://x/", ExpectedStatus::Success, timeout).unwrap_err();
        assert!(err.contains("not an HTTP method"), "{err}");
        let err = HttpProbe::new("GET", "ftp://x/", ExpectedStatus::Success, timeout).unwrap_err();
        assert!(err.contains("https://"), "{err}");
        let err = HttpProbe::new("GET", "/health", ExpectedStatus::Success, timeout).unwrap_err();
        assert!(err.contains("http://"), "{err}");
        let err =
            HttpProbe::new("GET", "http://x/", ExpectedStatus::Exact(42), timeout).unwrap_err();
        assert!(err.contains("not an HTTP status"), "{err}");
    }

    #[test]
    fn rejects_bad_headers() {
        let probe = || {
            HttpProbe::new(
                "POST",
                "http://x/",
                ExpectedStatus::Success,
                Duration::from_secs(1),
            )
            .unwrap()
        };
        let err = probe()
            .with_request(&[("bad name".into(), "v".into())], None)
            .unwrap_err();
        assert!(err.contains("not a valid header name"), "{err}");
        let err = probe()
            .with_request(&[("x-a".into(), "line\nbreak".into())], None)
            .unwrap_err();
        assert!(err.contains("header `x-a`"), "{err}");
    }

    #[test]
    fn expected_status_matches() {
        assert!(ExpectedStatus::Success.accepts(StatusCode::NO_CONTENT));
        assert!(!ExpectedStatus::Success.accepts(StatusCode::SERVICE_UNAVAILABLE));
        assert!(ExpectedStatus::Exact(503).accepts(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!ExpectedStatus::Exact(200).accepts(StatusCode::CREATED));
    }

    #[tokio::test]
    async fn a_closed_port_fails_with_the_reason() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = format!("http://127.0.0.1:{port}/health");
        let probe =
            HttpProbe::new("get", &url, ExpectedStatus::Success, Duration::from_secs(2)).unwrap();
        assert_eq!(probe.describe(), format!("GET {url} expecting 2xx"));
        let check = probe.check().await;
        assert!(!check.success);
        assert!(check.detail.contains("refused"), "{}", check.detail);
    }

    /// A real HTTP server on a free port that answers 200 only when the request carries
    /// `x-token: s3cret` and the body `{"item": 1}` as JSON, 400 otherwise.
    async fn checking_server() -> std::net::SocketAddr {
        use http_body_util::Full;
        use hyper::server::conn::http1;
        use hyper::service::service_fn;
        use hyper_util::rt::TokioIo;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let service =
                        service_fn(|request: Request<hyper::body::Incoming>| async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await.unwrap().to_bytes();
                            let header = |name: &str| {
                                parts
                                    .headers
                                    .get(name)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_string()
                            };
                            let ok = parts.method == Method::POST
                                && header("x-token") == "s3cret"
                                && header("content-type") == "application/json"
                                && header("user-agent") == "pfi-probe"
                                && &body[..] == br#"{"item": 1}"#;
                            let status = if ok { 200 } else { 400 };
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from(format!(
                                        "{:?} {:?}",
                                        parts.headers, body
                                    ))))
                                    .unwrap(),
                            )
                        });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        address
    }

    #[tokio::test]
    async fn sends_the_headers_and_the_body() {
        let address = checking_server().await;
        let url = format!("http://{address}/orders");
        let timeout = Duration::from_secs(2);
        let probe = HttpProbe::new("post", &url, ExpectedStatus::Success, timeout)
            .unwrap()
            .with_request(
                &[("X-Token".into(), "s3cret".into())],
                Some(r#"{"item": 1}"#),
            )
            .unwrap();
        let check = probe.check().await;
        assert!(check.success, "{}", check.detail);
        let wrong = HttpProbe::new("post", &url, ExpectedStatus::Success, timeout)
            .unwrap()
            .with_request(&[("X-Token".into(), "nope".into())], Some(r#"{"item": 1}"#))
            .unwrap();
        let check = wrong.check().await;
        assert!(!check.success);
        assert!(check.detail.contains("400"), "{}", check.detail);
        let bare = HttpProbe::new("post", &url, ExpectedStatus::Success, timeout).unwrap();
        assert!(!bare.check().await.success);
    }

    #[tokio::test]
    async fn a_body_expectation_reads_the_response() {
        let address = checking_server().await;
        let url = format!("http://{address}/orders");
        let timeout = Duration::from_secs(2);
        let probe = |text: &str| {
            HttpProbe::new("post", &url, ExpectedStatus::Exact(400), timeout)
                .unwrap()
                .expecting_body(text)
        };
        // The server echoes the request's headers in its body.
        let check = probe("pfi-probe").check().await;
        assert!(check.success, "{}", check.detail);
        let check = probe("no such text").check().await;
        assert!(!check.success);
        assert!(
            check.detail.contains("lacks \"no such text\""),
            "{}",
            check.detail
        );
        assert!(contains(b"abc", b"") && contains(b"abc", b"bc") && !contains(b"ab", b"abc"));
    }
}
