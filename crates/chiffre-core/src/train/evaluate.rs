//! Evaluation: a model (or an ensemble of models) run over a whole data set
//! in inference mode.

use crate::data::Dataset;
use crate::loss::{argmax_rows, Loss};
use crate::model::{QuantizedNetwork, Sequential};

/// Examples per forward pass when evaluating: fixed, so that `train` and
/// `eval` compute exactly the same numbers.
pub const EVAL_BATCH: usize = 500;

/// The result of running a model over a dataset.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Predicted class of each example, in order.
    pub predictions: Vec<u8>,
    /// Mean loss.
    pub loss: f64,
    /// Number of examples predicted correctly.
    pub correct: usize,
    /// Fraction predicted correctly.
    pub accuracy: f64,
}

impl Evaluation {
    /// One line for people: `test accuracy: 0.9926 (9926/10000)  loss 0.0258`.
    pub fn summary_line(&self) -> String {
        format!(
            "test accuracy: {:.4} ({}/{})  loss {:.4}",
            self.accuracy,
            self.correct,
            self.predictions.len(),
            self.loss
        )
    }
}

/// Runs `model` in inference mode over all of `data`, in batches of
/// [`EVAL_BATCH`]. The data must fit the model ([`check_compatible`](super::check_compatible)).
pub fn evaluate(model: &mut Sequential, data: &Dataset, loss: Loss) -> Evaluation {
    let classes = model.num_classes();
    let mut predictions = Vec::with_capacity(data.len());
    let mut labels = Vec::with_capacity(EVAL_BATCH);
    let mut grad = crate::tensor::Tensor::default();
    let indices: Vec<usize> = (0..data.len()).collect();
    let mut loss_sum = 0.0f64;
    for chunk in indices.chunks(EVAL_BATCH) {
        data.fill_batch(chunk, model.input_mut(chunk.len()).data_mut(), &mut labels);
        let logits = model.infer_loaded();
        predictions.extend(argmax_rows(logits.data(), classes).map(|p| p as u8));
        loss_sum += loss.forward_backward(logits, &labels, &mut grad) as f64 * chunk.len() as f64;
    }
    let correct = predictions.iter().zip(&data.labels).filter(|(p, t)| p == t).count();
    let n = data.len().max(1) as f64;
    Evaluation { predictions, loss: loss_sum / n, correct, accuracy: correct as f64 / n }
}

/// [`evaluate`] for a network in 8 bits (the same batches, the same loss).
/// The data must fit the network it was made from.
pub fn evaluate_quantized(network: &mut QuantizedNetwork, data: &Dataset, loss: Loss) -> Evaluation {
    let classes = network.num_classes();
    let mut predictions = Vec::with_capacity(data.len());
    let (mut labels, mut images) = (Vec::with_capacity(EVAL_BATCH), Vec::new());
    let (mut logits, mut grad) = (crate::tensor::Tensor::default(), crate::tensor::Tensor::default());
    let indices: Vec<usize> = (0..data.len()).collect();
    let mut loss_sum = 0.0f64;
    for chunk in indices.chunks(EVAL_BATCH) {
        images.resize(chunk.len() * data.pixels_per_image(), 0.0);
        data.fill_batch(chunk, &mut images, &mut labels);
        logits.resize_for_overwrite(&[chunk.len(), classes]);
        logits.data_mut().copy_from_slice(network.forward(&images));
        predictions.extend(argmax_rows(logits.data(), classes).map(|p| p as u8));
        loss_sum += loss.forward_backward(&logits, &labels, &mut grad) as f64 * chunk.len() as f64;
    }
    let correct = predictions.iter().zip(&data.labels).filter(|(p, t)| p == t).count();
    let n = data.len().max(1) as f64;
    Evaluation { predictions, loss: loss_sum / n, correct, accuracy: correct as f64 / n }
}

/// Runs every model of an ensemble over `data` and averages their
/// probabilities (softmax of the scores): the predictions are the most
/// probable class of the mean, the loss is its cross-entropy. The models must
/// all fit the data ([`check_compatible`](super::check_compatible)) and have the same classes.
///
/// # Panics
/// When `models` is empty.
pub fn evaluate_ensemble(models: &mut [Sequential], data: &Dataset) -> Evaluation {
    assert!(!models.is_empty(), "an ensemble needs at least one model");
    let classes = models[0].num_classes();
    let weight = 1.0 / models.len() as f32;
    let mut mean = vec![0.0f32; data.len() * classes];
    let mut probs = Vec::new();
    let mut labels = Vec::with_capacity(EVAL_BATCH);
    let indices: Vec<usize> = (0..data.len()).collect();
    for model in models.iter_mut() {
        for (chunk, out) in indices.chunks(EVAL_BATCH).zip(mean.chunks_mut(EVAL_BATCH * classes)) {
            data.fill_batch(chunk, model.input_mut(chunk.len()).data_mut(), &mut labels);
            let logits = model.infer_loaded();
            probs.resize(logits.len(), 0.0);
            crate::loss::softmax_rows(logits.data(), classes, &mut probs);
            out.iter_mut().zip(&probs).for_each(|(m, p)| *m += weight * p);
        }
    }
    let predictions: Vec<u8> = argmax_rows(&mean, classes).map(|p| p as u8).collect();
    let loss_sum: f64 =
        mean.chunks_exact(classes).zip(&data.labels).map(|(p, &t)| -(p[t as usize].max(1e-12) as f64).ln()).sum();
    let correct = predictions.iter().zip(&data.labels).filter(|(p, t)| p == t).count();
    let n = data.len().max(1) as f64;
    Evaluation { predictions, loss: loss_sum / n, correct, accuracy: correct as f64 / n }
}
