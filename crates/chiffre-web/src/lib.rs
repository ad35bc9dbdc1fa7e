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
//!    how many digits were found (or -1, with the message); the reading, the
//!    JSON object of `chiffre predict --json` (`number`, `digits` with
//!    `digit` or `null` for "not a digit", `confidence`, `probabilities`,
//!    `top`, `digit_probability`, `box` = `[x, y, width, height]`, `line`;
//!    `separators`), is at `chiffre_reading()` (`chiffre_reading_len()` bytes).
//!
//! The same functions run natively ([`Engine`]), which is how the tests
//! compare the WebAssembly answers with the native ones.

pub mod training;
pub mod tutorial;

use chiffre_core::preprocess::{Gray, Pixels, MAX_PIXELS, PIXELS};
use chiffre_core::{Model, Prediction};
use std::cell::RefCell;

/// How many ranked digits each digit of a reading lists (`top`), as `chiffre predict`.
const TOP: usize = 3;

/// The state behind the exports: one model, the input buffers, the last
/// answers and the last error.
pub struct Engine {
    model: Option<Model>,
    input: Box<Pixels>,
    probabilities: Vec<f32>,
    picture: Vec<f32>,
    rgba: Vec<u8>,
    inputs: Vec<f32>,
    values: Vec<f32>,
    batch: Vec<Pixels>,
    reading: String,
    error: String,
    training: training::Training,
    answer: String,
    bytes: Vec<u8>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            model: None,
            input: Box::new([0.0; PIXELS]),
            probabilities: Vec::new(),
            picture: Vec::new(),
            rgba: Vec::new(),
            inputs: Vec::new(),
            values: Vec::new(),
            batch: Vec::new(),
            reading: String::new(),
            error: String::new(),
            training: training::Training::default(),
            answer: String::new(),
            bytes: Vec::new(),
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

    /// The buffer for `n` ready 28×28 inputs (as [`Engine::input_mut`]) that
    /// [`Engine::predict_batch`] reads at once; `None` (with the message)
    /// for 0 or more than 65,536.
    pub fn batch_mut(&mut self, n: usize) -> Option<&mut [Pixels]> {
        if !(1..=65_536).contains(&n) {
            self.error = format!("a batch of {n} inputs: expected 1 to 65536");
            return None;
        }
        self.batch.resize(n, [0.0; PIXELS]);
        Some(&mut self.batch)
    }

