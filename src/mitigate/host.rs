//! The capability API scripts get: read this run's metrics and predictions, call this run's
//! mitigation actions. Nothing else (no files, no network, no processes) is reachable.

use crate::monitor::{MetricsStore, Selection};
use crate::plan::ProbeStat;
use crate::predict::Prediction;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub trait Host: Send + Sync + 'static {
    /// `probe.metric` (p50, p90, p95, p99, mean, max in ms; error_rate, availability,
    /// count) over the trailing window, or a recorded series by name (its last value).
    fn metric(&self, name: &str) -> Option<f64>;
    /// The highest confidence of a current prediction of `kind` (`any` for every kind).
    fn prediction(&self, kind: &str) -> Option<f64>;
    fn log(&self, text: &str);
    /// Calls a mitigation action of this run (`restart`, `activate`, `shift`, `alert`,
    /// `scale`) with its arguments; returns what it did.
    fn act(&self, action: &str, args: &[String]) -> Result<String, String>;
}

/// A mitigation action the host may perform on the script's behalf.
pub type ActionFn = Arc<dyn Fn(&str, &[String]) -> Result<String, String> + Send + Sync>;

/// The host of a run: its metrics store, the predictions received so far, its actions.
pub struct StoreHost {
    pub store: MetricsStore,
    pub window: Duration,
    pub predictions: Arc<Mutex<Vec<Prediction>>>,
    pub actions: ActionFn,
    /// Lines logged by scripts, for the journal.
    pub logged: Arc<Mutex<Vec<String>>>,
}

impl Host for StoreHost {
    fn metric(&self, name: &str) -> Option<f64> {
        if let Some((probe, metric)) = name.split_once('.')
            && let Some(s) = self
                .store
                .probe_summary(probe, &Selection::trailing(self.window))
        {
            return ProbeStat::parse(metric).map(|stat| stat.value(&s.stats()));
        }
        self.store
            .series_summary(name, &Selection::trailing(self.window))
            .map(|s| s.last)
    }

    fn prediction(&self, kind: &str) -> Option<f64> {
        let predictions = self.predictions.lock().unwrap_or_else(|p| p.into_inner());
        predictions
            .iter()
            .filter(|p| kind == "any" || p.kind == kind)
            .map(|p| p.confidence)
            .reduce(f64::max)
    }

    fn log(&self, text: &str) {
        tracing::info!(target: "pfi::script", "{text}");
        self.logged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(text.to_string());
    }

    fn act(&self, action: &str, args: &[String]) -> Result<String, String> {
        (self.actions)(action, args)
    }
}
