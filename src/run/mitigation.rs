//! Mitigation in a run: the mitigation engine (`crate::mitigate`) spawned once every
//! resource is ready, fed by the prediction loop's channel and a tick, with the interpreter's
//! [`Actions`]: `scale` (a cpu/memory limit through the ledgered fault path: a cgroup for a
//! process, `docker update` for a container), `activate` (start a standby resource like any
//! other; it is stopped at teardown), `restart`, and `rehearse` (a less severe version of a
//! fault for a bounded time, then reverted and judged against the probe thresholds). `shift`
//! goes to the run's proxy (`ProxyActions`). Every firing is journaled as it happens; the
//! engine is stopped, and what it changed reverted, before the teardown — on a normal end, an
//! abort, a signal or a panic of the run task alike. What touches the system is recorded in
//! the ledger before it is applied, so `pfi recover` undoes it after a SIGKILL.
//!
//! It works on the interpreter's shared [`Runtime`].

use super::journal::Journal;
use super::runtime::{ActiveFault, Applied, Runtime, revert};
use super::start_up::start_resource;
use super::threshold_verdict::metric_value;
use crate::faults::{FaultAction, FaultContext, RevertAction, inject};
use crate::mitigate::actions::ProxyActions;
use crate::mitigate::engine::BoxFuture as ActionFuture;
use crate::mitigate::{Actions, Firing, MitigationEngine, MitigationLog, Performed, Undo};
use crate::monitor::{MetricsStore, Selection};
use crate::plan::{ActionPlan, FaultPlan, SourceKind, TargetFamily, Value};
use crate::plan::{Plan, ResourcePlan, ResourceTarget, format_duration};
use crate::predict::Prediction;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// How often `when` rules are evaluated.
const TICK: Duration = Duration::from_millis(500);
/// How long a rehearsal lasts at most.
const REHEARSAL: Duration = Duration::from_secs(2);

/// The running engine.
pub(super) struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<MitigationLog>,
}

/// Starts the engine when the plan has `mitigate` rules. `rt` is the locked runtime.
pub(super) fn spawn(
    plan: &Arc<Plan>,
    runtime: &Arc<Mutex<Runtime>>,
    rt: &mut Runtime,
    logs: &std::path::Path,
    store: &MetricsStore,
    journal: &Journal,
    seed: u64,
) {
    if plan.mitigations.is_empty() {
        return;
    }
    let actions = Arc::new(ProxyActions {
        proxy: rt.proxy.clone(),
        rest: Some(Arc::new(RunActions {
            plan: plan.clone(),
            runtime: runtime.clone(),
            logs: logs.to_path_buf(),
            store: store.clone(),
            journal: journal.clone(),
            seed,
            applied: std::sync::Mutex::new(Vec::new()),
        })),
    });
    let live = journal.clone();
    let engine = MitigationEngine::new(plan, store.clone(), actions)
        .observe(move |firing| live.event(describe(firing)));
    let mut broadcast = rt.prediction_sender.subscribe();
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    rt.probe_tasks.push(tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match broadcast.recv().await {
                Ok(prediction) => {
                    if sender.send(prediction).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            }
        }
    }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(engine.run(receiver, TICK, async move {
        let _ = stopped.await;
    }));
    journal.event(format!(
        "mitigation engine watching {} rule(s)",
        plan.mitigations.len()
    ));
    rt.mitigation = Some(Running { stop, task });
}

/// Stops the engine and reverts what its mitigations changed, newest first.
pub(super) async fn stop(runtime: &Arc<Mutex<Runtime>>, journal: &Journal) -> MitigationLog {
    let running = runtime.lock().await.mitigation.take();
    let Some(Running { stop, task }) = running else {
        return MitigationLog {
            firings: Vec::new(),
            reverted: Vec::new(),
            revert_errors: Vec::new(),
        };
    };
    let _ = stop.send(());
    match task.await {
        Ok(log) => {
            for undone in &log.reverted {
                journal.event(format!("mitigation {undone} reverted"));
            }
            log
        }
        Err(err) => MitigationLog {
            firings: Vec::new(),
            reverted: Vec::new(),
            revert_errors: vec![format!(
                "the mitigation engine failed ({err}); the ledger sweep reverts what it applied"
            )],
        },
    }
}

/// One journal line for a firing.
pub(super) fn describe(firing: &Firing) -> String {
    let prediction = match (&firing.prediction, firing.confidence) {
        (Some(p), Some(c)) => format!(", prediction {p} at confidence {c:.2}"),
        _ => String::new(),
    };
    format!(
        "mitigation {} on {}{prediction}: {}{}",
        firing.action,
        firing.trigger,
        if firing.ok { "" } else { "FAILED " },
        firing.outcome
    )
}

