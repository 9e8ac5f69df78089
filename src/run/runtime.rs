//! `Runtime`: what is in effect during a run (links, processes, containers, probe tasks,
//! applied faults), shared by the driver, the mitigation engine and the teardown, and how an
//! applied fault is undone.

use super::containers::{self, AppliedContainers, Containers};
use super::ledger::Ledger;
use super::liveness::LivenessBoard;
use super::run_report::FaultRecord;
use super::telemetry::Predictions;
use crate::faults::AppliedFault;
use crate::predict::Prediction;
use crate::proxy::ProxyServer;
use crate::targets::ProcessTarget;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The running mitigation engine (started and stopped by `mitigation`).
pub(super) struct Running {
    pub(super) stop: tokio::sync::oneshot::Sender<()>,
    pub(super) task: JoinHandle<crate::mitigate::MitigationLog>,
}

/// What is in effect, shared by the run task and the teardown.
pub(super) struct Runtime {
    pub(super) run_id: String,
    pub(super) ledger: Arc<Ledger>,
    pub(super) proxy: ProxyServer,
    pub(super) links: Vec<String>,
    pub(super) processes: Vec<ProcessTarget>,
    pub(super) containers: Containers,
    /// Exits and restarts of resources (processes, containers, activated standbys).
    pub(super) liveness: LivenessBoard,
    pub(super) probe_tasks: Vec<JoinHandle<()>>,
    /// Where the prediction loop sends its predictions, and keeps them for the report.
    pub(super) prediction_sender: tokio::sync::broadcast::Sender<Prediction>,
    pub(super) predicted: Predictions,
    /// The mitigation engine, when the plan has `mitigate` rules.
    pub(super) mitigation: Option<Running>,
    /// Rules fired by hand, for the engine (taken when it starts).
    pub(super) manual_mitigations:
        Option<tokio::sync::mpsc::Receiver<crate::mitigate::ManualFiring>>,
    /// Applied activations in order of application.
    pub(super) active: Vec<ActiveFault>,
    pub(super) records: Vec<FaultRecord>,
    pub(super) next_id: usize,
    /// When every resource was ready (time zero of fault records; `RunReport::ready_ms` on
    /// the log's clock).
    pub(super) ready_at: Option<Instant>,
}

pub(super) struct ActiveFault {
    /// (fault, arrival index) of the activation.
    pub(super) key: (String, usize),
    pub(super) ledger_id: String,
    pub(super) record: usize,
    pub(super) applied: Applied,
}

pub(super) enum Applied {
    Process(Box<AppliedFault>),
    /// One applied fault per selected container, each with its ledger id.
    Containers(AppliedContainers),
    Toxic {
        link: String,
        toxic: String,
    },
}

/// Undoes an active fault; for a toxic, also says whether it had no observable effect (no
/// connection or request met it while it was installed).
pub(super) async fn revert(rt: &Runtime, active: &ActiveFault) -> Result<Option<String>, String> {
    let mut no_effect = None;
    if let Applied::Toxic { link, toxic } = &active.applied {
        no_effect = toxic_unseen(&rt.proxy, link, toxic);
    }
    match &active.applied {
        Applied::Process(fault) => fault
            .revert()
            .await
            .map(|_| ())
            .map_err(|err| err.to_string())?,
        Applied::Containers(applied) => {
            return containers::revert(applied, &rt.ledger).await.map(|()| None);
        }
        Applied::Toxic { link, toxic } => rt
            .proxy
            .remove_toxic(link, toxic)
            .map_err(|err| err.to_string())?,
    }
    rt.ledger
        .reverted(&active.ledger_id)
        .map_err(|err| err.to_string())?;
    Ok(no_effect)
}

/// Why toxic `toxic` on `link` had no observable effect, if no traffic met it.
fn toxic_unseen(proxy: &ProxyServer, link: &str, toxic: &str) -> Option<String> {
    let stats = proxy.stats(link).ok()?;
    let counters = stats.toxics.iter().find(|t| t.name == toxic)?;
    (counters.applied == 0).then(|| {
        format!(
            "no connection or request through link `{link}` met the toxic while it was installed"
        )
    })
}
