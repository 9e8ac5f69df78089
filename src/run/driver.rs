//! `Driver`: the schedule's actuator. Prepares, applies and reverts the timeline's
//! activations through the ledger and checks the abort thresholds (measured and predicted).

use super::fault_windows::FaultWindows;
use super::journal::{EventKind, Journal};
use super::predicted_abort::PredictedAbort;
use super::run_report::FaultRecord;
use super::runtime::{ActiveFault, Applied, Runtime, revert};
use super::schedule::{Actuator, BoxFuture};
use super::threshold_verdict::abort_fails;
use crate::faults::{FaultAction, FaultContext, Recorded, RevertAction, inject, prepare_recorded};
use crate::model::Activation;
use crate::monitor::MetricsStore;
use crate::plan::{Plan, ThresholdPlan, format_duration};
use crate::proxy::ToxicConfig;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Drives the schedule: applies and reverts through the ledger, checks abort thresholds.
pub(super) struct Driver {
    pub(super) plan: Arc<Plan>,
    pub(super) runtime: Arc<Mutex<Runtime>>,
    pub(super) store: MetricsStore,
    pub(super) windows: FaultWindows,
    pub(super) journal: Journal,
    pub(super) zero: Instant,
    pub(super) aborts: Vec<ThresholdPlan>,
    /// Predicted stop conditions, and whether they only record (`--no-abort`).
    pub(super) predicted_aborts: Vec<PredictedAbort>,
    pub(super) no_abort: bool,
    /// Activations prepared ahead of their time (recorded in the ledger), by (fault, index).
    pub(super) prepared: HashMap<(String, usize), Early>,
}

/// An activation prepared and recorded, waiting for its time.
pub(super) struct Early {
    ledger_id: String,
    change: EarlyChange,
}

pub(super) enum EarlyChange {
    Process(Box<Recorded>),
    Toxic { config: ToxicConfig, name: String },
}

impl Driver {
    fn now_ms(&self) -> f64 {
        self.zero.elapsed().as_secs_f64() * 1000.0
    }

    /// Builds, prepares and records a process fault or a toxic ahead of its time; anything
    /// else (or anything that fails here) is done in full at the activation's time.
    async fn prepare_activation(&mut self, activation: &Activation) {
        let mut rt = self.runtime.lock().await;
        let toxic_name = format!("{}-{}", activation.fault, activation.index);
        let Some(Ok(action)) = self
            .plan
            .fault(&activation.fault)
            .map(|fault| FaultAction::build(fault, &toxic_name))
        else {
            return;
        };
        let ledger_id = format!("f{}", rt.next_id + 1);
        let change = match action {
            FaultAction::Process(fault) => {
                let Some(target) = rt
                    .processes
                    .iter()
                    .find(|p| p.name() == &*activation.target)
                else {
                    return;
                };
                let ctx = FaultContext::new(rt.run_id.clone(), ledger_id.clone());
                let ledger = rt.ledger.clone();
                let recorded = prepare_recorded(fault.as_ref(), target, &ctx, |revert| {
                    ledger.applying(&ledger_id, &activation.fault, &activation.target, revert)
                })
                .await;
                match recorded {
                    Ok(recorded) => EarlyChange::Process(Box::new(recorded)),
                    Err(_) => return,
                }
            }
            FaultAction::Toxic(config) => {
                let revert = RevertAction::Nothing {
                    reason: "a proxy toxic ends with the pfi process that holds it".to_string(),
                };
                if rt
                    .ledger
                    .applying(&ledger_id, &activation.fault, &activation.target, &revert)
                    .is_err()
                {
                    return;
                }
                EarlyChange::Toxic {
                    config,
                    name: toxic_name,
                }
            }
            FaultAction::Container(_) => return,
        };
        rt.next_id += 1;
        self.prepared.insert(
            (activation.fault.to_string(), activation.index),
            Early { ledger_id, change },
        );
    }

