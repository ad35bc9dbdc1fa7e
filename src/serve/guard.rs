//! What every request goes through before the handlers: a bound on the
//! requests in flight, a deadline, and one log line when it is answered.

use super::error::ApiError;
use super::AppState;
use axum::body::HttpBody;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;

/// Bounds the requests in flight (over the bound: 503 at once, so that a
/// flood cannot queue without end) and gives each a deadline (past it: 408;
/// it covers receiving the body, waiting for a worker and predicting).
/// `/healthz` is not counted, so that a busy server still says it is alive.
pub async fn limits(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let _permit = if request.uri().path() == "/healthz" {
        None
    } else {
        match Arc::clone(&state.in_flight).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("busy: {} requests are in flight already; retry shortly", state.config.max_in_flight),
                )
                .into_response()
            }
        }
    };
    match tokio::time::timeout(state.config.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request was not answered within {:.1} s: send the whole body at once (at most {} bytes)",
                state.config.timeout.as_secs_f64(),
                state.config.body_limit
            ),
        )
        .into_response(),
    }
}

/// Logs one line per request: method, path, status, bytes and milliseconds.
pub async fn log(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let bytes = response.body().size_hint().exact().map_or_else(|| "-".to_string(), |n| n.to_string());
    tracing::info!(
        "{method} {path} {} {bytes} bytes {:.2} ms",
        response.status().as_u16(),
        start.elapsed().as_secs_f64() * 1e3
    );
    response
}
