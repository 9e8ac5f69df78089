//! `pfi analyze SRC/`: failure points in source code (filled in below).
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Source folder or file.
    pub source: PathBuf,
}

pub fn run(_args: AnalyzeArgs) -> ExitCode {
    ExitCode::from(2)
}