    async fn apply_activation(&mut self, activation: &Activation) {
        let planned_ms = self.plan.experiment.baseline_ms + activation.start_ms;
        let early = self
            .prepared
            .remove(&(activation.fault.to_string(), activation.index));
        let mut rt = self.runtime.lock().await;
        let toxic_name = format!("{}-{}", activation.fault, activation.index);
        let (ledger_id, applied) = match early {
            Some(Early { ledger_id, change }) => {
                let applied = match change {
                    EarlyChange::Process(recorded) => recorded
                        .apply()
                        .await
                        .map(|f| Applied::Process(Box::new(f)))
                        .map_err(|err| err.to_string()),
                    EarlyChange::Toxic { config, name } => rt
                        .proxy
                        .add_toxic(&activation.target, config)
                        .map_err(|err| err.to_string())
                        .map(|_| Applied::Toxic {
                            link: activation.target.to_string(),
                            toxic: name,
                        }),
                };
                (ledger_id, applied)
            }
            None => {
                rt.next_id += 1;
                let ledger_id = format!("f{}", rt.next_id);
                let plan = self.plan.clone();
                let applied = apply_now(&plan, &mut rt, activation, &ledger_id, &toxic_name).await;
                (ledger_id, applied)
            }
        };
        self.record_applied(&mut rt, activation, planned_ms, ledger_id, applied);
    }
}

/// Builds, records and applies an activation that was not prepared ahead.
async fn apply_now(
    plan: &Plan,
    rt: &mut Runtime,
    activation: &Activation,
    ledger_id: &str,
    toxic_name: &str,
) -> Result<Applied, String> {
    let ledger_id = ledger_id.to_string();
    let result = match plan.fault(&activation.fault) {
        Some(fault) => FaultAction::build(fault, toxic_name),
        None => Err(format!("fault `{}` is not in the plan", activation.fault)),
    };
    match result {
        Err(err) => Err(err),
        Ok(FaultAction::Process(fault)) => {
            match rt
                .processes
                .iter()
                .find(|p| p.name() == &*activation.target)
            {
                None => Err(format!("resource `{}` is not running", activation.target)),
                Some(target) => {
                    let ctx = FaultContext::new(rt.run_id.clone(), ledger_id.clone());
                    let ledger = rt.ledger.clone();
                    inject(fault.as_ref(), target, &ctx, |revert| {
                        ledger.applying(&ledger_id, &activation.fault, &activation.target, revert)
                    })
                    .await
                    .map(|f| Applied::Process(Box::new(f)))
                    .map_err(|err| err.to_string())
                }
            }
        }
        Ok(FaultAction::Container(fault)) => rt
            .containers
            .apply(
                &activation.target,
                fault.as_ref(),
                &plan
                    .fault(&activation.fault)
                    .map(|f| f.params.clone())
                    .unwrap_or_default(),
                &activation.fault,
                &rt.run_id,
                &ledger_id,
                &rt.ledger,
            )
            .await
            .map(Applied::Containers),
        Ok(FaultAction::Toxic(config)) => {
            let revert = RevertAction::Nothing {
                reason: "a proxy toxic ends with the pfi process that holds it".to_string(),
            };
            rt.ledger
                .applying(&ledger_id, &activation.fault, &activation.target, &revert)
                .map_err(|err| err.to_string())
                .and_then(|()| {
                    rt.proxy
                        .add_toxic(&activation.target, config)
                        .map_err(|err| err.to_string())
                })
                .map(|_| Applied::Toxic {
                    link: activation.target.to_string(),
                    toxic: toxic_name.to_string(),
                })
        }
    }
}

