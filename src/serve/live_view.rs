//! `LiveView`: what the service keeps of a running run for its live charts. It is the run's
//! progress view: once every resource is ready it holds the run's metrics store, and about
//! once a second it publishes a `sample` on the run's event stream (elapsed, phase, active
//! faults, each probe's recent p99 and error rate), on which the run's page fetches the
//! charts again. The charts are the report's, drawn from the record so far.

use super::live_event::LiveEvent;
use crate::plan::Plan;
use crate::predict::Prediction;
use crate::report::{LiveInput, RunRecord, live_charts};
use crate::run::RunEvent;
use crate::run::progress::{LiveSource, ProgressView, Status};
use serde_json::json;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// How often a `sample` goes out on the event stream.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

pub struct LiveView {
    plan: Plan,
    scenario: String,
    seed: u64,
    source: Mutex<Option<LiveSource>>,
    events: Mutex<Vec<RunEvent>>,
    predictions: Mutex<Vec<Prediction>>,
    last_sample: Mutex<Option<Instant>>,
    stream: broadcast::Sender<LiveEvent>,
}

impl LiveView {
    pub fn new(
        plan: Plan,
        scenario: String,
        seed: u64,
        stream: broadcast::Sender<LiveEvent>,
    ) -> LiveView {
        LiveView {
            plan,
            scenario,
            seed,
            source: Mutex::new(None),
            events: Mutex::new(Vec::new()),
            predictions: Mutex::new(Vec::new()),
            last_sample: Mutex::new(None),
            stream,
        }
    }

    pub fn push_event(&self, event: &RunEvent) {
        lock(&self.events).push(event.clone());
    }

    pub fn push_prediction(&self, prediction: &Prediction) {
        lock(&self.predictions).push(prediction.clone());
    }

    /// Now on the run's clock: from its metrics once every resource is ready, else the time
    /// of its last event.
    pub fn now_ms(&self) -> f64 {
        if let Some(source) = lock(&self.source).as_ref() {
            return source.now_ms();
        }
        lock(&self.events).last().map_or(0.0, |e| e.at_ms)
    }

    /// The record so far; `None` until every resource is ready.
    pub fn record(&self) -> Option<RunRecord> {
        let source = lock(&self.source).clone()?;
        let checks = source.checks(&self.plan);
        let telemetry = source.telemetry();
        let events = lock(&self.events).clone();
        let predictions = lock(&self.predictions).clone();
        Some(RunRecord::live(LiveInput {
            plan: &self.plan,
            scenario: &self.scenario,
            seed: self.seed,
            now_ms: source.now_ms(),
            ready_ms: Some(source.ready_ms),
            store_origin_ms: source.store_origin_ms,
            checks: &checks,
            telemetry: &telemetry,
            events: &events,
            predictions: &predictions,
        }))
    }

    /// The report's charts of the record so far, as an HTML fragment.
    pub fn charts(&self) -> String {
        match self.record() {
            // `data-at-ms`: the run's time the charts were drawn at, so that a page (and a
            // browser test) can tell one drawing from the next.
            Some(record) => format!(
                "<div class=\"live-charts\" data-at-ms=\"{:.0}\">{}</div>",
                self.now_ms(),
                live_charts(&record, "live")
            ),
            None => {
                "<p class=\"meta\">The charts appear once every resource is ready.</p>".to_string()
            }
        }
    }
}

impl ProgressView for LiveView {
    fn show(&self, status: &Status) {
        {
            let mut last = lock(&self.last_sample);
            if last.is_some_and(|at| at.elapsed() < SAMPLE_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        let probes: Vec<_> = status
            .probes
            .iter()
            .map(|p| json!({ "probe": p.probe, "p99_ms": p.p99_ms, "error_rate": p.error_rate }))
            .collect();
        let sample = json!({
            "elapsed_ms": status.elapsed.as_secs_f64() * 1000.0,
            "total_ms": status.total.as_secs_f64() * 1000.0,
            "phase": status.phase,
            "active_faults": status.active_faults,
            "probes": probes,
        });
        let _ = self.stream.send(LiveEvent::Sample(sample));
    }

    fn finish(&self) {}

    fn attach(&self, source: LiveSource) {
        *lock(&self.source) = Some(source);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
