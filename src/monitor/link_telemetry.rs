//! Telemetry of a proxied link from the fault proxy's counters, recorded under the language's
//! link metric names. Each sample covers the interval since the previous one:
//!
//! | series | value |
//! |---|---|
//! | `<link>.latency` | mean request latency seen by the proxy's client side, ms (HTTP links; no sample without requests) |
//! | `<link>.bytes` | bytes delivered, both directions, during the interval |
//! | `<link>.connections` | connections open now |
//! | `<link>.requests` | HTTP requests (TCP links: connections accepted) during the interval |
//! | `<link>.errors` | injected faults, refused connections and upstream failures during the interval |
//! | `<link>.error_rate` | `errors / requests` of the interval (no sample without requests) |
//!
//! `bytes`, `requests` and `errors` are counts per interval: a threshold sums them over the
//! run (or over each window), see `run::threshold_verdict`.

use super::metrics_store::MetricsStore;
use crate::proxy::{LinkStats, ProxyServer};

/// The counters of one reading, the base for the next interval's deltas.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Totals {
    bytes: u64,
    requests: u64,
    errors: u64,
    latency_count: u64,
    latency_sum_ms: f64,
}

impl Totals {
    fn of(stats: &LinkStats) -> Totals {
        let http = stats.requests_total > 0 || stats.request_latency.count() > 0;
        Totals {
            bytes: stats.bytes_upstream + stats.bytes_downstream,
            requests: if http {
                stats.requests_total
            } else {
                stats.connections_total
            },
            errors: stats.injected_errors + stats.connections_refused + stats.upstream_errors,
            latency_count: stats.request_latency.count(),
            latency_sum_ms: stats.request_latency.sum_ms,
        }
    }
}

/// Records one link's counters at each `sample`.
pub struct LinkTelemetry {
    link: String,
    previous: Option<Totals>,
}

impl LinkTelemetry {
    pub fn new(link: impl Into<String>) -> LinkTelemetry {
        LinkTelemetry {
            link: link.into(),
            previous: None,
        }
    }

    /// Reads the link's counters from `proxy` and records them; false when the link is gone.
    pub fn sample(&mut self, proxy: &ProxyServer, store: &MetricsStore) -> bool {
        match proxy.stats(&self.link) {
            Ok(stats) => {
                self.record(&stats, store);
                true
            }
            Err(_) => false,
        }
    }

    /// Records a snapshot of the link's counters.
    pub fn record(&mut self, stats: &LinkStats, store: &MetricsStore) {
        let now = Totals::of(stats);
        let at = store.now();
        let name = |metric: &str| format!("{}.{metric}", self.link);
        store.record(&name("connections"), at, stats.connections_active as f64);
        // Counters only go up; a reset link (never during a run) starts a new base.
        if let Some(before) = self.previous.filter(|b| {
            now.bytes >= b.bytes && now.requests >= b.requests && now.errors >= b.errors
        }) {
            let requests = (now.requests - before.requests) as f64;
            let errors = (now.errors - before.errors) as f64;
            store.record(&name("bytes"), at, (now.bytes - before.bytes) as f64);
            store.record(&name("requests"), at, requests);
            store.record(&name("errors"), at, errors);
            if requests > 0.0 {
                store.record(&name("error_rate"), at, (errors / requests).min(1.0));
            }
            let count = now.latency_count.saturating_sub(before.latency_count);
            if count > 0 {
                let sum = now.latency_sum_ms - before.latency_sum_ms;
                store.record(&name("latency"), at, (sum / count as f64).max(0.0));
            }
        }
        self.previous = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Selection;
    use crate::proxy::LinkConfig;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    #[tokio::test]
    async fn counts_a_tcp_link_through_the_real_proxy() {
        // An echo server behind a real proxy link.
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_addr = upstream.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = upstream.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let proxy = ProxyServer::new(1);
        let info = proxy
            .add_link(LinkConfig::tcp(
                "echo",
                "127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap(),
                upstream_addr.to_string(),
            ))
            .await
            .unwrap();
        let store = MetricsStore::new();
        let mut telemetry = LinkTelemetry::new("echo");
        assert!(telemetry.sample(&proxy, &store));
        for _ in 0..3 {
            let mut client = TcpStream::connect(info.listen).await.unwrap();
            client.write_all(b"hello").await.unwrap();
            let mut echo = [0u8; 5];
            client.read_exact(&mut echo).await.unwrap();
        }
        // Let the proxy see the connections close.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(telemetry.sample(&proxy, &store));
        let last = |metric: &str| {
            store
                .series_summary(&format!("echo.{metric}"), &Selection::all())
                .map(|s| s.last)
        };
        assert_eq!(last("requests"), Some(3.0));
        assert_eq!(last("bytes"), Some(30.0));
        assert_eq!(last("errors"), Some(0.0));
        assert_eq!(last("error_rate"), Some(0.0));
        assert_eq!(last("connections"), Some(0.0));
        assert_eq!(last("latency"), None, "a tcp link has no request latency");
        assert!(!LinkTelemetry::new("missing").sample(&proxy, &store));
        proxy.shutdown().await;
    }
}
