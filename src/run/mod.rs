//! The interpreter: runs a plan against real processes and proxied links. `Interpreter`
//! starts everything, `Schedule` applies and reverts the timeline's activations, probes feed
//! the metrics store, `threshold_verdict` judges the thresholds, and the ledger makes every
//! applied fault undoable after a crash (`pfi recover`).

mod containers;
mod fault_windows;
mod health;
mod interpreter;
mod journal;
pub mod ledger;
mod liveness;
mod predicted_abort;
mod program;
pub mod progress;
mod run_error;
mod schedule;
mod telemetry;
mod threshold_verdict;

pub use fault_windows::FaultWindows;
pub use health::{HealthBoard, HealthReport, HealthWatch, UnhealthyPeriod};
pub use interpreter::{
    FaultRecord, Interpreter, ProbeChecks, ProbeComparison, ProbeFigures, RunOptions, RunReport,
    SeriesPoints,
};
pub use journal::{EventKind, EventSink, Journal, RunEvent};
pub use liveness::{LivenessBoard, ResourceEvent};
pub use program::resolve_program;
pub use run_error::RunError;
pub use schedule::{ABORT_CHECK_INTERVAL, Actuator, BoxFuture, Ending, Schedule};
pub use threshold_verdict::{MIN_SAMPLES_TO_ABORT, ThresholdVerdict, judge, metric_value};
