//! `pfi run FILE`: check the scenario, run it, print a live line per event on stderr and a
//! summary on stdout; optionally write a JSON journal and a JUnit XML report.

use super::exit;
use super::report::{Format, print_diagnostics};
use crate::check::check_file;
use crate::plan::{MetricUnit, Plan, format_duration, trim};
use crate::run::junit::junit_xml;
use crate::run::ledger::DEFAULT_STATE_DIR;
use crate::run::{Interpreter, ProbeFigures, RunError, RunEvent, RunOptions, RunReport};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
#[command(after_help = "\
A process resource's program without a `/` is looked up on PATH, then beside the pfi \
executable (so the bundled pfi-demo is always found). Faults start after the experiment's \
baseline; everything is reverted at the end, on an abort threshold, on Ctrl-C or SIGTERM. \
If pfi itself is killed, `pfi recover` undoes what the run left behind.

Exit codes: 0 every threshold passed; 1 a threshold failed, or the run was aborted or \
interrupted; 2 the scenario has errors; 3 the environment failed (missing program, port \
taken, process died at start).")]
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
}

pub fn run(args: RunArgs) -> ExitCode {
    let checked = check_file(&args.file);
    print_diagnostics(&checked, Format::Human);
    let Some(plan) = checked.plan else {
        return ExitCode::from(exit::BAD_INPUT);
    };
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
    let sink = Arc::new(|event: &RunEvent| {
        eprintln!("[{:>7.2}s] {}", event.at_ms / 1000.0, event.message);
    });
    let interpreter = Interpreter::new(plan.clone(), options, sink);
    let result = runtime.block_on(async { interpreter.run(shutdown_signal()).await });
    match result {
        Err(RunError::Environment(message)) => {
            eprintln!("error: {message}");
            eprintln!("everything pfi started was stopped");
            ExitCode::from(exit::ENVIRONMENT)
        }
        Ok(report) => {
            print!("{}", summary(&plan, &report));
            let mut code = if report.passed() {
                exit::OK
            } else {
                exit::FAILED
            };
            if let Some(path) = &args.journal {
                let json = serde_json::to_string_pretty(&report).unwrap_or_default();
                code = write(path, "journal", &json)
                    .unwrap_or(exit::ENVIRONMENT)
                    .max(code);
            }
            if let Some(path) = &args.junit {
                code = write(path, "JUnit report", &junit_xml(&report))
                    .unwrap_or(exit::ENVIRONMENT)
                    .max(code);
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

/// Completes with the signal's name on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() -> String {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT".to_string(),
            _ = term.recv() => "SIGTERM".to_string(),
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT".to_string()
        }
    }
}

fn summary(plan: &Plan, report: &RunReport) -> String {
    let mut out = format!(
        "run {}: \"{}\" {} in {} (seed {})\n",
        report.run_id,
        report.experiment,
        report.ending,
        format_duration(report.wall_ms.round()),
        report.seed
    );
    out.push_str(&format!("\nthresholds: {}\n", report.thresholds.len()));
    for (verdict, threshold) in report.thresholds.iter().zip(&plan.thresholds) {
        let measured = match (verdict.measured, &verdict.note) {
            (Some(value), _) => format!("measured {}", value_in(threshold.unit, value)),
            (None, Some(note)) => note.clone(),
            (None, None) => "not measured".to_string(),
        };
        out.push_str(&format!(
            "  {}  {:<40} {measured}\n",
            if verdict.passed { "PASS" } else { "FAIL" },
            verdict.text
        ));
    }
    let applied = report
        .faults
        .iter()
        .filter(|f| f.applied_ms.is_some())
        .count();
    out.push_str(&format!("\nfaults applied: {applied}\n"));
    for fault in &report.faults {
        let when = match (fault.applied_ms, &fault.error) {
            (Some(at), _) => format!(
                "at {} (planned {}, {:+.0}ms)",
                format_duration(at.round()),
                format_duration(fault.planned_ms),
                at - fault.planned_ms
            ),
            (None, Some(err)) => format!("not applied: {err}"),
            (None, None) => "not applied".to_string(),
        };
        let reverted = match fault.reverted_ms {
            Some(at) => format!(", reverted at {}", format_duration(at.round())),
            None if fault.applied_ms.is_some() => ", reverted at the end".to_string(),
            None => String::new(),
        };
        out.push_str(&format!(
            "  {:<16} {} on {} {when}{reverted}\n",
            fault.fault, fault.kind, fault.target
        ));
    }
    out.push_str(&format!("\nprobes: {}\n", report.probes.len()));
    for probe in &report.probes {
        out.push_str(&format!("  {}\n", probe.probe));
        let rows = probe
            .overall
            .iter()
            .map(|s| ("whole run".to_string(), s))
            .chain(probe.baseline.iter().map(|s| ("baseline".to_string(), s)))
            .chain(probe.under.iter().map(|(f, s)| (format!("under {f}"), s)));
        for (label, stats) in rows {
            out.push_str(&format!("    {label:<24} {}\n", probe_line(stats)));
        }
    }
    if plan.predict.is_some() {
        out.push_str(&format!("\npredictions: {}\n", report.predictions.len()));
    }
    for outcome in &report.predictions {
        let p = &outcome.prediction;
        let came = match (outcome.lead_ms, &outcome.evidence) {
            (Some(lead), Some(evidence)) => format!(
                "happened at {} ({evidence}): lead time {}",
                format_duration(outcome.happened_ms.unwrap_or(0.0).round()),
                format_duration(lead.round())
            ),
            _ => "did not happen during the run".to_string(),
        };
        out.push_str(&format!(
            "  {} on {} at {}, confidence {:.2} (pattern {}): {came}\n",
            p.kind,
            p.resource,
            format_duration(p.at_ms.round()),
            p.confidence,
            p.pattern
        ));
        for signal in &p.signals {
            let trend = signal
                .trend
                .as_deref()
                .map_or(String::new(), |t| format!(" {t}"));
            out.push_str(&format!(
                "      {} = {}{trend}, anomaly {:.2}\n",
                signal.metric,
                trim(signal.value),
                signal.anomaly
            ));
        }
    }
    for error in &report.teardown_errors {
        out.push_str(&format!("\nNOT UNDONE: {error}\n"));
    }
    out
}

fn probe_line(s: &ProbeFigures) -> String {
    format!(
        "n={:<5} errors {:>5}%  p50 {}ms  p99 {}ms  max {}ms",
        s.count,
        trim(s.error_rate * 100.0),
        trim(s.p50_ms),
        trim(s.p99_ms),
        trim(s.max_ms)
    )
}

fn value_in(unit: MetricUnit, value: f64) -> String {
    match unit {
        MetricUnit::Milliseconds => format!("{}ms", trim(value)),
        MetricUnit::Fraction => format!("{}%", trim(value * 100.0)),
        MetricUnit::Bytes => format!("{} bytes", trim(value)),
        MetricUnit::Count | MetricUnit::Number => trim(value),
    }
}
