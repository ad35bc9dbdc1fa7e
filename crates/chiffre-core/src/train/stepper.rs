//! Training one chunk of batches at a time, for callers that drive the loop
//! themselves: a web page's worker that answers "pause" between two chunks
//! and times them with the browser's clock (WebAssembly has no
//! `std::time::Instant`), or a program that interleaves training with other
//! work. Each batch is the step of [`super::train_with`] ([`train_batch`]),
//! so the same settings give the same weights, bit for bit.

use super::{first_non_finite_param, TrainConfig, TrainError};
use crate::data::{shuffle_indices, Dataset};
use crate::layers::Mode;
use crate::loss::argmax_rows;
use crate::model::Sequential;
use crate::optim::Optimizer;

/// One optimisation step on the examples `indices` of `train`, batch
/// `batch_index` (from 0) of `epoch` (from 1): fill the batch (augmented when
/// the settings say so), forward, loss, backward, the learning rate of step
/// `optimizer.steps` from the schedule, update. Returns the batch's mean loss
/// and how many of its examples the network got right before the update.
#[allow(clippy::too_many_arguments)]
pub(super) fn train_batch(
    model: &mut Sequential,
    optimizer: &mut Optimizer,
    train: &Dataset,
    config: &TrainConfig,
    indices: &[usize],
    (epoch, batch_index): (usize, usize),
    (per_epoch, total_steps, warmup): (usize, usize, usize),
    labels: &mut Vec<u8>,
) -> Result<(f32, usize), TrainError> {
    let classes = model.num_classes();
    let input = model.input_mut(indices.len()).data_mut();
    match &config.augment {
        Some(aug) => train.fill_batch_augmented(
            indices,
            input,
            labels,
            aug,
            (config.seed, epoch as u64, batch_index * config.batch_size),
        ),
        None => train.fill_batch(indices, input, labels),
    }
    let logits = model.forward_loaded(Mode::Train);
    let correct = argmax_rows(logits.data(), classes).zip(labels.iter()).filter(|(p, &t)| *p == t as usize).count();
    let loss = model.backward_smoothed(config.loss, labels, config.label_smoothing);
    if !loss.is_finite() {
        return Err(TrainError::NonFinite { epoch, batch: batch_index + 1, loss, lr: optimizer.lr });
    }
    optimizer.lr = config.schedule.lr_at(config.lr, optimizer.steps as usize, total_steps, per_epoch, warmup);
    optimizer.step(model);
    Ok((loss, correct))
}

/// Where a [`Stepper`] is: the running epoch's averages so far.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// The epoch in progress (from 1), or the last one once done.
    pub epoch: usize,
    /// Examples seen in this epoch.
    pub seen: usize,
    /// Examples in one epoch.
    pub total: usize,
    /// Mean training loss over this epoch's examples so far.
    pub loss: f64,
    /// Share of this epoch's examples the network got right (before each update).
    pub accuracy: f64,
    /// Optimisation steps taken since the start.
    pub steps: u64,
    /// Every epoch is done.
    pub done: bool,
}

/// A training run driven a chunk at a time ([`Stepper::run`]); the network
/// and the data stay with the caller and are lent to each call.
///
/// ```
/// use chiffre_core::data::Dataset;
/// use chiffre_core::model::{preset, Sequential};
/// use chiffre_core::train::{Stepper, TrainConfig};
///
/// let images: Vec<u8> = (0..64 * 784).map(|i| (i % 251) as u8).collect();
/// let labels: Vec<u8> = (0..64).map(|i| (i % 10) as u8).collect();
/// let data = Dataset::new(images, labels, 28, 28);
/// let mut net = Sequential::new(&preset("perceptron", 10).unwrap(), 1).unwrap();
/// let config = TrainConfig { epochs: 2, batch_size: 16, ..TrainConfig::default() };
/// let mut stepper = Stepper::new(&net, &data, config).unwrap();
/// let mut chunks = 0;
/// while !stepper.progress().done {
///     stepper.run(&mut net, &data, 3).unwrap(); // a page would yield to its messages here
///     chunks += 1;
/// }
/// assert_eq!(chunks, 4); // 2 epochs of 4 batches, each run as 3 + 1: a chunk stops at the end of an epoch
/// ```
pub struct Stepper {
    config: TrainConfig,
    optimizer: Optimizer,
    order: Vec<usize>,
    labels: Vec<u8>,
    per_epoch: usize,
    total_steps: usize,
    warmup: usize,
    epoch: usize,
    batch: usize,
    loss_sum: f64,
    correct: usize,
    seen: usize,
    finished: bool,
}

impl Stepper {
    /// Checks the settings against the network and the data, as [`super::train`] does.
    pub fn new(model: &Sequential, train: &Dataset, config: TrainConfig) -> Result<Self, TrainError> {
        config.validate()?;
        super::check_compatible(model, train, "training").map_err(TrainError::Invalid)?;
        if train.is_empty() {
            return Err(TrainError::Invalid("the training set is empty".into()));
        }
        let per_epoch = train.len().div_ceil(config.batch_size);
        let warmup = (config.warmup_epochs as f64 * per_epoch as f64).round() as usize;
        let mut order = Vec::with_capacity(train.len());
        shuffle_indices(&mut order, train.len(), config.seed, 1);
        Ok(Stepper {
            optimizer: Optimizer::new(config.optimizer, config.lr),
            labels: Vec::with_capacity(config.batch_size),
            total_steps: per_epoch * config.epochs,
            config,
            order,
            per_epoch,
            warmup,
            epoch: 1,
            batch: 0,
            loss_sum: 0.0,
            correct: 0,
            seen: 0,
            finished: false,
        })
    }

