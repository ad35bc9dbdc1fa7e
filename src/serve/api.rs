//! The JSON API: `POST /api/predict`, `GET /api/model`, `GET /healthz`.
//!
//! `POST /api/predict` takes either a picture (`Content-Type: image/*`, or
//! `application/octet-stream`, or none), preprocessed exactly as
//! `chiffre predict` does it, or a ready network input
//! (`application/json`: `{"pixels": [784 numbers in 0..1]}`, row-major, white
//! ink on black, not preprocessed). It answers as `chiffre predict --json`
//! does: `number` (the number read: digits, `.`, `-`, lines joined by `\n`)
//! and `digits` (each with `digit`, `confidence`, `probabilities`, `box`,
//! `line` and `input`, the 28×28 picture the network saw); when the picture
//! holds exactly one digit, also `digit`, `confidence`, `probabilities` and
//! `input` at the top level, and with `?maps=1` `maps`, the feature maps of
//! the first convolution and pooling layers (for the page).

use super::error::ApiError;
use super::maps::{feature_maps, FeatureMaps};
use super::pool::PoolError;
use super::AppState;
use crate::predict::{Model, NotANumber, PredictError};
use crate::preprocess::{decode_bytes, Pixels, PIXELS};
use crate::reading::{PixelBox, ReadDigit, ReadError, Reading, Symbol};
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use std::sync::Arc;

/// One digit of a number, as `POST /api/predict` answers it (the fields of
/// `chiffre predict --json`).
#[derive(Debug, Serialize)]
pub struct DigitAnswer {
    /// The most probable digit; null when the mark is not a digit.
    pub digit: Option<usize>,
    /// The digit's probability; for a mark that is not a digit, the
    /// probability that it is a digit at all.
    pub confidence: f32,
    /// The probability that the mark is a digit at all (1 for a model without
    /// a "not a digit" gate).
    pub digit_probability: f32,
    /// The probability of each digit, if it is one.
    pub probabilities: Vec<f32>,
    /// `[x, y, width, height]` in the picture's pixels.
    #[serde(rename = "box")]
    pub bounds: PixelBox,
    /// Its line, from 0 (top).
    pub line: usize,
    /// The 784 values the network read (after preprocessing), row-major.
    pub input: Vec<f32>,
}

impl DigitAnswer {
    fn of(d: &ReadDigit) -> Self {
        let p = &d.prediction;
        DigitAnswer {
            digit: d.is_digit.then_some(p.digit),
            confidence: if d.is_digit { p.confidence } else { p.digit_probability },
            digit_probability: p.digit_probability,
            probabilities: p.probabilities.clone(),
            bounds: d.bounds,
            line: d.line,
            input: d.pixels.to_vec(),
        }
    }
}

/// The single-digit fields of an answer, when the picture holds one mark.
#[derive(Debug, Serialize)]
pub struct SingleAnswer {
    /// The most probable digit; null when the mark is not a digit.
    pub digit: Option<usize>,
    /// As [`DigitAnswer::confidence`].
    pub confidence: f32,
    /// As [`DigitAnswer::digit_probability`].
    pub digit_probability: f32,
    /// The probability of each digit.
    pub probabilities: Vec<f32>,
    /// The 784 values the network read, row-major.
    pub input: Vec<f32>,
}

/// What `POST /api/predict` answers.
#[derive(Debug, Serialize)]
pub struct PredictResponse {
    /// The number read: digits, `.` and `-` (`?` for a mark that is not a
    /// digit), lines joined by `\n`.
    pub number: String,
    /// Every digit, in reading order.
    pub digits: Vec<DigitAnswer>,
    /// With exactly one mark: its digit, confidence, probabilities and input.
    #[serde(flatten)]
    pub single: Option<SingleAnswer>,
    /// With `?maps=1` and one mark: the first convolution's and pooling's feature maps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maps: Option<Vec<FeatureMaps>>,
}

/// A request body, sorted by its content type.
enum Input {
    /// A picture file, to be decoded and preprocessed.
    Picture(Bytes),
    /// A ready network input.
    Pixels(Box<Pixels>),
}

/// The expected JSON body, said in every message about it.
const EXPECTED_JSON: &str = r#"expected {"pixels": [784 numbers in 0..1]}"#;

/// `GET /healthz`: 200 while the model is loaded (it is loaded before the
/// server listens).
pub async fn healthz(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok", "workers": state.pool.workers() }))
}

/// `GET /api/model`: the architecture, parameter count, test accuracy and training settings.
pub async fn model(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(state.model_info.clone())
}

/// `POST /api/predict`: read the digit in a picture or a ready input.
pub async fn predict(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PredictResponse>, ApiError> {
    let limit = state.config.body_limit;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over the limit of {limit} bytes; send a smaller picture"),
        )
    };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    if declared.is_some_and(|n: u64| n > limit as u64) {
        return Err(too_large());
    }
    // Refused from its declared length above, before reading any of it;
    // a body without a length (chunked) is cut at the limit here.
    let body = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let over = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if over {
            too_large()
        } else {
            ApiError::bad_request(format!("cannot read the request body: {e}"))
        }
    })?;
    let input = parse_input(headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), body)?;
    let with_maps = wants_maps(query.as_deref());
    state.pool.run(move |model| answer(model, input, with_maps)).await.map_err(|e| match e {
        PoolError::Busy(_) | PoolError::Closed => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        PoolError::Panicked => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    })?
}

/// True when the query asks for feature maps: `maps`, `maps=1` or `maps=true`.
fn wants_maps(query: Option<&str>) -> bool {
    query.unwrap_or("").split('&').any(|pair| matches!(pair, "maps" | "maps=1" | "maps=true"))
}

