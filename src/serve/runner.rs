//! `Runner`: runs submitted plans on the server's runtime. Every run not yet finished is
//! *live*: it has a broadcast of its events (for Server-Sent Events) and an abort switch. A
//! run waits in the queue while its footprint meets that of a running run or of a run queued
//! before it; each finished run lets the queue move on.

use super::alertmanager::{Alertmanager, prediction_alert, run_alert};
use super::footprint::Footprint;
use super::live_event::LiveEvent;
use super::live_view::LiveView;
use super::metrics::Metrics;
use super::record;
use super::store::{Finished, RunRow, Store, StoredEvent, StoredPrediction};
use super::webhooks::{Webhooks, prediction_payload, verdict_payload};
use crate::mitigate::{Firing, ManualFiring};
use crate::model::Profile;
use crate::plan::Plan;
use crate::predict::Prediction;
use crate::run::ledger::{RecoverOptions, recover};
use crate::run::{EventKind, EventSink, Interpreter, RunEvent, RunOptions};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, broadcast, watch};

/// Why a run is being stopped: over the API (`aborted`) or by the server's shutdown.
#[derive(Debug, Clone)]
struct StopRequest {
    reason: String,
    by_api: bool,
}

struct Live {
    footprint: Footprint,
    events: broadcast::Sender<LiveEvent>,
    stop: watch::Sender<Option<StopRequest>>,
    /// What the run measured so far, for the live charts.
    view: Arc<LiveView>,
    /// The next event's number (shared by the run's events and notes from the API).
    seq: Arc<AtomicU64>,
    /// Where to fire a `mitigate` rule by hand, once the run started.
    mitigate: Option<tokio::sync::mpsc::Sender<ManualFiring>>,
    /// The plan, while the run waits in the queue.
    pending: Option<Pending>,
}

struct Pending {
    plan: Plan,
    profile: Profile,
    seed: u64,
    watch: bool,
}

#[derive(Default)]
struct Board {
    live: HashMap<String, Live>,
    /// Queued run ids, oldest first.
    queue: Vec<String>,
    closing: bool,
}

/// Why a rule could not be fired by hand.
#[derive(Debug, PartialEq, Eq)]
pub enum TriggerError {
    Unknown,
    /// Queued, or finished (its status).
    NotRunning(String),
    /// The run has no `mitigate` rules, or its engine stopped.
    NoEngine,
    NoSuchRule(String),
}

/// Why `abort` did nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum AbortError {
    Unknown,
    AlreadyFinished(String),
}

pub struct Runner {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    state_dir: PathBuf,
    board: Mutex<Board>,
    idle: Notify,
    /// Every prediction of every run, as it is made (for `/v1/predictions/stream`).
    predictions: broadcast::Sender<Value>,
    alerts: Option<Arc<Alertmanager>>,
    webhooks: Option<Arc<Webhooks>>,
}

