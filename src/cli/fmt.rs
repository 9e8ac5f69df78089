use super::diagnostics::{Format, print_diagnostics};
use super::exit;
use crate::check::Checked;
use crate::check::loader::{read_file, unreadable};
use crate::diagnostic::SourceMap;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Files to format in place.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Change nothing; list the files that are not formatted and exit 1 if there are any.
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: FmtArgs) -> ExitCode {
    let mut unformatted = 0;
    let mut failed = false;
    for path in &args.files {
        let mut sources = SourceMap::new();
        let text = match read_file(path) {
            Ok(t) => t,
            Err(e) => {
                let diagnostic = unreadable(&mut sources, path, e);
                let checked = Checked {
                    sources,
                    plan: None,
                    diagnostics: vec![diagnostic],
                };
                print_diagnostics(&checked, Format::Human);
                failed = true;
                continue;
            }
        };
        let id = sources.add(path, text.clone());
        match crate::syntax::format(id, &text) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                unformatted += 1;
                if args.check {
                    println!("would reformat {}", path.display());
                } else if let Err(e) = std::fs::write(path, formatted) {
                    eprintln!("error: cannot write `{}`: {e}", path.display());
                    failed = true;
                } else {
                    println!("formatted {}", path.display());
                }
            }
            Err(diagnostics) => {
                let checked = Checked {
                    sources,
                    plan: None,
                    diagnostics,
                };
                print_diagnostics(&checked, Format::Human);
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(exit::BAD_INPUT)
    } else if args.check && unformatted > 0 {
        ExitCode::from(exit::FAILED)
    } else {
        ExitCode::from(exit::OK)
    }
}
