//! `pfi gate`: run a scenario (here, or on a `pfi serve` server with --server) and exit 1
//! when its measured risk exceeds the budget, for a deployment pipeline's step. A remote run
//! goes through `remote_run` (shared with `pfi run --server`).

use super::exit;
use crate::serve::max_risk_of;
use clap::{Args, Parser};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(after_help = "\
Risk is the largest of the run's scenario risks (probability × failure of every observed \
fault) and resource risks, as `pfi run` prints them. Exit codes: 0 within the budget and \
every threshold passed; 1 above the budget, or a threshold failed, or the run was aborted; \
2 the scenario has errors or the server refused it; 3 the environment (or the server) \
failed. With --server the token comes from PFI_TOKEN.")]
pub struct GateArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// The risk budget: `5%` or `0.05`.
    #[arg(long, value_name = "RISK", value_parser = parse_budget)]
    pub max_risk: f64,
    /// Run on this `pfi serve` server (`http://host:port`) instead of here.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Override the experiment's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where run ledgers and logs go (a local run).
    #[arg(long, default_value = crate::run::ledger::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

fn parse_budget(text: &str) -> Result<f64, String> {
    let value = match text.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.trim().parse::<f64>(),
    };
    value
        .ok()
        .filter(|v| (0.0..=1.0).contains(v))
        .ok_or_else(|| format!("`{text}` is not a risk budget; write e.g. `5%` or `0.05`"))
}

pub fn run(args: GateArgs) -> ExitCode {
    let (code, record) = match &args.server {
        Some(server) => super::remote_run::run_remote(server, &args.file, args.seed, None),
        None => run_local(&args),
    };
    let Some(record) = record else {
        eprintln!("gate: no verdict: the run did not finish");
        return code;
    };
    let risk = max_risk_of(&record);
    let over = over_budget(&record, args.max_risk);
    if risk > args.max_risk {
        eprintln!(
            "gate: FAIL: measured risk {:.2}% exceeds the budget {:.2}%",
            risk * 100.0,
            args.max_risk * 100.0
        );
        for line in over {
            eprintln!("  {line}");
        }
        return ExitCode::from(exit::FAILED);
    }
    if code != ExitCode::from(exit::OK) {
        eprintln!(
            "gate: FAIL: risk {:.2}% is within the budget {:.2}%, but the run failed ({})",
            risk * 100.0,
            args.max_risk * 100.0,
            record["ending"].as_str().unwrap_or("see above")
        );
        return ExitCode::from(exit::FAILED);
    }
    eprintln!(
        "gate: PASS: measured risk {:.2}% is within the budget {:.2}%",
        risk * 100.0,
        args.max_risk * 100.0
    );
    ExitCode::from(exit::OK)
}

/// Every scenario and resource whose risk is above `budget`, as lines.
fn over_budget(record: &Value, budget: f64) -> Vec<String> {
    let risk = &record["risk"];
    let mut out = Vec::new();
    for s in risk["scenarios"].as_array().into_iter().flatten() {
        let value = s["risk"].as_f64().unwrap_or(0.0);
        if s["observed"].as_bool() == Some(true) && value > budget {
            let failed: Vec<&str> = s["thresholds_failed"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            out.push(format!(
                "fault {} ({} on {}): risk {:.2}% = probability {:.2}% × failure {:.2}{}",
                s["fault"].as_str().unwrap_or("?"),
                s["kind"].as_str().unwrap_or("?"),
                s["resource"].as_str().unwrap_or("-"),
                value * 100.0,
                s["probability"].as_f64().unwrap_or(0.0) * 100.0,
                s["failure"].as_f64().unwrap_or(0.0),
                if failed.is_empty() {
                    String::new()
                } else {
                    format!(" (failed {})", failed.join(", "))
                }
            ));
        }
    }
    for r in risk["resources"].as_array().into_iter().flatten() {
        let value = r["risk"].as_f64().unwrap_or(0.0);
        if value > budget {
            out.push(format!(
                "resource {}: risk {:.2}%",
                r["resource"].as_str().unwrap_or("?"),
                value * 100.0
            ));
        }
    }
    out
}

/// `pfi run FILE --journal TEMP` here; the exit code and the journal.
fn run_local(args: &GateArgs) -> (ExitCode, Option<Value>) {
    let journal = args
        .state_dir
        .join(format!("gate-{}.json", std::process::id()));
    if let Err(err) = std::fs::create_dir_all(&args.state_dir) {
        eprintln!("error: cannot create {}: {err}", args.state_dir.display());
        return (ExitCode::from(exit::ENVIRONMENT), None);
    }
    let mut argv: Vec<String> = vec!["pfi".into(), "run".into()];
    argv.push(args.file.display().to_string());
    argv.extend(["--state-dir".into(), args.state_dir.display().to_string()]);
    argv.extend(["--journal".into(), journal.display().to_string()]);
    if let Some(seed) = args.seed {
        argv.extend(["--seed".into(), seed.to_string()]);
    }
    let run_args = match super::Cli::try_parse_from(&argv).map(|cli| cli.command) {
        Ok(super::Command::Run(run_args)) => run_args,
        _ => {
            eprintln!("error: cannot build the run's arguments");
            return (ExitCode::from(exit::BAD_INPUT), None);
        }
    };
    let code = super::run::run(run_args);
    let record = std::fs::read_to_string(&journal)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let _ = std::fs::remove_file(&journal);
    (code, record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn budgets_read_percent_or_fraction() {
        assert_eq!(parse_budget("5%"), Ok(0.05));
        assert_eq!(parse_budget("0.1"), Ok(0.1));
        assert!(parse_budget("150%").is_err());
        assert!(parse_budget("lots").is_err());
    }

    #[test]
    fn over_budget_names_the_scenarios_and_resources() {
        let record = json!({"risk": {
            "scenarios": [
                {"fault": "f1", "kind": "pause", "resource": "api", "observed": true,
                 "risk": 0.2, "probability": 0.4, "failure": 0.5, "thresholds_failed": ["p99"]},
                {"fault": "f2", "kind": "pause", "observed": false, "risk": 0.9}
            ],
            "resources": [{"resource": "api", "risk": 0.01}]
        }});
        let lines = over_budget(&record, 0.05);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("f1") && lines[0].contains("failed p99"));
        assert_eq!(max_risk_of(&record), 0.2);
    }
}
