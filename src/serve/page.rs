//! The page: HTML, CSS and plain JavaScript in `src/serve/page/`, embedded
//! in the binary (no CDN, no build step; it works offline).

use axum::http::header;
use axum::response::IntoResponse;

/// The page's HTML.
pub const INDEX_HTML: &str = include_str!("page/index.html");
/// Its script: drawing, throttled prediction, bars, the network's input, feature maps, uploads.
pub const APP_JS: &str = include_str!("page/app.js");
/// Its style sheet.
pub const STYLE_CSS: &str = include_str!("page/style.css");

/// Assets change only with the binary; a short cache keeps reloads honest.
const CACHE: &str = "no-cache";

/// `GET /`: the page.
pub async fn index() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, CACHE)], INDEX_HTML)
}

/// `GET /app.js`.
pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, CACHE)], APP_JS)
}

/// `GET /style.css`.
pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, CACHE)], STYLE_CSS)
}