impl Driver {
    /// Waits in the background for a fault's effect measurement and writes it into its record
    /// (number `record`) and the journal when it arrives; a measurement that arrives after the
    /// report was built is only in the journal.
    /// `target` names the container when the fault has several (their findings are joined).
    fn await_measurement(
        &self,
        fault: &str,
        record: usize,
        target: Option<String>,
        measurement: tokio::task::JoinHandle<crate::faults::Effect>,
    ) {
        let runtime = self.runtime.clone();
        let journal = self.journal.clone();
        let fault = fault.to_string();
        tokio::spawn(async move {
            let Ok(effect) = measurement.await else {
                return;
            };
            let mut rt = runtime.lock().await;
            let Some(entry) = rt.records.get_mut(record) else {
                return;
            };
            let named = |text: String| match &target {
                Some(target) => format!("{target}: {text}"),
                None => text,
            };
            let joined = |field: &mut Option<String>, text: &str| {
                *field = Some(match field.take() {
                    Some(earlier) => format!("{earlier}; {text}"),
                    None => text.to_string(),
                });
            };
            match effect {
                crate::faults::Effect::Observed(measured) => {
                    let measured = named(measured);
                    joined(&mut entry.measured, &measured);
                    journal.record(EventKind::FaultMeasured { fault, measured });
                }
                crate::faults::Effect::NoEffect(reason) => {
                    let reason = named(reason);
                    joined(&mut entry.no_effect, &reason);
                    journal.record(EventKind::FaultNoEffect { fault, reason });
                }
                crate::faults::Effect::Unchecked => {}
            }
        });
    }

    /// Notes what became of an activation: its record, the fault windows, the journal.
    fn record_applied(
        &self,
        rt: &mut Runtime,
        activation: &Activation,
        planned_ms: f64,
        ledger_id: String,
        applied: Result<Applied, String>,
    ) {
        // The moment the fault took hold, not after its effect check: how long ago applying
        // finished (for several containers, the last of them).
        let since_applied = match &applied {
            Ok(Applied::Process(fault)) => fault.applied_at().elapsed(),
            Ok(Applied::Containers(faults)) => faults
                .iter()
                .map(|(_, fault)| fault.applied_at().elapsed())
                .min()
                .unwrap_or_default(),
            _ => std::time::Duration::ZERO,
        };
        let applied_ms = (self.now_ms() - since_applied.as_secs_f64() * 1000.0).max(0.0);
        let mut record = FaultRecord {
            fault: activation.fault.to_string(),
            kind: activation.kind.to_string(),
            target: activation.target.to_string(),
            planned_ms,
            planned_duration_ms: activation.duration_ms,
            applied_ms: None,
            reverted_ms: None,
            detail: activation.strength.to_string(),
            error: None,
            no_effect: None,
            measured: None,
        };
        match applied {
            Ok(mut applied) => {
                record.applied_ms = Some(applied_ms);
                match &mut applied {
                    Applied::Process(fault) => {
                        if let Some(measurement) = fault.take_measurement() {
                            let record = rt.records.len();
                            self.await_measurement(&activation.fault, record, None, measurement);
                        }
                    }
                    Applied::Containers(faults) => {
                        // One measurement per container, each named when there are several.
                        let several = faults.len() > 1;
                        for (_, fault) in faults.iter_mut() {
                            let name = several.then(|| fault.target().name().to_string());
                            if let Some(measurement) = fault.take_measurement() {
                                let record = rt.records.len();
                                self.await_measurement(
                                    &activation.fault,
                                    record,
                                    name,
                                    measurement,
                                );
                            }
                        }
                    }
                    _ => {}
                }
                self.store.fault_started(&activation.fault);
                self.windows.opened(&activation.fault, self.store.now());
                match &applied {
                    Applied::Process(fault) => {
                        record.detail = fault.detail().to_string();
                        record.no_effect = fault.effect().no_effect().map(str::to_string);
                    }
                    Applied::Containers(faults) => {
                        let details: Vec<&str> = faults.iter().map(|(_, f)| f.detail()).collect();
                        record.detail = details.join("; ");
                        let none: Vec<&str> = faults
                            .iter()
                            .filter_map(|(_, f)| f.effect().no_effect())
                            .collect();
                        record.no_effect = (!none.is_empty()).then(|| none.join("; "));
                    }
                    Applied::Toxic { .. } => {}
                }
                if let Some(reason) = &record.no_effect {
                    self.journal.record(EventKind::FaultNoEffect {
                        fault: activation.fault.to_string(),
                        reason: reason.clone(),
                    });
                }
                self.journal.record(EventKind::FaultApplied {
                    fault: activation.fault.to_string(),
                    kind: activation.kind.to_string(),
                    target: activation.target.to_string(),
                    duration_ms: activation.duration_ms,
                });
                let index = rt.records.len();
                rt.records.push(record);
                rt.active.push(ActiveFault {
                    key: (activation.fault.to_string(), activation.index),
                    ledger_id,
                    record: index,
                    applied,
                });
            }
            Err(err) => {
                self.journal.record(EventKind::FaultNotApplied {
                    fault: activation.fault.to_string(),
                    error: err.clone(),
                });
                record.error = Some(err);
                rt.records.push(record);
            }
        }
    }

