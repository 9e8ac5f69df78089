//! `pfi run FILE`: check the scenario, run it, print a live line per event on stderr and a
//! summary on stdout; optionally write a JSON journal and a JUnit XML report.

use super::exit;
use super::report::{Format, print_diagnostics};
use crate::check::check_file;
use crate::mitigate::{Limits, Sandbox};
use crate::model::profile::restrict;
use crate::model::risk::{RiskReport, assess, remedies};
use crate::model::thresholds::apply as apply_effective;
use crate::plan::{MetricUnit, Plan, format_duration, trim};
use crate::run::junit::junit_xml_with;
use crate::run::ledger::DEFAULT_STATE_DIR;
use crate::run::progress::{PlainProgress, ProgressView, TerminalProgress};
use crate::run::{EventSink, Interpreter, ProbeFigures, RunError, RunEvent, RunOptions, RunReport};
use clap::Args;
use rhai::Dynamic;
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
    /// Run only the faults of the top N scenarios of the fault injection profile (`top:N`,
    /// as ranked by `pfi plan`); the other faults are left out of the timeline.
    #[arg(long, value_name = "top:N", value_parser = parse_profile)]
    pub profile: Option<usize>,
    /// Run on a `pfi serve` server instead (e.g. `http://127.0.0.1:7478`): its events are
    /// streamed here, with the same summary and exit code; the token, if the server wants one,
    /// comes from PFI_TOKEN.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
}

pub(crate) fn parse_profile(text: &str) -> Result<usize, String> {
    text.strip_prefix("top:")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a profile selection; write `top:N` with N ≥ 1"))
}

pub fn run(args: RunArgs) -> ExitCode {
    if let Some(server) = &args.server {
        if args.junit.is_some() {
            eprintln!("error: --junit is not available with --server (use --journal)");
            return ExitCode::from(exit::BAD_INPUT);
        }
        let (code, record) = super::gate::run_remote(server, &args.file, args.seed, args.profile);
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
    let profile = match super::plan::profile_of(&plan, seed) {
        Ok(profile) => profile,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    if let Some(n) = args.profile {
        let removed = restrict(&mut plan, &profile.top(n));
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
    }
    // Judge thresholds at their effective (criticality-scaled) limits.
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
    let interpreter = Interpreter::new(plan.clone(), options, sink).with_progress(view.clone());
    let result = runtime.block_on(async { interpreter.run(shutdown_signal()).await });
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
            run_remediation_scripts(&mut risk);
            print!("{}", summary(&plan, &report));
            print!("{}", risk_summary(&risk));
            let mut code = if report.passed() {
                exit::OK
            } else {
                exit::FAILED
            };
            if let Some(path) = &args.journal {
                let mut value = serde_json::to_value(&report).unwrap_or_default();
                if let Some(object) = value.as_object_mut() {
                    object.insert(
                        "risk".to_string(),
                        serde_json::to_value(&risk).unwrap_or_default(),
                    );
                }
                let json = serde_json::to_string_pretty(&value).unwrap_or_default();
                code = write(path, "journal", &json)
                    .unwrap_or(exit::ENVIRONMENT)
                    .max(code);
            }
            if let Some(path) = &args.junit {
                code = write(
                    path,
                    "JUnit report",
                    &junit_xml_with(&report, &{
                        let mut properties = risk_properties(&risk);
                        // Each mitigation as a suite property `mitigation.N`.
                        properties.extend(report.mitigations.iter().enumerate().map(|(i, m)| {
                            (
                                format!("mitigation.{}", i + 1),
                                format!(
                                    "{} on {}: {}",
                                    m.action,
                                    m.trigger,
                                    if m.ok { "ok" } else { "failed" }
                                ),
                            )
                        }));
                        properties
                    }),
                )
                .unwrap_or(exit::ENVIRONMENT)
                .max(code);
            }
            ExitCode::from(code)
        }
    }
}

/// What `pfi run` prints on stdout for a finished run (`pfi serve` keeps it for `--server`).
pub(crate) fn summary_text(plan: &Plan, report: &RunReport, risk: &RiskReport) -> String {
    format!("{}{}", summary(plan, report), risk_summary(risk))
}

