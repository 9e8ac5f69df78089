//! `pfi proxy serve`: the standalone fault proxy with its Toxiproxy-compatible API.

use super::exit;
use crate::proxy::{ProxyServer, api};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ProxyArgs {
    #[command(subcommand)]
    pub command: ProxyCommand,
}

#[derive(Debug, Subcommand)]
pub enum ProxyCommand {
    /// Run the fault proxy with a Toxiproxy 2.x compatible REST API (existing Toxiproxy
    /// clients work unchanged). Prints the API address on the first line of stdout.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address the API listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port the API listens on (0 picks a free one).
    #[arg(long, default_value_t = 8474)]
    pub port: u16,
    /// A Toxiproxy-style JSON array of proxies to create at start.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seed of every random decision (toxicity, jitter...). Without one, a random seed is
    /// used and printed so the run can be repeated.
    #[arg(long)]
    pub seed: Option<u64>,
}

pub fn run(args: ProxyArgs) -> ExitCode {
    let ProxyCommand::Serve(args) = args.command;
    let config = match &args.config {
        None => None,
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => Some((path, bytes)),
            Err(err) => {
                eprintln!(
                    "error: cannot read the config file {}: {err}",
                    path.display()
                );
                return ExitCode::from(exit::BAD_INPUT);
            }
        },
    };
    let listener = match std::net::TcpListener::bind((args.host.as_str(), args.port)) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!(
                "error: the API cannot listen on {}:{}: {err}\n  help: pick another --port (0 picks a free one) or stop what holds it",
                args.host, args.port
            );
            return ExitCode::from(exit::ENVIRONMENT);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(exit::ENVIRONMENT);
        }
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let api_addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("error: the API socket has no address: {err}");
            return ExitCode::from(exit::ENVIRONMENT);
        }
    };
    raise_open_file_limit();
    // Links run on this runtime; the API gets a thread of its own.
    let proxy = runtime.block_on(async { ProxyServer::new(seed) });
    // The config is checked before anything says "listening": a bad file is only an error.
    let mut proxies = Vec::new();
    if let Some((path, bytes)) = config {
        match runtime.block_on(api::populate_all(&proxy, &bytes)) {
            Ok(created) => proxies = created,
            Err(failed) => {
                eprintln!(
                    "error: cannot set up the proxies of {}: {}",
                    path.display(),
                    failed.error.message
                );
                runtime.block_on(proxy.shutdown());
                let code = if failed.error.status == 409 {
                    exit::ENVIRONMENT
                } else {
                    exit::BAD_INPUT
                };
                return ExitCode::from(code);
            }
        }
    }
    println!("pfi proxy API listening on {api_addr} (seed {seed})");
    for p in proxies {
        println!(
            "proxy {} listening on {} -> {}",
            p.name, p.listen, p.upstream
        );
    }
    let api = match api::ApiThread::start(listener, proxy.clone()) {
        Ok(api) => api,
        Err(err) => {
            eprintln!("error: cannot start the API thread: {err}");
            return ExitCode::from(exit::ENVIRONMENT);
        }
    };
    runtime.block_on(shutdown_signal());
    api.stop();
    runtime.block_on(proxy.shutdown());
    ExitCode::from(exit::OK)
}

/// Lifts the soft limit on open files to the hard one: each proxied TCP connection holds
/// two sockets and two pipes (as Go programs such as Toxiproxy do at start).
fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read and write the struct they are given.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