    /// Reads the `n` inputs of [`Engine::batch_mut`] in one pass (the
    /// engine's batched inference); their probabilities, one row of ten per
    /// input, are then at [`Engine::probabilities`]. `None` without a model.
    pub fn predict_batch(&mut self, n: usize) -> Option<usize> {
        let Some(model) = self.model.as_mut() else {
            self.error = "no model is loaded: call chiffre_load first".into();
            return None;
        };
        let Some(inputs) = self.batch.get(..n) else {
            self.error = format!("no batch of {n} inputs was written: call chiffre_batch first");
            return None;
        };
        match model.predict_batch(inputs) {
            Ok(predictions) => {
                self.probabilities.clear();
                for p in &predictions {
                    self.probabilities.extend_from_slice(&p.probabilities);
                }
                Some(predictions.len())
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
        // The buffer is lent to the picture and given back: no copy per reading.
        let buffer = std::mem::take(&mut self.picture);
        let length = buffer.len();
        match Gray::new(width, height, buffer) {
            Some(picture) => {
                let result = self.read_gray(&picture);
                self.picture = picture.into_data();
                result
            }
            None => {
                self.picture.resize(length, 1.0);
                let message = format!("no {width}×{height} picture was written: call chiffre_picture first");
                self.error.clone_from(&message);
                Err(message)
            }
        }
    }

    /// The buffer for a `width × height` picture as 8-bit RGBA (4 bytes a
    /// pixel, row-major: a browser's `ImageData`) that the next
    /// [`Engine::read_rgba`] reads; `None` (with the message) for an empty or
    /// too large picture.
    pub fn rgba_mut(&mut self, width: usize, height: usize) -> Option<&mut [u8]> {
        match width.checked_mul(height) {
            Some(n) if n > 0 && n as u64 <= MAX_PIXELS => {
                self.rgba.resize(n * 4, 255);
                Some(&mut self.rgba)
            }
            _ => {
                self.error = format!("a {width}×{height} picture: expected 1 to {MAX_PIXELS} pixels");
                None
            }
        }
    }

    /// [`Engine::read`] for the RGBA picture at [`Engine::rgba_mut`],
    /// converted to light levels as `chiffre predict` converts an RGBA file
    /// (transparency over white, Rec. 709 luminance).
    pub fn read_rgba(&mut self, width: usize, height: usize) -> Result<usize, String> {
        match Gray::from_rgba8(width, height, &self.rgba) {
            Some(picture) => self.read_gray(&picture),
            None => {
                let message = format!("no {width}×{height} RGBA picture was written: call chiffre_picture_rgba first");
                self.error.clone_from(&message);
                Err(message)
            }
        }
    }

    /// Reads a picture file held in memory (PNG, JPEG, BMP, GIF, TIFF, WebP,
    /// PNM) exactly as `chiffre predict` reads the file: the same decoder,
    /// the same conversion to light levels, the same reading.
    pub fn read_file(&mut self, bytes: &[u8]) -> Result<usize, String> {
        match chiffre_core::preprocess::decode_bytes(bytes, "the picture") {
            Ok(image) => {
                let gray = chiffre_core::preprocess::to_grayscale(&image);
                self.read_gray(&gray)
            }
            Err(e) => Err(self.fail(e.to_string())),
        }
    }

    /// Reads `picture`, keeping the reading's JSON or the error's message.
    fn read_gray(&mut self, picture: &Gray) -> Result<usize, String> {
        let result = match self.model.as_mut() {
            None => Err("no model is loaded: call chiffre_load first".to_string()),
            Some(model) => model.read(picture).map_err(|e| e.to_string()),
        };
        match result {
            Ok(reading) => {
                self.reading = reading.to_json(TOP).to_string();
                self.inputs.clear();
                for d in reading.digits() {
                    self.inputs.extend_from_slice(&d.pixels[..]);
                }
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

    /// Keeps `result`'s message as the last error; 0 or -1 for the exports.
    fn status<T>(&mut self, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.error = message).ok()
    }

    /// The training side: MNIST files, the run.
    pub fn training(&mut self) -> &mut training::Training {
        &mut self.training
    }

    /// Runs up to `batches` steps of the training run; the progress (JSON:
    /// `epoch`, `seen`, `total`, `loss`, `accuracy`, `steps`, `done`) is the
    /// [`Engine::answer`]. `Some(true)` once every epoch is done.
    pub fn train_step(&mut self, batches: usize) -> Option<bool> {
        let progress = self.training.step(batches);
        let p = self.status(progress)?;
        self.answer = format!(
            "{{\"epoch\":{},\"seen\":{},\"total\":{},\"loss\":{},\"accuracy\":{},\"steps\":{},\"done\":{}}}",
            p.epoch, p.seen, p.total, p.loss, p.accuracy, p.steps, p.done
        );
        Some(p.done)
    }

    /// Reads with the network being trained (without a "not a digit" gate:
    /// that is fitted by `chiffre train`, not in the page).
    pub fn use_trained(&mut self) -> Result<(), String> {
        // Through the model file's bytes: the reading model is a copy, and training may go on.
        let model = self
            .training
            .model_file()
            .and_then(|bytes| Model::from_bytes(&bytes, "the network trained in the page").map_err(|e| e.to_string()));
        match model {
            Ok(model) => {
                self.model = Some(model);
                Ok(())
            }
            Err(message) => {
                self.error.clone_from(&message);
                Err(message)
            }
        }
    }

    /// The 28×28 inputs of the last reading's digits, one after the other
    /// (`PIXELS` values each, ink 0–1), as the network saw them.
    pub fn inputs(&self) -> &[f32] {
        &self.inputs
    }

    /// What every layer makes of digit `k` of the last reading: the values
    /// of each layer's output one after the other at [`Engine::values`],
    /// and, as the [`Engine::answer`], a JSON array with each layer's
    /// `kind`, `shape` (`[H, W, C]` or `[N]`) and `offset` into them.
    pub fn inspect(&mut self, k: usize) -> Result<usize, String> {
        let Some(model) = self.model.as_mut() else {
            return Err(self.fail("no model is loaded: call chiffre_load first".into()));
        };
        let Some(input) = self.inputs.get(k * PIXELS..(k + 1) * PIXELS) else {
            return Err(self.fail(format!("the last reading has no digit {k}")));
        };
        let mut pixels: Pixels = [0.0; PIXELS];
        pixels.copy_from_slice(input);
        let layers = match model.inspect(&pixels) {
            Ok((_, layers)) => layers,
            Err(e) => return Err(self.fail(e.to_string())),
        };
        self.values.clear();
        let mut layout = Vec::new();
        for layer in &layers {
            layout.push(format!(
                "{{\"kind\":\"{}\",\"shape\":{:?},\"offset\":{}}}",
                layer.kind,
                layer.shape,
                self.values.len()
            ));
            self.values.extend_from_slice(&layer.values);
        }
        self.answer = format!("[{}]", layout.join(","));
        Ok(layers.len())
    }

    /// The values of the last [`Engine::inspect`].
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Keeps `message` as the last error and gives it back.
    fn fail(&mut self, message: String) -> String {
        self.error.clone_from(&message);
        message
    }

    /// The last JSON answer of a training call.
    pub fn answer(&self) -> &str {
        &self.answer
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
    with_engine(|e| {
        let result = e.training.set_file(index, bytes);
        e.status(result).map_or(-1, |()| 0)
    })
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
    with_engine(|e| {
        let result = std::str::from_utf8(bytes)
            .map_err(|_| "the training settings are not UTF-8".to_string())
            .and_then(|text| e.training.begin(text));
        e.status(result).map_or(-1, |()| 0)
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
    with_engine(|e| {
        let result = e.training.evaluate(limit);
        e.status(result).map_or(-1, |json| {
            e.answer = json;
            0
        })
    })
}

/// The trained network's first layer as pictures (JSON at [`chiffre_answer`]): 0 or -1.
#[no_mangle]
pub extern "C" fn chiffre_train_filters() -> i32 {
    with_engine(|e| {
        let result = e.training.first_layer();
        e.status(result).map_or(-1, |json| {
            e.answer = json;
            0
        })
    })
}

/// What the network being trained makes of test image `index` (JSON at
/// [`chiffre_answer`], see [`training::Training::inspect_test`]): 0 or -1.
#[no_mangle]
pub extern "C" fn chiffre_train_inspect(index: usize) -> i32 {
    with_engine(|e| {
        let result = e.training.inspect_test(index);
        e.status(result).map_or(-1, |json| {
            e.answer = json;
            0
        })
    })
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
    with_engine(|e| {
        let result = tutorial::example(which);
        e.status(result).map_or(-1, |json| {
            e.answer = json;
            0
        })
    })
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
    fn a_batch_gives_the_probabilities_of_each_input_read_alone() {
        use chiffre_core::model::{preset, Sequential};
        let mut engine = Engine::default();
        assert!(engine.predict_batch(1).is_none(), "no model");
        let network = Sequential::new(&preset("cnn", 10).unwrap(), 3).unwrap();
        engine.set_model(Model::from_network(network).unwrap());
        assert!(engine.batch_mut(0).is_none());
        let batch = engine.batch_mut(5).unwrap();
        for (k, input) in batch.iter_mut().enumerate() {
            input.iter_mut().enumerate().for_each(|(i, v)| *v = ((i * (k + 3)) % 17) as f32 / 16.0);
        }
        let inputs = batch.to_vec();
        assert_eq!(engine.predict_batch(5), Some(5));
        let together = engine.probabilities().to_vec();
        assert_eq!(together.len(), 50);
        for (k, input) in inputs.iter().enumerate() {
            *engine.input_mut() = *input;
            engine.predict().unwrap();
            for (a, b) in engine.probabilities().iter().zip(&together[k * 10..(k + 1) * 10]) {
                assert!((a - b).abs() < 1e-5, "input {k}: {a} alone, {b} in the batch");
            }
        }
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
        assert!(json.contains("\"number\":\"") && json.contains("\"probabilities\":["), "{json}");
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