    async fn revert_activation(&mut self, activation: &Activation) {
        let key = (activation.fault.to_string(), activation.index);
        let mut rt = self.runtime.lock().await;
        let Some(position) = rt.active.iter().position(|a| a.key == key) else {
            return;
        };
        let active = rt.active.remove(position);
        let now = self.now_ms();
        match revert(&rt, &active).await {
            Ok(no_effect) => {
                rt.records[active.record].reverted_ms = Some(now);
                if let Some(reason) = no_effect {
                    self.journal.record(EventKind::FaultNoEffect {
                        fault: activation.fault.to_string(),
                        reason: reason.clone(),
                    });
                    rt.records[active.record].no_effect = Some(reason);
                }
                self.journal.record(EventKind::FaultReverted {
                    fault: activation.fault.to_string(),
                });
            }
            Err(err) => {
                self.journal.record(EventKind::FaultNotReverted {
                    fault: activation.fault.to_string(),
                    error: err.clone(),
                });
                rt.records[active.record].error = Some(err);
            }
        }
        self.store.fault_ended(&activation.fault);
        self.windows.closed(&activation.fault, self.store.now());
    }
}

impl Actuator for Driver {
    fn prepare<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()> {
        Box::pin(self.prepare_activation(activation))
    }

    fn apply<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()> {
        Box::pin(self.apply_activation(activation))
    }

    fn revert<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()> {
        Box::pin(self.revert_activation(activation))
    }

    fn abort_reason(&mut self) -> Option<String> {
        for predicted in &mut self.predicted_aborts {
            let called = predicted.check(&self.store);
            if let Some((at, failed)) = predicted.take_breach() {
                self.journal.record(EventKind::PredictedStopBreached {
                    failed_ms: (failed * 1000.0).round(),
                    lead_ms: ((failed - at) * 1000.0).round(),
                    called_ms: (at * 1000.0).round(),
                });
            }
            let Some(breach) = called else {
                continue;
            };
            let expected = breach
                .crossing
                .map_or(String::new(), |c| format!(", breach {c}"));
            let reason = format!(
                "threshold `{}` predicted to fail within {} (probability {:.2}{expected})",
                breach.text,
                format_duration(breach.within_ms),
                breach.probability
            );
            if self.no_abort {
                self.journal
                    .record(EventKind::PredictedStopIgnored { reason });
                continue;
            }
            return Some(reason);
        }
        self.aborts.iter().find_map(|threshold| {
            let verdict = abort_fails(threshold, &self.store, &self.windows)?;
            Some(format!(
                "abort threshold `{}` failed (measured {})",
                verdict.text,
                verdict
                    .measured
                    .map_or("nothing".to_string(), |v| format!("{v:.3}"))
            ))
        })
    }
}
