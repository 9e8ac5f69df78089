//! `pfi agent`: the node agent. Reads its token (a file, or `PFI_AGENT_TOKEN`), binds the
//! address (loopback unless told), serves the agent API, and on SIGINT or SIGTERM reverts
//! everything it holds before it exits.

use super::exit;
use crate::agent::{Agent, AgentConfig, DEFAULT_AGENT_LISTEN};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(after_help = "\
Every fault the agent applies is held under a lease the run renews; when a lease lapses (the \
run was killed, the network lost) the agent reverts that fault by itself. The token is shared \
by the run and the agent: the run sends it as a bearer token and the agent proves it holds \
it in every answer.")]
pub struct AgentArgs {
    /// Address to listen on (loopback by default; give an overlay address to serve a swarm).
    #[arg(long, default_value = DEFAULT_AGENT_LISTEN)]
    pub listen: String,
    /// A file holding the token (at least 16 characters); else `PFI_AGENT_TOKEN`.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The agent's own ledger of the faults it holds.
    #[arg(long, value_name = "FILE", default_value = ".pfi/agent-ledger.json")]
    pub ledger: PathBuf,
}

pub fn run(args: AgentArgs) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    let token = match read_token(args.token_file.as_deref()) {
        Ok(token) => token,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let config = AgentConfig {
        listen: args.listen.clone(),
        token,
        ledger: args.ledger.clone(),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(exit::ENVIRONMENT);
        }
    };
    runtime.block_on(async {
        let agent = match Agent::bind(&config).await {
            Ok(agent) => agent,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(if err.contains("token") {
                    exit::BAD_INPUT
                } else {
                    exit::ENVIRONMENT
                });
            }
        };
        if let Ok(address) = agent.local_addr() {
            // Scripts and tests read the address (the port, with --listen 127.0.0.1:0).
            eprintln!("pfi agent: listening on http://{address}");
        }
        agent
            .serve(async {
                super::shutdown_signal::shutdown_signal().await;
            })
            .await;
        ExitCode::from(exit::OK)
    })
}

/// The token from `file`, else from `PFI_AGENT_TOKEN`.
pub(crate) fn read_token(file: Option<&std::path::Path>) -> Result<String, String> {
    let token = match file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|err| format!("cannot read the token file {}: {err}", path.display()))?,
        None => std::env::var("PFI_AGENT_TOKEN").map_err(|_| {
            "give the agent's token with --token-file FILE or PFI_AGENT_TOKEN".to_string()
        })?,
    };
    let token = token.trim().to_string();
    if token.len() < 16 {
        return Err("the agent token must be at least 16 characters".to_string());
    }
    Ok(token)
}
