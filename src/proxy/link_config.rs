//! What a caller asks for when it adds a link.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// How the proxy treats the bytes of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// A transparent TCP proxy: stream toxics only.
    #[default]
    Tcp,
    /// An HTTP/1.1 reverse proxy: stream toxics on the client side, plus per-request toxics.
    Http,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Tcp => "tcp",
            LinkKind::Http => "http",
        }
    }
}

impl fmt::Display for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LinkKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(LinkKind::Tcp),
            "http" => Ok(LinkKind::Http),
            _ => Err(format!("unknown link kind {s:?}: use \"tcp\" or \"http\"")),
        }
    }
}

/// Where a link listens.
#[derive(Debug)]
pub enum Listen {
    /// Bind this address (port 0 picks a free port).
    Addr(SocketAddr),
    /// Use a listener the caller already bound (tests bind `127.0.0.1:0`).
    Bound(tokio::net::TcpListener),
}

impl From<SocketAddr> for Listen {
    fn from(addr: SocketAddr) -> Self {
        Listen::Addr(addr)
    }
}

impl From<tokio::net::TcpListener> for Listen {
    fn from(listener: tokio::net::TcpListener) -> Self {
        Listen::Bound(listener)
    }
}

/// A link to add: clients connect to `listen`, the proxy connects to `upstream`.
#[derive(Debug)]
pub struct LinkConfig {
    /// Unique name of the link (Toxiproxy's proxy name).
    pub name: String,
    pub listen: Listen,
    /// `host:port` of the real service; resolved at each new connection.
    pub upstream: String,
    pub kind: LinkKind,
    /// Whether the link accepts connections right away (Toxiproxy's `enabled`).
    pub enabled: bool,
}

impl LinkConfig {
    /// An enabled TCP link.
    pub fn tcp(
        name: impl Into<String>,
        listen: impl Into<Listen>,
        upstream: impl Into<String>,
    ) -> Self {
        LinkConfig {
            name: name.into(),
            listen: listen.into(),
            upstream: upstream.into(),
            kind: LinkKind::Tcp,
            enabled: true,
        }
    }

    /// An enabled HTTP link.
    pub fn http(
        name: impl Into<String>,
        listen: impl Into<Listen>,
        upstream: impl Into<String>,
    ) -> Self {
        LinkConfig {
            kind: LinkKind::Http,
            ..LinkConfig::tcp(name, listen, upstream)
        }
    }
}

/// The state of a link as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkInfo {
    pub name: String,
    pub kind: LinkKind,
    /// The bound address while enabled; the address it will bind otherwise.
    pub listen: SocketAddr,
    pub upstream: String,
    pub enabled: bool,
    pub toxics: Vec<super::ToxicInfo>,
}
