//! `/v1/runs`: submit a scenario, list and get runs, abort one.

use super::api_error::ApiError;
use super::app::App;
use super::footprint::Footprint;
use super::runner::{AbortError, now_ms};
use super::scenario_source::{ScenarioSource, diagnostics};
use super::store::RunRow;
use super::watch::into_watch;
use crate::model::Profile;
use crate::model::profile::restrict;
use crate::model::profile::{parse_top, profile_of};
use crate::model::thresholds::apply as apply_effective;
use crate::plan::Plan;
use crate::run::ledger::new_run_id;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
pub struct SubmitRun {
    #[serde(flatten)]
    pub source: ScenarioSource,
    /// Overrides the experiment's seed.
    pub seed: Option<u64>,
    /// `top:N`: only the faults of the profile's top N scenarios.
    pub profile: Option<String>,
    /// A watch: telemetry, predictions and mitigations, no faults, no end (until aborted).
    #[serde(default)]
    pub watch: bool,
}

/// `POST /v1/runs`: 202 and the run's id once the scenario checked and is allowed.
pub async fn submit(
    State(app): State<App>,
    body: Result<Json<SubmitRun>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let top = match &request.profile {
        Some(text) => Some(parse_top(text).map_err(ApiError::bad_request)?),
        None => None,
    };
    let checked = request
        .source
        .check(
            app.config.scenarios_dir.as_deref(),
            &app.config.state_dir.join("submitted"),
        )
        .await?;
    let Some(mut plan) = checked.plan.clone() else {
        return Err(ApiError::invalid_scenario(diagnostics(&checked)));
    };
    let refused = app.config.allow.violations(&plan);
    if !refused.is_empty() {
        let mut error = ApiError::new(StatusCode::FORBIDDEN, "not_allowed", refused.join("; "));
        error.diagnostics = Some(refused.into_iter().map(serde_json::Value::from).collect());
        return Err(error);
    }
    let seed = request.seed.unwrap_or(plan.experiment.seed);
    let profile = profile_of(&plan, seed).map_err(|message| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_scenario",
            message,
        )
    })?;
    if let Some(n) = top {
        restrict(&mut plan, &profile.top(n));
    }
    let (id, status) = start(
        &app,
        request.source.label(),
        plan,
        seed,
        profile,
        request.watch,
    )?;
    let location = format!("/v1/runs/{id}");
    let body = json!({
        "id": id,
        "status": status,
        "seed": seed,
        "links": {
            "self": location,
            "events": format!("{location}/events"),
            "abort": format!("{location}/abort"),
        },
        "warnings": diagnostics(&checked),
    });
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRuns {
    pub status: Option<String>,
    pub limit: Option<usize>,
}

/// Queues a checked, allowed plan as a run (or a watch); its id and `running` or `queued`.
pub fn start(
    app: &App,
    name: String,
    mut plan: Plan,
    seed: u64,
    profile: Profile,
    watch: bool,
) -> Result<(String, String), ApiError> {
    if watch {
        into_watch(&mut plan);
    }
    apply_effective(&mut plan);
    let id = new_run_id();
    let row = RunRow {
        id: id.clone(),
        name,
        experiment: plan.experiment.name.clone(),
        status: "queued".into(),
        kind: if watch { "watch" } else { "run" }.into(),
        seed,
        submitted_ms: now_ms(),
        started_ms: None,
        finished_ms: None,
        exit_code: None,
        ledger_run_id: None,
        max_risk: None,
        error: None,
        footprint: Footprint::of(&plan).items(),
        record: None,
        summary: None,
    };
    let Some(status) = app.runner.submit(row, plan, profile, watch)? else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        ));
    };
    Ok((id, status))
}

/// `GET /v1/runs`: newest first, without records.
pub async fn list(
    State(app): State<App>,
    query: Result<Query<ListRuns>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let runs = app.store.runs(query.status.as_deref(), limit)?;
    Ok(Json(json!({ "runs": runs })))
}

/// `GET /v1/runs/{id}`: the run with its record (the `pfi run --journal` JSON) and summary.
pub async fn get(State(app): State<App>, Path(id): Path<String>) -> Result<Json<RunRow>, ApiError> {
    app.store
        .run(&id)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no run `{id}`")))
}

/// `POST /v1/runs/{id}/abort`: 202; everything the run applied is reverted.
pub async fn abort(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    match app.runner.abort(&id, "abort requested over the API") {
        Ok(status) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "id": id, "status": status })),
        )
            .into_response()),
        Err(AbortError::Unknown) => Err(ApiError::not_found(format!("no run `{id}`"))),
        Err(AbortError::AlreadyFinished(status)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "finished",
            format!("run `{id}` already finished ({status})"),
        )),
    }
}
