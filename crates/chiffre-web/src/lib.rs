//! # chiffre-web
//!
//! chiffre's engine for a web page: `chiffre-core` built for
//! `wasm32-unknown-unknown` (no threads; PNG and JPEG decoding), behind plain
//! `extern "C"` functions that pass numbers and pointers into the module's
//! memory. Why not `wasm-bindgen`: the surface is functions on byte and
//! `f32` buffers, which JavaScript reads as typed arrays over
//! `memory.buffer`; plain exports need no generated glue and no build tool
//! beyond `cargo` (`build.sh` builds the module; `src/site/page/engine.js`
//! in the `chiffre` program is its JavaScript side).
//!
//! Every call answers 0 (or a count) on success and -1 on failure, with the
//! message at `chiffre_error()` (`chiffre_error_len()` bytes, UTF-8); JSON
//! answers are at `chiffre_reading()` or `chiffre_answer()` (with their `_len`).
//! Bytes go in through `chiffre_alloc(n)` / `chiffre_free(ptr, n)`.
//!
//! 1. **A model**: `chiffre_load(ptr, n)` with a model file (safetensors,
//!    written by `chiffre train`, or by the page's own training).
//! 2. **Ready inputs** (28×28, ink 0–1, MNIST-style): write 784 `f32` at
//!    `chiffre_input()`, then `chiffre_predict()` → the digit, probabilities at
//!    `chiffre_probabilities()`; or `n` of them at `chiffre_batch(n)`, then
//!    `chiffre_predict_batch(n)` (probabilities `n × 10`).
//! 3. **Whole pictures**, read as `chiffre predict` reads them (the engine's
//!    own preprocessing and number reading): a picture file with
//!    `chiffre_read_file(ptr, n)` (decoded by the same decoders), RGBA pixels
//!    written at `chiffre_picture_rgba(w, h)` then `chiffre_read_rgba(w, h)`, or
//!    light levels at `chiffre_picture(w, h)` then `chiffre_read(w, h)`: how
//!    many digits; the JSON object of `chiffre predict --json` at
//!    `chiffre_reading()`, each digit's 28×28 input at `chiffre_inputs()`, and
//!    every layer's output for digit `k` with `chiffre_inspect(k)`.
//! 4. **Training** ([`training`]): the MNIST files with `chiffre_data(i, ptr,
//!    n)`, a run with `chiffre_train_begin(ptr, n)` (JSON settings), then
//!    `chiffre_train_step(batches)` as often as the page likes, and
//!    `chiffre_train_evaluate`, `chiffre_train_filters`, `chiffre_train_inspect`,
//!    `chiffre_train_use`, `chiffre_train_save` (the model file at `chiffre_bytes()`).
//! 5. **The tutorial's example** ([`tutorial`]): `chiffre_tutorial(which)` and
//!    `chiffre_tutorial_x_or_o(seed)`.
//!
//! The same functions run natively ([`Engine`]), which is how the tests
//! compare the WebAssembly answers with the native ones.

mod engine;
pub mod training;
pub mod tutorial;

pub use engine::Engine;

use std::cell::RefCell;

thread_local! {
    // WebAssembly runs this module on one thread: one engine.
    static ENGINE: RefCell<Engine> = RefCell::new(Engine::default());
}

fn with_engine<T>(f: impl FnOnce(&mut Engine) -> T) -> T {
    ENGINE.with(|engine| f(&mut engine.borrow_mut()))
}

/// Runs `f` on the engine: 0, or -1 with its message kept for [`chiffre_error`].
fn status_of(f: impl FnOnce(&mut Engine) -> Result<(), String>) -> i32 {
    with_engine(|e| {
        let result = f(e);
        e.status(result).map_or(-1, |()| 0)
    })
}

