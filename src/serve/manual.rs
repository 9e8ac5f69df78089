//! What an operator does by hand over the API, each recorded in the run's events:
//! `POST /v1/predictions/{id}/ack` acknowledges a prediction (who: the token's name; an
//! optional note), and `POST /v1/runs/{id}/mitigations` fires one of a running run's (or
//! watch's) `mitigate` rules now, whatever its trigger and cooldown, through the run's own
//! mitigation engine — so what it changes is in the ledger and reverted at the end like any
//! firing's.

use super::api_error::ApiError;
use super::app::App;
use super::auth::Caller;
use super::runner::{TriggerError, now_ms};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ack {
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fire {
    /// The rule's index among the scenario's `mitigate` rules, from 0.
    rule: usize,
}

/// An optional JSON body: empty is the default.
fn body_of<T: Default + for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_request(format!("the body is not the JSON expected: {err}")))
}

/// `POST /v1/predictions/{id}/ack`: 200 with the acknowledgement; the first one stands.
pub async fn ack(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(Caller(by)): Extension<Caller>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Ok(number) = id.parse::<i64>() else {
        return Err(ApiError::not_found(format!("no prediction `{id}`")));
    };
    let request: Ack = body_of(&body)?;
    let note = request
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let Some(acked) = app.store.ack_prediction(number, now_ms(), &by, note)? else {
        return Err(ApiError::not_found(format!("no prediction `{id}`")));
    };
    if !acked.already {
        let message = format!(
            "prediction {number} ({} on {}) acknowledged by {by}{}",
            acked.kind,
            acked.resource,
            note.map_or(String::new(), |n| format!(": {n}"))
        );
        tracing::info!(run = %acked.run, prediction = number, %by, "prediction acknowledged");
        app.runner.note(&acked.run, message)?;
    }
    Ok(Json(json!({
        "id": number,
        "run": acked.run,
        "acked": !acked.already,
        "already_acked": acked.already,
    })))
}

/// `POST /v1/runs/{id}/mitigations` with `{"rule": N}`: 200 with the rule's firings.
pub async fn fire(
    State(app): State<App>,
    Path(id): Path<String>,
    Extension(Caller(by)): Extension<Caller>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: Fire = serde_json::from_slice(&body).map_err(|err| {
        ApiError::bad_request(format!(
            "the body must be {{\"rule\": N}} (the rule's index among the scenario's mitigate rules, from 0): {err}"
        ))
    })?;
    app.runner
        .note(
            &id,
            format!("mitigation rule {} fired by hand by {by}", request.rule),
        )
        .ok();
    match app.runner.fire_by_hand(&id, request.rule, &by).await {
        Ok(firings) => {
            tracing::info!(run = %id, rule = request.rule, %by, "mitigation fired by hand");
            Ok(Json(
                json!({ "id": id, "rule": request.rule, "firings": firings }),
            ))
        }
        Err(TriggerError::Unknown) => Err(ApiError::not_found(format!("no run `{id}`"))),
        Err(TriggerError::NotRunning(status)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_running",
            format!("run `{id}` is not running ({status}): only a running run's rules can fire"),
        )),
        Err(TriggerError::NoEngine) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_mitigations",
            format!("run `{id}` has no mitigate rules (or its engine has stopped)"),
        )),
        Err(TriggerError::NoSuchRule(why)) => Err(ApiError::bad_request(why)),
    }
}
