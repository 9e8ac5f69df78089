//! `Agent`: the HTTP service of `pfi agent`. Routes (all but `/healthz` need the token):
//!
//! - `POST /v1/faults` — an [`ApplyRequest`]: prepares the fault, writes its revert and lease
//!   to the agent's ledger, applies it, answers an [`AppliedResponse`];
//! - `POST /v1/faults/{id}/renew` — extends its lease by its length;
//! - `DELETE /v1/faults/{id}` — reverts it now (idempotent: an unknown id is already reverted);
//! - `GET /v1/faults` — what it holds;
//! - `POST /v1/revert-all` — reverts everything (`pfi recover`);
//! - `GET /v1/openapi.json` — the OpenAPI document of these routes (`src/agent/openapi.json`,
//!   no token needed; a test checks it lists exactly these routes and that each is served).
//!
//! A reaper reverts every fault whose lease lapsed (checked every 100 ms); on SIGINT/SIGTERM
//! the agent reverts everything it holds before it exits.

use super::agent_ledger::{AgentLedger, LeasedFault};
use crate::faults::{Effect, FaultAction, FaultContext};
use crate::plan::{Arrival, FaultPlan, Location, TargetFamily};
use crate::targets::DockerEngine;
use crate::targets::{AppliedResponse, ApplyRequest, FaultSummary, proof};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// Where the agent listens unless told: loopback only.
pub const DEFAULT_AGENT_LISTEN: &str = "127.0.0.1:7311";
/// The lease the run asks for unless told.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);
/// The OpenAPI document of the agent's API.
pub const AGENT_OPENAPI: &str = include_str!("openapi.json");
/// How often lapsed leases are looked for.
const REAP_INTERVAL: Duration = Duration::from_millis(100);

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub listen: String,
    pub token: String,
    pub ledger: PathBuf,
}

struct Shared {
    token: String,
    ledger: Mutex<AgentLedger>,
    engine: DockerEngine,
}

/// A running agent.
pub struct Agent {
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

impl Agent {
    /// Binds the address, opens the ledger and connects to the Docker engine.
    pub async fn bind(config: &AgentConfig) -> Result<Agent, String> {
        if config.token.trim().len() < 16 {
            return Err("the agent token must be at least 16 characters".to_string());
        }
        let ledger = AgentLedger::open(&config.ledger)
            .map_err(|err| format!("cannot open the agent ledger: {err}"))?;
        let engine = DockerEngine::connect()
            .await
            .map_err(|err| format!("cannot reach the Docker engine: {err}"))?;
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|err| format!("cannot listen on {}: {err}", config.listen))?;
        Ok(Agent {
            shared: Arc::new(Shared {
                token: config.token.trim().to_string(),
                ledger: Mutex::new(ledger),
                engine,
            }),
            listener,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then reverts everything it holds.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
        let shared = self.shared.clone();
        // Faults left by a previous agent: their leases keep running from the ledger.
        let held = shared.ledger.lock().await.faults().count();
        if held > 0 {
            tracing::warn!(
                held,
                "the ledger holds faults from before; they are reverted when their leases lapse"
            );
        }
        let reaper = tokio::spawn(reap(shared.clone()));
        let auth_state = shared.clone();
        let app = Router::new()
            .route("/v1/faults", post(apply).get(list))
            .route("/v1/faults/{id}/renew", post(renew))
            .route("/v1/faults/{id}", delete(revert_one))
            .route("/v1/revert-all", post(revert_all))
            .layer(middleware::from_fn_with_state(auth_state, authenticate))
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/v1/openapi.json",
                get(|| async {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        AGENT_OPENAPI,
                    )
                }),
            )
            .with_state(shared.clone());
        if let Err(err) = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!("the agent's server failed: {err}");
        }
        reaper.abort();
        let reverted = revert_everything(&shared).await;
        tracing::info!(reverted, "agent stopped; every fault it held is reverted");
    }
}

