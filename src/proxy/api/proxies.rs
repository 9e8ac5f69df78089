//! The proxy endpoints: `/proxies`, `/proxies/{name}`, `/populate`, `/reset`.

use super::Reply;
use super::api_error::ApiError;
use super::json::{self, PROXY_EXAMPLE, ProxyInput, ProxyJson};
use crate::proxy::{LinkConfig, LinkInfo, LinkKind, LinkUpdate, Listen, ProxyServer};
use hyper::StatusCode;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;

pub async fn index(proxy: &ProxyServer) -> Result<Reply, ApiError> {
    let all: BTreeMap<String, ProxyJson> = proxy
        .list()
        .into_iter()
        .map(|info| (info.name.clone(), ProxyJson::from(info)))
        .collect();
    Ok(Reply::json(StatusCode::OK, &all))
}

pub async fn show(proxy: &ProxyServer, name: &str) -> Result<Reply, ApiError> {
    Ok(Reply::json(
        StatusCode::OK,
        &ProxyJson::from(proxy.link(name)?),
    ))
}

/// A proxy definition checked field by field.
struct Checked {
    name: String,
    listen: SocketAddr,
    upstream: String,
    enabled: bool,
    kind: LinkKind,
}

async fn check(input: ProxyInput, position: Option<usize>) -> Result<Checked, ApiError> {
    let at = position.map_or(String::new(), |i| format!(" at proxy {}", i + 1));
    let name = input
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::missing_field(&format!("name{at}"), "a unique proxy name"))?;
    let upstream = input
        .upstream
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            ApiError::missing_field(&format!("upstream{at}"), "host:port of the real service")
        })?;
    json::check_upstream(&upstream)?;
    let kind = match input.kind.as_deref() {
        None => LinkKind::Tcp,
        Some(kind) => kind.parse().map_err(ApiError::bad_body)?,
    };
    Ok(Checked {
        name,
        listen: json::resolve_listen(input.listen.as_deref()).await?,
        upstream,
        enabled: input.enabled.unwrap_or(true),
        kind,
    })
}

async fn create_checked(proxy: &ProxyServer, c: Checked) -> Result<LinkInfo, ApiError> {
    let config = LinkConfig {
        name: c.name,
        listen: Listen::Addr(c.listen),
        upstream: c.upstream,
        kind: c.kind,
        enabled: c.enabled,
    };
    Ok(proxy.add_link(config).await?)
}

pub async fn create(proxy: &ProxyServer, body: &[u8]) -> Result<Reply, ApiError> {
    let input: ProxyInput = json::parse(body, PROXY_EXAMPLE)?;
    let checked = check(input, None).await?;
    let info = create_checked(proxy, checked).await?;
    Ok(Reply::json(StatusCode::CREATED, &ProxyJson::from(info)))
}

pub async fn update(proxy: &ProxyServer, name: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let current = proxy.link(name)?;
    let input: ProxyInput = json::parse(body, r#"{"enabled": false}"#)?;
    if let Some(upstream) = &input.upstream {
        json::check_upstream(upstream)?;
    }
    let listen = match &input.listen {
        Some(text) => Some(json::resolve_listen(Some(text)).await?),
        None => None,
    };
    let update = LinkUpdate {
        listen: listen.filter(|l| !same_listen(*l, current.listen)),
        upstream: input.upstream,
        enabled: input.enabled,
    };
    let info = proxy.update_link(name, update).await?;
    Ok(Reply::json(StatusCode::OK, &ProxyJson::from(info)))
}

pub async fn delete(proxy: &ProxyServer, name: &str) -> Result<Reply, ApiError> {
    proxy.remove_link(name).await?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

pub async fn reset(proxy: &ProxyServer) -> Result<Reply, ApiError> {
    proxy.reset().await?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// A requested listen address matches a bound one if it is equal, or asks for port 0 on
/// the same IP (repeating a populate with port 0 must not move the proxy).
fn same_listen(requested: SocketAddr, bound: SocketAddr) -> bool {
    requested == bound || (requested.port() == 0 && requested.ip() == bound.ip())
}

/// `POST /populate`: creates or replaces each proxy of a JSON array. Every entry is checked
/// before anything changes; a proxy that exists with the same listen and upstream is kept
/// (with its toxics), one that differs is replaced.
pub async fn populate(proxy: &ProxyServer, body: &[u8]) -> Result<Reply, ApiError> {
    match populate_all(proxy, body).await {
        Ok(done) => Ok(Reply::json(StatusCode::CREATED, &json!({"proxies": done}))),
        Err(Populated { error, done }) => {
            let body = json!({"error": error.message, "status": error.status, "proxies": done});
            Ok(Reply::json(error.status_code(), &body))
        }
    }
}

/// A populate that stopped at an error, with the proxies it had already set up.
#[derive(Debug)]
pub struct Populated {
    pub error: ApiError,
    pub done: Vec<ProxyJson>,
}

/// Creates or replaces every proxy of a Toxiproxy-style JSON array (`POST /populate`, and
/// `pfi proxy serve --config`). Bad input changes nothing; an address in use stops the
/// work at that proxy.
pub async fn populate_all(proxy: &ProxyServer, body: &[u8]) -> Result<Vec<ProxyJson>, Populated> {
    let fail = |error| Populated {
        error,
        done: Vec::new(),
    };
    let inputs: Vec<ProxyInput> = json::parse(body, &format!("[{PROXY_EXAMPLE}]")).map_err(fail)?;
    let mut checked = Vec::with_capacity(inputs.len());
    let mut names = HashSet::new();
    for (i, input) in inputs.into_iter().enumerate() {
        let c = check(input, Some(i)).await.map_err(fail)?;
        if !names.insert(c.name.clone()) {
            let why = format!("duplicate proxy name {:?} at proxy {}", c.name, i + 1);
            return Err(fail(ApiError::bad_body(why)));
        }
        checked.push(c);
    }
    let mut done: Vec<ProxyJson> = Vec::new();
    for c in checked {
        match apply_one(proxy, c).await {
            Ok(info) => done.push(ProxyJson::from(info)),
            Err(error) => return Err(Populated { error, done }),
        }
    }
    Ok(done)
}

async fn apply_one(proxy: &ProxyServer, c: Checked) -> Result<LinkInfo, ApiError> {
    if let Ok(existing) = proxy.link(&c.name) {
        let unchanged = same_listen(c.listen, existing.listen)
            && c.upstream == existing.upstream
            && c.kind == existing.kind;
        if unchanged {
            if existing.enabled == c.enabled {
                return Ok(existing);
            }
            return Ok(proxy.set_enabled(&c.name, c.enabled).await?);
        }
        proxy.remove_link(&c.name).await?;
    }
    create_checked(proxy, c).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_matches_any_port_on_the_same_ip() {
        let bound: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert!(same_listen("127.0.0.1:0".parse().unwrap(), bound));
        assert!(same_listen(bound, bound));
        assert!(!same_listen("127.0.0.1:4001".parse().unwrap(), bound));
        assert!(!same_listen("0.0.0.0:0".parse().unwrap(), bound));
    }
}