/// Runs `f` on the engine and keeps its JSON for [`chiffre_answer`]: 0, or -1 with the message.
fn answer_with(f: impl FnOnce(&mut Engine) -> Result<String, String>) -> i32 {
    with_engine(|e| {
        let result = f(e);
        e.status(result).map_or(-1, |json| {
            e.answer = json;
            0
        })
    })
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

/// Where to write `n` ready 28×28 inputs (784 `f32` each) for
/// [`chiffre_predict_batch`]; null (with the message) for 0 or more than 65,536.
#[no_mangle]
pub extern "C" fn chiffre_batch(n: usize) -> *mut f32 {
    with_engine(|e| e.batch_mut(n).map_or(std::ptr::null_mut(), |b| b.as_mut_ptr().cast::<f32>()))
}

/// Reads the `n` inputs at [`chiffre_batch`] in one pass: `n`, or -1; the
/// probabilities (`n × 10` `f32`) are then at [`chiffre_probabilities`].
#[no_mangle]
pub extern "C" fn chiffre_predict_batch(n: usize) -> i32 {
    with_engine(|e| e.predict_batch(n).map_or(-1, |n| n as i32))
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

/// Where to write a `width × height` picture as 8-bit RGBA (a browser's
/// `ImageData`) for [`chiffre_read_rgba`]; null (with the message) for an
/// empty or too large picture.
#[no_mangle]
pub extern "C" fn chiffre_picture_rgba(width: usize, height: usize) -> *mut u8 {
    with_engine(|e| e.rgba_mut(width, height).map_or(std::ptr::null_mut(), |p| p.as_mut_ptr()))
}

/// Reads every digit of the RGBA picture at [`chiffre_picture_rgba`], as
/// [`chiffre_read`] does.
#[no_mangle]
pub extern "C" fn chiffre_read_rgba(width: usize, height: usize) -> i32 {
    with_engine(|e| e.read_rgba(width, height).map_or(-1, |n| n as i32))
}

/// The 28×28 inputs of the last reading's digits (784 `f32` each, in reading order).
#[no_mangle]
pub extern "C" fn chiffre_inputs() -> *const f32 {
    with_engine(|e| e.inputs().as_ptr())
}

/// What every layer makes of digit `k` of the last reading: the number of
/// layers, or -1; the layout (JSON) at [`chiffre_answer`], the values at
/// [`chiffre_values`].
#[no_mangle]
pub extern "C" fn chiffre_inspect(k: usize) -> i32 {
    with_engine(|e| e.inspect(k).map_or(-1, |n| n as i32))
}

/// The values of the last [`chiffre_inspect`] (`f32`, [`chiffre_values_len`] of them).
#[no_mangle]
pub extern "C" fn chiffre_values() -> *const f32 {
    with_engine(|e| e.values().as_ptr())
}

/// How many values [`chiffre_values`] holds.
#[no_mangle]
pub extern "C" fn chiffre_values_len() -> usize {
    with_engine(|e| e.values().len())
}

/// Reads every digit of the picture file (PNG, JPEG, …) of `len` bytes at
/// `ptr`, decoded as `chiffre predict` decodes it: how many digits were
/// found, or -1 (with the message).
///
/// # Safety
/// `ptr` must point to `len` readable bytes (from [`chiffre_alloc`]).
#[no_mangle]
pub unsafe extern "C" fn chiffre_read_file(ptr: *const u8, len: usize) -> i32 {
    // SAFETY: the caller guarantees `len` readable bytes at `ptr`.
    let bytes = unsafe { bytes_at(ptr, len) };
    with_engine(|e| e.read_file(bytes).map_or(-1, |n| n as i32))
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

/// Reads MNIST file `index` (0 train images, 1 train labels, 2 test images,
/// 3 test labels; gzipped or not) from the `len` bytes at `ptr`: 0 or -1.
///
/// # Safety
/// `ptr` must point to `len` readable bytes (from [`chiffre_alloc`]).
#[no_mangle]
pub unsafe extern "C" fn chiffre_data(index: usize, ptr: *const u8, len: usize) -> i32 {
    // SAFETY: the caller guarantees `len` readable bytes at `ptr`.
    let bytes = unsafe { bytes_at(ptr, len) };
    status_of(|e| e.training.set_file(index, bytes))
}

/// Begins a training run with the settings (JSON, see
/// [`training::Settings`]) of `len` bytes at `ptr`: 0 or -1.
///
/// # Safety
/// `ptr` must point to `len` readable bytes (from [`chiffre_alloc`]).
#[no_mangle]
pub unsafe extern "C" fn chiffre_train_begin(ptr: *const u8, len: usize) -> i32 {
    // SAFETY: the caller guarantees `len` readable bytes at `ptr`.
    let bytes = unsafe { bytes_at(ptr, len) };
    status_of(|e| {
        std::str::from_utf8(bytes)
            .map_err(|_| "the training settings are not UTF-8".to_string())
            .and_then(|text| e.training.begin(text))
    })
}

/// Runs up to `batches` training steps (stopping at the end of an epoch):
/// 1 when every epoch is done, 0 when there is more, -1 on error (a
/// diverging run says so); the progress is at [`chiffre_answer`].
#[no_mangle]
pub extern "C" fn chiffre_train_step(batches: usize) -> i32 {
    with_engine(|e| e.train_step(batches).map_or(-1, i32::from))
}

/// Scores the trained network on the first `limit` test images (all when
/// 0): 0 or -1; `{"test_accuracy", "test_loss", "count"}` at [`chiffre_answer`].
#[no_mangle]
pub extern "C" fn chiffre_train_evaluate(limit: usize) -> i32 {
    answer_with(|e| e.training.evaluate(limit))
}

/// The trained network's first layer as pictures (JSON at [`chiffre_answer`]): 0 or -1.
#[no_mangle]
pub extern "C" fn chiffre_train_filters() -> i32 {
    answer_with(|e| e.training.first_layer())
}

/// What the network being trained makes of test image `index` (JSON at
/// [`chiffre_answer`], see [`training::Training::inspect_test`]): 0 or -1.
#[no_mangle]
pub extern "C" fn chiffre_train_inspect(index: usize) -> i32 {
    answer_with(|e| e.training.inspect_test(index))
}

/// Reads pictures with the trained network from now on: 0 or -1.
#[no_mangle]
pub extern "C" fn chiffre_train_use() -> i32 {
    with_engine(|e| e.use_trained().map_or(-1, |()| 0))
}

/// Writes the trained network as a model file (safetensors) at
/// [`chiffre_bytes`] ([`chiffre_bytes_len`] bytes): 0 or -1.
#[no_mangle]
pub extern "C" fn chiffre_train_save() -> i32 {
    with_engine(|e| {
        let result = e.training.model_file();
        e.status(result).map_or(-1, |bytes| {
            e.bytes = bytes;
            0
        })
    })
}

/// The tutorial's worked example on picture `which` (0: its X, 1: another X,
/// 2: an O), as JSON at [`chiffre_answer`]: 0, or -1.
#[no_mangle]
pub extern "C" fn chiffre_tutorial(which: usize) -> i32 {
    answer_with(|_| tutorial::example(which))
}

/// The tiny CNN of the tutorial learning X against O from `seed` (about a
/// second): its accuracy and learned filters, as JSON at [`chiffre_answer`].
#[no_mangle]
pub extern "C" fn chiffre_tutorial_x_or_o(seed: u64) -> i32 {
    with_engine(|e| {
        e.answer = tutorial::x_or_o(seed);
        0
    })
}

/// The bytes of the last [`chiffre_train_save`].
#[no_mangle]
pub extern "C" fn chiffre_bytes() -> *const u8 {
    with_engine(|e| e.bytes.as_ptr())
}

/// The length of [`chiffre_bytes`].
#[no_mangle]
pub extern "C" fn chiffre_bytes_len() -> usize {
    with_engine(|e| e.bytes.len())
}

/// The last JSON answer of a training call (UTF-8, [`chiffre_answer_len`] bytes).
#[no_mangle]
pub extern "C" fn chiffre_answer() -> *const u8 {
    with_engine(|e| e.answer().as_ptr())
}

/// The length in bytes of [`chiffre_answer`].
#[no_mangle]
pub extern "C" fn chiffre_answer_len() -> usize {
    with_engine(|e| e.answer().len())
}

/// The `len` bytes at `ptr` (none for a null pointer).
///
/// # Safety
/// `ptr` must be null or point to `len` readable bytes that outlive the use.
unsafe fn bytes_at<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() {
        &[]
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}
