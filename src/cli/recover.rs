//! `pfi recover`: undo what crashed runs left behind (faults never reverted, processes never
//! stopped), from the ledgers under the state folder.

use super::exit;
use crate::run::ledger::{DEFAULT_STATE_DIR, RecoverOptions, RecoverReport, recover};
use crate::targets::docker::Removal;
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
    install_tracing();
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
        for container in &run.containers {
            let outcome = match &container.outcome {
                Ok(Removal::Removed) => "removed".to_string(),
                Ok(Removal::AlreadyGone) => "already gone".to_string(),
                Ok(Removal::NotOwned) => {
                    "left alone: a container of that name was not created by this run".to_string()
                }
                Err(err) => format!("FAILED: {err}"),
            };
            out.push_str(&format!(
                "  container {} ({}): {outcome}\n",
                container.name, container.resource
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

/// Log lines on stderr: warnings by default (what recover could not undo, and why),
/// `RUST_LOG=info` for every step. Installed once; a second call changes nothing.
fn install_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::ledger::{ContainerRecovery, RunRecovery};

    #[test]
    fn a_failed_container_step_is_named() {
        let run = |outcome| RunRecovery {
            run_id: "r1".into(),
            ledger: PathBuf::from("state/runs/r1/ledger.jsonl"),
            torn_tail: false,
            skipped: None,
            faults: Vec::new(),
            processes: Vec::new(),
            containers: vec![ContainerRecovery {
                resource: "backend".into(),
                name: "pfi-r1-backend".into(),
                outcome,
            }],
        };
        let failed = RecoverReport {
            runs: vec![run(Err("the engine refused (HTTP 500)".into()))],
        };
        let text = render(&failed);
        assert!(
            text.contains(
                "  container pfi-r1-backend (backend): FAILED: the engine refused (HTTP 500)\n"
            ),
            "{text}"
        );
        assert!(text.contains("1 step(s) failed"), "{text}");
        let done = RecoverReport {
            runs: vec![run(Ok(Removal::Removed))],
        };
        assert!(render(&done).contains("container pfi-r1-backend (backend): removed"));
    }
}
