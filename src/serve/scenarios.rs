//! `POST /v1/check` and `POST /v1/plan`: a scenario's diagnostics, its compiled plan and
//! seeded timeline — nothing is started.

use super::api_error::ApiError;
use super::app::App;
use super::scenario_source::{ScenarioSource, diagnostics};
use crate::model::profile::profile_of;
use crate::model::thresholds::effective;
use crate::model::timeline;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// `POST /v1/check`: 200 with `ok` and every diagnostic (line and column included).
pub async fn check(
    State(app): State<App>,
    body: Result<Json<ScenarioSource>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(source) = body?;
    let checked = source
        .check(
            app.config.scenarios_dir.as_deref(),
            &app.config.state_dir.join("submitted"),
        )
        .await?;
    let allowed = checked
        .plan
        .as_ref()
        .map(|plan| app.config.allow.violations(plan))
        .unwrap_or_default();
    Ok(Json(json!({
        "ok": !checked.has_errors(),
        "diagnostics": diagnostics(&checked),
        "not_allowed": allowed,
    })))
}

#[derive(Debug, Deserialize)]
pub struct PlanRequest {
    #[serde(flatten)]
    pub source: ScenarioSource,
    pub seed: Option<u64>,
}

/// `POST /v1/plan`: the plan, the timeline, the profile and the effective thresholds (as
/// `pfi plan --json`); 422 with the diagnostics when the scenario has errors.
pub async fn plan(
    State(app): State<App>,
    body: Result<Json<PlanRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(request) = body?;
    let checked = request
        .source
        .check(
            app.config.scenarios_dir.as_deref(),
            &app.config.state_dir.join("submitted"),
        )
        .await?;
    let Some(plan) = checked.plan.clone() else {
        return Err(ApiError::invalid_scenario(diagnostics(&checked)));
    };
    let seed = request.seed.unwrap_or(plan.experiment.seed);
    let warnings = diagnostics(&checked);
    tokio::task::spawn_blocking(move || {
        let profile = profile_of(&plan, seed).map_err(|message| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_scenario",
                message,
            )
        })?;
        Ok(Json(json!({
            "seed": seed,
            "timeline": timeline(&plan, seed),
            "profile": profile,
            "effective_thresholds": effective(&plan),
            "plan": plan,
            "warnings": warnings,
        })))
    })
    .await
    .map_err(ApiError::internal)?
}
