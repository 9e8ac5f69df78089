//! Errors of the proxy's library API. Each message says what went wrong and what to do.

use std::fmt;
use std::io;
use std::net::SocketAddr;

#[derive(Debug)]
pub enum ProxyError {
    LinkNotFound(String),
    LinkExists(String),
    ToxicNotFound {
        link: String,
        toxic: String,
    },
    ToxicExists {
        link: String,
        toxic: String,
    },
    /// The listen address is taken by another process or link.
    AddressInUse(SocketAddr),
    /// Binding the listen address failed for another reason.
    Bind {
        addr: SocketAddr,
        source: io::Error,
    },
    /// A link or toxic definition that cannot work (bad toxicity, HTTP toxic on a TCP link).
    Invalid(String),
}

impl ProxyError {
    pub(crate) fn bind(addr: SocketAddr, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::AddrInUse {
            ProxyError::AddressInUse(addr)
        } else {
            ProxyError::Bind { addr, source }
        }
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::LinkNotFound(name) => {
                write!(
                    f,
                    "proxy not found: no link named {name:?} (list them with GET /proxies)"
                )
            }
            ProxyError::LinkExists(name) => write!(
                f,
                "proxy already exists: a link named {name:?} exists; delete it first or pick another name"
            ),
            ProxyError::ToxicNotFound { link, toxic } => write!(
                f,
                "toxic not found: link {link:?} has no toxic named {toxic:?} (list them with GET /proxies/{link}/toxics)"
            ),
            ProxyError::ToxicExists { link, toxic } => write!(
                f,
                "toxic already exists: link {link:?} already has a toxic named {toxic:?}; update it or pick another name"
            ),
            ProxyError::AddressInUse(addr) => write!(
                f,
                "listen address {addr} is already in use; pick another port (or port 0 for a free one) or stop what holds it"
            ),
            ProxyError::Bind { addr, source } => {
                write!(f, "cannot listen on {addr}: {source}")
            }
            ProxyError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProxyError::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_in_use_names_the_address() {
        let addr: SocketAddr = "127.0.0.1:8474".parse().unwrap();
        let err = ProxyError::bind(addr, io::Error::from(io::ErrorKind::AddrInUse));
        assert!(matches!(err, ProxyError::AddressInUse(_)));
        assert!(err.to_string().contains("127.0.0.1:8474"));
        let other = ProxyError::bind(addr, io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(
            other
                .to_string()
                .starts_with("cannot listen on 127.0.0.1:8474")
        );
    }
}
