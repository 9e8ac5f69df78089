//! Teardown: undoes everything a run left in effect — faults reverted newest first (then
//! anything the ledger still holds), links closed, processes stopped in reverse start order,
//! containers removed.

use super::journal::{EventKind, Journal};
use super::runtime::{Runtime, revert};
use std::sync::Arc;
use tokio::sync::Mutex;

/// Undoes everything; returns what could not be undone.
pub(super) async fn teardown(runtime: &Arc<Mutex<Runtime>>, journal: &Journal) -> Vec<String> {
    let mut errors = Vec::new();
    let mut rt = runtime.lock().await;
    for task in rt.probe_tasks.drain(..) {
        task.abort();
    }
    while let Some(active) = rt.active.pop() {
        match revert(&rt, &active).await {
            Ok(no_effect) => {
                journal.record(EventKind::FaultReverted {
                    fault: active.key.0.clone(),
                });
                if let Some(reason) = no_effect {
                    rt.records[active.record].no_effect = Some(reason);
                }
            }
            Err(err) => errors.push(format!("fault {}: {err}", active.key.0)),
        }
    }
    // Anything recorded but not in `active` (a run task stopped mid-apply).
    match rt.ledger.contents() {
        Ok(contents) => {
            for pending in contents.outstanding().faults.iter().rev() {
                let outcome = pending.revert.revert(None).await;
                match outcome {
                    Ok(_) => {
                        if let Err(err) = rt.ledger.reverted(&pending.id) {
                            errors.push(err.to_string());
                        }
                    }
                    Err(err) => errors.push(format!("fault {}: {err}", pending.fault)),
                }
            }
        }
        Err(err) => errors.push(err.to_string()),
    }
    rt.proxy.shutdown().await;
    for link in rt.links.drain(..) {
        journal.record(EventKind::LinkClosed { link });
    }
    while let Some(process) = rt.processes.pop() {
        match process.stop().await {
            Ok(_) => journal.record(EventKind::ResourceStopped {
                resource: process.name().to_string(),
            }),
            Err(err) => errors.push(err.to_string()),
        }
    }
    let containers = rt.containers.clone();
    errors.extend(containers.teardown(&rt.ledger, &rt.run_id, journal).await);
    if errors.is_empty() {
        if let Err(err) = rt.ledger.finished() {
            errors.push(err.to_string());
        }
    } else {
        errors.push(format!(
            "run `pfi recover` to retry what could not be undone (ledger {})",
            rt.ledger.path().display()
        ));
    }
    errors
}
