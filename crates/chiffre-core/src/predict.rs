//! Reading digits: a trained network with MNIST-style [`preprocess`]ing in
//! front of it.
//!
//! ```no_run
//! // A model written by `chiffre train`, and a picture's light levels
//! // (0 black, 1 white) from anywhere: here a dark bar on white paper.
//! use chiffre_core::preprocess::Gray;
//! let mut model = chiffre_core::Model::load("models/cnn.safetensors")?;
//! let picture = Gray::from_fn(40, 60, |x, y| if x.abs_diff(20) < 3 && y > 10 { 0.1 } else { 0.9 });
//! let prediction = model.predict(&picture)?;
//! println!("{} ({:.1} %)", prediction.digit, 100.0 * prediction.confidence);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the feature `image`, any decoded picture (`image::DynamicImage`)
//! is read the same way, and `Model::predict_file` reads a file.
//!
//! [`preprocess`]: crate::preprocess

use crate::model::{load, LayerOutput, ModelError, QuantizedNetwork, Sequential};
#[cfg(feature = "image")]
use crate::preprocess::load_image;
use crate::preprocess::{preprocess, Picture, Pixels, PreprocessError, PIXELS, SIDE};
use crate::reading::{read_picture, read_picture_with_pairs, ReadError, Reading};
use crate::reject::{feature_sources, scores_and_features, PairReader, Reject};
use std::path::Path;

mod prediction;
pub(crate) use prediction::most_probable;
pub use prediction::{NotANumber, Prediction};

/// Inputs per call of [`Sequential::infer_loaded`] in [`Model::predict_batch`].
const BATCH: usize = 256;

/// Errors of prediction: a model that cannot be loaded or does not read
/// digits, a picture that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The model file cannot be loaded (the message names it).
    #[error(transparent)]
    Load(#[from] ModelError),
    /// The network does not take 28×28 grayscale inputs.
    #[error(
        "{source_name}: this network reads {}×{}×{} inputs, but digits are read as {SIDE}×{SIDE}×1 (grayscale): \
         it was made for another kind of data",
        input[0], input[1], input[2]
    )]
    WrongInput {
        /// The model file (or `<in memory>`).
        source_name: String,
        /// The network's input shape `[height, width, channels]`.
        input: [usize; 3],
    },
    /// The picture cannot be read, holds no digit or too many marks, or
    /// the network's scores were not numbers.
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl From<PreprocessError> for PredictError {
    fn from(e: PreprocessError) -> Self {
        PredictError::Read(e.into())
    }
}

impl From<NotANumber> for PredictError {
    fn from(e: NotANumber) -> Self {
        PredictError::Read(e.into())
    }
}

/// A network that reads digits: [`Model::load`] a file written by
/// `chiffre train`, then [`Model::predict`] decoded pictures (preprocessed
/// MNIST-style) or [`Model::predict_pixels`] ready 28×28 inputs.
///
/// ```
/// use chiffre_core::model::{preset, Sequential};
/// use chiffre_core::Model;
///
/// // An untrained CNN guesses, but its answer is well-formed.
/// let mut model = Model::from_network(Sequential::new(&preset("cnn", 10).unwrap(), 1).unwrap()).unwrap();
/// let p = model.predict_pixels(&[0.0; 784])?;
/// assert_eq!(p.probabilities.len(), 10);
/// assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
/// assert_eq!(p.confidence, p.probabilities[p.digit]);
/// assert_eq!(p.top(3)[0].0, p.digit);
/// # Ok::<(), chiffre_core::NotANumber>(())
/// ```
pub struct Model {
    network: Sequential,
    training: Option<serde_json::Value>,
    reject: Option<Reject>,
    /// The network in 8 bits, which reads in its place: from an 8-bit file
    /// (`chiffre quantize`), or [`Model::set_quantized`].
    quantized: Option<QuantizedNetwork>,
}