    /// The settings.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Where the run is.
    pub fn progress(&self) -> Progress {
        let seen = self.seen.max(1) as f64;
        Progress {
            epoch: self.epoch,
            seen: self.seen,
            total: self.order.len(),
            loss: self.loss_sum / seen,
            accuracy: self.correct as f64 / seen,
            steps: self.optimizer.steps,
            done: self.finished,
        }
    }

    /// Runs up to `batches` steps on `model` with `train` (the network and
    /// the data this stepper was made for), stopping early at the end of an
    /// epoch so that the caller can score it; an epoch that ends with a weight
    /// that is not finite is an error, as in [`super::train`].
    pub fn run(&mut self, model: &mut Sequential, train: &Dataset, batches: usize) -> Result<Progress, TrainError> {
        if self.finished {
            return Ok(self.progress());
        }
        if self.batch == self.per_epoch {
            // The previous call ended an epoch: start the next one.
            self.epoch += 1;
            (self.batch, self.loss_sum, self.correct, self.seen) = (0, 0.0, 0, 0);
            shuffle_indices(&mut self.order, train.len(), self.config.seed, self.epoch as u64);
        }
        let size = self.config.batch_size;
        for _ in 0..batches {
            let start = self.batch * size;
            let indices = &self.order[start..(start + size).min(self.order.len())];
            let (loss, correct) = train_batch(
                model,
                &mut self.optimizer,
                train,
                &self.config,
                indices,
                (self.epoch, self.batch),
                (self.per_epoch, self.total_steps, self.warmup),
                &mut self.labels,
            )?;
            self.loss_sum += loss as f64 * indices.len() as f64;
            self.correct += correct;
            self.seen += indices.len();
            self.batch += 1;
            if self.batch == self.per_epoch {
                if let Some(name) = first_non_finite_param(model) {
                    return Err(TrainError::NonFiniteWeights { epoch: self.epoch, name, lr: self.optimizer.lr });
                }
                self.finished = self.epoch == self.config.epochs;
                break;
            }
        }
        Ok(self.progress())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Augment;
    use crate::model::preset;
    use crate::train::{train, Quiet};

    fn data() -> Dataset {
        let images: Vec<u8> = (0..100 * 784u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let labels: Vec<u8> = (0..100).map(|i| (i % 10) as u8).collect();
        Dataset::new(images, labels, 28, 28)
    }

    fn weights(net: &Sequential) -> Vec<u32> {
        net.named_params().iter().flat_map(|(_, p)| p.value.data().iter().map(|v| v.to_bits())).collect()
    }

    #[test]
    fn chunks_of_batches_give_the_weights_of_the_whole_loop_bit_for_bit() {
        let data = data();
        let config =
            TrainConfig { epochs: 3, batch_size: 16, augment: Some(Augment::default()), ..TrainConfig::default() };
        let spec = preset("mlp", 10).unwrap();
        let mut whole = Sequential::new(&spec, 7).unwrap();
        let history = train(&mut whole, &data, None, &config, &mut Quiet).unwrap();
        let mut stepped = Sequential::new(&spec, 7).unwrap();
        let mut stepper = Stepper::new(&stepped, &data, config).unwrap();
        let mut epochs_seen = Vec::new();
        while !stepper.progress().done {
            let p = stepper.run(&mut stepped, &data, 5).unwrap();
            if p.seen == p.total {
                epochs_seen.push((p.epoch, p.loss, p.accuracy));
            }
        }
        assert_eq!(weights(&whole), weights(&stepped));
        assert_eq!(epochs_seen.len(), 3);
        for ((epoch, loss, accuracy), stats) in epochs_seen.iter().zip(&history) {
            assert_eq!(*epoch, stats.epoch);
            assert!((loss - stats.train_loss).abs() < 1e-12 && (accuracy - stats.train_accuracy).abs() < 1e-12);
        }
        assert_eq!(stepper.run(&mut stepped, &data, 5).unwrap().steps, 3 * 7, "nothing runs once done");
    }

    #[test]
    fn a_diverging_run_and_bad_settings_are_errors() {
        let data = data();
        let net = Sequential::new(&preset("perceptron", 10).unwrap(), 1).unwrap();
        let bad = TrainConfig { batch_size: 0, ..TrainConfig::default() };
        assert!(Stepper::new(&net, &data, bad).is_err());
        let mut net = net;
        let wild = TrainConfig { lr: 1e37, optimizer: crate::optim::OptimizerKind::SGD, ..TrainConfig::default() };
        let mut stepper = Stepper::new(&net, &data, wild).unwrap();
        let error = (0..20).find_map(|_| stepper.run(&mut net, &data, 7).err());
        assert!(error.as_ref().is_some_and(|e| e.to_string().contains("diverged")), "{error:?}");
    }
}
