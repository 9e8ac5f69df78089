//! `tcp` probe: success when a TCP connection is accepted.

use super::probe::{BoxFuture, Check, Probe, short_duration};
use std::time::Duration;
use tokio::net::TcpStream;

#[derive(Debug, Clone)]
pub struct TcpProbe {
    /// `host:port`; names are resolved at each check.
    address: String,
    timeout: Duration,
}

impl TcpProbe {
    pub fn new(address: impl Into<String>, timeout: Duration) -> TcpProbe {
        TcpProbe {
            address: address.into(),
            timeout,
        }
    }
}

impl Probe for TcpProbe {
    fn kind(&self) -> &'static str {
        "tcp"
    }

    fn describe(&self) -> String {
        format!("tcp connect to {}", self.address)
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn check(&self) -> BoxFuture<'_, Check> {
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, TcpStream::connect(&self.address)).await {
                Ok(Ok(stream)) => match stream.peer_addr() {
                    Ok(peer) => Check::success(format!("connected to {peer}")),
                    Err(_) => Check::success("connected"),
                },
                Ok(Err(err)) => {
                    Check::failure(format!("cannot connect to {}: {err}", self.address))
                }
                Err(_) => Check::failure(format!(
                    "connect to {} timed out after {}",
                    self.address,
                    short_duration(self.timeout)
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn succeeds_on_a_listener_and_fails_on_a_closed_port() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let probe = TcpProbe::new(address.clone(), Duration::from_secs(2));
        let check = probe.check().await;
        assert!(check.success, "{}", check.detail);
        assert_eq!(check.detail, format!("connected to {address}"));

        drop(listener);
        let check = probe.check().await;
        assert!(!check.success);
        assert!(check.detail.contains("refused"), "{}", check.detail);
    }

    #[tokio::test]
    async fn an_unresolvable_name_fails() {
        let probe = TcpProbe::new("no-such-host.invalid:80", Duration::from_secs(5));
        let check = probe.check().await;
        assert!(!check.success);
        assert!(
            check.detail.contains("no-such-host.invalid"),
            "{}",
            check.detail
        );
    }
}
