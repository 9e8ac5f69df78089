//! The run's journal: every event, typed, with its time since the run began, kept for the run
//! record and handed live to a sink (the CLI prints one line per event). The run's one clock:
//! the log's times, the summary's and the report's are all "ms since the run began".

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One thing that happened during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    /// Milliseconds since the run began.
    pub at_ms: f64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. `Display` is the line the log prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    RunStarted {
        run_id: String,
        experiment: String,
        seed: u64,
    },
    LinkListening {
        link: String,
        listen: String,
        upstream: String,
    },
    LinkClosed {
        link: String,
    },
    ResourceStarting {
        resource: String,
    },
    ResourceReady {
        resource: String,
        pid: u32,
    },
    ResourceStopped {
        resource: String,
    },
    /// Whether a prediction came true, judged at the end (`at_ms` on the store's clock).
    PredictionJudged {
        kind: String,
        resource: String,
        at_ms: f64,
        evidence: Option<String>,
        lead_ms: Option<f64>,
    },
    /// Every resource is ready: the warm-up baseline starts, then the faults.
    AllReady {
        baseline_ms: f64,
        duration_ms: f64,
        activations: usize,
    },
    FaultApplied {
        fault: String,
        kind: String,
        target: String,
        duration_ms: f64,
    },
    FaultNotApplied {
        fault: String,
        error: String,
    },
    /// A fault's check after applying (or at its revert) found nothing it changed.
    FaultNoEffect {
        fault: String,
        reason: String,
    },
    /// A fault's effect measured in the background over a window after applying (CPU use
    /// under `cpu_limit`).
    FaultMeasured {
        fault: String,
        measured: String,
    },
    FaultReverted {
        fault: String,
    },
    FaultNotReverted {
        fault: String,
        error: String,
    },
    Completed,
    Aborting {
        reason: String,
    },
    /// A shutdown signal (`SIGINT`, `SIGTERM`) arrived.
    Interrupted {
        signal: String,
    },
    /// The environment failed mid-run.
    Stopping {
        reason: String,
    },
    /// A predicted stop condition's threshold failed after the forecast called it (ms since
    /// the store's clock started).
    PredictedStopBreached {
        failed_ms: f64,
        lead_ms: f64,
        called_ms: f64,
    },
    /// A predicted stop condition called it, but `--no-abort` keeps the run going.
    PredictedStopIgnored {
        reason: String,
    },
    /// The prediction loop started.
    PredictionLoopStarted {
        interval_ms: f64,
        metrics: usize,
        bindings: usize,
    },
    /// The prediction loop made a prediction (`detail`: its signals and expected limit).
    Predicted {
        kind: String,
        resource: String,
        pattern: String,
        confidence: f64,
        detail: String,
    },
    /// The mitigation engine started.
    MitigationWatching {
        rules: usize,
    },
    /// A mitigation rule fired.
    MitigationFired {
        trigger: String,
        prediction: Option<String>,
        confidence: Option<f64>,
        action: String,
        outcome: String,
        ok: bool,
    },
    /// What a mitigation changed was undone at the end.
    MitigationReverted {
        what: String,
    },
    /// A rehearsal (a softened fault) was applied for `duration_ms`.
    RehearsalApplied {
        fault: String,
        softened: String,
        duration_ms: f64,
        detail: String,
    },
    RehearsalReverted {
        fault: String,
    },
    /// A process pfi started exited, restarted or runs again (`what` says which).
    ResourceChanged {
        resource: String,
        what: String,
    },
    /// A resource's health check failed after passing: what the `check` is and what the
    /// failed check said (`detail`).
    ResourceUnhealthy {
        resource: String,
        check: String,
        detail: String,
    },
    /// A resource's health check passed again, after `unhealthy_ms` of failing.
    ResourceHealthy {
        resource: String,
        unhealthy_ms: f64,
    },
    ContainerCreating {
        resource: String,
        image: String,
    },
    ContainerReady {
        resource: String,
        containers: Vec<String>,
    },
    /// `how`: what the engine reported when the container was removed after a crash.
    ContainerRemoved {
        container: String,
        resource: String,
        how: Option<String>,
    },
    DockerApiCalls {
        calls: u64,
    },
    /// A line of text, in journals written before every event had a type (their
    /// `health_changed` lines read back as notes too); this pfi records none.
    #[serde(alias = "health_changed")]
    Note {
        message: String,
    },
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::plan::format_duration;
        match self {
            EventKind::RunStarted {
                run_id,
                experiment,
                seed,
            } => write!(
                f,
                "run {run_id}: experiment \"{experiment}\" with seed {seed}"
            ),
            EventKind::LinkListening {
                link,
                listen,
                upstream,
            } => write!(f, "link {link} listening on {listen} -> {upstream}"),
            EventKind::LinkClosed { link } => write!(f, "link {link} closed"),
            EventKind::ResourceStarting { resource } => write!(f, "starting {resource}"),
            EventKind::ResourceReady { resource, pid } => {
                write!(f, "{resource} ready (pid {pid})")
            }
            EventKind::ResourceStopped { resource } => write!(f, "{resource} stopped"),
            EventKind::PredictionJudged {
                kind,
                resource,
                at_ms,
                evidence,
                lead_ms,
            } => match (lead_ms, evidence) {
                (Some(lead), Some(evidence)) => write!(
                    f,
                    "prediction {kind} on {resource} at {}: came true ({evidence}) {} later",
                    format_duration(*at_ms),
                    format_duration(*lead)
                ),
                _ => write!(
                    f,
                    "prediction {kind} on {resource} at {}: did not happen during the run",
                    format_duration(*at_ms)
                ),
            },
            EventKind::AllReady {
                baseline_ms,
                duration_ms,
                activations,
            } => write!(
                f,
                "all resources ready; baseline {}, then {} of faults ({activations} activations fire)",
                format_duration(*baseline_ms),
                format_duration(*duration_ms)
            ),
            EventKind::FaultApplied {
                fault,
                kind,
                target,
                duration_ms,
            } => write!(
                f,
                "fault {fault} ({kind} on {target}) applied for {}",
                format_duration(*duration_ms)
            ),
            EventKind::FaultNotApplied { fault, error } => {
                write!(f, "fault {fault} could not be applied: {error}")
            }
            EventKind::FaultNoEffect { fault, reason } => {
                write!(f, "fault {fault} had no observable effect: {reason}")
            }
            EventKind::FaultMeasured { fault, measured } => {
                write!(f, "fault {fault} measured: {measured}")
            }
            EventKind::FaultReverted { fault } => write!(f, "fault {fault} reverted"),
            EventKind::FaultNotReverted { fault, error } => {
                write!(f, "fault {fault} could not be reverted: {error}")
            }
            EventKind::Completed => write!(f, "experiment completed"),
            EventKind::Aborting { reason } => write!(f, "aborting: {reason}"),
            EventKind::Interrupted { signal } => {
                write!(f, "{signal} received: reverting everything")
            }
            EventKind::Stopping { reason } => write!(f, "stopping: {reason}"),
            EventKind::PredictedStopBreached {
                failed_ms,
                lead_ms,
                called_ms,
            } => write!(
                f,
                "predicted stop: the threshold failed at {}, {} after the forecast called it at {}",
                format_duration(*failed_ms),
                format_duration(*lead_ms),
                format_duration(*called_ms)
            ),
            EventKind::PredictedStopIgnored { reason } => {
                write!(f, "{reason}: not stopping (--no-abort)")
            }
            EventKind::PredictionLoopStarted {
                interval_ms,
                metrics,
                bindings,
            } => write!(
                f,
                "predicting every {} from {metrics} metrics ({bindings} pattern bindings)",
                format_duration(*interval_ms)
            ),
            EventKind::Predicted {
                kind,
                resource,
                pattern,
                confidence,
                detail,
            } => write!(
                f,
                "predicted {kind} on {resource} (pattern {pattern}, confidence {confidence:.2}; {detail})"
            ),
            EventKind::MitigationWatching { rules } => {
                write!(f, "mitigation engine watching {rules} rule(s)")
            }
            EventKind::MitigationFired {
                trigger,
                prediction,
                confidence,
                action,
                outcome,
                ok,
            } => {
                let prediction = match (prediction, confidence) {
                    (Some(p), Some(c)) => format!(", prediction {p} at confidence {c:.2}"),
                    _ => String::new(),
                };
                write!(
                    f,
                    "mitigation {action} on {trigger}{prediction}: {}{outcome}",
                    if *ok { "" } else { "FAILED " }
                )
            }
            EventKind::MitigationReverted { what } => write!(f, "mitigation {what} reverted"),
            EventKind::RehearsalApplied {
                fault,
                softened,
                duration_ms,
                detail,
            } => write!(
                f,
                "{fault} ({softened}) applied for {}: {detail}",
                format_duration(*duration_ms)
            ),
            EventKind::RehearsalReverted { fault } => write!(f, "{fault} reverted"),
            EventKind::ResourceChanged { resource, what } => {
                write!(f, "resource {resource} {what}")
            }
            EventKind::ResourceUnhealthy {
                resource,
                check,
                detail,
            } => write!(f, "{resource} unhealthy: {detail} ({check})"),
            EventKind::ResourceHealthy {
                resource,
                unhealthy_ms,
            } => write!(
                f,
                "{resource} healthy again after {} unhealthy",
                format_duration(unhealthy_ms.round())
            ),
            EventKind::ContainerCreating { resource, image } => {
                write!(f, "creating a container for {resource} from {image}")
            }
            EventKind::ContainerReady {
                resource,
                containers,
            } => write!(
                f,
                "{resource} ready (container{} {})",
                if containers.len() == 1 { "" } else { "s" },
                containers.join(", ")
            ),
            EventKind::ContainerRemoved {
                container,
                resource,
                how,
            } => match how {
                Some(how) => write!(f, "container {container} of {resource} removed ({how})"),
                None => write!(f, "container {container} of {resource} removed"),
            },
            EventKind::DockerApiCalls { calls } => write!(f, "Docker API calls so far: {calls}"),
            EventKind::Note { message } => write!(f, "{message}"),
        }
    }
}

