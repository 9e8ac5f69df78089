//! The mitigation engine: `mitigate on predicted(kind)` rules fire on predictions received
//! from the prediction loop's channel (at or above the predict block's confidence);
//! `mitigate when <condition>` rules are evaluated over the metrics store at every tick. Each
//! rule has a cooldown. Every firing is recorded (trigger, prediction, confidence, action,
//! outcome); what changed the system is reverted, newest first, when the engine finishes.
//!
//! The engine performs `alert` (the firing's record and a warning in the log, and a webhook
//! POST with a JSON body through hyper's client) and `script` (the rhai sandbox, whose
//! actions call back into the engine's [`Actions`]) itself; the actions that touch the
//! system (`scale`, `activate`, `shift`, `rehearse`, `restart`) go to the [`Actions`] the
//! interpreter provides, the narrow interface between the two.

use super::host::StoreHost;
use super::sandbox::{Limits, Sandbox};
use crate::monitor::{MetricsStore, Selection};
use crate::plan::{
    ActionPlan, ConditionPlan, LoadedInputs, MitigationPlan, Plan, ProbeStat, SourceKind,
    TriggerPlan,
};
use crate::predict::Prediction;
use serde::Serialize;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use crate::BoxFuture;

/// How to undo something an action changed; opaque to the engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Undo {
    pub action: String,
    pub detail: String,
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Performed {
    pub detail: String,
    pub undo: Option<Undo>,
}

/// The system-changing actions, provided by the interpreter.
pub trait Actions: Send + Sync + 'static {
    fn perform<'a>(
        &'a self,
        action: &'a ActionPlan,
        prediction: Option<&'a Prediction>,
    ) -> BoxFuture<'a, Result<Performed, String>>;
    fn revert<'a>(&'a self, undo: &'a Undo) -> BoxFuture<'a, Result<(), String>>;
}

/// One firing of a rule, for the journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Firing {
    pub at_ms: f64,
    pub rule: usize,
    pub trigger: String,
    pub prediction: Option<String>,
    pub confidence: Option<f64>,
    pub action: String,
    pub outcome: String,
    pub ok: bool,
}

/// What the engine did over a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MitigationLog {
    pub firings: Vec<Firing>,
    pub reverted: Vec<String>,
    pub revert_errors: Vec<String>,
}

/// A rule fired by hand (the service's `POST /v1/runs/{id}/mitigations`): which rule (its
/// index in the scenario), who asked, and where the firings go back.
pub struct ManualFiring {
    pub rule: usize,
    pub by: String,
    pub reply: tokio::sync::oneshot::Sender<Result<Vec<Firing>, String>>,
}

/// Called with every firing as it is recorded.
type Observer = Box<dyn Fn(&Firing) + Send + Sync>;

pub struct MitigationEngine {
    rules: Vec<MitigationPlan>,
    min_confidence: f64,
    store: MetricsStore,
    actions: Arc<dyn Actions>,
    window: Duration,
    last_fired: Vec<Option<f64>>,
    undo: Vec<Undo>,
    firings: Vec<Firing>,
    observer: Option<Observer>,
    /// Script sources, loaded into the plan by the checker.
    scripts: LoadedInputs,
}

fn describe_trigger(t: &TriggerPlan) -> String {
    match t {
        TriggerPlan::Predicted { fault_kind } => format!("predicted({fault_kind})"),
        TriggerPlan::When { .. } => "when <condition>".to_string(),
    }
}

fn action_name(a: &ActionPlan) -> String {
    match a {
        ActionPlan::Scale {
            resource,
            what,
            amount,
            relative,
        } => format!(
            "scale {resource} {what} {}{amount}",
            if *relative && *amount >= 0.0 { "+" } else { "" }
        ),
        ActionPlan::Activate { resource } => format!("activate {resource}"),
        ActionPlan::Shift { link, to } => format!("shift {link} -> {to}"),
        ActionPlan::Rehearse { fault, severity } => format!(
            "rehearse {} at {}%",
            fault.as_deref().unwrap_or("the predicted fault"),
            severity * 100.0
        ),
        ActionPlan::Restart { resource } => format!("restart {resource}"),
        ActionPlan::Alert { message, .. } => format!("alert {message:?}"),
        ActionPlan::Script { path, .. } => format!("script {}", path.display()),
    }
}

