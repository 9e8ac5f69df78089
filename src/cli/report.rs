//! `pfi report RUN [RUN2]`: render a run's journal (a file written by `pfi run --journal`,
//! or a run id whose journal `pfi run` kept in the state directory) as a self-contained HTML
//! page or as Markdown; with two runs, what got worse from the first to the second.

use super::exit;
use crate::report::{RunDiff, html, html_diff, load, markdown, markdown_diff};
use crate::run::ledger::DEFAULT_STATE_DIR;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One self-contained page with charts (inline SVG and CSS, works offline).
    Html,
    /// A compact summary for a pull-request comment.
    Markdown,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  pfi run experiments/quickstart.pfi --journal run.json
  pfi report run.json -o report.html
  pfi report run.json --format markdown >> \"$GITHUB_STEP_SUMMARY\"
  pfi report before.json after.json -o diff.html   (what got worse)

Exit codes: 0 the report was written; 2 a journal is missing, not JSON, cut short, not a \
pfi journal or of another version; 3 the output cannot be written.")]
pub struct ReportArgs {
    /// The run: a journal file, or a run id in the state directory.
    pub run: String,
    /// A second run to compare with the first (same scenario, another seed or build).
    pub other: Option<String>,
    /// Where to write the report; without it, to stdout.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// The report's format; without it, from the output's extension (`.md` is Markdown),
    /// else HTML.
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Where run ids are looked up.
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

pub fn run(args: ReportArgs) -> ExitCode {
    let format =
        args.format
            .unwrap_or_else(|| match args.output.as_ref().and_then(|p| p.extension()) {
                Some(ext) if ext == "md" || ext == "markdown" => ReportFormat::Markdown,
                _ => ReportFormat::Html,
            });
    let first = match load(&args.run, &args.state_dir) {
        Ok(record) => record,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let text = match &args.other {
        None => match format {
            ReportFormat::Html => html(&first),
            ReportFormat::Markdown => markdown(&first),
        },
        Some(other) => {
            let second = match load(other, &args.state_dir) {
                Ok(record) => record,
                Err(err) => {
                    eprintln!("error: {err}");
                    return ExitCode::from(exit::BAD_INPUT);
                }
            };
            if first.experiment != second.experiment {
                eprintln!(
                    "warning: comparing two different experiments (\"{}\" and \"{}\")",
                    first.experiment, second.experiment
                );
            }
            let diff = RunDiff::new(first, second);
            match format {
                ReportFormat::Html => html_diff(&diff),
                ReportFormat::Markdown => markdown_diff(&diff),
            }
        }
    };
    match &args.output {
        None => {
            print!("{text}");
            ExitCode::from(exit::OK)
        }
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => {
                eprintln!("report written to {}", path.display());
                ExitCode::from(exit::OK)
            }
            Err(err) => {
                eprintln!(
                    "error: cannot write the report to {}: {err}",
                    path.display()
                );
                ExitCode::from(exit::ENVIRONMENT)
            }
        },
    }
}
