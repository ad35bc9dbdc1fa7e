//! The training loop: epochs of shuffled mini-batches, forward, loss,
//! backward, optimizer step (the tutorial's stochastic gradient descent on
//! mini-batches), and evaluation.
//!
//! The library does not print: progress goes to an [`Observer`], which the
//! command line turns into a progress bar.

use crate::data::{shuffle_indices, Dataset};
use crate::layers::Mode;
use crate::loss::{argmax_rows, Loss};
use crate::model::Sequential;
use crate::optim::{Optimizer, OptimizerKind};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Examples per forward pass when evaluating: fixed, so that `train` and
/// `eval` compute exactly the same numbers.
pub const EVAL_BATCH: usize = 500;

/// Settings of one training run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// The update rule.
    pub optimizer: OptimizerKind,
    /// The learning rate.
    pub lr: f32,
    /// The loss.
    pub loss: Loss,
    /// Seed of the epoch shuffles (the weights' seed is given to the model).
    pub seed: u64,
}

/// The per-epoch metrics file `chiffre train` writes beside the model
/// `M.safetensors`: `M.metrics.jsonl`, one [`EpochStats`] per line.
pub fn metrics_path(model: &std::path::Path) -> std::path::PathBuf {
    let mut name = model.file_stem().unwrap_or_default().to_os_string();
    name.push(".metrics.jsonl");
    model.with_file_name(name)
}

/// What one epoch measured.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EpochStats {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Training accuracy over the epoch (as the weights moved).
    pub train_accuracy: f64,
    /// Loss on the held-out split, if there is one.
    pub val_loss: Option<f64>,
    /// Accuracy on the held-out split, if there is one.
    pub val_accuracy: Option<f64>,
    /// Wall-clock seconds of the epoch's training steps.
    pub seconds: f64,
    /// Training images per second.
    pub images_per_sec: f64,
}

/// Receives progress during training.
pub trait Observer {
    /// After each batch: examples done so far in the epoch, running mean loss
    /// and accuracy, images/s.
    fn batch(&mut self, _epoch: usize, _done: usize, _total: usize, _loss: f64, _accuracy: f64, _images_per_sec: f64) {}
    /// After each epoch.
    fn epoch(&mut self, _stats: &EpochStats) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// Why training stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The loss became NaN or infinite.
    #[error(
        "the loss became {loss} at epoch {epoch}, batch {batch}: training diverged; try a smaller --lr (now {lr}) or another optimizer"
    )]
    NonFinite {
        /// Epoch, from 1.
        epoch: usize,
        /// Batch within the epoch, from 1.
        batch: usize,
        /// The value.
        loss: f32,
        /// The learning rate in use.
        lr: f32,
    },
    /// A weight became NaN or infinite (the last step overflowed).
    #[error(
        "weights {name} became NaN or infinite during epoch {epoch}: training diverged; try a smaller --lr (now {lr})"
    )]
    NonFiniteWeights {
        /// Epoch, from 1.
        epoch: usize,
        /// The parameter, `layers.<i>.<name>`.
        name: String,
        /// The learning rate in use.
        lr: f32,
    },
    /// Settings or data that cannot train this model.
    #[error("{0}")]
    Invalid(String),
}

/// Checks that `data` fits `model`: image size and labels within the classes.
pub fn check_compatible(model: &Sequential, data: &Dataset, what: &str) -> Result<(), String> {
    let [h, w, c] = model.input_shape();
    if c != 1 || data.rows != h || data.cols != w {
        return Err(format!(
            "the {what} images are {}×{} (grayscale) but the model expects {h}×{w}×{c}",
            data.rows, data.cols
        ));
    }
    let classes = model.num_classes();
    if let Some((i, &label)) = data.labels.iter().enumerate().find(|(_, &l)| l as usize >= classes) {
        return Err(format!(
            "{what} example {i} has label {label}, but the model has {classes} classes (0..{})",
            classes - 1
        ));
    }
    Ok(())
}

/// The name of the first parameter holding a NaN or an infinity, if any.
fn first_non_finite_param(model: &Sequential) -> Option<String> {
    model.named_params().into_iter().find(|(_, p)| p.value.data().iter().any(|v| !v.is_finite())).map(|(n, _)| n)
}

/// Trains `model` on `train` for `config.epochs` epochs, scoring `val` after
/// each epoch when given. Returns the per-epoch statistics.
pub fn train(
    model: &mut Sequential,
    train: &Dataset,
    val: Option<&Dataset>,
    config: &TrainConfig,
    observer: &mut dyn Observer,
) -> Result<Vec<EpochStats>, TrainError> {
    check_compatible(model, train, "training").map_err(TrainError::Invalid)?;
    if let Some(val) = val {
        check_compatible(model, val, "held-out").map_err(TrainError::Invalid)?;
    }
    if config.batch_size == 0 {
        return Err(TrainError::Invalid("--batch-size must be at least 1".into()));
    }
    if train.is_empty() {
        return Err(TrainError::Invalid("the training set is empty".into()));
    }
    if !(config.lr.is_finite() && config.lr > 0.0) {
        return Err(TrainError::Invalid(format!("--lr must be a positive number, got {}", config.lr)));
    }
    let classes = model.num_classes();
    let mut optimizer = Optimizer::new(config.optimizer, config.lr);
    let mut order = Vec::with_capacity(train.len());
    let mut labels = Vec::with_capacity(config.batch_size);
    let mut history = Vec::with_capacity(config.epochs);
    for epoch in 1..=config.epochs {
        shuffle_indices(&mut order, train.len(), config.seed, epoch as u64);
        let start = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (batch_index, indices) in order.chunks(config.batch_size).enumerate() {
            train.fill_batch(indices, model.input_mut(indices.len()).data_mut(), &mut labels);
            let logits = model.forward_loaded(Mode::Train);
            correct += argmax_rows(logits.data(), classes).zip(&labels).filter(|(p, &t)| *p == t as usize).count();
            let loss = model.backward(config.loss, &labels);
            if !loss.is_finite() {
                return Err(TrainError::NonFinite { epoch, batch: batch_index + 1, loss, lr: config.lr });
            }
            optimizer.step(model);
            loss_sum += loss as f64 * indices.len() as f64;
            seen += indices.len();
            let rate = seen as f64 / start.elapsed().as_secs_f64().max(1e-9);
            observer.batch(epoch, seen, train.len(), loss_sum / seen as f64, correct as f64 / seen as f64, rate);
        }
        let seconds = start.elapsed().as_secs_f64();
        if let Some(name) = first_non_finite_param(model) {
            return Err(TrainError::NonFiniteWeights { epoch, name, lr: config.lr });
        }
        let held_out = val.filter(|v| !v.is_empty()).map(|v| evaluate(model, v, config.loss));
        let stats = EpochStats {
            epoch,
            train_loss: loss_sum / seen as f64,
            train_accuracy: correct as f64 / seen as f64,
            val_loss: held_out.as_ref().map(|e| e.loss),
            val_accuracy: held_out.as_ref().map(|e| e.accuracy),
            seconds,
            images_per_sec: seen as f64 / seconds.max(1e-9),
        };
        observer.epoch(&stats);
        history.push(stats);
    }
    Ok(history)
}

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
/// [`EVAL_BATCH`]. The data must fit the model ([`check_compatible`]).
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
