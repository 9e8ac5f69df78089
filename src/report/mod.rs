//! The report stage: what a run did, rendered. The run's results, the plan and the risk
//! become one typed [`RunRecord`] on one clock (ms since the run began, the log's clock);
//! every output renders that record: the terminal summary, the versioned JSON journal (the
//! record itself, read back by `pfi report`), JUnit, Markdown for pull requests, and a
//! self-contained HTML page with SVG charts. Risk scoring, which needs the run's results,
//! lives here too, so `model` never imports `run`.

mod fault_outcome;
mod fault_timeline;
mod health_record;
mod html;
mod html_text;
mod journal_file;
mod junit;
mod live_record;
mod markdown;
mod mitigation_record;
mod percent;
mod plain_progress;
mod plan_text;
mod prediction_record;
mod probe_record;
mod record_builder;
mod remediation_scripts;
mod risk_assessment;
mod run_diff;
mod run_record;
#[cfg(test)]
mod sample;
mod summary;
mod svg_chart;
mod telemetry_series;
mod terminal_progress;
mod threshold_record;
mod threshold_text;

pub use fault_outcome::FaultOutcome;
pub use health_record::{HealthRecord, UnhealthySpan};
pub use html::{CHART_STYLE, html, html_diff, live_charts};
pub use journal_file::{JournalError, kept_journal, load, parse, to_json};
pub use junit::{escape as xml_escape, junit_xml};
pub use live_record::LiveInput;
pub use markdown::{markdown, markdown_diff};
pub use mitigation_record::MitigationRecord;
pub use percent::{percent, value_in};
pub use plain_progress::PlainProgress;
pub use plan_text::{plan_text, profile_text};
pub use prediction_record::{PredictionRecord, SignalRecord};
pub use probe_record::{Check, Figures, ProbeRecord};
pub use record_builder::RecordInput;
pub use remediation_scripts::run_remediation_scripts;
pub use risk_assessment::assess;
pub use run_diff::{DiffRow, RunDiff};
pub use run_record::{EndKind, JOURNAL_FORMAT, JOURNAL_VERSION, RunRecord};
pub use summary::{event_line, log_line, summary};
pub use telemetry_series::TelemetrySeries;
pub use terminal_progress::TerminalProgress;
pub use threshold_record::ThresholdRecord;
pub use threshold_text::written_text;
