//! Errors of the REST API, in Toxiproxy's shape: `{"error": "...", "status": N}`.

use crate::proxy::ProxyError;
use crate::proxy::toxics::BuildError;
use hyper::StatusCode;
use serde::Serialize;

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    #[serde(rename = "error")]
    pub message: String,
    #[serde(rename = "status")]
    pub status: u16,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            message: message.into(),
            status: status.as_u16(),
        }
    }

    /// Toxiproxy's "bad request body: ..." with our explanation.
    pub fn bad_body(why: impl std::fmt::Display) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, format!("bad request body: {why}"))
    }

    pub fn missing_field(field: &str, hint: &str) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("missing required field: {field} ({hint})"),
        )
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<ProxyError> for ApiError {
    fn from(err: ProxyError) -> Self {
        let status = match &err {
            ProxyError::LinkNotFound(_) | ProxyError::ToxicNotFound { .. } => StatusCode::NOT_FOUND,
            ProxyError::LinkExists(_)
            | ProxyError::ToxicExists { .. }
            | ProxyError::AddressInUse(_) => StatusCode::CONFLICT,
            ProxyError::Bind { .. } | ProxyError::Invalid(_) => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, err.to_string())
    }
}

impl From<BuildError> for ApiError {
    fn from(err: BuildError) -> Self {
        match err {
            BuildError::UnknownType(_) => ApiError::new(StatusCode::BAD_REQUEST, err.to_string()),
            BuildError::Attributes(why) => ApiError::bad_body(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_errors_map_to_toxiproxy_statuses() {
        let e: ApiError = ProxyError::LinkNotFound("x".into()).into();
        assert_eq!(e.status, 404);
        assert!(e.message.starts_with("proxy not found"));
        let e: ApiError = ProxyError::LinkExists("x".into()).into();
        assert_eq!(e.status, 409);
        let e: ApiError = ProxyError::AddressInUse("127.0.0.1:1".parse().unwrap()).into();
        assert_eq!(e.status, 409);
        assert_eq!(serde_json::to_value(&e).unwrap()["status"], 409);
    }
}