/// The interpreter's side of the mitigation actions.
struct RunActions {
    plan: Arc<Plan>,
    runtime: Arc<Mutex<Runtime>>,
    logs: PathBuf,
    store: MetricsStore,
    journal: Journal,
    seed: u64,
    /// Faults the mitigations applied and have not reverted: (resource/what key, fault).
    applied: std::sync::Mutex<Vec<(String, ActiveFault)>>,
}

impl RunActions {
    fn take(&self, matches: impl Fn(&str, &ActiveFault) -> bool) -> Option<ActiveFault> {
        let mut applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        let position = applied.iter().position(|(key, a)| matches(key, a))?;
        Some(applied.remove(position).1)
    }

    /// Applies `fault` (a process or container fault, or a toxic) through the ledger, like
    /// a scheduled activation; the applied fault is kept under `key`.
    async fn apply(&self, fault: &FaultPlan, key: &str) -> Result<(String, String), String> {
        let mut rt = self.runtime.lock().await;
        rt.next_id += 1;
        let ledger_id = format!("m{}", rt.next_id);
        let toxic_name = format!("{}-{ledger_id}", fault.name);
        let built = FaultAction::build(fault, &toxic_name)?;
        let applied = match built {
            FaultAction::Process(f) => {
                let target = rt
                    .processes
                    .iter()
                    .find(|p| p.name() == fault.target)
                    .cloned()
                    .ok_or_else(|| format!("resource `{}` is not running", fault.target))?;
                let ctx = FaultContext::new(rt.run_id.clone(), ledger_id.clone());
                let ledger = rt.ledger.clone();
                inject(f.as_ref(), &target, &ctx, |revert| {
                    ledger.applying(&ledger_id, &fault.name, &fault.target, revert)
                })
                .await
                .map(|f| Applied::Process(Box::new(f)))
                .map_err(|err| err.to_string())?
            }
            FaultAction::Container(f) => rt
                .containers
                .apply(
                    &fault.target,
                    f.as_ref(),
                    &fault.name,
                    &rt.run_id,
                    &ledger_id,
                    &rt.ledger,
                )
                .await
                .map(Applied::Containers)?,
            FaultAction::Toxic(config) => {
                let revert = RevertAction::Nothing {
                    reason: "a proxy toxic ends with the pfi process that holds it".to_string(),
                };
                rt.ledger
                    .applying(&ledger_id, &fault.name, &fault.target, &revert)
                    .map_err(|err| err.to_string())?;
                rt.proxy
                    .add_toxic(&fault.target, config)
                    .map_err(|err| err.to_string())?;
                Applied::Toxic {
                    link: fault.target.clone(),
                    toxic: toxic_name,
                }
            }
        };
        let detail = match &applied {
            Applied::Process(f) => f.detail().to_string(),
            Applied::Containers(all) => {
                let details: Vec<&str> = all.iter().map(|(_, f)| f.detail()).collect();
                details.join("; ")
            }
            Applied::Toxic { link, .. } => format!("{} on link {link}", fault.kind),
        };
        drop(rt);
        self.applied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((
                key.to_string(),
                ActiveFault {
                    key: (fault.name.clone(), 0),
                    ledger_id: ledger_id.clone(),
                    record: usize::MAX,
                    applied,
                },
            ));
        Ok((ledger_id, detail))
    }

    async fn revert_fault(&self, active: ActiveFault) -> Result<(), String> {
        let rt = self.runtime.lock().await;
        revert(&rt, &active).await.map(|_| ())
    }