impl MitigationEngine {
    pub fn new(plan: &Plan, store: MetricsStore, actions: Arc<dyn Actions>) -> MitigationEngine {
        MitigationEngine::with_rules(
            plan.mitigations.clone(),
            plan.predict.as_ref().map_or(0.0, |p| p.confidence),
            store,
            actions,
        )
        .with_scripts(plan.loaded.scripts.clone())
    }

    /// The sources of the scripts its `script` actions run, by path (a plan's are loaded by
    /// the checker; the engine reads no file).
    pub fn with_scripts(
        mut self,
        scripts: std::collections::BTreeMap<std::path::PathBuf, String>,
    ) -> MitigationEngine {
        self.scripts.scripts = scripts;
        self
    }

    /// An engine for `rules`, acting on predictions of at least `min_confidence`.
    pub fn with_rules(
        rules: Vec<MitigationPlan>,
        min_confidence: f64,
        store: MetricsStore,
        actions: Arc<dyn Actions>,
    ) -> MitigationEngine {
        MitigationEngine {
            last_fired: vec![None; rules.len()],
            rules,
            min_confidence,
            store,
            actions,
            window: Duration::from_secs(10),
            undo: Vec::new(),
            firings: Vec::new(),
            observer: None,
            scripts: LoadedInputs::default(),
        }
    }

    /// Calls `observer` with every firing as it is recorded (e.g. to journal it live).
    pub fn observe(mut self, observer: impl Fn(&Firing) + Send + Sync + 'static) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    fn now_ms(&self) -> f64 {
        self.store.now().as_secs_f64() * 1000.0
    }

    fn cooled(&self, rule: usize, now: f64) -> bool {
        self.last_fired[rule].is_none_or(|t| now - t >= self.rules[rule].cooldown_ms)
    }

    /// Fires every `on predicted` rule matching `prediction`.
    pub async fn on_prediction(&mut self, prediction: &Prediction) {
        if prediction.confidence < self.min_confidence {
            return;
        }
        let now = self.now_ms();
        for rule in 0..self.rules.len() {
            let matches = matches!(&self.rules[rule].trigger,
                TriggerPlan::Predicted { fault_kind } if fault_kind == "any" || *fault_kind == prediction.kind);
            if matches && self.cooled(rule, now) {
                self.fire(rule, Some(prediction)).await;
            }
        }
    }

    /// Fires every `when` rule whose condition holds now.
    pub async fn tick(&mut self) {
        let now = self.now_ms();
        for rule in 0..self.rules.len() {
            let holds = match &self.rules[rule].trigger {
                TriggerPlan::When { condition } => self.holds(condition),
                TriggerPlan::Predicted { .. } => false,
            };
            if holds && self.cooled(rule, now) {
                self.fire(rule, None).await;
            }
        }
    }

    /// A condition over the trailing window; a metric with no value yet, and trends (which
    /// the prediction loop reads), do not hold.
    pub fn holds(&self, c: &ConditionPlan) -> bool {
        match c {
            ConditionPlan::Compare { metric, op, value } => {
                let v = match metric.source_kind {
                    SourceKind::Probe => self
                        .store
                        .probe_summary(&metric.source, &Selection::trailing(self.window))
                        .and_then(|s| {
                            ProbeStat::parse(&metric.metric).map(|stat| stat.value(&s.stats()))
                        }),
                    _ => self
                        .store
                        .series_summary(&metric.to_string(), &Selection::trailing(self.window))
                        .map(|s| s.last),
                };
                v.is_some_and(|v| op.holds(v, *value))
            }
            ConditionPlan::Trend { .. } => false,
            ConditionPlan::Not { inner } => !self.holds(inner),
            ConditionPlan::All { all } => all.iter().all(|c| self.holds(c)),
            ConditionPlan::Any { any } => any.iter().any(|c| self.holds(c)),
        }
    }

