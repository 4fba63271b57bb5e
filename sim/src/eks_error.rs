//! EKS API errors in the REST-JSON shape the AWS SDKs parse: the HTTP status of the
//! modelled exception, an `x-amzn-ErrorType` header naming it, and a JSON body with
//! `message` (and `clusterName` where EKS sends it).
//!
//! It only renders errors; the validation rules that raise them live with the model.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One EKS exception.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct EksError {
    /// The modelled exception name, e.g. `ResourceNotFoundException`.
    pub code: &'static str,
    pub status: u16,
    pub message: String,
    pub cluster_name: Option<String>,
}

impl EksError {
    fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
            cluster_name: None,
        }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", 400, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new("InvalidRequestException", 400, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", 404, message)
    }

    /// A quota reached (e.g. 3,000 access entries per cluster).
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new("ResourceLimitExceededException", 400, message)
    }

    pub fn in_use(message: impl Into<String>) -> Self {
        Self::new("ResourceInUseException", 409, message)
    }

    pub fn server(message: impl Into<String>) -> Self {
        Self::new("ServerException", 500, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new("ServiceUnavailableException", 503, message)
    }

    pub fn throttling() -> Self {
        Self::new("ThrottlingException", 429, "Rate exceeded")
    }

    pub fn cluster_not_found(name: &str) -> Self {
        Self::not_found(format!("No cluster found for name: {name}.")).for_cluster(name)
    }

    /// Sets the `clusterName` member of the error body.
    pub fn for_cluster(mut self, name: &str) -> Self {
        self.cluster_name = Some(name.to_owned());
        self
    }
}

impl IntoResponse for EksError {
    fn into_response(self) -> Response {
        let mut body = json!({"message": self.message});
        if let Some(c) = &self.cluster_name {
            body["clusterName"] = json!(c);
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, Json(body)).into_response();
        resp.headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(self.code));
        resp
    }
}