/// Sorts the body by its content type: JSON is a ready input, a picture (or
/// an untyped body) is a file to decode; anything else is refused (415).
fn parse_input(content_type: Option<&str>, body: Bytes) -> Result<Input, ApiError> {
    let essence = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        return parse_pixels(&body).map(Input::Pixels);
    }
    if essence.is_empty() || essence.starts_with("image/") || essence == "application/octet-stream" {
        if body.is_empty() {
            return Err(ApiError::bad_request(
                "the body is empty; expected a picture (PNG, JPEG, BMP, GIF, TIFF, WebP, PGM/PPM) or, as \
                 application/json, {\"pixels\": [784 numbers in 0..1]}",
            ));
        }
        return Ok(Input::Picture(body));
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("Content-Type {essence} is not read here; send a picture as image/* or pixels as application/json"),
    ))
}

/// Reads `{"pixels": [...]}`: exactly 784 finite numbers in 0..1.
fn parse_pixels(body: &[u8]) -> Result<Box<Pixels>, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON ({e}); {EXPECTED_JSON}")))?;
    let Some(list) = value.get("pixels").and_then(|p| p.as_array()) else {
        return Err(ApiError::bad_request(format!("no \"pixels\" array in the body; {EXPECTED_JSON}")));
    };
    if list.len() != PIXELS {
        return Err(ApiError::bad_request(format!(
            "\"pixels\" has {} values; {EXPECTED_JSON} (28×28, row by row)",
            list.len()
        )));
    }
    let mut pixels = Box::new([0.0; PIXELS]);
    for (i, (slot, v)) in pixels.iter_mut().zip(list).enumerate() {
        match v.as_f64() {
            Some(x) if (0.0..=1.0).contains(&x) => *slot = x as f32,
            _ => return Err(ApiError::bad_request(format!("pixel {i} is {v}; {EXPECTED_JSON}"))),
        }
    }
    Ok(pixels)
}

/// The model's arithmetic broke down on this input: the server's fault, not the request's.
fn not_a_number(e: NotANumber) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the model: {e}"))
}

/// On a worker: read the number in a picture (as `chiffre predict` does),
/// or the digit of a ready input; with the feature maps of a single digit if asked.
fn answer(model: &mut Model, input: Input, with_maps: bool) -> Result<Json<PredictResponse>, ApiError> {
    let reading = match input {
        Input::Pixels(pixels) => {
            let prediction = model.predict_pixels(&pixels).map_err(not_a_number)?;
            let is_digit = prediction.is_digit(model.reject_threshold().unwrap_or(0.0));
            let digit = ReadDigit { prediction, is_digit, bounds: [0, 0, 28, 28], line: 0, pixels };
            Reading { lines: vec![vec![Symbol::Digit(digit)]] }
        }
        Input::Picture(bytes) => {
            let image = decode_bytes(&bytes, "the request body").map_err(|e| ApiError::bad_request(e.to_string()))?;
            model.read(&image).map_err(|e| match e {
                PredictError::Read(ReadError::NotANumber(e)) => not_a_number(e),
                e => ApiError::bad_request(format!("the picture: {e}")),
            })?
        }
    };
    let digits: Vec<DigitAnswer> = reading.digits().map(DigitAnswer::of).collect();
    let mut response = PredictResponse { number: reading.text(), digits, single: None, maps: None };
    if let Some(one) = reading.single() {
        let answer = DigitAnswer::of(one);
        response.single = Some(SingleAnswer {
            digit: answer.digit,
            confidence: answer.confidence,
            digit_probability: answer.digit_probability,
            probabilities: answer.probabilities,
            input: answer.input,
        });
        if with_maps {
            let (_, layers) = model.inspect(&one.pixels).map_err(not_a_number)?;
            response.maps = Some(feature_maps(&layers));
        }
    }
    Ok(Json(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_asked_for_by_the_query() {
        assert!(wants_maps(Some("maps=1")));
        assert!(wants_maps(Some("x=2&maps")));
        assert!(!wants_maps(Some("maps=0")));
        assert!(!wants_maps(None));
    }

    #[test]
    fn pixels_must_be_784_numbers_in_0_1() {
        let ok = serde_json::json!({ "pixels": vec![0.5; 784] }).to_string();
        assert_eq!(parse_pixels(ok.as_bytes()).unwrap()[783], 0.5);
        let short = serde_json::json!({ "pixels": vec![0.5; 783] }).to_string();
        assert!(parse_pixels(short.as_bytes()).unwrap_err().message.contains("has 783 values"));
        let mut bad = vec![serde_json::json!(0.0); 784];
        bad[7] = serde_json::json!(2.0);
        let bad = serde_json::json!({ "pixels": bad }).to_string();
        assert!(parse_pixels(bad.as_bytes()).unwrap_err().message.starts_with("pixel 7 is 2.0"));
        assert!(parse_pixels(b"{\"pixels\": \"no\"}").unwrap_err().message.contains("no \"pixels\" array"));
        assert!(parse_pixels(b"{not json").unwrap_err().message.contains("not valid JSON"));
    }

    #[test]
    fn content_types_choose_the_reading() {
        let body = Bytes::from_static(b"\x89PNG");
        assert!(matches!(parse_input(Some("image/png"), body.clone()), Ok(Input::Picture(_))));
        assert!(matches!(parse_input(None, body.clone()), Ok(Input::Picture(_))));
        let e = parse_input(Some("text/plain; charset=utf-8"), body).err().unwrap();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(e.message.contains("text/plain"));
        let e = parse_input(Some("image/png"), Bytes::new()).err().unwrap();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }
}