    /// Fires rule `rule` now, whatever its trigger and cooldown, as asked by `by`; its
    /// firings (one per action). What it changes is reverted at the end like any firing's.
    pub async fn fire_by_hand(&mut self, rule: usize, by: &str) -> Result<Vec<Firing>, String> {
        if rule >= self.rules.len() {
            return Err(format!(
                "the scenario has {} mitigate rule(s) (0 to {}); there is no rule {rule}",
                self.rules.len(),
                self.rules.len().saturating_sub(1)
            ));
        }
        let before = self.firings.len();
        let trigger = format!(
            "by hand ({by}; rule {rule}: {})",
            describe_trigger(&self.rules[rule].trigger)
        );
        self.fire_as(rule, None, trigger).await;
        Ok(self.firings[before..].to_vec())
    }

    async fn fire(&mut self, rule: usize, prediction: Option<&Prediction>) {
        let trigger = describe_trigger(&self.rules[rule].trigger);
        self.fire_as(rule, prediction, trigger).await;
    }

    async fn fire_as(&mut self, rule: usize, prediction: Option<&Prediction>, trigger: String) {
        let now = self.now_ms();
        self.last_fired[rule] = Some(now);
        for action in self.rules[rule].actions.clone() {
            let result = match &action {
                ActionPlan::Alert { message, webhook } => {
                    self.alert(message, webhook.as_deref(), &trigger, prediction)
                        .await
                }
                ActionPlan::Script { path, timeout_ms } => {
                    self.script(path, *timeout_ms, prediction).await
                }
                other => self.actions.perform(other, prediction).await,
            };
            let (outcome, ok) = match result {
                Ok(done) => {
                    if let Some(undo) = done.undo {
                        self.undo.push(undo);
                    }
                    (done.detail, true)
                }
                Err(err) => (format!("failed: {err}"), false),
            };
            let firing = Firing {
                at_ms: now,
                rule,
                trigger: trigger.clone(),
                prediction: prediction
                    .map(|p| format!("{} on {} ({})", p.kind, p.resource, p.pattern)),
                confidence: prediction.map(|p| p.confidence),
                action: action_name(&action),
                outcome,
                ok,
            };
            if let Some(observer) = &self.observer {
                observer(&firing);
            }
            self.firings.push(firing);
        }
    }

    async fn alert(
        &self,
        message: &str,
        webhook: Option<&str>,
        trigger: &str,
        prediction: Option<&Prediction>,
    ) -> Result<Performed, String> {
        // The alert is the firing's outcome: the run's log line and its record carry it.
        tracing::warn!("pfi alert: {message} ({trigger})");
        let Some(url) = webhook else {
            return Ok(Performed {
                detail: format!("alert \"{message}\""),
                undo: None,
            });
        };
        let body = serde_json::json!({
            "message": message,
            "trigger": trigger,
            "prediction": prediction,
            "at_ms": self.now_ms(),
        })
        .to_string();
        let status = tokio::time::timeout(Duration::from_secs(2), post_json(url, &body))
            .await
            .map_err(|_| format!("webhook {url} did not answer within 2s"))??;
        if (200..300).contains(&status) {
            Ok(Performed {
                detail: format!("alert \"{message}\" POSTed to {url} ({status})"),
                undo: None,
            })
        } else {
            Err(format!("webhook {url} answered {status}"))
        }
    }

