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
//!    model); its probabilities are at `chiffre_probabilities()` (10 `f32`).
//!
//! The same functions run natively ([`Engine`]), which is how the tests
//! compare the WebAssembly answers with the native ones.

use chiffre_core::preprocess::{Pixels, PIXELS};
use chiffre_core::{Model, Prediction};
use std::cell::RefCell;

/// The state behind the exports: one model, the input buffer, the last
/// answer and the last error.
pub struct Engine {
    model: Option<Model>,
    input: Box<Pixels>,
    probabilities: Vec<f32>,
    error: String,
}

impl Default for Engine {
    fn default() -> Self {
        Engine { model: None, input: Box::new([0.0; PIXELS]), probabilities: Vec::new(), error: String::new() }
    }
}

impl Engine {
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

    /// The last error's message.
    pub fn error(&self) -> &str {
        &self.error
    }
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
    fn garbage_bytes_are_refused_with_a_message() {
        let mut engine = Engine::default();
        let message = engine.load(b"not a model").unwrap_err();
        assert!(message.contains("the model file"), "{message}");
        assert!(engine.predict().is_none());
    }
}
