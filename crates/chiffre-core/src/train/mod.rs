//! The training loop: epochs of shuffled mini-batches, forward, loss,
//! backward, optimizer step (the tutorial's stochastic gradient descent on
//! mini-batches), and evaluation.
//!
//! The library does not print: progress goes to an [`Observer`], which the
//! command line turns into a progress bar. [`train_with`] adds learning-rate
//! [`Schedule`]s, label smoothing, augmentation, early stopping, checkpoints
//! and resuming, and a stop flag (Ctrl-C).

pub mod checkpoint;
mod evaluate;
mod schedule;
mod settings;
mod stepper;

pub use checkpoint::{Checkpoint, Position};
pub use evaluate::{evaluate, evaluate_ensemble, evaluate_quantized, Evaluation, EVAL_BATCH};
pub use schedule::Schedule;
pub use settings::{takes_cut_digits, with_cut_digits, Recipe, RecipeError, Setting, SettingError, TrainConfig};
pub use stepper::{Progress, Stepper};

use crate::data::{shuffle_indices, Dataset};
use crate::model::Sequential;
use crate::optim::Optimizer;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

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
        "the loss became {loss} at epoch {epoch}, batch {batch}: training diverged; try a smaller learning rate (now {lr}) or another optimizer"
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
        "weights {name} became NaN or infinite during epoch {epoch}: training diverged; try a smaller learning rate (now {lr})"
    )]
    NonFiniteWeights {
        /// Epoch, from 1.
        epoch: usize,
        /// The parameter, `layers.<i>.<name>`.
        name: String,
        /// The learning rate in use.
        lr: f32,
    },
    /// A setting out of its range (see [`TrainConfig::validate`]).
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// Data that cannot train this model, or a checkpoint of other settings.
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
    Ok(train_with(model, train, val, config, observer, Controls::default())?.history)
}

/// Checkpoints, resuming and stopping, for [`train_with`].
#[derive(Default)]
pub struct Controls<'a> {
    /// Where checkpoints go.
    pub checkpoint_path: Option<PathBuf>,
    /// Write a checkpoint every this many epochs (0: only when stopped).
    pub checkpoint_every: usize,
    /// Continue from this checkpoint (its weights replace the model's).
    pub resume: Option<Checkpoint>,
    /// Set (by a Ctrl-C handler, or an observer) to stop after the current
    /// batch, writing a checkpoint when `checkpoint_path` is given.
    pub stop: Option<&'a AtomicBool>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Ending {
    /// All epochs done.
    Finished,
    /// The held-out loss stopped improving; the best epoch's weights were kept.
    EarlyStopped {
        /// The best epoch, from 1.
        best_epoch: usize,
    },
    /// Stopped on request; the checkpoint to resume from, if one was written.
    Interrupted {
        /// The checkpoint file.
        checkpoint: Option<PathBuf>,
    },
}

/// What [`train_with`] returns.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// Per-epoch statistics (of this run and of the run it resumed).
    pub history: Vec<EpochStats>,
    /// Seconds of the training loop only (shuffles, batches, steps; not data
    /// loading nor held-out evaluation), across resumptions.
    pub train_seconds: f64,
    /// How the run ended.
    pub ending: Ending,
}

/// The checks that need the data: the settings themselves are checked by
/// [`TrainConfig::validate`].
fn validate(model: &Sequential, train: &Dataset, val: Option<&Dataset>, config: &TrainConfig) -> Result<(), String> {
    check_compatible(model, train, "training")?;
    if let Some(val) = val {
        check_compatible(model, val, "held-out")?;
    }
    if train.is_empty() {
        return Err("the training set is empty".into());
    }
    if config.early_stopping.is_some() && val.is_none_or(|v| v.is_empty()) {
        return Err("early stopping watches the held-out loss: hold some examples out".into());
    }
    Ok(())
}

/// The settings of `a` and `b` that differ, other than the number of epochs.
fn differing_settings(a: &TrainConfig, b: &TrainConfig) -> Vec<String> {
    let (serde_json::Value::Object(a), serde_json::Value::Object(b)) = (serde_json::json!(a), serde_json::json!(b))
    else {
        return Vec::new();
    };
    a.iter()
        .filter(|(k, v)| k.as_str() != "epochs" && b.get(*k) != Some(v))
        .map(|(k, v)| format!("{k} {} (checkpoint {})", v, b.get(k).cloned().unwrap_or_default()))
        .collect()
}

