//! `AgentClient`: how the run (and `pfi recover`) reach a pfi agent: apply a fault under a
//! lease, renew it, revert it. Every answer must carry the agent's proof of the token
//! (see [`super::proof`]); one that does not is refused.

use super::agent_request::{AppliedResponse, ApplyRequest, FaultSummary, proof};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long one call to an agent may take (a revert may wait for a service to converge).
const CALL_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentError {
    /// The agent could not be reached.
    Unreachable(String),
    /// It refused the token (401).
    Unauthorized,
    /// Its answer did not prove it holds the token.
    NotProven,
    /// It answered an error.
    Refused { status: u16, message: String },
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Unreachable(why) => write!(f, "the agent is unreachable: {why}"),
            AgentError::Unauthorized => f.write_str("the agent refused the token (401)"),
            AgentError::NotProven => {
                f.write_str("the agent's answer does not prove it holds the token; refused")
            }
            AgentError::Refused { status, message } => {
                write!(f, "the agent answered {status}: {message}")
            }
        }
    }
}

impl std::error::Error for AgentError {}

/// A client of one agent. Cheap to clone.
#[derive(Clone)]
pub struct AgentClient {
    base: String,
    token: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

static NONCE: AtomicU64 = AtomicU64::new(0);

fn nonce() -> String {
    let count = NONCE.fetch_add(1, Ordering::Relaxed);
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{time}-{count}", std::process::id())
}

impl AgentClient {
    /// A client of the agent at `address` (`host:port` or `http://host:port`).
    pub fn new(address: &str, token: &str) -> AgentClient {
        let address = address.trim_end_matches('/');
        let base = if address.starts_with("http://") {
            address.to_string()
        } else {
            format!("http://{address}")
        };
        AgentClient {
            base,
            token: token.trim().to_string(),
            http: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub fn address(&self) -> &str {
        &self.base
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<T, AgentError> {
        let nonce = nonce();
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .header("x-pfi-nonce", &nonce);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|err| AgentError::Unreachable(err.to_string()))?;
        let response = tokio::time::timeout(CALL_TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| {
                AgentError::Unreachable(format!("no answer in {} s", CALL_TIMEOUT.as_secs()))
            })?
            .map_err(|err| AgentError::Unreachable(format!("{}: {err}", self.base)))?;
        let status = response.status().as_u16();
        if status == 401 {
            return Err(AgentError::Unauthorized);
        }
        let proven = response
            .headers()
            .get("x-pfi-proof")
            .and_then(|v| v.to_str().ok())
            == Some(proof(&self.token, &nonce).as_str());
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|err| AgentError::Unreachable(err.to_string()))?
            .to_bytes();
        if !proven {
            return Err(AgentError::NotProven);
        }
        if !(200..300).contains(&status) {
            let message = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            return Err(AgentError::Refused { status, message });
        }
        serde_json::from_slice(&bytes).map_err(|err| {
            AgentError::Unreachable(format!("an answer that is not the agent's API: {err}"))
        })
    }

    /// Applies a fault under a lease.
    pub async fn apply(&self, request: &ApplyRequest) -> Result<AppliedResponse, AgentError> {
        let body = serde_json::to_string(request)
            .map_err(|err| AgentError::Unreachable(err.to_string()))?;
        self.call("POST", "/v1/faults", Some(body)).await
    }

    /// Renews a fault's lease.
    pub async fn renew(&self, id: &str) -> Result<(), AgentError> {
        self.call::<serde_json::Value>("POST", &format!("/v1/faults/{}/renew", encode(id)), None)
            .await
            .map(|_| ())
    }

    /// Reverts a fault now; the outcome in a sentence.
    pub async fn revert(&self, id: &str) -> Result<String, AgentError> {
        let answer: serde_json::Value = self
            .call("DELETE", &format!("/v1/faults/{}", encode(id)), None)
            .await?;
        Ok(answer["outcome"].as_str().unwrap_or_default().to_string())
    }

    /// The faults the agent holds.
    pub async fn faults(&self) -> Result<Vec<FaultSummary>, AgentError> {
        self.call("GET", "/v1/faults", None).await
    }

    /// Reverts everything the agent holds; how many.
    pub async fn revert_all(&self) -> Result<u64, AgentError> {
        let answer: serde_json::Value = self.call("POST", "/v1/revert-all", None).await?;
        Ok(answer["reverted"].as_u64().unwrap_or_default())
    }
}

/// Percent-encodes a fault id for a path segment.
fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