impl RunEvent {
    /// The log line without its time.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

/// Receives each event as it happens.
pub type EventSink = Arc<dyn Fn(&RunEvent) + Send + Sync>;

#[derive(Clone)]
pub struct Journal {
    began: Instant,
    events: Arc<Mutex<Vec<RunEvent>>>,
    sink: EventSink,
}

impl Journal {
    pub fn new(sink: EventSink) -> Journal {
        Journal {
            began: Instant::now(),
            events: Arc::new(Mutex::new(Vec::new())),
            sink,
        }
    }

    /// Milliseconds since the run began.
    pub fn elapsed_ms(&self) -> f64 {
        self.began.elapsed().as_secs_f64() * 1000.0
    }

    /// The journal's time of `instant` (ms since the run began; negative before it).
    pub fn ms_at(&self, instant: Instant) -> f64 {
        match instant.checked_duration_since(self.began) {
            Some(after) => after.as_secs_f64() * 1000.0,
            None => -(self.began.duration_since(instant).as_secs_f64() * 1000.0),
        }
    }

    /// Records a typed event.
    pub fn record(&self, kind: EventKind) {
        let event = RunEvent {
            at_ms: self.elapsed_ms(),
            kind,
        };
        tracing::info!("{}", event.kind);
        (self.sink)(&event);
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(event);
    }