impl Model {
    /// Loads a model file written by `chiffre train` (or [`crate::model::save`]).
    /// Fails, naming the file, when it cannot be read, does not match its
    /// architecture, or does not take 28×28 grayscale inputs.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PredictError> {
        let path = path.as_ref();
        Self::from_file(load(path)?, &path.display().to_string())
    }

    /// Reads a model file held in memory (as [`Model::load`] does a file);
    /// `source` names it in errors. For programs without a file system, such
    /// as a web page.
    pub fn from_bytes(bytes: &[u8], source: &str) -> Result<Self, PredictError> {
        Self::from_file(crate::model::load_bytes(bytes, source)?, source)
    }

    /// A loaded file as a model: checked, and an 8-bit file's network
    /// rebuilt in 8 bits from its input steps.
    fn from_file(file: crate::model::ModelFile, source: &str) -> Result<Self, PredictError> {
        Self::check(&file.model, source)?;
        let fail = |message: String| PredictError::Load(ModelError::File { path: source.to_string(), message });
        let quantized = match &file.int8 {
            Some(scales) => Some(QuantizedNetwork::from_scales(&file.model, scales).map_err(fail)?),
            None => None,
        };
        let mut reject = file.reject;
        if let (Some(scales), Some(verifier)) = (&file.int8_verifier, reject.as_mut().and_then(|r| r.verifier.as_mut()))
        {
            let network = QuantizedNetwork::from_scales(&verifier.network, scales);
            verifier.quantized = Some(network.map_err(|e| fail(format!("the verifier: {e}")))?);
        }
        Ok(Model { network: file.model, training: file.training, reject, quantized })
    }

    /// Wraps a network already in memory (for example one just trained).
    /// Fails when it does not take 28×28 grayscale inputs.
    pub fn from_network(network: Sequential) -> Result<Self, PredictError> {
        Self::check(&network, "<in memory>")?;
        Ok(Model { network, training: None, reject: None, quantized: None })
    }

    fn check(network: &Sequential, source_name: &str) -> Result<(), PredictError> {
        let input = network.input_shape();
        if input != [SIDE, SIDE, 1] {
            return Err(PredictError::WrongInput { source_name: source_name.to_string(), input });
        }
        Ok(())
    }

    /// The network (for an 8-bit model, with its weights as rounded to 8
    /// bits; it reads with [`Model::quantized`]).
    pub fn network(&self) -> &Sequential {
        &self.network
    }

    /// The network in 8 bits that reads in this model's place, if any.
    pub fn quantized(&self) -> Option<&QuantizedNetwork> {
        self.quantized.as_ref()
    }

    /// Reads with `quantized` (made from this model's network) from now on,
    /// or in `f32` again with `None`.
    pub fn set_quantized(&mut self, quantized: Option<QuantizedNetwork>) {
        self.quantized = quantized;
    }

    /// The training settings and results stored in the model file, if any.
    pub fn training(&self) -> Option<&serde_json::Value> {
        self.training.as_ref()
    }

    /// The default threshold on [`Prediction::digit_probability`] stored in
    /// the model file: below it, "not a digit". `None` when the model has no
    /// "not a digit" gate (files made before it existed): then every
    /// prediction's `digit_probability` is 1 and nothing is rejected.
    pub fn reject_threshold(&self) -> Option<f32> {
        self.reject.as_ref().map(|r| r.threshold)
    }

    /// The temperature the class scores are divided by (1 without calibration).
    pub fn temperature(&self) -> f32 {
        self.reject.as_ref().map_or(1.0, |r| r.temperature)
    }

    /// The rejection and calibration, if the model has them.
    pub fn reject(&self) -> Option<&Reject> {
        self.reject.as_ref()
    }

    /// Replaces the rejection and calibration (for example with one just
    /// fitted by [`crate::reject::fit`]; `None` removes them).
    pub fn set_reject(&mut self, reject: Option<Reject>) {
        self.reject = reject;
    }

    /// Number of classes the network tells apart.
    pub fn num_classes(&self) -> usize {
        self.network.num_classes()
    }

    /// Reads the digit in a picture of any size, colour and polarity,
    /// after [`preprocess`]. Errors when the
    /// picture holds no digit (too small, blank).
    pub fn predict(&mut self, image: &(impl Picture + ?Sized)) -> Result<Prediction, PredictError> {
        Ok(self.predict_pixels(&preprocess(image)?)?)
    }

    /// Reads every digit of a decoded picture: a whole number, several lines
    /// of them, decimal points and minus signs (see [`crate::reading`]); a
    /// mark below the model's [`Model::reject_threshold`] is "not a digit".
    /// Called from outside rayon's pool, the reading runs on one of its
    /// threads (the picture is shared with it, hence `Sync`): a picture's many
    /// small parallel steps then split their work without each handing it
    /// from the calling thread to the pool and back.
    ///
    /// ```
    /// use chiffre_core::model::{preset, Sequential};
    /// use chiffre_core::preprocess::Gray;
    /// use chiffre_core::Model;
    ///
    /// // Two dark bars on white, well apart: two marks, read left to right.
    /// let light = (0..60 * 120).map(|i| {
    ///     let (x, y) = (i % 120, i / 120);
    ///     let ink = (10..40).contains(&y) && ((20..26).contains(&x) || (80..86).contains(&x));
    ///     if ink { 20.0 / 255.0 } else { 235.0 / 255.0 }
    /// });
    /// let paper = Gray::new(120, 60, light.collect()).unwrap();
    /// let mut model = Model::from_network(Sequential::new(&preset("cnn", 10).unwrap(), 1).unwrap()).unwrap();
    /// let reading = model.read(&paper).unwrap();
    /// assert_eq!(reading.digits().count(), 2);
    /// assert_eq!(reading.text().chars().count(), 2);
    /// let boxes: Vec<[u32; 4]> = reading.digits().map(|d| d.bounds).collect();
    /// assert_eq!(boxes, vec![[20, 10, 6, 30], [80, 10, 6, 30]]);
    /// ```
    pub fn read(&mut self, image: &(impl Picture + Sync + ?Sized)) -> Result<Reading, PredictError> {
        let threshold = self.reject_threshold().unwrap_or(0.0);
        self.read_with_threshold(image, threshold)
    }

    /// [`Model::read`] with another threshold on the digit probability
    /// (0: every mark is read as a digit).
    pub fn read_with_threshold(
        &mut self,
        image: &(impl Picture + Sync + ?Sized),
        threshold: f32,
    ) -> Result<Reading, PredictError> {
        crate::par::on_a_worker(|| self.read_here(image, threshold))
    }

    fn read_here(&mut self, image: &(impl Picture + ?Sized), threshold: f32) -> Result<Reading, PredictError> {
        // The pair reader is taken out while reading: the digit reader borrows the model.
        let mut pairs = self.take_pair_reader();
        let reading = match pairs.as_mut() {
            Some(reader) => read_picture_with_pairs(
                image,
                &mut |inputs| self.predict_batch(inputs),
                Some(&mut |inputs: &[&[f32]]| reader.probabilities(inputs)),
                threshold,
            ),
            None => read_picture(image, &mut |inputs| self.predict_batch(inputs), threshold),
        };
        if let Some(reader) = pairs {
            self.put_pair_reader(reader);
        }
        Ok(reading?)
    }

    /// Takes the model's pair reader out of it (see
    /// [`crate::reject::pairs`]), to read with it beside the model (or an
    /// ensemble of models) in [`read_picture_with_pairs`]; `None` when the
    /// model has none. [`Model::put_pair_reader`] puts it back.
    pub fn take_pair_reader(&mut self) -> Option<PairReader> {
        self.reject.as_mut().and_then(|r| r.pairs.take())
    }

    /// Puts a pair reader (back) beside the model's judges; a model without
    /// judges (a file made before them) keeps none.
    pub fn put_pair_reader(&mut self, reader: PairReader) {
        if let Some(reject) = self.reject.as_mut() {
            reject.pairs = Some(reader);
        }
    }

    /// Reads the digit in a picture file: [`load_image`], then [`Model::predict`].
    /// Every error names the file. (Feature `image`.)
    #[cfg(feature = "image")]
    pub fn predict_file(&mut self, path: impl AsRef<Path>) -> Result<Prediction, PredictError> {
        let path = path.as_ref();
        let image = load_image(path)?;
        let pixels = preprocess(&image).map_err(|e| e.in_file(path))?;
        Ok(self.predict_pixels(&pixels)?)
    }

    /// Reads a ready MNIST-style input: 28×28 values, row-major, 0 background,
    /// 1 ink (as [`preprocess`] makes them).
    pub fn predict_pixels(&mut self, pixels: &Pixels) -> Result<Prediction, NotANumber> {
        let mut one = self.predict_batch(std::slice::from_ref(pixels))?;
        Ok(one.swap_remove(0))
    }

    /// Reads a ready input like [`Model::predict_pixels`] and also returns
    /// what every layer made of it (see [`Sequential::inspect`]): the feature
    /// maps for the report and the web page.
    pub fn inspect(&mut self, pixels: &Pixels) -> Result<(Prediction, Vec<LayerOutput>), NotANumber> {
        let layers = self.network.inspect(pixels);
        Ok((self.predict_pixels(pixels)?, layers))
    }

    /// [`Model::predict_pixels`] for many inputs at once (faster: 256 per
    /// call of [`Sequential::infer_loaded`]), in the same order; one
    /// prediction per input.
    pub fn predict_batch(&mut self, inputs: &[Pixels]) -> Result<Vec<Prediction>, NotANumber> {
        let classes = self.num_classes();
        let mut out = Vec::with_capacity(inputs.len());
        // The layers whose inputs the judges read, when the 8-bit network reads.
        let sources = match (&self.quantized, &self.reject) {
            (Some(_), Some(_)) => feature_sources(&self.network),
            _ => Vec::new(),
        };
        for chunk in inputs.chunks(BATCH) {
            if let Some(quantized) = &mut self.quantized {
                // The 8-bit network reads, and hands the judges their features.
                let images: &[f32] = chunk.as_flattened();
                if let Some((scores, features)) = quantized.forward_with_features(images, &sources) {
                    let width = features.len() / chunk.len().max(1);
                    match &mut self.reject {
                        Some(reject) => {
                            let judged = reject.judge(chunk, scores, features, classes, width);
                            let t = reject.temperature;
                            for (s, j) in scores.chunks_exact(classes).zip(judged) {
                                let prediction = Prediction::from_calibrated_logits(s, t, j.digit)?;
                                out.push(Prediction { whole_probability: j.whole, ..prediction });
                            }
                        }
                        None => {
                            for s in scores.chunks_exact(classes) {
                                out.push(Prediction::from_logits(s)?);
                            }
                        }
                    }
                    continue;
                }
            }
            match &mut self.reject {
                Some(reject) => {
                    let (scores, features, width) = scores_and_features(&mut self.network, chunk);
                    let judged = reject.judge(chunk, &scores, &features, classes, width);
                    let t = reject.temperature;
                    for (s, j) in scores.chunks_exact(classes).zip(judged) {
                        let prediction = Prediction::from_calibrated_logits(s, t, j.digit)?;
                        out.push(Prediction { whole_probability: j.whole, ..prediction });
                    }
                }
                None => {
                    // `check` made the input shape 28×28×1: PIXELS values per input.
                    let staged = self.network.input_mut(chunk.len()).data_mut();
                    staged.chunks_exact_mut(PIXELS).zip(chunk).for_each(|(dst, pixels)| dst.copy_from_slice(pixels));
                    for s in self.network.infer_loaded().data().chunks_exact(classes) {
                        out.push(Prediction::from_logits(s)?);
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{preset, ModelSpec};

    #[test]
    fn from_logits_is_a_softmax_and_its_argmax() {
        let p = Prediction::from_logits(&[1.0, 3.0, 2.0]).unwrap();
        assert_eq!(p.digit, 1);
        assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p.probabilities[1] > p.probabilities[2] && p.probabilities[2] > p.probabilities[0]);
        assert_eq!(p.confidence, p.probabilities[1]);
        assert_eq!(p.top(2).iter().map(|t| t.0).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(p.top(10).len(), 3);
    }

    #[test]
    fn nan_scores_are_an_error_not_digit_0() {
        assert_eq!(Prediction::from_logits(&[f32::NAN, 1.0, 2.0]), Err(NotANumber));
        assert_eq!(Prediction::from_logits(&[1.0, 2.0, f32::NAN]), Err(NotANumber));
        assert_eq!(Prediction::from_logits(&[f32::INFINITY, 1.0]), Err(NotANumber));
        assert_eq!(Prediction::from_calibrated_logits(&[1.0, 2.0], 1.0, f32::NAN), Err(NotANumber));
        let message = PredictError::from(NotANumber).to_string();
        assert!(message.contains("not numbers"), "{message}");
        let q = Prediction::from_logits(&[1.0, 2.0]).unwrap();
        assert_eq!(q.digit_probability, 1.0);
        assert!(q.is_digit(0.99) && q.is_digit(1.0));
    }

    #[test]
    fn a_temperature_softens_but_keeps_the_digit() {
        let sharp = Prediction::from_logits(&[1.0, 4.0, 2.0]).unwrap();
        let soft = Prediction::from_calibrated_logits(&[1.0, 4.0, 2.0], 2.0, 0.3).unwrap();
        assert_eq!(soft.digit, sharp.digit);
        assert!(soft.confidence < sharp.confidence);
        assert!((soft.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(soft.is_digit(0.3) && !soft.is_digit(0.31));
    }

    #[test]
    fn an_ensemble_averages_probabilities() {
        let a = Prediction::from_logits(&[3.0, 0.0, 0.0]).unwrap();
        let b = Prediction::from_logits(&[0.0, 2.0, 0.0]).unwrap();
        let m = Prediction::mean(&[a.clone(), b.clone()]).unwrap();
        for k in 0..3 {
            assert!((m.probabilities[k] - (a.probabilities[k] + b.probabilities[k]) / 2.0).abs() < 1e-6);
        }
        assert_eq!(m.digit, 0, "{m:?}");
        assert!(Prediction::mean(&[]).is_none());
        assert!(Prediction::mean(&[a, Prediction::from_logits(&[1.0, 2.0]).unwrap()]).is_none());
    }

    #[test]
    fn ties_go_to_the_smaller_class() {
        let p = Prediction::from_logits(&[0.5, 0.5]).unwrap();
        assert_eq!(p.digit, 0);
        assert_eq!(p.top(2), vec![(0, 0.5), (1, 0.5)]);
    }

    #[test]
    fn a_network_whose_arithmetic_overflows_reads_no_digit() {
        // Weights of f32::MAX: each class score of an input with ink overflows to +∞, in
        // any order of summation (±f32::MAX in turn gave NaN in one order and a finite
        // sum in another).
        let mut network = Sequential::new(&preset("perceptron", 10).unwrap(), 1).unwrap();
        network.visit_params_mut(&mut |_, _, param| param.value.data_mut().fill(f32::MAX));
        let mut model = Model::from_network(network).unwrap();
        assert_eq!(model.predict_pixels(&[1.0; PIXELS]), Err(NotANumber));
        assert_eq!(model.predict_batch(&[[0.0; PIXELS], [1.0; PIXELS]]), Err(NotANumber));
        let picture =
            crate::preprocess::Gray::from_fn(40, 60, |x, y| if x.abs_diff(20) < 3 && y > 10 { 0.1 } else { 0.9 });
        assert!(matches!(model.read(&picture), Err(PredictError::Read(ReadError::NotANumber(_)))));
        assert!(matches!(model.predict(&picture), Err(PredictError::Read(ReadError::NotANumber(_)))));
    }

    #[test]
    fn a_network_for_other_inputs_is_refused() {
        let mut spec: ModelSpec = preset("mlp", 10).unwrap();
        spec.input = [32, 32, 3];
        let err = Model::from_network(Sequential::new(&spec, 1).unwrap()).err().unwrap();
        assert!(err.to_string().contains("reads 32×32×3 inputs"), "{err}");
    }

    #[test]
    fn batch_and_single_predictions_agree() {
        let mut model = Model::from_network(Sequential::new(&preset("cnn", 10).unwrap(), 2).unwrap()).unwrap();
        let inputs: Vec<Pixels> =
            (0..300).map(|i| std::array::from_fn(|j| ((i * 7 + j * 3) % 11) as f32 / 10.0)).collect();
        let batch = model.predict_batch(&inputs).unwrap();
        assert_eq!(batch.len(), 300);
        for i in [0, 255, 256, 299] {
            let one = model.predict_pixels(&inputs[i]).unwrap();
            assert_eq!(one.digit, batch[i].digit);
            let diff =
                one.probabilities.iter().zip(&batch[i].probabilities).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(diff < 1e-5, "input {i}: batch and single differ by {diff}");
        }
        let (inspected, layers) = model.inspect(&inputs[7]).unwrap();
        assert_eq!(inspected, model.predict_pixels(&inputs[7]).unwrap());
        assert_eq!(layers.len(), model.network().layers().len());
    }
}
