//! `pfi recover`: undo what crashed runs left behind (faults never reverted, processes never
//! stopped), from the ledgers under the state folder.

use super::exit;
use crate::run::ledger::{DEFAULT_STATE_DIR, RecoverOptions, RecoverReport, recover};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The state folder the runs were made with.
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Also recover runs whose pfi process is still alive.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: RecoverArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(exit::ENVIRONMENT);
        }
    };
    let options = RecoverOptions {
        force: args.force,
        ..RecoverOptions::default()
    };
    match runtime.block_on(recover(&args.state_dir, &options)) {
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(exit::ENVIRONMENT)
        }
        Ok(report) => {
            print!("{}", render(&report));
            if report.failures() > 0 {
                ExitCode::from(exit::ENVIRONMENT)
            } else {
                ExitCode::from(exit::OK)
            }
        }
    }
}

fn render(report: &RecoverReport) -> String {
    if report.nothing_to_do() {
        return "nothing to recover: every run was fully undone\n".to_string();
    }
    let mut out = String::new();
    for run in &report.runs {
        out.push_str(&format!("run {} ({})\n", run.run_id, run.ledger.display()));
        if let Some(reason) = &run.skipped {
            out.push_str(&format!(
                "  skipped: {reason} (use --force to recover it anyway)\n"
            ));
        }
        for fault in &run.faults {
            let outcome = match &fault.outcome {
                Ok(outcome) => outcome.to_string(),
                Err(err) => format!("FAILED: {err}"),
            };
            out.push_str(&format!(
                "  fault {} ({}) on {}: {outcome}\n",
                fault.id, fault.fault, fault.target
            ));
        }
        for process in &run.processes {
            let outcome = match &process.outcome {
                Ok(termination) => termination.to_string(),
                Err(err) => format!("FAILED: {err}"),
            };
            out.push_str(&format!(
                "  process {} (pid {}): {outcome}\n",
                process.resource, process.pid
            ));
        }
    }
    if report.failures() > 0 {
        out.push_str(&format!(
            "{} step(s) failed; fix the cause and run `pfi recover` again\n",
            report.failures()
        ));
    }
    out
}
