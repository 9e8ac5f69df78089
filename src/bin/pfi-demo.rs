//! `pfi-demo`: small services to inject faults into (the quickstart and the tests use them).
//!
//! Every mode prints `listening on ADDRESS` on stdout once bound (also with `--port 0`) and
//! exits cleanly on SIGTERM or Ctrl-C.

/// The same allocator as `pfi` (see `src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Args, Parser, Subcommand};
use pfi::demo::{self, ApiConfig, BackendConfig};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

/// Demo services for pfi: a TCP backend and an HTTP API that depends on it.
#[derive(Debug, Parser)]
#[command(name = "pfi-demo", version, about)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// A TCP line-protocol service: `PING` → `PONG`, `GET key` → `VALUE key N`.
    Backend(BackendArgs),
    /// An HTTP API: GET /health, /checkout (calls the backend), /metrics (Prometheus text).
    Api(ApiArgs),
    /// A health probe for a Docker healthcheck (the image has no shell): connects to
    /// HOST:PORT, sends `PING` and exits 0 if the answer is `PONG` (a backend), else 1.
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
struct ProbeArgs {
    /// The backend's HOST:PORT.
    address: String,
    /// How long to wait for the answer.
    #[arg(long, default_value = "1s", value_parser = demo::parse_duration)]
    timeout: Duration,
}

/// `PING` → `PONG` over one connection, within `timeout`.
fn probe(args: &ProbeArgs) -> Result<(), String> {
    use std::io::{BufRead, BufReader};
    use std::net::ToSocketAddrs;
    let address = args
        .address
        .to_socket_addrs()
        .map_err(|err| format!("{}: {err}", args.address))?
        .next()
        .ok_or_else(|| format!("{}: no address", args.address))?;
    let mut stream = std::net::TcpStream::connect_timeout(&address, args.timeout)
        .map_err(|err| format!("cannot connect to {address}: {err}"))?;
    stream
        .set_read_timeout(Some(args.timeout))
        .and_then(|()| stream.write_all(b"PING\n"))
        .map_err(|err| format!("{address}: {err}"))?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|err| format!("{address}: no answer: {err}"))?;
    if line.trim() == "PONG" {
        Ok(())
    } else {
        Err(format!("{address} answered {:?}, not PONG", line.trim()))
    }
}

#[derive(Debug, Args)]
struct Listen {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one (read it from the `listening on` line).
    #[arg(long)]
    port: u16,
}

#[derive(Debug, Args)]
struct BackendArgs {
    #[command(flatten)]
    listen: Listen,
    /// Delay before answering each GET (e.g. 20ms).
    #[arg(long, default_value = "0", value_parser = demo::parse_duration)]
    latency: Duration,
}

#[derive(Debug, Args)]
struct ApiArgs {
    #[command(flatten)]
    listen: Listen,
    /// The backend's HOST:PORT.
    #[arg(long)]
    backend: String,
    /// Delay added to every /checkout (e.g. 5ms).
    #[arg(long, default_value = "0", value_parser = demo::parse_duration)]
    latency: Duration,
    /// CPU time each /checkout burns (e.g. 2ms), so CPU limits show as latency.
    #[arg(long, default_value = "0", value_parser = demo::parse_duration)]
    cpu_work: Duration,
    /// How long /checkout waits for the backend before answering 504.
    #[arg(long, default_value = "1s", value_parser = demo::parse_duration)]
    backend_timeout: Duration,
    /// Leak resident memory at this rate (e.g. 512KiB/s).
    #[arg(long, value_parser = demo::parse_rate)]
    leak_rate: Option<u64>,
    /// Leaked memory at which requests fail with 503 (e.g. 64MiB).
    #[arg(long, default_value = "256MiB", value_parser = demo::parse_bytes)]
    memory_limit: u64,
    /// Start leaking this long after start (e.g. 8s).
    #[arg(long, default_value = "0", value_parser = demo::parse_duration)]
    leak_after: Duration,
    /// Exit with status 137, as if killed for running out of memory, once the leak reaches
    /// --memory-limit (instead of answering 503).
    #[arg(long)]
    exit_at_limit: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Mode::Probe(args) = &cli.mode {
        return match probe(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("pfi-demo probe: {message}");
                ExitCode::FAILURE
            }
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("pfi-demo: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.mode)) {
        Ok(demo::ApiEnd::Shutdown) => ExitCode::SUCCESS,
        Ok(demo::ApiEnd::OutOfMemory) => ExitCode::from(137),
        Err(message) => {
            eprintln!("pfi-demo: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(mode: Mode) -> Result<demo::ApiEnd, String> {
    let listen = match &mode {
        Mode::Backend(args) => &args.listen,
        Mode::Api(args) => &args.listen,
        Mode::Probe(_) => return Err("`probe` runs without the runtime".to_string()),
    };
    let address = format!("{}:{}", listen.host, listen.port);
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|err| format!("cannot listen on {address}: {err}"))?;
    let bound = listener
        .local_addr()
        .map_err(|err| format!("cannot read the bound address: {err}"))?;
    let shutdown = shutdown_signal()?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {bound}")
        .and_then(|()| stdout.flush())
        .map_err(|err| format!("cannot write to stdout: {err}"))?;
    match mode {
        Mode::Backend(args) => {
            let config = BackendConfig {
                latency: args.latency,
            };
            demo::serve_backend(listener, config, shutdown).await;
            tracing::info!("shut down");
            Ok(demo::ApiEnd::Shutdown)
        }
        Mode::Api(args) => {
            let config = ApiConfig {
                latency: args.latency,
                cpu_work: args.cpu_work,
                backend_timeout: args.backend_timeout,
                leak_rate: args.leak_rate.unwrap_or(0),
                memory_limit: args.memory_limit,
                leak_after: args.leak_after,
                exit_at_limit: args.exit_at_limit,
                ..ApiConfig::new(args.backend)
            };
            let end = demo::serve_api(listener, config, shutdown).await;
            if end == demo::ApiEnd::Shutdown {
                tracing::info!("shut down");
            }
            Ok(end)
        }
        Mode::Probe(_) => Ok(demo::ApiEnd::Shutdown),
    }
}

/// Completes on SIGTERM or SIGINT.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|err| format!("cannot watch SIGTERM: {err}"))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|err| format!("cannot watch SIGINT: {err}"))?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
