//! Liveness of the processes pfi started: each is watched during the run, and an exit or a
//! restart (a new pid) is a `ResourceEvent`: journaled when seen, a `<resource>.up` series
//! (1 or 0) in the metrics store, and, unless a fault explains it (a `kill`, `stop` or
//! `restart` on that resource around that time) or the resource says `may_exit`, a reason
//! for the run to fail: a crashed dependency measured as "PASS" is a wrong answer.
//!
//! Containers (created or selected, standbys activated by a mitigation included) are judged
//! the same way from the inspections of the container watch (`containers`): a container that
//! stops running, or runs with a new start time (restarted by Docker or anyone else), is an
//! event; `<resource>.up` is 1 while every container of the resource runs.

use super::fault_windows::FaultWindows;
use super::journal::{EventKind, Journal};
use crate::mitigate::Firing;
use crate::monitor::MetricsStore;
use crate::plan::Plan;
use crate::targets::{ProcessIdentity, ProcessTarget};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often each process is looked at.
pub const POLL: Duration = Duration::from_millis(100);

/// A fault window explains an event seen this long after it closed (a kill is seen at the
/// next poll; a restart at revert completes after the window closed).
const SLACK: Duration = Duration::from_secs(2);

/// Fault kinds that end or replace a process.
const ENDING_KINDS: &[&str] = &["kill", "stop", "restart"];

/// An exit or restart of a resource during the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceEvent {
    pub resource: String,
    /// When it was seen, in ms on the log's clock (the run's start).
    pub at_ms: f64,
    /// `exited with status 1`, `restarted (pid 10 -> 12)`.
    pub what: String,
    /// When it was seen on the metrics store's clock (that of the fault windows).
    #[serde(skip)]
    pub seen: Duration,
    /// The fault that explains it (`fault crash (kill)`), or `may_exit`; `None`: unexplained,
    /// the run fails.
    pub explained_by: Option<String>,
}

/// Every event seen, shared by the watch tasks and the report.
#[derive(Debug, Clone, Default)]
pub struct LivenessBoard {
    events: Arc<Mutex<Vec<ResourceEvent>>>,
}

impl LivenessBoard {
    pub fn new() -> LivenessBoard {
        LivenessBoard::default()
    }

    fn push(&self, event: ResourceEvent) {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(event);
    }

    /// The events seen, each explained (or not) by the faults applied in the run: judged at
    /// the end, because a kill is seen before its window is recorded.
    pub fn judged(
        &self,
        plan: &Plan,
        windows: &FaultWindows,
        mitigations: &[Firing],
    ) -> Vec<ResourceEvent> {
        let events = self
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        events
            .into_iter()
            .map(|mut event| {
                event.explained_by = explanation(plan, windows, mitigations, &event);
                event
            })
            .collect()
    }
}

fn explanation(
    plan: &Plan,
    windows: &FaultWindows,
    mitigations: &[Firing],
    event: &ResourceEvent,
) -> Option<String> {
    let at = event.seen;
    let fault = plan.faults.iter().find(|fault| {
        fault.target == event.resource
            && ENDING_KINDS.contains(&fault.kind.as_str())
            && windows.open_around(&fault.name, at, SLACK)
    });
    if let Some(fault) = fault {
        return Some(format!("fault {} ({})", fault.name, fault.kind));
    }
    let restart = format!("restart {}", event.resource);
    if mitigations.iter().any(|m| m.action == restart) {
        return Some(format!("mitigation `{restart}`"));
    }
    let declared = plan.resources.iter().find(|r| r.name == event.resource)?;
    declared.may_exit.then(|| "may_exit".to_string())
}

/// What a container's inspection says about its life: running (paused counts as running)
/// and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLife {
    pub running: bool,
    pub started_at: String,
    pub exit_code: Option<i64>,
}

/// The event between two inspections of container `name`, if any.
pub fn container_change(
    name: &str,
    before: &ContainerLife,
    after: &ContainerLife,
) -> Option<String> {
    match (before.running, after.running) {
        (true, false) => Some(match after.exit_code {
            Some(code) => format!("exited with status {code} (container {name})"),
            None => format!("stopped (container {name})"),
        }),
        (true, true) if before.started_at != after.started_at => Some(format!(
            "restarted (container {name}, started {} -> {})",
            before.started_at, after.started_at
        )),
        (false, true) => Some(format!("running again (container {name})")),
        _ => None,
    }
}

/// Records the event `what` of `resource`, seen now.
pub fn note(
    board: &LivenessBoard,
    store: &MetricsStore,
    journal: &Journal,
    resource: &str,
    what: String,
) {
    journal.record(EventKind::ResourceChanged {
        resource: resource.to_string(),
        what: what.clone(),
    });
    board.push(ResourceEvent {
        resource: resource.to_string(),
        at_ms: journal.elapsed_ms(),
        seen: store.now(),
        what,
        explained_by: None,
    });
}

/// Watches `target` until aborted: notes each exit and each restart.
pub async fn watch(
    target: ProcessTarget,
    board: LivenessBoard,
    store: MetricsStore,
    journal: Journal,
) {
    let name = target.name().to_string();
    let series = format!("{name}.up");
    let mut last: Option<ProcessIdentity> = target.identity();
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = target.identity();
        store.record_now(&series, if now.is_some() { 1.0 } else { 0.0 });
        let what = match (&last, &now) {
            (Some(before), None) => Some(match target.exit() {
                Some(exit) => format!("exited with {exit} (pid {})", before.pid),
                None => format!("is gone (pid {})", before.pid),
            }),
            (Some(before), Some(after)) if before != after => {
                Some(format!("restarted (pid {} -> {})", before.pid, after.pid))
            }
            (None, Some(after)) => Some(format!("running again (pid {})", after.pid)),
            _ => None,
        };
        last = now;
        let Some(what) = what else { continue };
        note(&board, &store, &journal, &name, what);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn life(running: bool, started_at: &str, exit_code: Option<i64>) -> ContainerLife {
        ContainerLife {
            running,
            started_at: started_at.to_string(),
            exit_code,
        }
    }

    #[test]
    fn container_exits_restarts_and_returns_are_events() {
        let up = life(true, "t1", Some(0));
        assert_eq!(container_change("c", &up, &up.clone()), None);
        let exited = life(false, "t1", Some(137));
        assert_eq!(
            container_change("c", &up, &exited).as_deref(),
            Some("exited with status 137 (container c)")
        );
        assert_eq!(container_change("c", &exited, &exited.clone()), None);
        assert_eq!(
            container_change("c", &exited, &life(true, "t2", Some(0))).as_deref(),
            Some("running again (container c)")
        );
        assert_eq!(
            container_change("c", &up, &life(true, "t2", Some(0))).as_deref(),
            Some("restarted (container c, started t1 -> t2)")
        );
    }
}
