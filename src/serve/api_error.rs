//! `ApiError`: every error the API returns, with one stable JSON shape:
//! `{"error": {"status": 404, "code": "not_found", "message": "...", "diagnostics": [...]}}`
//! (`diagnostics` only when a scenario has errors).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// A stable, machine-readable word (`not_found`, `invalid_scenario`, ...).
    pub code: &'static str,
    pub message: String,
    pub diagnostics: Option<Vec<Value>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            diagnostics: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {message}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            message.to_string(),
        )
    }

    /// A scenario with errors: 422 and every diagnostic.
    pub fn invalid_scenario(diagnostics: Vec<Value>) -> ApiError {
        let errors = diagnostics
            .iter()
            .filter(|d| d["severity"] == "error")
            .count();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_scenario",
            message: format!("the scenario has {errors} error(s)"),
            diagnostics: Some(diagnostics),
        }
    }

    pub fn body(&self) -> Value {
        let mut error = json!({
            "status": self.status.as_u16(),
            "code": self.code,
            "message": self.message,
        });
        if let Some(diagnostics) = &self.diagnostics {
            error["diagnostics"] = Value::from(diagnostics.clone());
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        let status = rejection.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "malformed_json",
        };
        ApiError::new(status, code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::bad_request(rejection.body_text())
    }
}

impl From<super::store::StoreError> for ApiError {
    fn from(err: super::store::StoreError) -> ApiError {
        ApiError::internal(err)
    }
}
