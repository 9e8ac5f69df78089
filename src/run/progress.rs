//! Live progress of a run: a [`Status`] computed a few times a second from the metrics store
//! (elapsed of total, baseline or faults phase, active faults, each probe's recent p99 and
//! error rate) and handed to a [`ProgressView`]. The views are in `report`: an indicatif bar
//! on stderr that the journal lines print above, and one plain line every few seconds.

use crate::monitor::{MetricsStore, Selection};
use crate::plan::{format_duration, trim};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};

/// How often the status is computed.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);
/// The window of the probe figures shown.
pub const RECENT: Duration = Duration::from_secs(5);

/// Where the run is, at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub elapsed: Duration,
    pub total: Duration,
    /// `baseline` or `faults`.
    pub phase: &'static str,
    pub active_faults: Vec<String>,
    pub probes: Vec<ProbeStatus>,
}

/// A probe's figures over the last [`RECENT`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeStatus {
    pub probe: String,
    pub p99_ms: f64,
    pub error_rate: f64,
}

impl Status {
    /// The status now: `elapsed` since every resource was ready.
    pub fn read(
        store: &MetricsStore,
        probes: &[String],
        elapsed: Duration,
        baseline: Duration,
        total: Duration,
    ) -> Status {
        let recent = Selection::trailing(RECENT);
        Status {
            elapsed: elapsed.min(total),
            total,
            phase: if elapsed < baseline {
                "baseline"
            } else {
                "faults"
            },
            active_faults: store.active_faults(),
            probes: probes
                .iter()
                .filter_map(|probe| {
                    let summary = store.probe_summary(probe, &recent)?;
                    Some(ProbeStatus {
                        probe: probe.clone(),
                        p99_ms: summary.latency.p99.as_secs_f64() * 1000.0,
                        error_rate: summary.error_rate,
                    })
                })
                .collect(),
        }
    }

    /// What the status says after the elapsed time:
    /// `faults | active: freeze | ping p99 1.2ms err 0%`.
    pub fn describe(&self) -> String {
        let mut parts = vec![self.phase.to_string()];
        parts.push(if self.active_faults.is_empty() {
            "no fault active".to_string()
        } else {
            format!("active: {}", self.active_faults.join(", "))
        });
        for probe in &self.probes {
            parts.push(format!(
                "{} p99 {}ms err {}%",
                probe.probe,
                trim(probe.p99_ms),
                trim(probe.error_rate * 100.0)
            ));
        }
        parts.join(" | ")
    }

    /// `3.2s/10s faults | ...`, for plain output.
    pub fn line(&self) -> String {
        format!(
            "{}/{} {}",
            format_duration((self.elapsed.as_secs_f64() * 10.0).round() * 100.0),
            format_duration(self.total.as_secs_f64() * 1000.0),
            self.describe()
        )
    }
}

/// Shows a run's progress.
pub trait ProgressView: Send + Sync {
    fn show(&self, status: &Status);
    /// The run is over (called before the summary is printed).
    fn finish(&self);
    /// Every resource is ready: the run's measurements so far, for a view that draws them
    /// (the service's live charts); called once, before the first `show`.
    fn attach(&self, _source: LiveSource) {}
}

/// A running run's measurements, readable while it runs.
#[derive(Clone)]
pub struct LiveSource {
    pub store: MetricsStore,
    /// When the store's clock started, on the journal's clock (ms since the run began).
    pub store_origin_ms: f64,
    /// When every resource was ready, on the journal's clock.
    pub ready_ms: f64,
}

impl LiveSource {
    /// Every check of every probe of `plan` so far (times on the store's clock).
    pub fn checks(&self, plan: &crate::plan::Plan) -> Vec<super::ProbeChecks> {
        super::run_report::probe_checks(plan, &self.store)
    }

    /// Every telemetry series so far (times on the store's clock).
    pub fn telemetry(&self) -> Vec<super::SeriesPoints> {
        super::run_report::telemetry_points(&self.store)
    }

    /// Now, on the journal's clock.
    pub fn now_ms(&self) -> f64 {
        self.store_origin_ms + self.store.now().as_secs_f64() * 1000.0
    }
}

/// Computes the status every [`PROGRESS_INTERVAL`] until dropped; `zero` is when every
/// resource was ready.
pub async fn drive(
    view: Arc<dyn ProgressView>,
    store: MetricsStore,
    probes: Vec<String>,
    zero: Instant,
    baseline: Duration,
    total: Duration,
) {
    let mut ticks = tokio::time::interval(PROGRESS_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        let status = Status::read(&store, &probes, zero.elapsed(), baseline, total);
        view.show(&status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Observation;

    #[test]
    fn reads_phase_faults_and_recent_probe_figures() {
        let store = MetricsStore::new();
        for (i, ok) in [true, true, true, false].into_iter().enumerate() {
            store.record_observation(
                "ping",
                Observation {
                    at: store.now(),
                    latency: Duration::from_millis(10 * (i as u64 + 1)),
                    success: ok,
                    detail: String::new(),
                },
            );
        }
        store.fault_started("freeze");
        let probes = vec!["ping".to_string(), "silent".to_string()];
        let status = Status::read(
            &store,
            &probes,
            Duration::from_millis(3250),
            Duration::from_secs(1),
            Duration::from_secs(10),
        );
        assert_eq!(status.phase, "faults");
        assert_eq!(status.active_faults, vec!["freeze".to_string()]);
        assert_eq!(status.probes.len(), 1);
        assert_eq!(status.probes[0].error_rate, 0.25);
        assert_eq!(
            status.line(),
            "3.3s/10s faults | active: freeze | ping p99 40ms err 25%"
        );
        let early = Status::read(
            &store,
            &[],
            Duration::from_millis(500),
            Duration::from_secs(1),
            Duration::from_secs(10),
        );
        assert_eq!(early.phase, "baseline");
    }
}
