//! The demo API's counters and their Prometheus text rendering.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// The routes counted separately; everything else is `other`.
pub const ROUTES: [&str; 4] = ["/health", "/checkout", "/metrics", "other"];

#[derive(Debug, Default)]
pub struct ApiStats {
    requests: [AtomicU64; 4],
    errors: [AtomicU64; 4],
}

impl ApiStats {
    /// Counts one answered request; 5xx answers count as errors.
    pub fn count(&self, path: &str, status: u16) {
        let index = ROUTES.iter().position(|route| *route == path).unwrap_or(3);
        self.requests[index].fetch_add(1, Ordering::Relaxed);
        if status >= 500 {
            self.errors[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition of the counters and the memory gauges.
    pub fn render(&self, rss_bytes: u64, leaked_bytes: u64, memory_limit: u64) -> String {
        let mut text = String::new();
        let counters = [
            (
                "pfi_demo_requests_total",
                "Requests answered, by route.",
                &self.requests,
            ),
            (
                "pfi_demo_errors_total",
                "Requests answered with a 5xx status, by route.",
                &self.errors,
            ),
        ];
        for (name, help, values) in counters {
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} counter");
            for (route, value) in ROUTES.iter().zip(values.iter()) {
                let _ = writeln!(
                    text,
                    "{name}{{route=\"{route}\"}} {}",
                    value.load(Ordering::Relaxed)
                );
            }
        }
        let gauges = [
            (
                "pfi_demo_rss_bytes",
                "Resident memory of the process.",
                rss_bytes,
            ),
            (
                "pfi_demo_leaked_bytes",
                "Memory leaked on purpose so far.",
                leaked_bytes,
            ),
            (
                "pfi_demo_memory_limit_bytes",
                "Leaked memory at which requests start failing.",
                memory_limit,
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                text,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_requests_and_server_errors_by_route() {
        let stats = ApiStats::default();
        stats.count("/checkout", 200);
        stats.count("/checkout", 504);
        stats.count("/nope", 404);
        let text = stats.render(1000, 20, 300);
        assert!(
            text.contains("pfi_demo_requests_total{route=\"/checkout\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("pfi_demo_errors_total{route=\"/checkout\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("pfi_demo_requests_total{route=\"other\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("pfi_demo_errors_total{route=\"other\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE pfi_demo_rss_bytes gauge\npfi_demo_rss_bytes 1000\n"),
            "{text}"
        );
        assert!(text.contains("pfi_demo_leaked_bytes 20\n"), "{text}");
    }
}
