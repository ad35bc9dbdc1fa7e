//! The engine behind the exports, as a plain Rust struct: one model, the
//! buffers the page writes into, the last answers and the last error. The
//! same struct runs natively, which is how the tests compare the
//! WebAssembly answers with the native ones.

use crate::training;
use chiffre_core::preprocess::{Gray, Pixels, MAX_PIXELS, PIXELS};
use chiffre_core::{Model, Prediction};

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
    pub(crate) error: String,
    pub(crate) training: training::Training,
    pub(crate) answer: String,
    pub(crate) bytes: Vec<u8>,
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
    pub(crate) fn status<T>(&mut self, result: Result<T, String>) -> Option<T> {
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
