//! # chiffre-web
//!
//! chiffre's engine for a web page: `chiffre-core` built for
//! `wasm32-unknown-unknown` (no threads, no image decoding), behind plain
//! `extern "C"` functions that pass numbers and pointers into the module's
//! memory. Why not `wasm-bindgen`: the surface is a handful of functions on
//! `f32` buffers, which JavaScript reads as a `Float32Array` over
//! `memory.buffer`; plain exports need no generated glue and no build tool
//! beyond `cargo`.
//!
//! The calls, from JavaScript:
//! 1. `chiffre_alloc(n)` → a pointer to `n` bytes; copy a model file
//!    (safetensors, written by `chiffre train`) there;
//!    `chiffre_load(ptr, n)` → 0, or -1 (then `chiffre_error()` and
//!    `chiffre_error_len()` give the message, UTF-8);
//! 2. write 784 `f32` (a 28×28 input, ink 0-1, MNIST-style) at
//!    `chiffre_input()`; `chiffre_predict()` → the digit (or -1 without a
//!    model); its probabilities are at `chiffre_probabilities()` (10 `f32`);
//! 3. or read a whole picture as `chiffre predict` does (the engine's own
//!    preprocessing and number reading): write its light levels (`width ×
//!    height` `f32`, 0 black to 1 white, row-major) at
//!    `chiffre_picture(width, height)`, then `chiffre_read(width, height)` →
//!    how many digits were found (or -1, with the message); the reading, as
//!    JSON (`number`, and `digits` with `digit` or `null` for "not a digit",
//!    `confidence`, `digit_probability`, `box` = `[x, y, width, height]`,
//!    `line`), is at `chiffre_reading()` (`chiffre_reading_len()` bytes).
//!
//! The same functions run natively ([`Engine`]), which is how the tests
//! compare the WebAssembly answers with the native ones.

use chiffre_core::preprocess::{Gray, Pixels, MAX_PIXELS, PIXELS};
use chiffre_core::reading::Reading;
use chiffre_core::{Model, Prediction};
use std::cell::RefCell;
use std::fmt::Write;

/// The state behind the exports: one model, the input buffers, the last
/// answers and the last error.
pub struct Engine {
    model: Option<Model>,
    input: Box<Pixels>,
    probabilities: Vec<f32>,
    picture: Vec<f32>,
    reading: String,
    error: String,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            model: None,
            input: Box::new([0.0; PIXELS]),
            probabilities: Vec::new(),
            picture: Vec::new(),
            reading: String::new(),
            error: String::new(),
        }
    }
}

impl Engine {
    /// Uses `model` (a model already in memory, natively).
    pub fn set_model(&mut self, model: Model) {
        self.model = Some(model);
    }

    /// Loads a model file held in memory; on failure keeps the message.
    pub fn load(&mut self, bytes: &[u8]) -> Result<(), String> {
        match Model::from_bytes(bytes, "the model file") {
            Ok(model) => {
                self.model = Some(model);
                Ok(())
            }
            Err(e) => {
                self.error = e.to_string();
                Err(self.error.clone())
            }
        }
    }

    /// The 28×28 input the next [`Engine::predict`] reads.
    pub fn input_mut(&mut self) -> &mut Pixels {
        &mut self.input
    }

    /// Reads the input with the loaded model; `None` without one.
    pub fn predict(&mut self) -> Option<Prediction> {
        let Some(model) = self.model.as_mut() else {
            self.error = "no model is loaded: call chiffre_load first".into();
            return None;
        };
        match model.predict_pixels(&self.input) {
            Ok(prediction) => {
                self.probabilities.clone_from(&prediction.probabilities);
                Some(prediction)
            }
            Err(e) => {
                self.error = e.to_string();
                None
            }
        }
    }

    /// The probabilities of the last prediction (one per class).
    pub fn probabilities(&self) -> &[f32] {
        &self.probabilities
    }

