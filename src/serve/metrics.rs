//! `Metrics`: pfi's own Prometheus metrics, served at `/metrics` in the text format: runs by
//! status, runs running and queued, predictions and mitigations recorded, and every API
//! request's count and latency by route.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
pub struct Metrics {
    pub submitted: AtomicU64,
    pub running: AtomicI64,
    pub queued: AtomicI64,
    pub predictions: AtomicU64,
    pub mitigations: AtomicU64,
    finished: Mutex<BTreeMap<String, u64>>,
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub fn run_finished(&self, status: &str, predictions: usize, mitigations: usize) {
        *lock(&self.finished).entry(status.to_string()).or_default() += 1;
        self.predictions
            .fetch_add(predictions as u64, Ordering::Relaxed);
        self.mitigations
            .fetch_add(mitigations as u64, Ordering::Relaxed);
    }

    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        *lock(&self.requests)
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let seconds = took.as_secs_f64();
        let mut latency = lock(&self.latency);
        let histogram = latency.entry(route.to_string()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                histogram.counts[i] += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            &mut out,
            "pfi_runs_submitted_total",
            "Runs submitted over the API.",
            self.submitted.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP pfi_runs_finished_total Runs finished, by status.\n\
             # TYPE pfi_runs_finished_total counter"
        );
        for (status, n) in lock(&self.finished).iter() {
            let _ = writeln!(out, "pfi_runs_finished_total{{status=\"{status}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP pfi_runs_running Runs running now.\n# TYPE pfi_runs_running gauge\n\
             pfi_runs_running {}\n# HELP pfi_runs_queued Runs waiting for a run they conflict \
             with.\n# TYPE pfi_runs_queued gauge\npfi_runs_queued {}",
            self.running.load(Ordering::Relaxed),
            self.queued.load(Ordering::Relaxed)
        );
        counter(
            &mut out,
            "pfi_predictions_total",
            "Predictions made by finished runs.",
            self.predictions.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "pfi_mitigations_total",
            "Mitigation firings of finished runs.",
            self.mitigations.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP pfi_api_requests_total API requests, by method, route and status.\n\
             # TYPE pfi_api_requests_total counter"
        );
        for ((method, route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "pfi_api_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP pfi_api_request_duration_seconds API latency, by route.\n\
             # TYPE pfi_api_request_duration_seconds histogram"
        );
        for (route, h) in lock(&self.latency).iter() {
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "pfi_api_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "pfi_api_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 pfi_api_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 pfi_api_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        out
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.submitted.fetch_add(2, Ordering::Relaxed);
        metrics.run_finished("passed", 3, 1);
        metrics.request("GET", "/v1/runs", 200, Duration::from_millis(3));
        let text = metrics.render();
        assert!(text.contains("pfi_runs_submitted_total 2"), "{text}");
        assert!(text.contains("pfi_runs_finished_total{status=\"passed\"} 1"));
        assert!(text.contains("pfi_predictions_total 3"));
        assert!(text.contains(
            "pfi_api_request_duration_seconds_bucket{route=\"/v1/runs\",le=\"0.0025\"} 0"
        ));
        assert!(text.contains(
            "pfi_api_request_duration_seconds_bucket{route=\"/v1/runs\",le=\"0.005\"} 1"
        ));
    }
}