    async fn script(
        &self,
        path: &std::path::Path,
        timeout_ms: f64,
        prediction: Option<&Prediction>,
    ) -> Result<Performed, String> {
        let text = self.scripts.script(path)?.to_string();
        let actions = self.actions.clone();
        let undo = Arc::new(Mutex::new(Vec::new()));
        let undo_sink = undo.clone();
        let handle = tokio::runtime::Handle::current();
        let host = StoreHost {
            store: self.store.clone(),
            window: self.window,
            predictions: Arc::new(Mutex::new(prediction.cloned().into_iter().collect())),
            actions: Arc::new(move |name: &str, args: &[String]| {
                let action = match (name, args) {
                    ("restart", [r]) => ActionPlan::Restart {
                        resource: r.clone(),
                    },
                    ("activate", [r]) => ActionPlan::Activate {
                        resource: r.clone(),
                    },
                    ("shift", [l, to]) => ActionPlan::Shift {
                        link: l.clone(),
                        to: to.clone(),
                    },
                    ("scale", [r, what, amount]) => ActionPlan::Scale {
                        resource: r.clone(),
                        what: what.clone(),
                        amount: amount.parse().map_err(|_| format!("bad amount {amount}"))?,
                        relative: true,
                    },
                    ("alert", [m]) => {
                        tracing::warn!("pfi alert (script): {m}");
                        return Ok(format!("alert \"{m}\""));
                    }
                    _ => return Err(format!("`{name}` is not an action scripts can call")),
                };
                let done = handle.block_on(actions.perform(&action, None))?;
                if let Some(u) = done.undo {
                    undo_sink.lock().unwrap_or_else(|p| p.into_inner()).push(u);
                }
                Ok(done.detail)
            }),
            logged: Arc::new(Mutex::new(Vec::new())),
        };
        let limits = Limits {
            deadline: Duration::from_secs_f64((timeout_ms / 1000.0).clamp(0.01, 10.0)),
            ..Limits::default()
        };
        let path = path.to_path_buf();
        let result = tokio::task::spawn_blocking(move || {
            Sandbox::new(limits, Some(Arc::new(host))).run(&path, &text, &[])
        })
        .await
        .map_err(|e| format!("script task failed: {e}"))?;
        let undone: Vec<Undo> =
            std::mem::take(&mut *undo.lock().unwrap_or_else(|p| p.into_inner()));
        let (detail, err) = match result {
            Ok(out) => (format!("script done: {out}"), None),
            Err(e) => (String::new(), Some(e.to_string())),
        };
        // Whatever the script changed is reverted at the end, even when it failed later.
        let undo = undone.into_iter().reduce(|a, b| Undo {
            action: format!("{}; {}", a.action, b.action),
            detail: format!("{}\n{}", a.detail, b.detail),
        });
        match err {
            None => Ok(Performed { detail, undo }),
            Some(e) => {
                if let Some(u) = undo {
                    // Keep the undo even though the script failed.
                    return Ok(Performed {
                        detail: format!("script failed after acting: {e}"),
                        undo: Some(u),
                    });
                }
                Err(e)
            }
        }
    }

    /// Runs until `stop` completes: predictions as they arrive, `when` rules every
    /// `interval`; then reverts everything, newest first.
    pub async fn run(
        self,
        predictions: tokio::sync::mpsc::Receiver<Prediction>,
        interval: Duration,
        stop: impl Future<Output = ()>,
    ) -> MitigationLog {
        self.run_with_manual(predictions, None, interval, stop)
            .await
    }

    /// [`run`](Self::run), also firing rules by hand as `manual` asks.
    pub async fn run_with_manual(
        mut self,
        mut predictions: tokio::sync::mpsc::Receiver<Prediction>,
        manual: Option<tokio::sync::mpsc::Receiver<ManualFiring>>,
        interval: Duration,
        stop: impl Future<Output = ()>,
    ) -> MitigationLog {
        let mut stop = std::pin::pin!(stop);
        let mut ticker = tokio::time::interval(interval);
        let mut open = true;
        let mut manual_open = manual.is_some();
        let mut manual = manual;
        loop {
            tokio::select! {
                _ = &mut stop => break,
                p = predictions.recv(), if open => match p {
                    Some(p) => self.on_prediction(&p).await,
                    None => open = false,
                },
                m = async { manual.as_mut()?.recv().await }, if manual_open => match m {
                    Some(m) => {
                        let fired = self.fire_by_hand(m.rule, &m.by).await;
                        let _ = m.reply.send(fired);
                    }
                    None => manual_open = false,
                },
                _ = ticker.tick() => self.tick().await,
            }
        }
        self.finish().await
    }