    pub fn events(&self) -> Vec<RunEvent> {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn keeps_events_in_order_and_tells_the_sink() {
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        let journal = Journal::new(Arc::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        journal.record(EventKind::ResourceStarting {
            resource: "api".into(),
        });
        journal.record(EventKind::FaultReverted {
            fault: "cut".into(),
        });
        let events = journal.events();
        assert_eq!(seen.load(Ordering::SeqCst), 2);
        assert_eq!(events[0].message(), "starting api");
        assert_eq!(events[1].message(), "fault cut reverted");
        assert!(events[0].at_ms <= events[1].at_ms);
    }

    #[test]
    fn events_are_typed_in_json_and_read_back() {
        let event = RunEvent {
            at_ms: 12.5,
            kind: EventKind::FaultApplied {
                fault: "slow".into(),
                kind: "latency".into(),
                target: "db".into(),
                duration_ms: 2000.0,
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["event"], "fault_applied");
        assert_eq!(json["fault"], "slow");
        let back: RunEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn health_changes_are_typed_and_print_the_same_lines() {
        let down = EventKind::ResourceUnhealthy {
            resource: "api".into(),
            check: "GET http://127.0.0.1:1/health expecting 2xx".into(),
            detail: "connection refused".into(),
        };
        assert_eq!(
            down.to_string(),
            "api unhealthy: connection refused (GET http://127.0.0.1:1/health expecting 2xx)"
        );
        let json = serde_json::to_value(&down).unwrap();
        assert_eq!(json["event"], "resource_unhealthy");
        assert_eq!(json["detail"], "connection refused");
        let up = EventKind::ResourceHealthy {
            resource: "api".into(),
            unhealthy_ms: 250.4,
        };
        assert_eq!(up.to_string(), "api healthy again after 250ms unhealthy");
        let json = serde_json::to_value(&up).unwrap();
        assert_eq!(json["unhealthy_ms"], 250.4);
        assert_eq!(serde_json::from_value::<EventKind>(json).unwrap(), up);
    }

    #[test]
    fn an_older_journals_text_health_line_reads_back_as_a_note() {
        let old =
            serde_json::json!({"event": "health_changed", "message": "api unhealthy: x (tcp)"});
        let read: EventKind = serde_json::from_value(old).unwrap();
        assert_eq!(read.to_string(), "api unhealthy: x (tcp)");
    }
}
