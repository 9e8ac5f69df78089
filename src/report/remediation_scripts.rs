//! Remediation scripts: a suggestion with a rhai script gets its text from the script, run
//! in the sandbox with the scenario's figures in scope (`fault`, `resource`, `mode`, `risk`,
//! `probability`, `failure`). A failing script is reported in the suggestion's text.

use crate::mitigate::{Limits, Sandbox};
use crate::model::risk::RiskReport;
use crate::plan::LoadedInputs;
use rhai::Dynamic;

/// Runs the script of every suggestion that has one (its source loaded into the plan by the
/// checker); what it returns replaces the text.
pub fn run_remediation_scripts(risk: &mut RiskReport, loaded: &LoadedInputs) {
    let sandbox = Sandbox::new(Limits::default(), None);
    let scenarios = risk.scenarios.clone();
    for s in risk.suggestions.iter_mut() {
        let Some(path) = s.script.clone() else {
            continue;
        };
        let scenario = scenarios.iter().find(|x| x.fault == s.fault);
        let vars = [
            ("fault", Dynamic::from(s.fault.clone())),
            (
                "resource",
                Dynamic::from(s.resource.clone().unwrap_or_default()),
            ),
            ("mode", Dynamic::from(s.mode.clone())),
            ("risk", Dynamic::from(scenario.map_or(0.0, |x| x.risk))),
            (
                "probability",
                Dynamic::from(scenario.map_or(0.0, |x| x.probability)),
            ),
            (
                "failure",
                Dynamic::from(scenario.map_or(0.0, |x| x.failure)),
            ),
        ];
        let outcome = loaded
            .script(&path)
            .and_then(|text| sandbox.run(&path, text, &vars).map_err(|e| e.to_string()));
        s.source = format!("script {}", path.display());
        match outcome {
            Ok(text) if !text.trim().is_empty() => s.text = text,
            Ok(_) => {}
            Err(err) => {
                eprintln!("remediation script failed: {err}");
                s.text = format!("{} (script failed: {err})", s.text);
            }
        }
    }
}
