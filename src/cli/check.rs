use super::diagnostics::{Format, print_diagnostics};
use super::exit;
use crate::check::check_file;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: CheckArgs) -> ExitCode {
    let mut failed = 0;
    for file in &args.files {
        let checked = check_file(file);
        print_diagnostics(&checked, args.format);
        if checked.has_errors() {
            failed += 1;
        } else if args.format == Format::Human {
            let warnings = checked.diagnostics.len();
            let note = match warnings {
                0 => String::new(),
                1 => " (1 warning)".into(),
                n => format!(" ({n} warnings)"),
            };
            eprintln!("{}: ok{note}", file.display());
        }
        let bytes = checked.sources.total_len();
        crate::check::release(checked, bytes);
    }
    if failed > 0 {
        if args.format == Format::Human {
            eprintln!(
                "{failed} of {} file{} failed the check; `pfi explain <code>` explains each error",
                args.files.len(),
                if args.files.len() == 1 { "" } else { "s" }
            );
        }
        ExitCode::from(exit::BAD_INPUT)
    } else {
        ExitCode::from(exit::OK)
    }
}
