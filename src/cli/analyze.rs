//! `pfi analyze SRC/ [--format text|json|pfi] [--scenario system.pfi]`: outbound calls in
//! source code, what guards them, ranked by severity.

use super::exit;
use crate::analyze::SourceAnalysis;
use crate::check::check_file;
use crate::diagnostic::{render_human, render_json};
use clap::{Args, ValueEnum};
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnalyzeFormat {
    /// Each failure point with its call underlined, then a summary.
    Text,
    /// One JSON document: every call found, its guards and severity, and a summary.
    Json,
    /// The faults that would test each dependency's failure points, as .pfi text.
    Pfi,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// A source folder (or one file): Python, JavaScript, TypeScript, Go, Java, Rust.
    pub source: PathBuf,
    #[arg(long, value_enum, default_value_t = AnalyzeFormat::Text)]
    pub format: AnalyzeFormat,
    /// With `--format pfi`: put the faults on this scenario's links that reach each dependency.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Show at most this many failure points in the text output (0: all).
    #[arg(long, default_value_t = 0)]
    pub top: usize,
}

pub fn run(args: AnalyzeArgs) -> ExitCode {
    if !args.source.exists() {
        eprintln!("error: `{}` does not exist", args.source.display());
        return ExitCode::from(exit::BAD_INPUT);
    }
    let analysis = SourceAnalysis::read(&args.source);
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let nothing_read = analysis.files_read() == 0;
    match args.format {
        AnalyzeFormat::Text => {
            for d in &analysis.diagnostics {
                eprint!("{}", render_human(d, &analysis.sources, color));
            }
            let limit = if args.top == 0 { usize::MAX } else { args.top };
            for p in analysis.failure_points().take(limit) {
                let d = SourceAnalysis::diagnostic(p);
                print!("{}", render_human(&d, &analysis.sources, color));
            }
            let s = analysis.summary();
            let severities: Vec<String> = ["critical", "high", "medium", "low", "guarded"]
                .iter()
                .filter_map(|k| s.by_severity.get(k).map(|n| format!("{n} {k}")))
                .collect();
            println!(
                "{} outbound calls in {} files: {} failure points ({})",
                s.calls,
                s.files,
                s.failure_points,
                if severities.is_empty() {
                    "none".into()
                } else {
                    severities.join(", ")
                }
            );
        }
        AnalyzeFormat::Json => {
            let diagnostics: Vec<serde_json::Value> = analysis
                .diagnostics
                .iter()
                .filter_map(|d| serde_json::from_str(&render_json(d, &analysis.sources)).ok())
                .collect();
            let value = json!({
                "summary": analysis.summary(),
                "calls": analysis.points,
                "diagnostics": diagnostics,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
        AnalyzeFormat::Pfi => {
            for d in &analysis.diagnostics {
                eprint!("{}", render_human(d, &analysis.sources, color));
            }
            let plan = match &args.scenario {
                Some(path) => {
                    let checked = check_file(path);
                    super::diagnostics::print_diagnostics(
                        &checked,
                        super::diagnostics::Format::Human,
                    );
                    match checked.plan {
                        Some(plan) => Some(plan),
                        None => return ExitCode::from(exit::BAD_INPUT),
                    }
                }
                None => None,
            };
            print!("{}", analysis.faults(plan.as_ref()));
        }
    }
    if nothing_read {
        eprintln!(
            "error: no Python, JavaScript, TypeScript, Go, Java or Rust source could be read under `{}`",
            args.source.display()
        );
        return ExitCode::from(exit::BAD_INPUT);
    }
    ExitCode::from(exit::OK)
}