/// Checks the bearer token and signs the answer with the proof of the token.
async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !constant_time_eq(presented.as_bytes(), shared.token.as_bytes()) {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "this agent needs `Authorization: Bearer TOKEN` with its token",
        );
        response.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Bearer realm=\"pfi-agent\""),
        );
        return response;
    }
    let nonce = request
        .headers()
        .get("x-pfi-nonce")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut response = next.run(request).await;
    if let Some(nonce) = nonce
        && let Ok(value) = HeaderValue::from_str(&proof(&shared.token, &nonce))
    {
        response.headers_mut().insert("x-pfi-proof", value);
    }
    response
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn apply(State(shared): State<Arc<Shared>>, Json(request): Json<ApplyRequest>) -> Response {
    if request.lease_ms == 0 || request.lease_ms > 3_600_000 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the lease is 1 ms to 1 hour",
        );
    }
    let plan = FaultPlan {
        name: request.id.clone(),
        kind: request.kind.clone(),
        profile: None,
        target: request.container.clone(),
        target_family: TargetFamily::Container,
        params: request.params.clone(),
        arrival: Arrival::At {
            times_ms: vec![0.0],
        },
        lasting: None,
        probability: 1.0,
        at: Location {
            file: "agent".into(),
            line: 0,
            column: 0,
            start: 0,
            end: 0,
        },
    };
    let fault = match FaultAction::build(&plan, &request.id) {
        Ok(FaultAction::Container(fault)) => fault,
        Ok(_) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("`{}` is not a container fault", request.kind),
            );
        }
        Err(err) => return error(StatusCode::UNPROCESSABLE_ENTITY, err),
    };
    let target = match shared.engine.find(&request.container).await {
        Ok(target) => target,
        Err(err) if err.is_gone() => return error(StatusCode::NOT_FOUND, err.to_string()),
        Err(err) => return error(StatusCode::BAD_GATEWAY, err.to_string()),
    };
    // One fault at a time per agent: the ledger is written before each apply.
    let mut ledger = shared.ledger.lock().await;
    if ledger.get(&request.id).is_some() {
        return error(
            StatusCode::CONFLICT,
            format!("fault `{}` is already applied", request.id),
        );
    }
    let ctx = FaultContext::new("agent", request.id.clone());
    let lease_until_ms = now_ms() + request.lease_ms;
    let recorded = crate::faults::prepare_recorded(fault.as_ref(), &target, &ctx, |revert| {
        ledger.insert(LeasedFault {
            id: request.id.clone(),
            revert: revert.clone(),
            lease_ms: request.lease_ms,
            lease_until_ms,
        })
    })
    .await;
    let recorded = match recorded {
        Ok(recorded) => recorded,
        Err(err) => return error(StatusCode::UNPROCESSABLE_ENTITY, err.to_string()),
    };
    drop(ledger);
    match recorded.apply().await {
        Ok(applied) => {
            let effect = match applied.effect() {
                Effect::Unchecked => "not checked".to_string(),
                other => other.to_string(),
            };
            tracing::info!(id = %request.id, detail = applied.detail(), "applied under a lease of {} ms", request.lease_ms);
            Json(AppliedResponse {
                id: request.id,
                revert: serde_json::to_value(applied.revert_action()).unwrap_or_default(),
                detail: applied.detail().to_string(),
                effect,
                lease_until_ms,
            })
            .into_response()
        }
        Err(err) => {
            // Applying failed and was undone: forget it.
            let _ = shared.ledger.lock().await.remove(&request.id);
            error(StatusCode::BAD_GATEWAY, err.to_string())
        }
    }
}

async fn renew(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let mut ledger = shared.ledger.lock().await;
    let Some(lease_ms) = ledger.get(&id).map(|f| f.lease_ms) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("fault `{id}` is not held (reverted, or never applied)"),
        );
    };
    let until = now_ms() + lease_ms;
    // Written before it is answered: a restarted agent keeps the lease the run renewed.
    if let Err(err) = ledger.renew(&id, until) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the lease of `{id}` cannot be written to the agent's ledger: {err}"),
        );
    }
    Json(serde_json::json!({ "id": id, "lease_until_ms": until })).into_response()
}

async fn list(State(shared): State<Arc<Shared>>) -> Response {
    let ledger = shared.ledger.lock().await;
    let faults: Vec<FaultSummary> = ledger
        .faults()
        .map(|f| FaultSummary {
            id: f.id.clone(),
            revert: f.revert.to_string(),
            lease_until_ms: f.lease_until_ms,
        })
        .collect();
    Json(faults).into_response()
}

async fn revert_one(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let held = shared.ledger.lock().await.get(&id).cloned();
    let Some(fault) = held else {
        return Json(serde_json::json!({ "id": id, "outcome": "not held: nothing to undo" }))
            .into_response();
    };
    match revert_held(&shared, &fault).await {
        Ok(outcome) => Json(serde_json::json!({ "id": id, "outcome": outcome })).into_response(),
        Err(err) => error(StatusCode::BAD_GATEWAY, err),
    }
}

async fn revert_all(State(shared): State<Arc<Shared>>) -> Response {
    let reverted = revert_everything(&shared).await;
    let left = shared.ledger.lock().await.faults().count();
    Json(serde_json::json!({ "reverted": reverted, "left": left })).into_response()
}

/// Reverts one held fault and forgets it; the outcome in a sentence.
async fn revert_held(shared: &Shared, fault: &LeasedFault) -> Result<String, String> {
    let outcome = fault
        .revert
        .revert(None)
        .await
        .map_err(|err| err.to_string())?;
    shared
        .ledger
        .lock()
        .await
        .remove(&fault.id)
        .map_err(|err| format!("reverted, but the ledger cannot be written: {err}"))?;
    Ok(outcome.to_string())
}

async fn revert_everything(shared: &Shared) -> usize {
    let held: Vec<LeasedFault> = shared.ledger.lock().await.faults().cloned().collect();
    let mut reverted = 0;
    for fault in held.iter().rev() {
        match revert_held(shared, fault).await {
            Ok(outcome) => {
                reverted += 1;
                tracing::info!(id = %fault.id, "reverted: {outcome}");
            }
            Err(err) => tracing::error!(id = %fault.id, "cannot revert: {err}"),
        }
    }
    reverted
}

/// Reverts the faults whose lease lapsed, for as long as the agent runs.
async fn reap(shared: Arc<Shared>) {
    let mut interval = tokio::time::interval(REAP_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let lapsed = shared.ledger.lock().await.lapsed(now_ms());
        for fault in lapsed {
            let late = now_ms().saturating_sub(fault.lease_until_ms);
            match revert_held(&shared, &fault).await {
                Ok(outcome) => tracing::warn!(
                    id = %fault.id,
                    late_ms = late,
                    "the lease lapsed; reverted: {outcome}"
                ),
                Err(err) => {
                    tracing::error!(id = %fault.id, "the lease lapsed; cannot revert (retrying): {err}")
                }
            }
        }
    }
}
