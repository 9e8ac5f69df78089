//! `GET /v1/predictions` (and its live stream) and `GET /v1/mitigations`: what runs and
//! watches predicted and did.

use super::api_error::ApiError;
use super::app::App;
use super::store::PredictionFilter;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::{Value, json};
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictionQuery {
    pub run: Option<String>,
    pub resource: Option<String>,
    pub kind: Option<String>,
    pub min_confidence: Option<f64>,
    /// `true`: only acknowledged predictions; `false`: only those not acknowledged.
    pub acked: Option<bool>,
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
        acked: q.acked,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    pub run: Option<String>,
    pub resource: Option<String>,
    pub kind: Option<String>,
    pub min_confidence: Option<f64>,
}

/// `GET /v1/predictions/stream`: every prediction from now on, of every run and watch, as
/// Server-Sent Events (`event: prediction`), filtered like the list.
pub async fn stream(
    State(app): State<App>,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(q) = query?;
    let receiver = app.runner.subscribe_predictions();
    let events = stream::unfold((receiver, q), |(mut receiver, q)| async move {
        loop {
            match receiver.recv().await {
                Ok(p) => {
                    let wanted = q.run.as_ref().is_none_or(|r| p["run"] == r.as_str())
                        && q.resource
                            .as_ref()
                            .is_none_or(|r| p["resource"] == r.as_str())
                        && q.kind.as_ref().is_none_or(|k| p["kind"] == k.as_str())
                        && q.min_confidence
                            .is_none_or(|c| p["confidence"].as_f64().unwrap_or(0.0) >= c);
                    if wanted {
                        let event = Event::default().event("prediction").data(p.to_string());
                        return Some((Ok(event), (receiver, q)));
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