pub(crate) fn event_line(event: &RunEvent) -> String {
    format!("[{:>7.2}s] {}", event.at_ms / 1000.0, event.message)
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
pub(crate) async fn shutdown_signal() -> String {
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
    out.push_str(&health_section(report));
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
    if !plan.mitigations.is_empty() {
        out.push_str(&format!("\nmitigations: {}\n", report.mitigations.len()));
    }
    for m in &report.mitigations {
        let prediction = match (&m.prediction, m.confidence) {
            (Some(p), Some(c)) => format!(", {p} at confidence {c:.2}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  {} {} on {}{prediction}: {} {}\n",
            format_duration(m.at_ms.round()),
            m.action,
            m.trigger,
            if m.ok { "ok" } else { "FAILED" },
            m.outcome
        ));
    }
    for error in &report.teardown_errors {
        out.push_str(&format!("\nNOT UNDONE: {error}\n"));
    }
    out
}

/// The risk section of the summary.
fn risk_summary(risk: &RiskReport) -> String {
    let mut out = String::from("\nrisk (probability of failure in production within 30 days):\n");
    for s in &risk.scenarios {
        if !s.observed {
            out.push_str(&format!(
                "  {:<16} not observed in this run (probability {:.2}%)\n",
                s.fault,
                s.probability * 100.0
            ));
            continue;
        }
        let why = if s.thresholds_failed.is_empty() {
            format!("degradation {:.0}%", s.failure * 100.0)
        } else {
            format!("failed {}", s.thresholds_failed.join(", "))
        };
        out.push_str(&format!(
            "  {:<16} risk {:>6.2}% = probability {:.2}% × failure {:.2} ({why}){}\n",
            s.fault,
            s.risk * 100.0,
            s.probability * 100.0,
            s.failure,
            if s.risk > s.tolerance {
                format!("  ABOVE tolerance {:.1}%", s.tolerance * 100.0)
            } else {
                String::new()
            }
        ));
    }
    for r in &risk.resources {
        out.push_str(&format!(
            "  resource {:<12} risk {:>6.2}%  (tolerance {:.1}%, {:?}){}\n",
            r.resource,
            r.risk * 100.0,
            r.tolerance * 100.0,
            r.criticality,
            if r.risk > r.tolerance { "  ABOVE" } else { "" }
        ));
    }
    if !risk.suggestions.is_empty() {
        out.push_str("\nremediation:\n");
        for s in &risk.suggestions {
            out.push_str(&format!(
                "  [{}] {} ({}, {}): {}\n",
                s.fault,
                s.resource.as_deref().unwrap_or("-"),
                s.mode,
                s.source,
                s.text
            ));
        }
    }
    out
}

/// Runs the rhai script of every suggestion that has one, in the sandbox, with the
/// scenario's figures in scope (`fault`, `resource`, `mode`, `risk`, `probability`,
/// `failure`); what it returns replaces the suggestion's text. A failing script is reported
/// in the suggestion and the run goes on.
pub(crate) fn run_remediation_scripts(risk: &mut RiskReport) {
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
        let outcome = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|text| sandbox.run(&path, &text, &vars).map_err(|e| e.to_string()));
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

/// JUnit properties: the risk of every observed scenario and every resource.
fn risk_properties(risk: &RiskReport) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for s in risk.scenarios.iter().filter(|s| s.observed) {
        out.push((
            format!("risk.scenario.{}", s.fault),
            format!("{:.6}", s.risk),
        ));
    }
    for r in &risk.resources {
        out.push((
            format!("risk.resource.{}", r.resource),
            format!("{:.6}", r.risk),
        ));
    }
    for (i, s) in risk.suggestions.iter().enumerate() {
        out.push((
            format!("remediation.{}", i + 1),
            format!("{} ({}): {}", s.fault, s.mode, s.text),
        ));
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

/// Each watched resource's checks and unhealthy periods (times after every resource was ready).
fn health_section(report: &RunReport) -> String {
    if report.health.is_empty() {
        return String::new();
    }
    let mut out = format!("\nhealth: {}\n", report.health.len());
    for health in &report.health {
        let state = if health.unhealthy.is_empty() {
            "healthy throughout".to_string()
        } else {
            format!("unhealthy {} time(s)", health.unhealthy.len())
        };
        out.push_str(&format!(
            "  {:<16} {} checks, {} failed; {state}\n",
            health.resource, health.checks, health.failures
        ));
        for period in &health.unhealthy {
            let until = match period.until_ms {
                Some(until) => format!(
                    "to {} ({})",
                    format_duration(until.round()),
                    format_duration((until - period.from_ms).max(0.0).round())
                ),
                None => "to the end".to_string(),
            };
            out.push_str(&format!(
                "    unhealthy from {} {until}: {}\n",
                format_duration(period.from_ms.round()),
                period.detail
            ));
        }
    }
    out
}
