//! `GET /metrics`: the counters of every link in Prometheus' text format.
//!
//! pfi's own metrics are named `pfi_proxy_*`; Toxiproxy's `toxiproxy_proxy_sent_bytes_total`
//! is emitted too, with its labels, so existing dashboards keep working.

use super::histogram::{BUCKET_BOUNDS_MS, HistogramSnapshot};
use super::stats::{LinkStats, ToxicStats};
use std::fmt::Write;

/// Name, type, help and reader of a per-link metric.
type LinkMetric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&LinkStats) -> u64,
);
/// Name, help and reader of a per-toxic counter.
type ToxicMetric = (&'static str, &'static str, fn(&ToxicStats) -> u64);

/// Renders every link's counters.
pub fn render(links: &[LinkStats]) -> String {
    let mut out = String::new();
    let link_metrics: [LinkMetric; 8] = [
        (
            "pfi_proxy_connections_total",
            "counter",
            "Connections accepted.",
            |s| s.connections_total,
        ),
        (
            "pfi_proxy_connections_active",
            "gauge",
            "Connections open now.",
            |s| s.connections_active,
        ),
        (
            "pfi_proxy_connections_refused_total",
            "counter",
            "Connections refused by a down toxic.",
            |s| s.connections_refused,
        ),
        (
            "pfi_proxy_connections_redirected_total",
            "counter",
            "Connections forwarded inside the kernel while their link had no toxic.",
            |s| s.connections_redirected,
        ),
        (
            "pfi_proxy_connections_in_kernel",
            "gauge",
            "Connections forwarded inside the kernel now.",
            |s| s.connections_in_kernel,
        ),
        (
            "pfi_proxy_upstream_errors_total",
            "counter",
            "Connections or requests that could not reach the upstream.",
            |s| s.upstream_errors,
        ),
        (
            "pfi_proxy_requests_total",
            "counter",
            "HTTP requests received.",
            |s| s.requests_total,
        ),
        (
            "pfi_proxy_injected_errors_total",
            "counter",
            "Faults injected by toxics.",
            |s| s.injected_errors,
        ),
    ];
    for (name, kind, help, value) in link_metrics {
        header(&mut out, name, kind, help);
        for s in links {
            let _ = writeln!(out, "{name}{{proxy=\"{}\"}} {}", escape(&s.name), value(s));
        }
    }

    header(
        &mut out,
        "pfi_proxy_sent_bytes_total",
        "counter",
        "Bytes delivered, by direction.",
    );
    for s in links {
        for (direction, bytes) in [
            ("upstream", s.bytes_upstream),
            ("downstream", s.bytes_downstream),
        ] {
            let _ = writeln!(
                out,
                "pfi_proxy_sent_bytes_total{{proxy=\"{}\",direction=\"{direction}\"}} {bytes}",
                escape(&s.name)
            );
        }
    }
    header(
        &mut out,
        "toxiproxy_proxy_sent_bytes_total",
        "counter",
        "Bytes sent on a proxy link, by direction (Toxiproxy's name).",
    );
    for s in links {
        for (direction, bytes) in [
            ("upstream", s.bytes_upstream),
            ("downstream", s.bytes_downstream),
        ] {
            let _ = writeln!(
                out,
                "toxiproxy_proxy_sent_bytes_total{{direction=\"{direction}\",listener=\"{}\",proxy=\"{}\",upstream=\"{}\"}} {bytes}",
                escape(&s.listen),
                escape(&s.name),
                escape(&s.upstream)
            );
        }
    }

    header(
        &mut out,
        "pfi_proxy_request_duration_seconds",
        "histogram",
        "HTTP request latency seen by clients.",
    );
    for s in links {
        histogram(
            &mut out,
            "pfi_proxy_request_duration_seconds",
            &format!("proxy=\"{}\"", escape(&s.name)),
            &s.request_latency,
        );
    }

    let toxic_metrics: [ToxicMetric; 2] = [
        (
            "pfi_proxy_toxic_applied_total",
            "Connections or requests a toxic applied to.",
            |t| t.applied,
        ),
        (
            "pfi_proxy_toxic_injected_total",
            "Faults a toxic injected.",
            |t| t.injected,
        ),
    ];
    for (name, help, value) in toxic_metrics {
        header(&mut out, name, "counter", help);
        for s in links {
            for t in &s.toxics {
                let _ = writeln!(out, "{name}{{{}}} {}", toxic_labels(s, t), value(t));
            }
        }
    }
    header(
        &mut out,
        "pfi_proxy_toxic_delay_seconds",
        "histogram",
        "Delays added by a toxic.",
    );
    for s in links {
        for t in &s.toxics {
            histogram(
                &mut out,
                "pfi_proxy_toxic_delay_seconds",
                &toxic_labels(s, t),
                &t.delay,
            );
        }
    }
    out
}

fn toxic_labels(s: &LinkStats, t: &ToxicStats) -> String {
    format!(
        "proxy=\"{}\",toxic=\"{}\",type=\"{}\"",
        escape(&s.name),
        escape(&t.name),
        escape(&t.type_name)
    )
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &HistogramSnapshot) {
    let mut cumulative = 0;
    for (i, count) in h.counts.iter().enumerate() {
        cumulative += count;
        let le = BUCKET_BOUNDS_MS
            .get(i)
            .map_or_else(|| "+Inf".to_string(), |ms| format!("{}", ms / 1_000.0));
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum_ms / 1_000.0);
    let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
}

/// Escapes a label value (backslash, quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::LinkKind;
    use crate::proxy::histogram::Histogram;
    use std::time::Duration;

    #[test]
    fn renders_counters_histograms_and_escapes_labels() {
        let h = Histogram::default();
        h.record(Duration::from_millis(3));
        let stats = LinkStats {
            name: "we\"ird".into(),
            kind: LinkKind::Http,
            listen: "127.0.0.1:1".into(),
            upstream: "127.0.0.1:2".into(),
            connections_total: 4,
            connections_active: 1,
            connections_refused: 0,
            connections_redirected: 0,
            connections_in_kernel: 0,
            upstream_errors: 0,
            bytes_upstream: 10,
            bytes_downstream: 20,
            requests_total: 3,
            injected_errors: 1,
            request_latency: h.snapshot(),
            toxics: vec![ToxicStats {
                name: "err".into(),
                type_name: "http_error".into(),
                active: true,
                applied: 1,
                injected: 1,
                delay: Histogram::default().snapshot(),
            }],
        };
        let text = render(&[stats]);
        assert!(text.contains("pfi_proxy_connections_total{proxy=\"we\\\"ird\"} 4"));
        assert!(text.contains(
            "pfi_proxy_sent_bytes_total{proxy=\"we\\\"ird\",direction=\"downstream\"} 20"
        ));
        assert!(text.contains(
            "pfi_proxy_request_duration_seconds_bucket{proxy=\"we\\\"ird\",le=\"0.005\"} 1"
        ));
        assert!(text.contains("pfi_proxy_request_duration_seconds_count{proxy=\"we\\\"ird\"} 1"));
        assert!(text.contains("pfi_proxy_toxic_injected_total{proxy=\"we\\\"ird\",toxic=\"err\",type=\"http_error\"} 1"));
        assert!(text.contains(
            "toxiproxy_proxy_sent_bytes_total{direction=\"upstream\",listener=\"127.0.0.1:1\""
        ));
    }
}