    /// The buffer for a `width × height` picture's light levels (0 black, 1
    /// white, row-major) that the next [`Engine::read`] reads; `None` (with
    /// the message) for an empty or too large picture.
    pub fn picture_mut(&mut self, width: usize, height: usize) -> Option<&mut [f32]> {
        match width.checked_mul(height) {
            Some(n) if n > 0 && n as u64 <= MAX_PIXELS => {
                self.picture.resize(n, 1.0);
                Some(&mut self.picture)
            }
            _ => {
                self.error = format!("a {width}×{height} picture: expected 1 to {MAX_PIXELS} pixels");
                None
            }
        }
    }

    /// Reads every digit of the picture written at [`Engine::picture_mut`]
    /// (the same `width` and `height`), as `chiffre predict` reads a file:
    /// how many digits were found; the reading is at [`Engine::reading`].
    pub fn read(&mut self, width: usize, height: usize) -> Result<usize, String> {
        let result = match (self.model.as_mut(), Gray::new(width, height, self.picture.clone())) {
            (None, _) => Err("no model is loaded: call chiffre_load first".to_string()),
            (_, None) => Err(format!("no {width}×{height} picture was written: call chiffre_picture first")),
            (Some(model), Some(picture)) => model.read(&picture).map_err(|e| e.to_string()),
        };
        match result {
            Ok(reading) => {
                self.reading = reading_json(&reading);
                Ok(reading.digits().count())
            }
            Err(message) => {
                self.error.clone_from(&message);
                Err(message)
            }
        }
    }

    /// The last reading, as JSON (see the crate's documentation).
    pub fn reading(&self) -> &str {
        &self.reading
    }

    /// The last error's message.
    pub fn error(&self) -> &str {
        &self.error
    }
}

/// A reading as JSON: `number`, and `digits` in reading order.
fn reading_json(reading: &Reading) -> String {
    let text: String = reading.text().chars().flat_map(|c| c.escape_default()).collect();
    let mut json = format!("{{\"number\":\"{text}\",\"digits\":[");
    for (i, d) in reading.digits().enumerate() {
        let p = &d.prediction;
        let digit = if d.is_digit { p.digit.to_string() } else { "null".into() };
        let [x, y, w, h] = d.bounds;
        let _ = write!(
            json,
            "{}{{\"digit\":{digit},\"confidence\":{},\"digit_probability\":{},\"box\":[{x},{y},{w},{h}],\"line\":{}}}",
            if i > 0 { "," } else { "" },
            p.confidence,
            p.digit_probability,
            d.line
        );
    }
    json.push_str("]}");
    json
}

thread_local! {
    // WebAssembly runs this module on one thread: one engine.
    static ENGINE: RefCell<Engine> = RefCell::new(Engine::default());
}

fn with_engine<T>(f: impl FnOnce(&mut Engine) -> T) -> T {
    ENGINE.with(|engine| f(&mut engine.borrow_mut()))
}

/// Allocates `len` bytes in the module's memory for the caller to fill
/// (a model file); give them back with [`chiffre_free`].
#[no_mangle]
pub extern "C" fn chiffre_alloc(len: usize) -> *mut u8 {
    let mut bytes = std::mem::ManuallyDrop::new(vec![0u8; len]);
    bytes.as_mut_ptr()
}

/// Frees what [`chiffre_alloc`] gave for `len` bytes.
///
/// # Safety
/// `ptr` and `len` must be those of one earlier [`chiffre_alloc`] call, freed once.
#[no_mangle]
pub unsafe extern "C" fn chiffre_free(ptr: *mut u8, len: usize) {
    if !ptr.is_null() {
        // SAFETY: the caller passes back a vector's pointer and length from `chiffre_alloc`.
        drop(unsafe { Vec::from_raw_parts(ptr, len, len) });
    }
}

/// Loads the model file of `len` bytes at `ptr`: 0, or -1 with the message
/// at [`chiffre_error`].
///
/// # Safety
/// `ptr` must point to `len` readable bytes (from [`chiffre_alloc`]).
#[no_mangle]
pub unsafe extern "C" fn chiffre_load(ptr: *const u8, len: usize) -> i32 {
    if ptr.is_null() {
        return with_engine(|e| {
            e.error = "no model bytes (null pointer)".into();
            -1
        });
    }
    // SAFETY: the caller guarantees `len` readable bytes at `ptr`.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    with_engine(|e| if e.load(bytes).is_ok() { 0 } else { -1 })
}

