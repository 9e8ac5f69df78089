//! `pfi run FILE`: check the scenario, run it, print a live line per event on stderr and the
//! summary on stdout; optionally write the JSON journal, a JUnit XML report and an HTML (or
//! Markdown) report. Everything printed or written is rendered by `report` from the run's
//! record; this file only parses arguments, dispatches and chooses the exit code.

use super::diagnostics::{Format, print_diagnostics};
use super::exit;
use crate::check::check_file;
use crate::model::profile::{parse_top, profile_of, restrict};
use crate::model::risk::remedies;
use crate::model::thresholds::apply as apply_effective;
use crate::plan::Plan;
use crate::report::{PlainProgress, TerminalProgress};
use crate::report::{
    RecordInput, RunRecord, assess, event_line, html, junit_xml, kept_journal, markdown,
    run_remediation_scripts, summary, to_json,
};
use crate::run::ledger::DEFAULT_STATE_DIR;
use crate::run::progress::ProgressView;
use crate::run::{EventSink, Interpreter, RunError, RunEvent, RunOptions};
use clap::Args;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// How often a plain progress line is printed when stdout is not a terminal.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
#[command(after_help = "\
A process resource's program without a `/` is looked up on PATH, then beside the pfi \
executable (so the bundled pfi-demo is always found). Faults start after the experiment's \
baseline; everything is reverted at the end, on an abort threshold, on Ctrl-C or SIGTERM. \
If pfi itself is killed, `pfi recover` undoes what the run left behind.

Exit codes: 0 every threshold passed; 1 a threshold failed, or the run was aborted or \
interrupted; 2 the scenario has errors (a bad container selector too); 3 the environment \
failed (missing program, port taken, process died at start, Docker unreachable or a \
permission error, a container missing or removed during the run).")]
pub struct RunArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// Override the experiment's seed (same file + same seed = same timeline as `pfi plan`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where run ledgers and process logs go.
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Write everything that happened, with timestamps, as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Write a JUnit XML report (one test case per threshold) to this file.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML report (charts of every probe under the faults) to this
    /// file; a path ending in `.md` gets the Markdown summary instead.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Run only the faults of the top N scenarios of the fault injection profile (`top:N`,
    /// as ranked by `pfi plan`); the other faults are left out of the timeline.
    #[arg(long, value_name = "top:N", value_parser = parse_top)]
    pub profile: Option<usize>,
    /// Run on a `pfi serve` server instead (e.g. `http://127.0.0.1:7478`): its events are
    /// streamed here, with the same summary and exit code; the token, if the server wants one,
    /// comes from PFI_TOKEN.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Predicted stop conditions (`threshold ... abort predicted within 30s`) only record when
    /// they would have stopped the run, to compare with a run they stop.
    #[arg(long)]
    pub no_abort: bool,
    /// A threshold judged on fewer than 5 samples is inconclusive: reported, but it does not
    /// fail the run. With this flag it fails the run.
    #[arg(long)]
    pub fail_inconclusive: bool,
}

/// Keeps the faults of the profile's top `n` scenarios; says what is run and left out, and
/// which thresholds are skipped for it.
pub(super) fn restrict_to_top(plan: &mut Plan, profile: &crate::model::Profile, n: usize) {
    let removed = restrict(plan, &profile.top(n));
    let kept: Vec<&str> = plan.faults.iter().map(|f| f.name.as_str()).collect();
    eprintln!(
        "profile top:{n}: running {} (left out: {})",
        if kept.is_empty() {
            "no faults".to_string()
        } else {
            kept.join(", ")
        },
        if removed.is_empty() {
            "none".to_string()
        } else {
            removed.join(", ")
        }
    );
    for t in &plan.thresholds {
        if let Some(fault) = t
            .during
            .as_deref()
            .filter(|f| removed.iter().any(|r| r == f))
        {
            eprintln!(
                "  threshold {} is skipped: fault `{fault}` is left out",
                t.text
            );
        }
    }
}