/// As [`train`], with checkpoints, resuming and a stop flag (see [`Controls`]).
pub fn train_with(
    model: &mut Sequential,
    train: &Dataset,
    val: Option<&Dataset>,
    config: &TrainConfig,
    observer: &mut dyn Observer,
    controls: Controls<'_>,
) -> Result<TrainReport, TrainError> {
    config.validate()?;
    validate(model, train, val, config).map_err(TrainError::Invalid)?;
    let mut optimizer = Optimizer::new(config.optimizer, config.lr);
    let mut position = Position { epoch: 1, ..Position::default() };
    let mut best: Option<Vec<Vec<f32>>> = None;
    if let Some(checkpoint) = controls.resume {
        let differ = differing_settings(config, &checkpoint.config);
        if !differ.is_empty() {
            return Err(TrainError::Invalid(format!(
                "the checkpoint was made with other settings: {}; resume with the same settings",
                differ.join(", ")
            )));
        }
        *model = checkpoint.model;
        optimizer.set_state(checkpoint.position.steps, checkpoint.optimizer);
        position = checkpoint.position;
        best = checkpoint.best;
    }
    let per_epoch = train.len().div_ceil(config.batch_size);
    let total_steps = per_epoch * config.epochs;
    let warmup = (config.warmup_epochs as f64 * per_epoch as f64).round() as usize;
    let stop_requested = || controls.stop.is_some_and(|s| s.load(Ordering::Relaxed));
    let write_checkpoint = |model: &Sequential,
                            optimizer: &Optimizer,
                            position: &Position,
                            best: Option<&[Vec<f32>]>| match &controls.checkpoint_path {
        Some(path) => checkpoint::save(path, model, config, optimizer, position, best)
            .map(|()| Some(path.clone()))
            .map_err(|e| TrainError::Invalid(e.to_string())),
        None => Ok(None),
    };
    let mut order = Vec::with_capacity(train.len());
    let mut labels = Vec::with_capacity(config.batch_size);
    while position.epoch <= config.epochs {
        let epoch = position.epoch;
        let start = Instant::now();
        shuffle_indices(&mut order, train.len(), config.seed, epoch as u64);
        for (batch_index, indices) in order.chunks(config.batch_size).enumerate().skip(position.batch) {
            let (loss, correct) = stepper::train_batch(
                model,
                &mut optimizer,
                train,
                config,
                indices,
                (epoch, batch_index),
                (per_epoch, total_steps, warmup),
                &mut labels,
            )?;
            position.correct += correct;
            position.steps = optimizer.steps;
            position.loss_sum += loss as f64 * indices.len() as f64;
            position.seen += indices.len();
            position.batch = batch_index + 1;
            let elapsed = position.seconds + start.elapsed().as_secs_f64();
            let (seen, rate) = (position.seen, position.seen as f64 / elapsed.max(1e-9));
            observer.batch(
                epoch,
                seen,
                train.len(),
                position.loss_sum / seen as f64,
                position.correct as f64 / seen as f64,
                rate,
            );
            if stop_requested() && position.batch < per_epoch {
                position.seconds = elapsed;
                let checkpoint = write_checkpoint(model, &optimizer, &position, best.as_deref())?;
                return Ok(TrainReport {
                    history: position.history,
                    train_seconds: position.train_seconds + position.seconds,
                    ending: Ending::Interrupted { checkpoint },
                });
            }
        }
        let seconds = position.seconds + start.elapsed().as_secs_f64();
        if let Some(name) = first_non_finite_param(model) {
            return Err(TrainError::NonFiniteWeights { epoch, name, lr: optimizer.lr });
        }
        let held_out = val.filter(|v| !v.is_empty()).map(|v| evaluate(model, v, config.loss));
        let seen = position.seen.max(1);
        let stats = EpochStats {
            epoch,
            train_loss: position.loss_sum / seen as f64,
            train_accuracy: position.correct as f64 / seen as f64,
            val_loss: held_out.as_ref().map(|e| e.loss),
            val_accuracy: held_out.as_ref().map(|e| e.accuracy),
            seconds,
            images_per_sec: position.seen as f64 / seconds.max(1e-9),
        };
        observer.epoch(&stats);
        position.history.push(stats);
        position.train_seconds += seconds;
        position = Position {
            epoch: epoch + 1,
            steps: position.steps,
            train_seconds: position.train_seconds,
            history: std::mem::take(&mut position.history),
            best_val_loss: position.best_val_loss,
            epochs_since_best: position.epochs_since_best,
            ..Position::default()
        };
        if let (Some(patience), Some(result)) = (config.early_stopping, held_out) {
            if position.best_val_loss.is_none_or(|b| result.loss < b) {
                position.best_val_loss = Some(result.loss);
                position.epochs_since_best = 0;
                best = Some(checkpoint::snapshot(model));
            } else {
                position.epochs_since_best += 1;
                if position.epochs_since_best >= patience {
                    if let Some(best) = &best {
                        checkpoint::restore(model, best);
                    }
                    return Ok(TrainReport {
                        train_seconds: position.train_seconds,
                        ending: Ending::EarlyStopped { best_epoch: epoch - patience },
                        history: position.history,
                    });
                }
            }
        }
        let stopping = stop_requested() && epoch < config.epochs;
        if stopping || (controls.checkpoint_every > 0 && epoch.is_multiple_of(controls.checkpoint_every)) {
            let checkpoint = write_checkpoint(model, &optimizer, &position, best.as_deref())?;
            if stopping {
                return Ok(TrainReport {
                    history: position.history,
                    train_seconds: position.train_seconds,
                    ending: Ending::Interrupted { checkpoint },
                });
            }
        }
    }
    Ok(TrainReport { history: position.history, train_seconds: position.train_seconds, ending: Ending::Finished })
}
