//! The interpreter: runs a plan against real processes and proxied links. `Interpreter`
//! owns a run from the ledger's creation to its `RunReport`; `start_up` starts the links,
//! resources, probes and watchers; the `Driver` is the `Schedule`'s actuator that applies and
//! reverts the timeline's activations on the shared `Runtime`; `teardown` undoes everything;
//! `run_report` builds the report from the metrics store. Probes feed the metrics store,
//! `threshold_verdict` judges the thresholds, and the ledger makes every applied fault
//! undoable after a crash (`pfi recover`).

mod agent_routes;
mod containers;
mod driver;
mod fault_windows;
mod health;
mod interpreter;
mod journal;
pub mod ledger;
mod liveness;
mod mitigation;
mod predicted_abort;
mod program;
pub mod progress;
mod resource_start;
mod run_error;
mod run_report;
mod runtime;
mod schedule;
mod start_up;
mod teardown;
mod telemetry;
mod threshold_verdict;

pub use fault_windows::FaultWindows;
pub use health::{HealthBoard, HealthReport, HealthWatch, UnhealthyPeriod};
pub use interpreter::{Interpreter, RunOptions};
pub use journal::{EventKind, EventSink, Journal, RunEvent};
pub use liveness::{LivenessBoard, ResourceEvent};
pub use program::resolve_program;
pub use run_error::RunError;
pub use run_report::{
    FaultRecord, ProbeChecks, ProbeComparison, ProbeFigures, RunReport, SeriesPoints,
};
pub use schedule::{ABORT_CHECK_INTERVAL, Actuator, BoxFuture, Ending, Schedule};
pub use threshold_verdict::{MIN_SAMPLES_TO_ABORT, ThresholdVerdict, judge, metric_value};
