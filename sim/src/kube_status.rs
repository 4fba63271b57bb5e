//! Kubernetes `Status` error objects with the API server's own reasons, codes and message
//! texts (NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Unauthorized, Forbidden,
//! TooManyRequests, InternalError, UnsupportedMediaType, MethodNotAllowed).
//!
//! It only builds responses; deciding which error applies is the caller's job.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The 1 MiB limit on a ConfigMap's data plus binaryData.
pub const MAX_CONFIGMAP_BYTES: usize = 1024 * 1024;

/// A failed Kubernetes request, rendered as a `Status` object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct KubeError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

fn details(name: &str) -> Option<Value> {
    Some(json!({"name": name, "kind": "configmaps"}))
}

impl KubeError {
    pub fn not_found(name: &str) -> Self {
        Self {
            code: 404,
            reason: "NotFound",
            message: format!("configmaps \"{name}\" not found"),
            details: details(name),
        }
    }

    pub fn path_not_found() -> Self {
        Self {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".to_owned(),
            details: None,
        }
    }

    pub fn already_exists(name: &str) -> Self {
        Self {
            code: 409,
            reason: "AlreadyExists",
            message: format!("configmaps \"{name}\" already exists"),
            details: details(name),
        }
    }

    /// The optimistic-concurrency failure, text exactly as kube-apiserver writes it.
    pub fn conflict(name: &str) -> Self {
        Self {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on configmaps \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
            details: details(name),
        }
    }

    /// 422 Invalid with one cause.
    pub fn invalid(name: &str, field: &str, cause_reason: &str, detail: &str) -> Self {
        Self {
            code: 422,
            reason: "Invalid",
            message: format!("ConfigMap \"{name}\" is invalid: {field}: {detail}"),
            details: Some(json!({
                "name": name,
                "kind": "ConfigMap",
                "causes": [{"reason": cause_reason, "message": detail, "field": field}],
            })),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            details: None,
        }
    }

    pub fn unauthorized() -> Self {
        Self {
            code: 401,
            reason: "Unauthorized",
            message: "Unauthorized".to_owned(),
            details: None,
        }
    }

    /// 403 as the RBAC authorizer words it; `name` is `None` for collection requests.
    pub fn forbidden(user: &str, verb: &str, namespace: &str, name: Option<&str>) -> Self {
        let subject = match name {
            Some(n) => format!("configmaps \"{n}\""),
            None => "configmaps".to_owned(),
        };
        Self {
            code: 403,
            reason: "Forbidden",
            message: format!(
                "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"configmaps\" in API group \"\" in the namespace \"{namespace}\""
            ),
            details: Some(json!({"name": name.unwrap_or_default(), "kind": "configmaps"})),
        }
    }

    pub fn too_many_requests() -> Self {
        Self {
            code: 429,
            reason: "TooManyRequests",
            message:
                "the server has received too many requests and has asked us to try again later"
                    .to_owned(),
            details: Some(json!({"retryAfterSeconds": 1})),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            code: 500,
            reason: "InternalError",
            message: message.into(),
            details: None,
        }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            code: 503,
            reason: "ServiceUnavailable",
            message: message.into(),
            details: None,
        }
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self {
            code: 415,
            reason: "UnsupportedMediaType",
            message: format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {content_type:?})"
            ),
            details: None,
        }
    }

    pub fn method_not_allowed() -> Self {
        Self {
            code: 405,
            reason: "MethodNotAllowed",
            message: "the server does not allow this method on the requested resource".to_owned(),
            details: None,
        }
    }

    /// The Status object.
    pub fn to_status(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

impl IntoResponse for KubeError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, Json(self.to_status())).into_response();
        if self.code == 429 {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

/// The `Status` a successful delete returns.
pub fn deleted(name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "kind": "configmaps", "uid": uid},
    })
}