pub fn run(args: RunArgs) -> ExitCode {
    if let Some(server) = &args.server {
        if args.junit.is_some() {
            eprintln!("error: --junit is not available with --server (use --journal)");
            return ExitCode::from(exit::BAD_INPUT);
        }
        let (code, record) =
            super::remote_run::run_remote(server, &args.file, args.seed, args.profile);
        if let (Some(path), Some(record)) = (&args.journal, record) {
            let json = serde_json::to_string_pretty(&record).unwrap_or_default();
            if write(path, "journal", &json).is_none() {
                return ExitCode::from(exit::ENVIRONMENT);
            }
        }
        return code;
    }
    let checked = check_file(&args.file);
    print_diagnostics(&checked, Format::Human);
    let Some(mut plan) = checked.plan else {
        return ExitCode::from(exit::BAD_INPUT);
    };
    let seed = args.seed.unwrap_or(plan.experiment.seed);
    let profile = match profile_of(&plan, seed) {
        Ok(profile) => profile,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    if let Some(n) = args.profile {
        restrict_to_top(&mut plan, &profile, n);
    }
    // Judge thresholds at their effective (criticality-scaled) limits.
    let written_limits: Vec<f64> = plan.thresholds.iter().map(|t| t.value).collect();
    apply_effective(&mut plan);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(exit::ENVIRONMENT);
        }
    };
    let options = RunOptions {
        state_dir: args.state_dir.clone(),
        seed: args.seed,
    };
    // A live bar when a person watches; plain lines (and a status line now and then) in logs.
    let terminal = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let (sink, view): (EventSink, Arc<dyn ProgressView>) = if terminal {
        let bar = Arc::new(TerminalProgress::new());
        let printer = bar.clone();
        (
            Arc::new(move |event: &RunEvent| printer.print(&event_line(event))),
            bar,
        )
    } else {
        (
            Arc::new(|event: &RunEvent| eprintln!("{}", event_line(event))),
            Arc::new(PlainProgress::new(PLAIN_PROGRESS_EVERY, |line| {
                eprintln!("[progress] {line}")
            })),
        )
    };
    let mut interpreter = Interpreter::new(plan.clone(), options, sink).with_progress(view.clone());
    if args.no_abort {
        interpreter = interpreter.without_predicted_stops();
    }
    if args.fail_inconclusive {
        interpreter = interpreter.failing_inconclusive();
    }
    let result = runtime.block_on(async {
        interpreter
            .run(super::shutdown_signal::shutdown_signal())
            .await
    });
    view.finish();
    match result {
        Err(RunError::Environment(message)) => {
            eprintln!("error: {message}");
            eprintln!("everything pfi started was stopped");
            ExitCode::from(exit::ENVIRONMENT)
        }
        Err(RunError::Input(message)) => {
            eprintln!("error: {message}");
            eprintln!("everything pfi started was stopped");
            ExitCode::from(exit::BAD_INPUT)
        }
        Ok(report) => {
            let mut risk = assess(&plan, &profile, &report, &remedies(&plan));
            run_remediation_scripts(&mut risk, &plan.loaded);
            let scenario = args.file.display().to_string();
            let input = RecordInput {
                plan: &plan,
                written_limits: &written_limits,
                scenario: &scenario,
                risk,
            };
            let record = RunRecord::build(input, &report);
            print!("{}", summary(&record));
            let mut code = if record.passed {
                exit::OK
            } else {
                exit::FAILED
            };
            let json = to_json(&record);
            // Kept beside the run's logs, so `pfi report RUN_ID` finds it.
            let kept = kept_journal(&args.state_dir, &record.run_id);
            if let Err(err) = std::fs::write(&kept, &json) {
                tracing::warn!("cannot keep the journal at {}: {err}", kept.display());
            }
            let outputs = [
                (args.journal.as_ref(), "journal", json),
                (
                    args.junit.as_ref(),
                    "JUnit report",
                    args.junit
                        .as_ref()
                        .map_or(String::new(), |_| junit_xml(&record)),
                ),
                (
                    args.report.as_ref(),
                    "report",
                    args.report.as_ref().map_or(String::new(), |path| {
                        if path.extension().is_some_and(|e| e == "md") {
                            markdown(&record)
                        } else {
                            html(&record)
                        }
                    }),
                ),
            ];
            for (path, what, contents) in outputs {
                if let Some(path) = path {
                    code = write(path, what, &contents)
                        .unwrap_or(exit::ENVIRONMENT)
                        .max(code);
                }
            }
            ExitCode::from(code)
        }
    }
}

fn write(path: &Path, what: &str, contents: &str) -> Option<u8> {
    match std::fs::write(path, contents) {
        Ok(()) => Some(exit::OK),
        Err(err) => {
            eprintln!(
                "error: cannot write the {what} to {}: {err}",
                path.display()
            );
            None
        }
    }
}