/// Where to write the 784 `f32` of the next input.
#[no_mangle]
pub extern "C" fn chiffre_input() -> *mut f32 {
    with_engine(|e| e.input_mut().as_mut_ptr())
}

/// Reads the input: the digit, or -1 without a model.
#[no_mangle]
pub extern "C" fn chiffre_predict() -> i32 {
    with_engine(|e| e.predict().map_or(-1, |p| p.digit as i32))
}

/// The probabilities of the last prediction (10 `f32`).
#[no_mangle]
pub extern "C" fn chiffre_probabilities() -> *const f32 {
    with_engine(|e| e.probabilities().as_ptr())
}

/// Where to write the light levels of a `width × height` picture (`f32`, 0
/// black to 1 white, row-major) for [`chiffre_read`]; null (with the
/// message) for an empty or too large picture.
#[no_mangle]
pub extern "C" fn chiffre_picture(width: usize, height: usize) -> *mut f32 {
    with_engine(|e| e.picture_mut(width, height).map_or(std::ptr::null_mut(), |p| p.as_mut_ptr()))
}

/// Reads every digit of the picture at [`chiffre_picture`]: how many were
/// found, or -1 (with the message at [`chiffre_error`]).
#[no_mangle]
pub extern "C" fn chiffre_read(width: usize, height: usize) -> i32 {
    with_engine(|e| e.read(width, height).map_or(-1, |n| n as i32))
}

/// The last reading as JSON (UTF-8, [`chiffre_reading_len`] bytes).
#[no_mangle]
pub extern "C" fn chiffre_reading() -> *const u8 {
    with_engine(|e| e.reading().as_ptr())
}

/// The length in bytes of [`chiffre_reading`].
#[no_mangle]
pub extern "C" fn chiffre_reading_len() -> usize {
    with_engine(|e| e.reading().len())
}

/// The last error message (UTF-8, [`chiffre_error_len`] bytes).
#[no_mangle]
pub extern "C" fn chiffre_error() -> *const u8 {
    with_engine(|e| e.error().as_ptr())
}

/// The length in bytes of [`chiffre_error`].
#[no_mangle]
pub extern "C" fn chiffre_error_len() -> usize {
    with_engine(|e| e.error().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicting_without_a_model_is_an_error_not_a_panic() {
        let mut engine = Engine::default();
        assert!(engine.predict().is_none());
        assert!(engine.error().contains("no model"), "{}", engine.error());
    }

    #[test]
    fn a_picture_is_read_as_chiffre_predict_reads_it() {
        use chiffre_core::model::{preset, Sequential};
        let mut engine = Engine::default();
        assert!(engine.picture_mut(0, 10).is_none() && engine.error().contains("0×10"));
        let network = Sequential::new(&preset("cnn", 10).unwrap(), 1).unwrap();
        engine.set_model(Model::from_network(network).unwrap());
        // Two dark bars on white, well apart (as Model::read's example): two marks, left to right.
        let (width, height) = (120, 60);
        let picture = engine.picture_mut(width, height).unwrap();
        for (i, v) in picture.iter_mut().enumerate() {
            let (x, y) = (i % width, i / width);
            let ink = (10..40).contains(&y) && ((20..26).contains(&x) || (80..86).contains(&x));
            *v = if ink { 20.0 / 255.0 } else { 235.0 / 255.0 };
        }
        assert_eq!(engine.read(width, height), Ok(2));
        let json = engine.reading();
        assert!(json.contains("\"box\":[20,10,6,30]") && json.contains("\"box\":[80,10,6,30]"), "{json}");
        assert!(json.starts_with("{\"number\":\"") && json.ends_with("]}"), "{json}");
        // The wrong size, or a blank picture: an error, not a panic.
        assert!(engine.read(width + 1, height).is_err());
        engine.picture_mut(10, 10).unwrap().fill(1.0);
        let message = engine.read(10, 10).unwrap_err();
        assert_eq!(message, engine.error());
    }

    #[test]
    fn garbage_bytes_are_refused_with_a_message() {
        let mut engine = Engine::default();
        let message = engine.load(b"not a model").unwrap_err();
        assert!(message.contains("the model file"), "{message}");
        assert!(engine.predict().is_none());
    }
}
