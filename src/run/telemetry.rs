//! Everything that watches a run, started from one place once the resources are up:
//! `/proc` telemetry of each process resource (one sampler each, following restarts), the
//! proxy's link counters and the probes' metrics (one sampler for all), a scraper per
//! `telemetry` declaration, and the prediction loop when the plan has a `predict` block.
//! Container telemetry is started with the containers.
//!
//! Telemetry is sampled every `predict.every` (250 ms without a `predict` block or `every`);
//! Prometheus endpoints at their own `every`.

use super::journal::{EventKind, Journal};
use super::run_error::RunError;
use crate::monitor::{
    LinkTelemetry, MetricsStore, ProbeTelemetry, ProcTelemetry, PrometheusTelemetry,
    PromqlTelemetry, run_telemetry,
};
use crate::plan::Plan;
use crate::predict::Prediction;
use crate::predict::live::PredictionLoop;
use crate::proxy::ProxyServer;
use crate::targets::ProcessTarget;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// Sampling interval without a `predict` block.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);

/// The predictions made so far, shared with the interpreter's report.
pub type Predictions = Arc<Mutex<Vec<Prediction>>>;

/// Starts every watcher; the tasks run until aborted.
pub fn spawn(
    plan: &Plan,
    processes: &[ProcessTarget],
    proxy: &ProxyServer,
    store: &MetricsStore,
    sender: &broadcast::Sender<Prediction>,
    predictions: &Predictions,
    journal: &Journal,
) -> Result<Vec<JoinHandle<()>>, RunError> {
    let interval = plan.predict.as_ref().map_or(DEFAULT_INTERVAL, |p| {
        Duration::from_secs_f64(p.interval_ms.max(10.0) / 1000.0)
    });
    let forever = std::future::pending::<()>;
    let mut tasks = Vec::new();
    for process in processes {
        let source = process.clone();
        let telemetry = ProcTelemetry::following(process.name(), move || source.pid());
        tasks.push(tokio::spawn(run_telemetry(
            telemetry,
            interval,
            store.clone(),
            forever(),
        )));
    }
    let mut links: Vec<LinkTelemetry> = plan
        .links
        .iter()
        .map(|l| LinkTelemetry::new(&l.name))
        .collect();
    let mut probes: Vec<ProbeTelemetry> = plan
        .probes
        .iter()
        .map(|p| ProbeTelemetry::new(&p.name))
        .collect();
    let (counters, into) = (proxy.clone(), store.clone());
    tasks.push(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            for link in &mut links {
                link.sample(&counters, &into);
            }
            for probe in &mut probes {
                probe.sample(&into);
            }
        }
    }));
    for telemetry in &plan.telemetry {
        let every = Duration::from_secs_f64(telemetry.interval_ms.max(10.0) / 1000.0);
        if let Some(query) = &telemetry.query {
            let source = PromqlTelemetry::new(
                &telemetry.name,
                &telemetry.url,
                query,
                every.max(Duration::from_secs(1)),
            )
            .map_err(|err| {
                RunError::environment(format!(
                    "telemetry `{}` (declared at {}): {err}",
                    telemetry.name, telemetry.at
                ))
            })?;
            tasks.push(tokio::spawn(source.run(every, store.clone(), forever())));
            continue;
        }
        let scraper = PrometheusTelemetry::new(
            &telemetry.name,
            &telemetry.url,
            every.max(Duration::from_secs(1)),
        )
        .map_err(|err| {
            RunError::environment(format!(
                "telemetry `{}` (declared at {}): {err}",
                telemetry.name, telemetry.at
            ))
        })?;
        tasks.push(tokio::spawn(scraper.run(every, store.clone(), forever())));
    }
    let live = PredictionLoop::new(plan)
        .map_err(|err| RunError::environment(format!("the predict block's detector: {err}")))?;
    if let Some(live) = live {
        journal.record(EventKind::PredictionLoopStarted {
            interval_ms: live.interval().as_secs_f64() * 1000.0,
            metrics: live.metrics().len(),
            bindings: live.bindings().len(),
        });
        let (journal, predictions) = (journal.clone(), predictions.clone());
        let made = move |p: &Prediction| {
            let expected = p.expected.map_or(String::new(), |c| {
                format!("; limit {} {}", c.limit, c.with_confidence())
            });
            journal.record(EventKind::Predicted {
                kind: p.kind.to_string(),
                resource: p.resource.to_string(),
                pattern: p.pattern.to_string(),
                confidence: p.confidence,
                detail: format!("{}{expected}", describe_signals(p)),
            });
            predictions
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(p.clone());
        };
        tasks.push(tokio::spawn(live.run(
            store.clone(),
            sender.clone(),
            made,
            forever(),
        )));
    }
    Ok(tasks)
}

/// `api.memory 52.4M rising (anomaly 0.98), api.cpu 0.02 flat (anomaly 0.00)`.
pub fn describe_signals(p: &Prediction) -> String {
    p.signals
        .iter()
        .map(|s| {
            let trend = s
                .trend
                .as_deref()
                .map_or(String::new(), |t| format!(" {t}"));
            format!(
                "{} {}{trend} (anomaly {:.2})",
                s.metric,
                short(s.value),
                s.anomaly
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn short(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e9 {
        format!("{:.1}G", value / 1e9)
    } else if magnitude >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if magnitude >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{value:.3}")
    }
}
