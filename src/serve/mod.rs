//! The service (`pfi serve`): an HTTP API over the pipeline — check, plan and run scenarios,
//! stream a run's events, abort it, read what it measured, predicted and mitigated — with a
//! SQLite store in the state folder. A stage at the edge: it calls into check, plan and run;
//! nothing in the pipeline calls it.
//!
//! `run(listener, config, shutdown)` takes an already bound listener (tests bind port 0).
//! When `shutdown` completes, new runs are refused, every running experiment is stopped and
//! reverted, and only then does the server stop. On start, runs a previous server left
//! unfinished are recovered from their ledgers and marked `interrupted`.

mod alertmanager;
mod allow_list;
mod analysis_scope;
mod api_error;
mod app;
mod auth;
pub mod client;
mod dashboard;
mod events;
mod findings;
mod footprint;
mod live_event;
mod live_view;
mod login;
mod manual;
mod metrics;
mod migrations;
mod record;
mod routes;
mod runner;
mod runs;
mod scenario_source;
mod scenarios;
mod store;
mod system;
mod tokens;
mod watch;
mod webhooks;

pub use allow_list::AllowList;
pub use record::max_risk_of;
pub use store::{Store, StoreError};
pub use tokens::{Role, Tokens, TokensError, hashed_line};

use app::App;
use metrics::Metrics;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7478";

#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Ledgers, process logs and the database (`serve.db`).
    pub state_dir: PathBuf,
    /// Where scenarios named by path come from (none: only texts can be submitted).
    pub scenarios_dir: Option<PathBuf>,
    /// Bearer tokens; required to listen anywhere but loopback.
    pub tokens: Option<Tokens>,
    /// What submitted scenarios may start.
    pub allow: AllowList,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// How long a request may take to be answered (an event stream's life is not counted).
    pub request_timeout: Duration,
    /// Scenarios watched from the start (`pfi serve --watch FILE`).
    pub watches: Vec<PathBuf>,
    /// Alertmanager to send predictions and failed runs to (`http://host:9093`).
    pub alertmanager: Option<String>,
    /// URLs every prediction and every run's verdict are posted to as JSON.
    pub webhooks: Vec<String>,
}

impl ServeConfig {
    pub fn new(state_dir: PathBuf) -> ServeConfig {
        ServeConfig {
            state_dir,
            scenarios_dir: None,
            tokens: None,
            allow: AllowList::default(),
            body_limit: 1 << 20,
            request_timeout: Duration::from_secs(30),
            watches: Vec::new(),
            alertmanager: None,
            webhooks: Vec::new(),
        }
    }
}

/// Why the server could not start.
#[derive(Debug)]
pub struct ServeError(pub String);

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServeError {}

/// Serves the API on `listener` until `shutdown` completes (its output names why).
pub async fn run(
    listener: TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = String> + Send + 'static,
) -> Result<(), ServeError> {
    let address = listener
        .local_addr()
        .map_err(|e| ServeError(format!("the listener has no address: {e}")))?;
    if !address.ip().is_loopback() && config.tokens.is_none() {
        return Err(ServeError(format!(
            "refusing to listen on {address} without tokens: give --tokens FILE, or listen on \
             127.0.0.1"
        )));
    }
    std::fs::create_dir_all(config.state_dir.join("submitted")).map_err(|e| {
        ServeError(format!(
            "cannot create the state folder {}: {e}",
            config.state_dir.display()
        ))
    })?;
    let store =
        Store::open(&config.state_dir.join("serve.db")).map_err(|e| ServeError(e.to_string()))?;
    let alerts = match &config.alertmanager {
        Some(url) => Some(Arc::new(
            alertmanager::Alertmanager::new(url)
                .map_err(|e| ServeError(format!("refusing --alertmanager: {e}")))?,
        )),
        None => None,
    };
    let webhooks = if config.webhooks.is_empty() {
        None
    } else {
        Some(Arc::new(
            webhooks::Webhooks::new(&config.webhooks)
                .map_err(|e| ServeError(format!("refusing {e}")))?,
        ))
    };
    let app = App::new(
        config,
        Arc::new(store),
        Arc::new(Metrics::default()),
        alerts,
        webhooks,
    );
    let interrupted = app
        .runner
        .recover_unfinished()
        .await
        .map_err(|e| ServeError(format!("cannot recover unfinished runs: {e}")))?;
    if interrupted > 0 {
        tracing::warn!(
            "{interrupted} run(s) were unfinished when the server last stopped: recovered \
             and marked interrupted"
        );
    }
    for file in &app.config.watches {
        let id = start_watch(&app, file).await?;
        tracing::info!(watch = %id, file = %file.display(), "watching");
    }
    let router = routes::router(app.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    tracing::info!(%address, "pfi serve listening");
    let reason = shutdown.await;
    tracing::info!("{reason} received: stopping every run, then the server");
    app.runner.shut_down(&reason).await;
    let _ = stop.send(());
    match tokio::time::timeout(Duration::from_secs(10), server).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(err))) => Err(ServeError(format!("the server failed: {err}"))),
        Ok(Err(err)) => Err(ServeError(format!("the server task failed: {err}"))),
        Err(_) => {
            tracing::warn!("connections still open after 10s: closing them");
            Ok(())
        }
    }
}

/// Starts a watch of a scenario file given on the command line (trusted: no allow-list).
async fn start_watch(app: &App, file: &std::path::Path) -> Result<String, ServeError> {
    let path = file.to_path_buf();
    let checked = tokio::task::spawn_blocking(move || crate::check::check_file(&path))
        .await
        .map_err(|e| ServeError(e.to_string()))?;
    let Some(plan) = checked.plan.clone() else {
        let errors: Vec<String> = checked
            .diagnostics
            .iter()
            .map(|d| crate::diagnostic::render_human(d, &checked.sources, false))
            .collect();
        return Err(ServeError(format!(
            "refusing to watch {}: it has errors\n{}",
            file.display(),
            errors.join("")
        )));
    };
    let seed = plan.experiment.seed;
    let profile = crate::model::profile::profile_of(&plan, seed)
        .map_err(|e| ServeError(format!("refusing to watch {}: {e}", file.display())))?;
    let name = file.display().to_string();
    runs::start(app, name, plan, seed, profile, true)
        .map(|(id, _)| id)
        .map_err(|e| ServeError(e.message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeSet;

    #[test]
    fn the_openapi_document_lists_exactly_the_routes_served() {
        let document: Value = serde_json::from_str(system::OPENAPI).unwrap();
        let documented: BTreeSet<(String, String)> = document["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, operations)| {
                operations
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| *k != "parameters")
                    .map(move |method| (method.to_uppercase(), path.clone()))
            })
            .collect();
        let served: BTreeSet<(String, String)> = routes::table()
            .into_iter()
            .map(|(method, path, _)| (method.to_string(), path.to_string()))
            .collect();
        assert_eq!(documented, served);
    }
}
