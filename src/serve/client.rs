//! `Client`: the HTTP client of `pfi run --server` and `pfi gate --server` (plain `http://`;
//! put a TLS-terminating proxy in front of a server reached over a network).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::fmt;

/// The server could not be reached or answered something that is not the API.
#[derive(Debug)]
pub struct ClientError(pub String);

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClientError {}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseMessage {
    pub event: String,
    pub data: String,
}

pub struct Client {
    base: String,
    token: Option<String>,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Client {
    /// A client of the server at `url` (`http://host:port`), sending `token` if given.
    pub fn new(url: &str, token: Option<String>) -> Result<Client, ClientError> {
        let base = url.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            return Err(ClientError(format!(
                "`{url}` is not an http:// URL of a pfi server"
            )));
        }
        base.parse::<hyper::Uri>()
            .map_err(|e| ClientError(format!("`{url}` is not a URL: {e}")))?;
        Ok(Client {
            base,
            token,
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        })
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<hyper::Response<Incoming>, ClientError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(value) => {
                request = request.header("content-type", "application/json");
                Full::new(Bytes::from(value.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request
            .body(body)
            .map_err(|e| ClientError(format!("cannot build the request: {e}")))?;
        self.http
            .request(request)
            .await
            .map_err(|e| ClientError(format!("cannot reach {}: {e}", self.base)))
    }

    /// Sends a request; returns the status and the JSON body (`null` when it is not JSON).
    pub async fn json(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ClientError> {
        let response = self.send(method, path, body).await?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError(format!("the server's answer broke off: {e}")))?
            .to_bytes();
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// Follows an event stream, handing each event to `on`, until the server closes it or
    /// `on` returns false.
    pub async fn events(
        &self,
        path: &str,
        mut on: impl FnMut(SseMessage) -> bool,
    ) -> Result<(), ClientError> {
        let response = self.send("GET", path, None).await?;
        if !response.status().is_success() {
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return Err(ClientError(format!(
                "the event stream was refused ({status}): {}",
                String::from_utf8_lossy(&bytes)
            )));
        }
        let mut body = response.into_body();
        let mut buffer = String::new();
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| ClientError(format!("the event stream broke off: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buffer.push_str(&String::from_utf8_lossy(&data));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                if let Some(message) = parse_block(&block) {
                    if !on(message) {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }
}

/// One SSE block (`event:`, `data:` lines); comments and keep-alives are `None`.
fn parse_block(block: &str) -> Option<SseMessage> {
    let mut event = String::from("message");
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            event = value.trim_start().to_string();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    if data.is_empty() {
        return None;
    }
    Some(SseMessage {
        event,
        data: data.join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sse_blocks() {
        assert_eq!(
            parse_block("event: end\ndata: {\"a\":1}\n\n"),
            Some(SseMessage {
                event: "end".into(),
                data: "{\"a\":1}".into()
            })
        );
        assert_eq!(parse_block(":\n\n"), None);
        assert!(Client::new("https://x", None).is_err());
    }
}
