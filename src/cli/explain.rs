use super::exit;
use crate::diagnostic::Code;
use clap::Args;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The code, e.g. PFI0016 (or just 16). Without one, list every code.
    pub code: Option<String>,
}

pub fn run(args: ExplainArgs) -> ExitCode {
    let Some(text) = args.code else {
        for code in Code::ALL {
            println!("{}  {}", code, code.title());
        }
        return ExitCode::from(exit::OK);
    };
    match Code::parse(&text) {
        Some(code) => {
            println!("{}: {}\n\n{}", code, code.title(), code.explanation());
            ExitCode::from(exit::OK)
        }
        None => {
            eprintln!(
                "error: `{text}` is not a pfi diagnostic code\n  help: run `pfi explain` to list every code"
            );
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}