impl Runner {
    pub fn new(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        state_dir: PathBuf,
        alerts: Option<Arc<Alertmanager>>,
        webhooks: Option<Arc<Webhooks>>,
    ) -> Arc<Runner> {
        Arc::new(Runner {
            store,
            metrics,
            state_dir,
            alerts,
            webhooks,
            board: Mutex::new(Board::default()),
            idle: Notify::new(),
            predictions: broadcast::channel(1024).0,
        })
    }

    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        self.board
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Undoes what runs of a server that died left behind (`pfi recover` on the state folder)
    /// and marks its unfinished runs `interrupted`. Returns how many runs were marked.
    pub async fn recover_unfinished(&self) -> Result<usize, String> {
        let unfinished = self.store.unfinished().map_err(|e| e.to_string())?;
        let report = recover(&self.state_dir, &RecoverOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        for run in &unfinished {
            // The ledger is named by the run's id (older servers stored another id).
            let ledger = run.ledger_run_id.as_deref().unwrap_or(&run.id);
            let recovered = report.runs.iter().find(|r| r.run_id == ledger);
            let what = match recovered {
                Some(r) => format!(
                    "recovered from its ledger: {} fault(s) reverted, {} process(es) stopped, \
                     {} container(s) removed, {} failure(s)",
                    r.faults.iter().filter(|f| f.outcome.is_ok()).count(),
                    r.processes.iter().filter(|p| p.outcome.is_ok()).count(),
                    r.containers.iter().filter(|c| c.outcome.is_ok()).count(),
                    r.faults.iter().filter(|f| f.outcome.is_err()).count()
                        + r.processes.iter().filter(|p| p.outcome.is_err()).count()
                        + r.containers.iter().filter(|c| c.outcome.is_err()).count()
                ),
                None => "nothing was left to undo".to_string(),
            };
            let message = format!("the server stopped during the run ({}); {what}", run.status);
            tracing::warn!(run = %run.id, "{message}");
            let end = Finished {
                status: "interrupted".into(),
                exit_code: 1,
                ledger_run_id: None,
                max_risk: None,
                error: Some(message.clone()),
                record: None,
                summary: Some(format!("run {}: interrupted: {message}\n", run.id)),
                predictions: Vec::new(),
                mitigations: Vec::new(),
            };
            self.store
                .finish_run(&run.id, now_ms(), &end)
                .map_err(|e| e.to_string())?;
        }
        Ok(unfinished.len())
    }

    /// Queues a checked plan; it starts as soon as nothing it conflicts with runs. `None`
    /// when the server is shutting down.
    pub fn submit(
        self: &Arc<Self>,
        row: RunRow,
        plan: Plan,
        profile: Profile,
        watch: bool,
    ) -> Result<Option<String>, super::store::StoreError> {
        let mut board = self.board();
        if board.closing {
            return Ok(None);
        }
        self.store.insert_run(&row)?;
        self.metrics.submitted.fetch_add(1, Ordering::Relaxed);
        self.metrics.queued.fetch_add(1, Ordering::Relaxed);
        let seed = row.seed;
        let events = broadcast::channel(1024).0;
        let view = Arc::new(LiveView::new(
            plan.clone(),
            row.name.clone(),
            seed,
            events.clone(),
        ));
        board.live.insert(
            row.id.clone(),
            Live {
                footprint: Footprint::from_items(&row.footprint),
                events,
                view,
                seq: Arc::new(AtomicU64::new(0)),
                mitigate: None,
                stop: watch::channel(None).0,
                pending: Some(Pending {
                    plan,
                    profile,
                    seed,
                    watch,
                }),
            },
        );
        board.queue.push(row.id.clone());
        self.schedule(&mut board);
        let status = if board.queue.contains(&row.id) {
            "queued"
        } else {
            "running"
        };
        Ok(Some(status.to_string()))
    }

    /// Starts every queued run whose footprint meets neither a running run's nor that of a
    /// run queued before it.
    fn schedule(self: &Arc<Self>, board: &mut Board) {
        let mut blocked: Vec<Footprint> = board
            .live
            .values()
            .filter(|live| live.pending.is_none())
            .map(|live| live.footprint.clone())
            .collect();
        let mut still_queued = Vec::new();
        for id in std::mem::take(&mut board.queue) {
            let Some(live) = board.live.get_mut(&id) else {
                continue;
            };
            if blocked.iter().any(|f| f.meets(&live.footprint)) {
                blocked.push(live.footprint.clone());
                still_queued.push(id);
                continue;
            }
            blocked.push(live.footprint.clone());
            let Some(pending) = live.pending.take() else {
                continue;
            };
            if let Err(err) = self.store.set_running(&id, now_ms()) {
                tracing::error!(run = %id, "cannot mark the run running: {err}");
            }
            self.metrics.queued.fetch_sub(1, Ordering::Relaxed);
            self.metrics.running.fetch_add(1, Ordering::Relaxed);
            let runner = self.clone();
            let events = live.events.clone();
            let view = live.view.clone();
            let seq = live.seq.clone();
            let stop = live.stop.subscribe();
            tokio::spawn(runner.execute(id, pending, events, (view, seq), stop));
        }
        board.queue = still_queued;
    }

    async fn execute(
        self: Arc<Self>,
        id: String,
        pending: Pending,
        events: broadcast::Sender<LiveEvent>,
        (view, seq): (Arc<LiveView>, Arc<AtomicU64>),
        mut stop: watch::Receiver<Option<StopRequest>>,
    ) {
        tracing::info!(run = %id, "run started");
        let store = self.store.clone();
        let run_id = id.clone();
        let sink_view = view.clone();
        let sink: EventSink = Arc::new(move |event: &RunEvent| {
            sink_view.push_event(event);
            let stored = StoredEvent {
                seq: seq.fetch_add(1, Ordering::Relaxed),
                at_ms: event.at_ms,
                message: event.message(),
            };
            {
                if let EventKind::RunStarted { run_id: ledger, .. } = &event.kind {
                    if let Err(err) = store.set_ledger(&run_id, ledger) {
                        tracing::error!(run = %run_id, "cannot store the ledger id: {err}");
                    }
                }
            }
            if let Err(err) = store.append_event(&run_id, &stored) {
                tracing::error!(run = %run_id, "cannot store an event: {err}");
            }
            let _ = events.send(LiveEvent::Event(stored));
        });
        let options = RunOptions {
            state_dir: self.state_dir.clone(),
            seed: Some(pending.seed),
        };
        let interpreter = Interpreter::new(pending.plan.clone(), options, sink)
            .with_progress(view.clone())
            .with_run_id(id.clone());
        if let Some(live) = self.board().live.get_mut(&id) {
            live.mitigate = Some(interpreter.mitigation_trigger());
        }
        let experiment = pending.plan.experiment.name.clone();
        let relay = tokio::spawn(self.clone().relay_predictions(
            id.clone(),
            experiment.clone(),
            pending.watch,
            view,
            interpreter.subscribe_predictions(),
        ));
        let mut requested = stop.clone();
        let shutdown = async move {
            loop {
                if let Some(request) = requested.borrow_and_update().clone() {
                    return request.reason;
                }
                if requested.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        let result = interpreter.run(shutdown).await;
        relay.abort();
        let by_api = stop
            .borrow_and_update()
            .as_ref()
            .is_some_and(|request| request.by_api);
        let mut end = record::finished(&pending.plan, &pending.profile, result, by_api);
        if !by_api && end.status == "failed" && stop.borrow().is_some() {
            end.status = "interrupted".into();
        }
        if pending.watch {
            // Stored as they were made.
            end.predictions.clear();
        }
        self.metrics
            .run_finished(&end.status, end.predictions.len(), end.mitigations.len());
        self.metrics.running.fetch_sub(1, Ordering::Relaxed);
        tracing::info!(run = %id, status = %end.status, "run finished");
        let why = end
            .error
            .clone()
            .or_else(|| {
                end.record
                    .as_ref()
                    .and_then(|r| r["ending"].as_str().map(str::to_string))
            })
            .unwrap_or_default();
        let failed: Vec<&str> = end
            .record
            .iter()
            .flat_map(|record| record["thresholds"].as_array().into_iter().flatten())
            .filter(|t| t["passed"] == false)
            .filter_map(|t| t["text"].as_str())
            .collect();
        let why = if failed.is_empty() {
            why
        } else {
            format!("{why}; failed {}", failed.join(", "))
        };
        if let Some(webhooks) = &self.webhooks {
            webhooks.send(verdict_payload(
                &id,
                &experiment,
                &end.status,
                end.exit_code,
                end.max_risk,
                &why,
            ));
        }
        if let Some(alerts) = &self.alerts {
            if end.status != "passed" {
                alerts
                    .send(vec![run_alert(&id, &experiment, &end.status, &why)])
                    .await;
            }
        }
        self.finish(&id, end);
    }

    /// Publishes each prediction of a run as it is made, and stores a watch's at once (a
    /// run's are stored at its end, judged against what happened).
    async fn relay_predictions(
        self: Arc<Self>,
        id: String,
        experiment: String,
        watch: bool,
        view: Arc<LiveView>,
        mut made: broadcast::Receiver<Prediction>,
    ) {
        loop {
            let prediction = match made.recv().await {
                Ok(prediction) => prediction,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            view.push_prediction(&prediction);
            let mut value = serde_json::to_value(&prediction).unwrap_or_default();
            if let Some(object) = value.as_object_mut() {
                object.insert("run".into(), Value::from(id.as_str()));
            }
            if watch {
                let stored = StoredPrediction {
                    resource: prediction.resource.clone(),
                    kind: prediction.kind.clone(),
                    confidence: prediction.confidence,
                    at_ms: prediction.at_ms,
                    happened: false,
                    record: serde_json::to_value(&prediction).unwrap_or_default(),
                };
                if let Err(err) = self.store.insert_prediction(&id, &stored) {
                    tracing::error!(run = %id, "cannot store a prediction: {err}");
                }
                self.metrics.predictions.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(webhooks) = &self.webhooks {
                webhooks.send(prediction_payload(&value, &experiment));
            }
            if let Some(alerts) = &self.alerts {
                let alert = prediction_alert(&value, &experiment);
                let alerts = alerts.clone();
                tokio::spawn(async move { alerts.send(vec![alert]).await });
            }
            let _ = self.predictions.send(value);
        }
    }

    /// Every prediction from now on, of every run.
    pub fn subscribe_predictions(&self) -> broadcast::Receiver<Value> {
        self.predictions.subscribe()
    }

    /// Stores how the run ended, tells its subscribers and lets the queue move on.
    fn finish(self: &Arc<Self>, id: &str, end: Finished) {
        if let Err(err) = self.store.finish_run(id, now_ms(), &end) {
            tracing::error!(run = %id, "cannot store the run's end: {err}");
        }
        let mut board = self.board();
        if let Some(live) = board.live.remove(id) {
            let _ = live.events.send(LiveEvent::End {
                status: end.status.clone(),
                exit_code: end.exit_code,
            });
        }
        self.schedule(&mut board);
        if board.live.is_empty() {
            self.idle.notify_waiters();
        }
    }

    /// Stops a run: a queued one never starts, a running one is interrupted and everything
    /// it applied is reverted (as with Ctrl-C).
    pub fn abort(self: &Arc<Self>, id: &str, reason: &str) -> Result<String, AbortError> {
        let mut board = self.board();
        let Some(live) = board.live.get(id) else {
            return match self.store.run(id) {
                Ok(Some(row)) => Err(AbortError::AlreadyFinished(row.status)),
                _ => Err(AbortError::Unknown),
            };
        };
        if live.pending.is_some() {
            board.queue.retain(|queued| queued != id);
            drop(board);
            self.metrics.queued.fetch_sub(1, Ordering::Relaxed);
            self.metrics.run_finished("aborted", 0, 0);
            self.finish(id, stopped_in_queue("aborted", reason));
            return Ok("aborted".into());
        }
        live.stop.send_replace(Some(StopRequest {
            reason: reason.to_string(),
            by_api: true,
        }));
        Ok("aborting".into())
    }

    /// The live events of a run not yet finished (`None` once it has finished: read the
    /// store then).
    pub fn subscribe(&self, id: &str) -> Option<broadcast::Receiver<LiveEvent>> {
        self.board()
            .live
            .get(id)
            .map(|live| live.events.subscribe())
    }

    /// Adds a line to a run's events (an acknowledgement, a mitigation asked for by hand): at
    /// the run's current time while it runs, after its last event once it ended.
    pub fn note(&self, id: &str, message: String) -> Result<(), super::store::StoreError> {
        let live = self
            .board()
            .live
            .get(id)
            .map(|live| (live.seq.clone(), live.events.clone(), live.view.clone()));
        match live {
            Some((seq, events, view)) => {
                let stored = StoredEvent {
                    seq: seq.fetch_add(1, Ordering::Relaxed),
                    at_ms: view.now_ms(),
                    message,
                };
                self.store.append_event(id, &stored)?;
                let _ = events.send(LiveEvent::Event(stored));
            }
            None => {
                let last = self.store.events(id, None)?.pop();
                let stored = StoredEvent {
                    seq: last.as_ref().map_or(0, |e| e.seq + 1),
                    at_ms: last.map_or(0.0, |e| e.at_ms),
                    message,
                };
                self.store.append_event(id, &stored)?;
            }
        }
        Ok(())
    }

    /// Fires the run's `mitigate` rule `rule` now, as asked by `by`; its firings.
    pub async fn fire_by_hand(
        &self,
        id: &str,
        rule: usize,
        by: &str,
    ) -> Result<Vec<Firing>, TriggerError> {
        let sender = {
            let board = self.board();
            let Some(live) = board.live.get(id) else {
                return Err(match self.store.run(id) {
                    Ok(Some(row)) => TriggerError::NotRunning(row.status),
                    _ => TriggerError::Unknown,
                });
            };
            match &live.mitigate {
                Some(sender) => sender.clone(),
                None => return Err(TriggerError::NotRunning("queued".into())),
            }
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let asked = ManualFiring {
            rule,
            by: by.to_string(),
            reply,
        };
        if sender.send(asked).await.is_err() {
            return Err(TriggerError::NoEngine);
        }
        match tokio::time::timeout(std::time::Duration::from_secs(60), answer).await {
            Ok(Ok(Ok(firings))) => {
                self.metrics
                    .mitigations
                    .fetch_add(firings.len() as u64, Ordering::Relaxed);
                Ok(firings)
            }
            Ok(Ok(Err(why))) => Err(TriggerError::NoSuchRule(why)),
            Ok(Err(_)) => Err(TriggerError::NoEngine),
            Err(_) => Err(TriggerError::NoEngine),
        }
    }

    /// The live charts of a run not yet finished (`None` once it has finished).
    pub fn live_view(&self, id: &str) -> Option<Arc<LiveView>> {
        self.board().live.get(id).map(|live| live.view.clone())
    }

    pub fn running(&self) -> usize {
        self.board()
            .live
            .values()
            .filter(|live| live.pending.is_none())
            .count()
    }

    /// Refuses new runs, drops the queue (`interrupted`), stops every running run and
    /// returns once all of them reverted everything.
    pub async fn shut_down(self: &Arc<Self>, reason: &str) {
        let queued = {
            let mut board = self.board();
            board.closing = true;
            for live in board.live.values() {
                if live.pending.is_none() {
                    live.stop.send_replace(Some(StopRequest {
                        reason: reason.to_string(),
                        by_api: false,
                    }));
                }
            }
            std::mem::take(&mut board.queue)
        };
        for id in queued {
            self.metrics.queued.fetch_sub(1, Ordering::Relaxed);
            self.metrics.run_finished("interrupted", 0, 0);
            self.finish(
                &id,
                stopped_in_queue("interrupted", &format!("{reason} while queued")),
            );
        }
        loop {
            let notified = self.idle.notified();
            if self.board().live.is_empty() {
                return;
            }
            notified.await;
        }
    }
}

fn stopped_in_queue(status: &str, reason: &str) -> Finished {
    Finished {
        status: status.into(),
        exit_code: 1,
        ledger_run_id: None,
        max_risk: None,
        error: Some(format!("{status} before it started: {reason}")),
        record: None,
        summary: Some(format!("{status} before it started: {reason}\n")),
        predictions: Vec::new(),
        mitigations: Vec::new(),
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}