    fn resource(&self, name: &str) -> Result<&ResourcePlan, String> {
        self.plan
            .resources
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| format!("no resource `{name}` in the plan"))
    }

    fn family(&self, resource: &str) -> Result<TargetFamily, String> {
        Ok(match self.resource(resource)?.target {
            ResourceTarget::Process { .. } => TargetFamily::Process,
            _ => TargetFamily::Container,
        })
    }

    /// A fault of `kind` on `resource` with `params`, for the ledgered fault path.
    fn fault(
        &self,
        name: String,
        kind: &str,
        resource: &str,
        params: Vec<(&str, Value)>,
    ) -> Result<FaultPlan, String> {
        let at = self.resource(resource)?.at.clone();
        Ok(FaultPlan {
            name,
            kind: kind.to_string(),
            profile: None,
            target: resource.to_string(),
            target_family: self.family(resource)?,
            params: params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            arrival: crate::plan::Arrival::At {
                times_ms: vec![0.0],
            },
            lasting: None,
            probability: 1.0,
            at,
        })
    }

    async fn scale(
        &self,
        resource: &str,
        what: &str,
        amount: f64,
        relative: bool,
    ) -> Result<Performed, String> {
        let (kind, param) = match what {
            "cpu" => ("cpu_limit", "cores"),
            "memory" => ("memory_limit", "limit"),
            other => return Err(format!("cannot scale `{other}` (cpu or memory)")),
        };
        let key = format!("scale {resource} {what}");
        let current = {
            let applied = self.applied.lock().unwrap_or_else(|p| p.into_inner());
            applied
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, a)| a.key.0.clone())
        };
        let base = match (relative, current) {
            (false, _) => 0.0,
            (true, Some(name)) => name
                .rsplit('=')
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0),
            (true, None) if what == "cpu" => {
                std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
            }
            (true, None) => {
                return Err(format!(
                    "`scale {resource} memory` by an amount needs an absolute size first (e.g. `scale {resource} memory 512MiB`)"
                ));
            }
        };
        let value = base + amount;
        if value <= 0.0 {
            return Err(format!("{what} of {resource} would be {value}"));
        }
        // A new scale of the same resource and quantity replaces the previous one.
        if let Some(previous) = self.take(|k, _| k == key) {
            self.revert_fault(previous).await?;
        }
        let fault_value = if what == "cpu" {
            Value::Number(value)
        } else {
            Value::Size(value.round())
        };
        let fault = self.fault(
            format!("{key}={value}"),
            kind,
            resource,
            vec![(param, fault_value)],
        )?;
        let (ledger_id, detail) = self.apply(&fault, &key).await?;
        Ok(Performed {
            detail: format!("{resource} {what} limit set: {detail}"),
            undo: Some(Undo {
                action: key,
                detail: format!("fault\n{ledger_id}"),
            }),
        })
    }

    async fn activate(&self, name: &str) -> Result<Performed, String> {
        let resource = self.resource(name)?;
        if !resource.standby {
            return Err(format!(
                "`{name}` is not a standby resource (declare it with `standby`)"
            ));
        }
        if matches!(resource.target, ResourceTarget::Process { .. }) {
            if let Some(running) = self
                .runtime
                .lock()
                .await
                .processes
                .iter()
                .find(|p| p.name() == name)
            {
                return Ok(Performed {
                    detail: format!("{name} is already active (pid {:?})", running.pid()),
                    undo: None,
                });
            }
            start_resource(resource, &self.logs, &self.runtime, &self.journal)
                .await
                .map_err(|err| err.to_string())?;
            let pid = self
                .runtime
                .lock()
                .await
                .processes
                .iter()
                .find(|p| p.name() == name)
                .and_then(|p| p.pid());
            Ok(Performed {
                detail: format!(
                    "standby {name} started and ready (pid {}); it stops at the end of the run",
                    pid.map_or("?".to_string(), |p| p.to_string())
                ),
                undo: None,
            })
        } else {
            let (containers, ledger, run_id) = {
                let rt = self.runtime.lock().await;
                (rt.containers.clone(), rt.ledger.clone(), rt.run_id.clone())
            };
            containers
                .start(
                    resource,
                    self.seed,
                    &run_id,
                    ledger,
                    &self.store,
                    &self.journal,
                )
                .await
                .map_err(|err| err.to_string())?;
            Ok(Performed {
                detail: format!("standby {name} started; it is removed at the end of the run"),
                undo: None,
            })
        }
    }

    async fn restart(&self, name: &str) -> Result<Performed, String> {
        let fault = self.fault(format!("restart {name}"), "restart", name, Vec::new())?;
        let key = format!("restart {name}");
        let (_, detail) = self.apply(&fault, &key).await?;
        // A restart is done once applied; close its ledger record.
        if let Some(done) = self.take(|k, _| k == key) {
            self.revert_fault(done).await?;
        }
        Ok(Performed {
            detail: format!("{name} restarted: {detail}"),
            undo: None,
        })
    }

    /// The fault to rehearse: the named one, or one of the plan's faults on the predicted
    /// resource or of the predicted kind.
    fn rehearsed(&self, named: Option<&str>, prediction: Option<&Prediction>) -> Option<FaultPlan> {
        let faults = &self.plan.faults;
        match named {
            Some(name) if name != "less_severe" => faults.iter().find(|f| f.name == name),
            _ => {
                let p = prediction?;
                faults
                    .iter()
                    .find(|f| f.kind == p.kind)
                    .or_else(|| faults.iter().find(|f| f.target == p.resource))
            }
        }
        .cloned()
    }

    async fn rehearse(
        &self,
        named: Option<&str>,
        severity: f64,
        prediction: Option<&Prediction>,
    ) -> Result<Performed, String> {
        let Some(mut fault) = self.rehearsed(named, prediction) else {
            return Err(match (named, prediction) {
                (Some(n), _) if n != "less_severe" => format!("no fault `{n}` in the plan"),
                (_, Some(p)) => format!(
                    "no fault of kind {} nor on {} in the plan to rehearse",
                    p.kind, p.resource
                ),
                _ => "nothing predicted and no fault named to rehearse".to_string(),
            });
        };
        let severity = severity.clamp(0.01, 1.0);
        let softened = soften(&mut fault, severity);
        fault.name = format!("rehearsal of {}", fault.name);
        let key = format!("rehearse {}", fault.name);
        let (ledger_id, detail) = self.apply(&fault, &key).await?;
        self.journal.event(format!(
            "{} ({softened}) applied for {}: {detail}",
            fault.name,
            format_duration(REHEARSAL.as_secs_f64() * 1000.0)
        ));
        tokio::time::sleep(REHEARSAL).await;
        if let Some(active) = self.take(|_, a| a.ledger_id == ledger_id) {
            self.revert_fault(active).await?;
        }
        self.journal.event(format!("{} reverted", fault.name));
        let verdicts = self.judge_rehearsal();
        let broken: Vec<&String> = verdicts
            .iter()
            .filter(|(ok, _)| !ok)
            .map(|(_, t)| t)
            .collect();
        let all: Vec<&str> = verdicts.iter().map(|(_, t)| t.as_str()).collect();
        if broken.is_empty() {
            Ok(Performed {
                detail: format!(
                    "{} ({softened}) for {}: held ({})",
                    fault.name,
                    format_duration(REHEARSAL.as_secs_f64() * 1000.0),
                    if all.is_empty() {
                        "no probe threshold to judge".to_string()
                    } else {
                        all.join(", ")
                    }
                ),
                undo: None,
            })
        } else {
            Err(format!(
                "{} ({softened}) broke {}",
                fault.name,
                broken
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }

    /// The probe thresholds over the rehearsal: (held, "text (measured)").
    fn judge_rehearsal(&self) -> Vec<(bool, String)> {
        self.plan
            .thresholds
            .iter()
            .filter(|t| t.metric.source_kind == SourceKind::Probe && t.during.is_none())
            .filter_map(|t| {
                let observations = self
                    .store
                    .observations(&t.metric.source, &Selection::trailing(REHEARSAL));
                if observations.is_empty() {
                    return None;
                }
                let value = metric_value(&t.metric.metric, &observations).ok()?;
                Some((
                    t.op.holds(value, t.value),
                    format!("{} (measured {value:.3})", t.text),
                ))
            })
            .collect()
    }
}

/// Makes `fault` less severe by `severity` (0..1]; describes how: its kind loosens its
/// settings if it has any to loosen, else a link fault gets a lower toxicity.
fn soften(fault: &mut FaultPlan, severity: f64) -> String {
    if let Some(how) =
        crate::faults::kind(&fault.kind).and_then(|kind| kind.soften(&mut fault.params, severity))
    {
        return how;
    }
    if matches!(
        fault.target_family,
        TargetFamily::TcpLink | TargetFamily::HttpLink
    ) {
        let toxicity = match fault.params.get("toxicity") {
            Some(Value::Fraction(x)) | Some(Value::Number(x)) => *x,
            _ => 1.0,
        } * severity;
        fault
            .params
            .insert("toxicity".into(), Value::Fraction(toxicity));
        return format!("toxicity {:.0}%", toxicity * 100.0);
    }
    "for a short time".to_string()
}

impl Actions for RunActions {
    fn perform<'a>(
        &'a self,
        action: &'a ActionPlan,
        prediction: Option<&'a Prediction>,
    ) -> ActionFuture<'a, Result<Performed, String>> {
        Box::pin(async move {
            match action {
                ActionPlan::Scale {
                    resource,
                    what,
                    amount,
                    relative,
                } => self.scale(resource, what, *amount, *relative).await,
                ActionPlan::Activate { resource } => self.activate(resource).await,
                ActionPlan::Restart { resource } => self.restart(resource).await,
                ActionPlan::Rehearse { fault, severity } => {
                    self.rehearse(fault.as_deref(), *severity, prediction).await
                }
                other => Err(format!("`{other:?}` is not an interpreter action")),
            }
        })
    }

    fn revert<'a>(&'a self, undo: &'a Undo) -> ActionFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut parts = undo.detail.splitn(2, '\n');
            match (parts.next(), parts.next()) {
                (Some("fault"), Some(id)) => match self.take(|_, a| a.ledger_id == id) {
                    // Already replaced or reverted.
                    None => Ok(()),
                    Some(active) => self.revert_fault(active).await,
                },
                _ => Err(format!("malformed undo record for {}", undo.action)),
            }
        })
    }
}
