//! The command line: clap definitions and dispatch. No logic of its own.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// pfi — predictive fault injection.
#[derive(Debug, Parser)]
#[command(name = "pfi", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {}

/// Parses the arguments and runs the command, returning the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {}
}
