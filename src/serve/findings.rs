//! `GET /v1/predictions` and `GET /v1/mitigations`: what finished runs predicted and did.

use super::api_error::ApiError;
use super::app::App;
use super::store::PredictionFilter;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictionQuery {
    pub run: Option<String>,
    pub resource: Option<String>,
    pub kind: Option<String>,
    pub min_confidence: Option<f64>,
    pub limit: Option<usize>,
}

pub async fn predictions(
    State(app): State<App>,
    query: Result<Query<PredictionQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query?;
    let filter = PredictionFilter {
        run: q.run,
        resource: q.resource,
        kind: q.kind,
        min_confidence: q.min_confidence,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    Ok(Json(
        json!({ "predictions": app.store.predictions(&filter)? }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MitigationQuery {
    pub run: Option<String>,
    pub limit: Option<usize>,
}

pub async fn mitigations(
    State(app): State<App>,
    query: Result<Query<MitigationQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(
        json!({ "mitigations": app.store.mitigations(q.run.as_deref(), limit)? }),
    ))
}
