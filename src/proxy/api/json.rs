//! The JSON shapes of the REST API: Toxiproxy 2.x's, plus pfi's optional `kind`.

use super::api_error::ApiError;
use crate::proxy::{LinkInfo, LinkKind, ToxicInfo};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::SocketAddr;

/// A proxy as Toxiproxy shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyJson {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
    pub toxics: Vec<ToxicJson>,
    /// pfi: `tcp` or `http`.
    pub kind: LinkKind,
}

impl From<LinkInfo> for ProxyJson {
    fn from(info: LinkInfo) -> Self {
        ProxyJson {
            name: info.name,
            listen: info.listen.to_string(),
            upstream: info.upstream,
            enabled: info.enabled,
            toxics: info.toxics.into_iter().map(ToxicJson::from).collect(),
            kind: info.kind,
        }
    }
}

/// A toxic as Toxiproxy shows it (same field order).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToxicJson {
    pub attributes: Value,
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub stream: String,
    pub toxicity: f64,
}

impl From<ToxicInfo> for ToxicJson {
    fn from(info: ToxicInfo) -> Self {
        ToxicJson {
            attributes: info.attributes,
            name: info.name,
            type_name: info.type_name,
            stream: info.stream.as_str().to_string(),
            toxicity: info.toxicity,
        }
    }
}

/// The body of `POST /proxies`, `POST /proxies/{name}` and each entry of `/populate`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProxyInput {
    pub name: Option<String>,
    pub listen: Option<String>,
    pub upstream: Option<String>,
    pub enabled: Option<bool>,
    pub kind: Option<String>,
}

/// The body of `POST /proxies/{name}/toxics` and of a toxic update.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ToxicInput {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    pub stream: Option<String>,
    pub toxicity: Option<f64>,
    pub attributes: Option<Value>,
}

/// Parses a request body, explaining what was expected on failure.
pub fn parse<'a, T: Deserialize<'a>>(body: &'a [u8], example: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_body(format!("{err}; expected JSON like {example}")))
}

pub const PROXY_EXAMPLE: &str =
    r#"{"name": "redis", "listen": "127.0.0.1:26379", "upstream": "127.0.0.1:6379"}"#;
pub const TOXIC_EXAMPLE: &str =
    r#"{"type": "latency", "stream": "downstream", "attributes": {"latency": 100, "jitter": 10}}"#;

/// Resolves a listen address the way Toxiproxy accepts it: `host:port`, `[v6]:port`,
/// `:port` (all interfaces) or empty (`127.0.0.1:0`). IPv4 is preferred for names.
pub async fn resolve_listen(listen: Option<&str>) -> Result<SocketAddr, ApiError> {
    let text = listen.map(str::trim).unwrap_or("");
    if text.is_empty() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], 0)));
    }
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_string()
    };
    if let Ok(addr) = full.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bad = || {
        ApiError::bad_body(format!(
            "listen address {text:?} is not host:port (e.g. 127.0.0.1:26379)"
        ))
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(full.as_str())
        .await
        .map_err(|_| bad())?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(bad)
}

/// Checks that an upstream is `host:port`.
pub fn check_upstream(upstream: &str) -> Result<(), ApiError> {
    let ok = upstream
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_body(format!(
            "upstream {upstream:?} is not host:port (e.g. 127.0.0.1:6379)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::Stream;
    use serde_json::json;

    #[test]
    fn toxics_serialise_in_toxiproxy_field_order() {
        let t = ToxicJson::from(ToxicInfo {
            name: "latency_downstream".into(),
            type_name: "latency".into(),
            stream: Stream::Downstream,
            toxicity: 1.0,
            attributes: json!({"latency": 100, "jitter": 0}),
        });
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"attributes":{"jitter":0,"latency":100},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1.0}"#
        );
    }

    #[tokio::test]
    async fn listen_addresses_resolve_like_toxiproxy() {
        assert_eq!(
            resolve_listen(None).await.unwrap(),
            "127.0.0.1:0".parse().unwrap()
        );
        assert_eq!(
            resolve_listen(Some(":8080")).await.unwrap(),
            "0.0.0.0:8080".parse().unwrap()
        );
        assert_eq!(
            resolve_listen(Some("[::1]:9")).await.unwrap(),
            "[::1]:9".parse().unwrap()
        );
        assert_eq!(
            resolve_listen(Some("localhost:0"))
                .await
                .unwrap()
                .ip()
                .to_string(),
            "127.0.0.1"
        );
        assert_eq!(
            resolve_listen(Some("nonsense")).await.unwrap_err().status,
            400
        );
    }

    #[test]
    fn upstreams_need_a_port() {
        assert!(check_upstream("db.internal:5432").is_ok());
        assert!(check_upstream("[::1]:80").is_ok());
        assert!(check_upstream("db.internal").is_err());
        assert!(check_upstream(":80").is_err());
        assert!(check_upstream("h:99999").is_err());
    }
}
