//! Errors as the API answers them: a status and `{"error": "..."}` saying
//! what was expected. [`json_errors`] turns the few answers that axum makes
//! by itself (unknown path, wrong method) into the same shape.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The paths the server answers, for the 404 message.
pub const ROUTES: &str = "GET /, GET /healthz, GET /api/model, POST /api/predict";

/// An error answer: a status code and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong and what was expected.
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into() }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}

/// Replaces the body of an error answer that is not JSON yet (axum's own 404
/// and 405, a rejected body) by `{"error": "..."}`, keeping its status and
/// headers (such as `Allow`).
pub async fn json_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let message = match status {
        StatusCode::NOT_FOUND => format!("no such path: {path}; this server answers {ROUTES}"),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = if path == "/api/predict" { "POST" } else { "GET" };
            format!("{method} is not allowed on {path}; use {allowed}")
        }
        other => format!("{} on {method} {path}", other.canonical_reason().unwrap_or("error")),
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = serde_json::json!({ "error": message }).to_string();
    Response::from_parts(parts, body.into())
}