    /// Reverts everything the mitigations changed, newest first.
    pub async fn finish(mut self) -> MitigationLog {
        let mut reverted = Vec::new();
        let mut revert_errors = Vec::new();
        while let Some(undo) = self.undo.pop() {
            match self.actions.revert(&undo).await {
                Ok(()) => reverted.push(undo.action),
                Err(e) => revert_errors.push(format!("{}: {e}", undo.action)),
            }
        }
        MitigationLog {
            firings: self.firings,
            reverted,
            revert_errors,
        }
    }

    pub fn firings(&self) -> &[Firing] {
        &self.firings
    }
}

/// POSTs `body` as JSON to an `http://host:port/path` URL through hyper's client; returns the
/// status code.
async fn post_json(url: &str, body: &str) -> Result<u16, String> {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let uri: hyper::Uri = url.parse().map_err(|e| format!("webhook {url}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("webhook {url}: only http:// URLs are supported"));
    }
    let request = hyper::Request::post(uri)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .map_err(|e| format!("webhook {url}: {e}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = client
        .request(request)
        .await
        .map_err(|e| format!("webhook {url}: {e}"))?;
    Ok(response.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Comparator, Location, MetricRef};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The interpreter's side of the interface, recording what it is asked to do.
    #[derive(Default)]
    struct Recorder {
        done: Mutex<Vec<String>>,
    }

    impl Actions for Recorder {
        fn perform<'a>(
            &'a self,
            action: &'a ActionPlan,
            _: Option<&'a Prediction>,
        ) -> BoxFuture<'a, Result<Performed, String>> {
            Box::pin(async move {
                let name = action_name(action);
                self.done.lock().unwrap().push(name.clone());
                Ok(Performed {
                    detail: format!("did {name}"),
                    undo: Some(Undo {
                        action: name,
                        detail: String::new(),
                    }),
                })
            })
        }

        fn revert<'a>(&'a self, undo: &'a Undo) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async move {
                self.done
                    .lock()
                    .unwrap()
                    .push(format!("undo {}", undo.action));
                Ok(())
            })
        }
    }

    fn at() -> Location {
        Location {
            file: "t.pfi".into(),
            line: 1,
            column: 1,
            start: 0,
            end: 0,
        }
    }

    fn rule(trigger: TriggerPlan, actions: Vec<ActionPlan>) -> MitigationPlan {
        MitigationPlan {
            trigger,
            actions,
            cooldown_ms: 60_000.0,
            at: at(),
        }
    }

    fn prediction(kind: &str, confidence: f64) -> Prediction {
        Prediction {
            at_ms: 0.0,
            kind: kind.into(),
            pattern: "leak".into(),
            resource: "api".into(),
            confidence,
            signals: Vec::new(),
            expected: None,
        }
    }

    #[tokio::test]
    async fn predictions_fire_matching_rules_once_per_cooldown_and_are_reverted() {
        let recorder = Arc::new(Recorder::default());
        let mut engine = MitigationEngine::with_rules(
            vec![
                rule(
                    TriggerPlan::Predicted {
                        fault_kind: "memory_leak".into(),
                    },
                    vec![ActionPlan::Activate {
                        resource: "standby".into(),
                    }],
                ),
                rule(
                    TriggerPlan::Predicted {
                        fault_kind: "any".into(),
                    },
                    vec![ActionPlan::Rehearse {
                        fault: None,
                        severity: 0.5,
                    }],
                ),
            ],
            0.8,
            MetricsStore::new(),
            recorder.clone(),
        );
        engine.on_prediction(&prediction("memory_leak", 0.5)).await;
        assert!(engine.firings().is_empty(), "below the confidence");
        engine.on_prediction(&prediction("memory_leak", 0.9)).await;
        engine.on_prediction(&prediction("memory_leak", 0.95)).await;
        assert_eq!(engine.firings().len(), 2, "cooldown holds the second");
        let f = &engine.firings()[0];
        assert_eq!(f.trigger, "predicted(memory_leak)");
        assert_eq!(f.confidence, Some(0.9));
        assert_eq!(f.prediction.as_deref(), Some("memory_leak on api (leak)"));
        assert_eq!(f.outcome, "did activate standby");
        let log = engine.finish().await;
        assert_eq!(log.reverted.len(), 2);
        assert_eq!(
            *recorder.done.lock().unwrap(),
            vec![
                "activate standby",
                "rehearse the predicted fault at 50%",
                "undo rehearse the predicted fault at 50%",
                "undo activate standby"
            ]
        );
    }

    #[tokio::test]
    async fn when_rules_read_the_metrics_store() {
        let store = MetricsStore::new();
        let recorder = Arc::new(Recorder::default());
        let condition = ConditionPlan::Compare {
            metric: MetricRef {
                source: "db".into(),
                source_kind: SourceKind::Resource,
                metric: "cpu".into(),
            },
            op: Comparator::Gt,
            value: 0.8,
        };
        let mut engine = MitigationEngine::with_rules(
            vec![rule(
                TriggerPlan::When { condition },
                vec![ActionPlan::Scale {
                    resource: "db".into(),
                    what: "cpu".into(),
                    amount: 1.0,
                    relative: true,
                }],
            )],
            0.0,
            store.clone(),
            recorder.clone(),
        );
        store.record_now("db.cpu", 0.5);
        engine.tick().await;
        assert!(engine.firings().is_empty());
        store.record_now("db.cpu", 0.95);
        engine.tick().await;
        assert_eq!(engine.firings()[0].action, "scale db cpu +1");
    }

    #[tokio::test]
    async fn alerts_post_json_to_the_webhook() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 8192];
            let mut got = Vec::new();
            loop {
                let n = s.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).to_string();
                if let Some(i) = text.find("\r\n\r\n")
                    && text.len() >= i + 4 + 10
                    && text.ends_with('}')
                {
                    break;
                }
            }
            s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8_lossy(&got).to_string()
        });
        let mut engine = MitigationEngine::with_rules(
            vec![rule(
                TriggerPlan::Predicted {
                    fault_kind: "any".into(),
                },
                vec![ActionPlan::Alert {
                    message: "leak coming".into(),
                    webhook: Some(url.clone()),
                }],
            )],
            0.0,
            MetricsStore::new(),
            Arc::new(Recorder::default()),
        );
        engine.on_prediction(&prediction("memory_leak", 0.9)).await;
        let request = server.await.unwrap();
        assert!(request.starts_with("POST /hook HTTP/1.1"), "{request}");
        let body: serde_json::Value =
            serde_json::from_str(&request[request.find("\r\n\r\n").unwrap() + 4..]).unwrap();
        assert_eq!(body["message"], "leak coming");
        assert_eq!(body["prediction"]["kind"], "memory_leak");
        assert!(engine.firings()[0].ok, "{:?}", engine.firings());
        assert!(engine.firings()[0].outcome.contains("(204)"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scripts_act_through_the_engine_and_a_runaway_script_does_not_stop_it() {
        let good = std::path::PathBuf::from("good.rhai");
        let bad = std::path::PathBuf::from("bad.rhai");
        let scripts = [
            (
                good.clone(),
                "if predicted(\"memory_leak\") > 0.5 { activate(\"standby\") }".to_string(),
            ),
            (bad.clone(), "loop { }".to_string()),
        ];
        let recorder = Arc::new(Recorder::default());
        let mut engine = MitigationEngine::with_rules(
            vec![rule(
                TriggerPlan::Predicted {
                    fault_kind: "any".into(),
                },
                vec![
                    ActionPlan::Script {
                        path: bad,
                        timeout_ms: 200.0,
                    },
                    ActionPlan::Script {
                        path: good,
                        timeout_ms: 200.0,
                    },
                ],
            )],
            0.0,
            MetricsStore::new(),
            recorder.clone(),
        )
        .with_scripts(scripts.into_iter().collect());
        let started = std::time::Instant::now();
        engine.on_prediction(&prediction("memory_leak", 0.9)).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        let firings = engine.firings().to_vec();
        assert!(
            !firings[0].ok && firings[0].outcome.contains("stopped"),
            "{firings:?}"
        );
        assert!(firings[1].ok, "{firings:?}");
        assert_eq!(firings[1].outcome, "script done: did activate standby");
        let log = engine.finish().await;
        assert_eq!(log.reverted, vec!["activate standby"]);
    }
}
