//! `pfi serve`: the service. Binds the address, reads the tokens and the allow-list, logs
//! with tracing on stderr (RUST_LOG filters), and stops on SIGINT or SIGTERM after every
//! running experiment was reverted.

use super::exit;
use crate::serve::{AllowList, DEFAULT_LISTEN, ServeConfig, Tokens, hashed_line};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
#[command(after_help = "\
Without --tokens the server listens on loopback only and needs no token. A tokens file has \
one token a line, stored as its SHA-256: `read sha256:HEX [name]` (GET only) or `operator \
sha256:HEX [name]` (also submit, abort, check, plan); `pfi serve --hash-token TOKEN` prints \
such a line. Scenarios submitted over the API may only start the programs, images and \
containers given with --allow. On SIGINT or SIGTERM, running experiments are stopped and \
reverted before the server exits; runs left unfinished by a server that was killed are \
recovered from their ledgers and marked interrupted on the next start.")]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Where the database, the run ledgers and the process logs go.
    #[arg(long = "state", value_name = "DIR", default_value = ".pfi-serve")]
    pub state: PathBuf,
    /// Bearer tokens (hashed); required to listen anywhere but loopback.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,
    /// Folder of scenarios that API requests may name by relative path.
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
    /// A program (`pfi-demo`, `/usr/bin/redis-server`), `image:NAME`, `container:NAME`,
    /// `label:SELECTOR` or `service:NAME` that submitted scenarios may use; repeat for more.
    #[arg(long = "allow", value_name = "ENTRY")]
    pub allow: Vec<String>,
    /// Largest request body, in KiB.
    #[arg(long, value_name = "KIB", default_value_t = 1024)]
    pub max_body_kib: usize,
    /// Longest time to answer a request, in seconds (event streams excepted).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub request_timeout: u64,
    /// Watch this scenario from the start: its telemetry, predictions and mitigations, without
    /// faults and without an end; repeat for more.
    #[arg(long, value_name = "FILE")]
    pub watch: Vec<PathBuf>,
    /// Send every prediction and every run that did not pass to this Alertmanager (v2 API),
    /// e.g. `http://127.0.0.1:9093`.
    #[arg(long, value_name = "URL")]
    pub alertmanager: Option<String>,
    /// Post every prediction and every run's verdict as JSON to this URL (repeat for more).
    #[arg(long = "webhook", value_name = "URL")]
    pub webhooks: Vec<String>,
    /// The logs on stderr: `text` (one readable line each) or `json` (one JSON object a line:
    /// timestamp, level, target, fields, for a log collector).
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// Print the tokens-file line of TOKEN (`operator sha256:...`) and exit.
    #[arg(long, value_name = "TOKEN")]
    pub hash_token: Option<String>,
}

/// How `pfi serve` writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn run(args: ServeArgs) -> ExitCode {
    if let Some(token) = &args.hash_token {
        println!("operator {}", hashed_line(token));
        return ExitCode::from(exit::OK);
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match args.log_format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    let json = args.log_format == LogFormat::Json;
    // With `--log-format json` every line on stderr is a JSON object: errors go through the
    // log too.
    let fail = |message: String| {
        if json {
            tracing::error!("{message}");
        } else {
            eprintln!("error: {message}");
        }
    };
    let tokens = match &args.tokens {
        Some(path) => match Tokens::read(path) {
            Ok(tokens) => Some(tokens),
            Err(err) => {
                fail(err.to_string());
                return ExitCode::from(exit::BAD_INPUT);
            }
        },
        None => None,
    };
    let allow = match AllowList::new(&args.allow) {
        Ok(allow) => allow,
        Err(err) => {
            fail(err.to_string());
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    let mut config = ServeConfig::new(args.state.clone());
    config.scenarios_dir = args.scenarios.clone();
    config.tokens = tokens;
    config.allow = allow;
    config.body_limit = args.max_body_kib.saturating_mul(1024);
    config.request_timeout = Duration::from_secs(args.request_timeout.max(1));
    config.watches = args.watch.clone();
    config.alertmanager = args.alertmanager.clone();
    config.webhooks = args.webhooks.clone();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            fail(format!("cannot start the async runtime: {err}"));
            return ExitCode::from(exit::ENVIRONMENT);
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(&args.listen).await {
            Ok(listener) => listener,
            Err(err) => {
                fail(format!("cannot listen on {}: {err}", args.listen));
                return ExitCode::from(exit::ENVIRONMENT);
            }
        };
        if let Ok(address) = listener.local_addr() {
            // Scripts and tests read the address (the port, with --listen 127.0.0.1:0).
            if json {
                tracing::info!(%address, "pfi serve: listening on http://{address}");
            } else {
                eprintln!("pfi serve: listening on http://{address}");
            }
        }
        match crate::serve::run(listener, config, super::shutdown_signal::shutdown_signal()).await {
            Ok(()) => ExitCode::from(exit::OK),
            Err(err) => {
                fail(err.to_string());
                if err.0.starts_with("refusing") {
                    ExitCode::from(exit::BAD_INPUT)
                } else {
                    ExitCode::from(exit::ENVIRONMENT)
                }
            }
        }
    })
}
