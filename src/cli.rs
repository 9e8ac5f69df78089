//! The command line: clap definitions and dispatch. No logic of its own: each subcommand's
//! glue lives in `src/cli/<command>.rs` and calls into the library.

mod agent;
mod analyze;
mod check;
mod completions;
mod detect;
mod detect_precursors;
mod diagnostics;
mod explain;
mod fmt;
mod gate;
mod init;
pub(crate) mod plan;
mod proxy;
mod recover;
mod remote_run;
mod report;
pub(crate) mod run;
mod serve;
mod shutdown_signal;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// pfi — predictive fault injection: declare resources, faults, probes and thresholds in a
/// .pfi file; pfi checks it, plans a reproducible fault timeline, runs it and reverts it.
#[derive(Debug, Parser)]
#[command(name = "pfi", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check scenario files: every error with file:line:column, the span underlined and a hint.
    Check(check::CheckArgs),
    /// Show the compiled plan and the seeded fault timeline, before anything is touched.
    Plan(plan::PlanArgs),
    /// Format scenario files in the canonical layout (keeps comments).
    Fmt(fmt::FmtArgs),
    /// Print the long explanation of a diagnostic code (e.g. `pfi explain PFI0016`).
    Explain(explain::ExplainArgs),
    /// Run the TCP/HTTP fault proxy (`pfi proxy serve`), Toxiproxy-compatible.
    Proxy(proxy::ProxyArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Run a scenario: start resources and links, inject the fault timeline, judge thresholds.
    Run(run::RunArgs),
    /// Undo what crashed runs left behind (faults still applied, processes still running).
    Recover(recover::RecoverArgs),
    /// Render a run's journal as an HTML page with charts or as Markdown; compare two runs.
    Report(report::ReportArgs),
    /// Score a `timestamp,value` CSV (or a NAB data folder) with a streaming anomaly detector.
    Detect(detect::DetectArgs),
    /// Draft a scenario from a Compose file or Kubernetes manifests (`--from compose.yml`).
    Init(init::InitArgs),
    /// Find outbound calls in source code and what guards them (timeouts, retries, breakers).
    Analyze(analyze::AnalyzeArgs),
    /// Run the pfi service: runs, checks and plans over an HTTP API, with a SQLite store.
    Serve(serve::ServeArgs),
    /// Run the node agent: applies and reverts faults on this node's containers for a run
    /// elsewhere, each under a lease that reverts it if the run stops renewing.
    Agent(agent::AgentArgs),
    /// Run a scenario (locally or on a server) and exit 1 when its risk exceeds a budget.
    Gate(gate::GateArgs),
}

/// Exit codes shared by every command.
pub mod exit {
    /// Everything passed.
    pub const OK: u8 = 0;
    /// A threshold or hypothesis failed, or the run aborted.
    pub const FAILED: u8 = 1;
    /// Bad input or usage.
    pub const BAD_INPUT: u8 = 2;
    /// The environment failed (Docker unreachable, port taken, a process died at start).
    pub const ENVIRONMENT: u8 = 3;
}

/// Parses the arguments and runs the command, returning the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::OK
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Proxy(args) => proxy::run(args),
        Command::Detect(args) => detect::run(args),
        Command::Run(args) => run::run(args),
        Command::Recover(args) => recover::run(args),
        Command::Report(args) => report::run(args),
        Command::Init(args) => init::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Agent(args) => agent::run(args),
        Command::Gate(args) => gate::run(args),
    }
}
