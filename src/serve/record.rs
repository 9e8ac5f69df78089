//! The ONE place where a finished run becomes what the service stores: the same JSON as
//! `pfi run --journal` (the report stage's `RunRecord`), the summary `pfi run` prints, the
//! exit code it would have had, and the rows of its predictions and mitigations.

use super::store::{Finished, StoredMitigation, StoredPrediction};
use crate::model::Profile;
use crate::model::risk::{RiskReport, remedies};
use crate::plan::Plan;
use crate::report::{RecordInput, RunRecord, assess, run_remediation_scripts, summary};
use crate::run::{RunError, RunReport};
use serde_json::Value;

/// Exit codes, as `pfi run` has them.
const OK: i64 = 0;
const FAILED: i64 = 1;
const BAD_INPUT: i64 = 2;
const ENVIRONMENT: i64 = 3;

/// What is stored for a run that ended with `result`; `aborted` when it was aborted over the
/// API (its ending then reads `interrupted: ...`).
pub fn finished(
    plan: &Plan,
    profile: &Profile,
    result: Result<RunReport, RunError>,
    aborted: bool,
) -> Finished {
    let report = match result {
        Ok(report) => report,
        Err(err) => {
            let exit_code = match err {
                RunError::Input(_) => BAD_INPUT,
                RunError::Environment(_) => ENVIRONMENT,
            };
            return Finished {
                status: "error".into(),
                exit_code,
                ledger_run_id: None,
                max_risk: None,
                error: Some(err.to_string()),
                record: None,
                summary: Some(format!(
                    "error: {err}\neverything pfi started was stopped\n"
                )),
                predictions: Vec::new(),
                mitigations: Vec::new(),
            };
        }
    };
    let mut risk = assess(plan, profile, &report, &remedies(plan));
    run_remediation_scripts(&mut risk, &plan.loaded);
    let max_risk = max_risk(&risk);
    // The plan is stored with its thresholds at their effective limits, so those are the
    // limits as written here too.
    let written_limits: Vec<f64> = plan.thresholds.iter().map(|t| t.value).collect();
    let scenario = format!("{} (submitted to pfi serve)", plan.experiment.name);
    let run_record = RunRecord::build(
        RecordInput {
            plan,
            written_limits: &written_limits,
            scenario: &scenario,
            risk,
        },
        &report,
    );
    let summary = summary(&run_record);
    let passed = run_record.passed;
    let status = if passed {
        "passed"
    } else if aborted && report.ending.starts_with("interrupted") {
        "aborted"
    } else {
        "failed"
    };
    let record = serde_json::to_value(&run_record).unwrap_or_default();
    Finished {
        status: status.into(),
        exit_code: if passed { OK } else { FAILED },
        ledger_run_id: Some(report.run_id.clone()),
        max_risk: Some(max_risk),
        error: None,
        record: Some(record),
        summary: Some(summary),
        predictions: report
            .predictions
            .iter()
            .map(|outcome| StoredPrediction {
                resource: outcome.prediction.resource.clone(),
                kind: outcome.prediction.kind.clone(),
                confidence: outcome.prediction.confidence,
                at_ms: outcome.prediction.at_ms,
                happened: outcome.happened_ms.is_some(),
                record: serde_json::to_value(outcome).unwrap_or_default(),
            })
            .collect(),
        mitigations: report
            .mitigations
            .iter()
            .map(|firing| StoredMitigation {
                at_ms: firing.at_ms,
                action: firing.action.clone(),
                trigger: firing.trigger.clone(),
                ok: firing.ok,
                record: serde_json::to_value(firing).unwrap_or_default(),
            })
            .collect(),
    }
}

/// The largest risk of an observed scenario or of a resource (0 when there is none).
pub fn max_risk(risk: &RiskReport) -> f64 {
    risk.scenarios
        .iter()
        .filter(|s| s.observed)
        .map(|s| s.risk)
        .chain(risk.resources.iter().map(|r| r.risk))
        .fold(0.0, f64::max)
}

/// The same figure from a stored record (or a `--journal` file).
pub fn max_risk_of(record: &Value) -> f64 {
    let risk = &record["risk"];
    let scenarios = risk["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["observed"].as_bool() == Some(true))
        .filter_map(|s| s["risk"].as_f64());
    let resources = risk["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["risk"].as_f64());
    scenarios.chain(resources).fold(0.0, f64::max)
}
