//! Checkpoints: everything a run needs to continue exactly where it stopped:
//! the weights and running statistics, the optimizer's moments, the position
//! in the run (epoch, batch, steps), the dropout streams, the statistics so
//! far and the early-stopping state. One safetensors file, written atomically.
//!
//! Tensors: the model's own (`layers.<i>.<name>`), then `train.optimizer.<k>.first`
//! and `.second` (the optimizer's buffers per parameter) and `train.best.<k>`
//! (early stopping's best weights); metadata `chiffre.checkpoint` holds the rest.

use super::{EpochStats, TrainConfig};
use crate::fsutil::write_atomic;
use crate::model::{decode, encode, fill_tensor, ModelError, Sequential};
use crate::optim::Optimizer;
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Where a run stands, and what it has measured so far.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Position {
    /// The epoch to run next or in progress, from 1.
    pub epoch: usize,
    /// Batches of that epoch already done.
    pub batch: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    /// The epoch's running sums: loss × examples, correct, examples, seconds.
    pub loss_sum: f64,
    /// Examples predicted correctly so far in the epoch.
    pub correct: usize,
    /// Examples seen so far in the epoch.
    pub seen: usize,
    /// Seconds of training so far in the epoch.
    pub seconds: f64,
    /// Seconds of the training loop in earlier epochs.
    pub train_seconds: f64,
    /// The statistics of the finished epochs.
    pub history: Vec<EpochStats>,
    /// Early stopping: the best held-out loss so far.
    pub best_val_loss: Option<f64>,
    /// Early stopping: epochs since it improved.
    pub epochs_since_best: usize,
}

/// A run's saved state.
pub struct Checkpoint {
    /// The network with its weights and running statistics.
    pub model: Sequential,
    /// The settings of the run.
    pub config: TrainConfig,
    /// Where it stands.
    pub position: Position,
    /// The optimizer's buffers per parameter (first, second).
    pub optimizer: Vec<(Vec<f32>, Vec<f32>)>,
    /// Early stopping's best weights and buffers (in [`Sequential`] order), if any.
    pub best: Option<Vec<Vec<f32>>>,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    config: TrainConfig,
    position: Position,
    /// Seed and position of each layer's random stream (dropout), as decimal strings.
    rng: Vec<Option<(String, String)>>,
    /// Shapes of the optimizer's buffers: lengths of (first, second).
    optimizer: Vec<(usize, usize)>,
    /// Number of best-weight tensors.
    best: usize,
}

const PREFIX: &str = "train.";

/// Writes a checkpoint of `model`, `optimizer` and `position` to `path`, atomically.
pub fn save(
    path: &Path,
    model: &Sequential,
    config: &TrainConfig,
    optimizer: &Optimizer,
    position: &Position,
    best: Option<&[Vec<f32>]>,
) -> Result<(), ModelError> {
    let fail = |message: String| ModelError::File { path: path.display().to_string(), message };
    let state = optimizer.state();
    let mut extra = Vec::new();
    for (k, (first, second)) in state.iter().enumerate() {
        extra.push((format!("{PREFIX}optimizer.{k}.first"), vec![first.len()], *first));
        if !second.is_empty() {
            extra.push((format!("{PREFIX}optimizer.{k}.second"), vec![second.len()], *second));
        }
    }
    for (k, values) in best.unwrap_or_default().iter().enumerate() {
        extra.push((format!("{PREFIX}best.{k}"), vec![values.len()], values.as_slice()));
    }
    let meta = Meta {
        config: config.clone(),
        position: position.clone(),
        rng: model.rng_states().iter().map(|s| s.map(|(seed, pos)| (seed.to_string(), pos.to_string()))).collect(),
        optimizer: state.iter().map(|(a, b)| (a.len(), b.len())).collect(),
        best: best.map_or(0, |b| b.len()),
    };
    let json = serde_json::to_string(&meta).map_err(|e| fail(e.to_string()))?;
    let bytes = encode(model, HashMap::from([("chiffre.checkpoint".to_string(), json)]), &extra, None).map_err(fail)?;
    write_atomic(path, &bytes).map_err(|e| fail(format!("cannot write the checkpoint: {e}")))
}

/// Reads a checkpoint written by [`save`].
pub fn load(path: &Path) -> Result<Checkpoint, ModelError> {
    let fail = |message: String| ModelError::File { path: path.display().to_string(), message };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read the checkpoint: {e}")))?;
    let (mut model, meta) = decode(&bytes, path, &[PREFIX, crate::reject::store::PREFIX])?;
    let json = meta.get("chiffre.checkpoint").ok_or_else(|| {
        fail("a model file, not a checkpoint (no chiffre.checkpoint metadata); checkpoints come from `chiffre train --checkpoint-every N` or Ctrl-C".into())
    })?;
    let meta: Meta = serde_json::from_str(json).map_err(|e| fail(format!("unreadable checkpoint metadata: {e}")))?;
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| fail(format!("corrupt tensor data ({e:?})")))?;
    let read = |key: String, len: usize| -> Result<Vec<f32>, ModelError> {
        let mut out = vec![0.0; len];
        fill_tensor(&tensors, &key, &[len], &mut out).map_err(&fail)?;
        Ok(out)
    };
    let mut optimizer = Vec::with_capacity(meta.optimizer.len());
    for (k, &(first, second)) in meta.optimizer.iter().enumerate() {
        let second = if second > 0 { read(format!("{PREFIX}optimizer.{k}.second"), second)? } else { Vec::new() };
        optimizer.push((read(format!("{PREFIX}optimizer.{k}.first"), first)?, second));
    }
    let best = if meta.best > 0 {
        let lens = model_tensor_lens(&mut model);
        if lens.len() != meta.best {
            return Err(fail(format!("{} best-weight tensors for a model with {}", meta.best, lens.len())));
        }
        Some(
            lens.iter()
                .enumerate()
                .map(|(k, &len)| read(format!("{PREFIX}best.{k}"), len))
                .collect::<Result<_, _>>()?,
        )
    } else {
        None
    };
    let parse = |(seed, pos): &(String, String)| -> Result<(u64, u128), String> {
        Ok((seed.parse().map_err(|e| format!("{e}"))?, pos.parse().map_err(|e| format!("{e}"))?))
    };
    let states = meta
        .rng
        .iter()
        .map(|s| s.as_ref().map(parse).transpose())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("unreadable random-stream state: {e}")))?;
    model.set_rng_states(&states);
    Ok(Checkpoint { model, config: meta.config, position: meta.position, optimizer, best })
}

/// Lengths of the model's parameters then buffers, in order.
fn model_tensor_lens(model: &mut Sequential) -> Vec<usize> {
    let mut lens = Vec::new();
    model.visit_params_mut(&mut |_, _, p| lens.push(p.value.len()));
    model.visit_buffers_mut(&mut |_, _, t| lens.push(t.len()));
    lens
}

/// A copy of the model's parameters then buffers (early stopping's best).
pub(crate) fn snapshot(model: &mut Sequential) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    model.visit_params_mut(&mut |_, _, p| out.push(p.value.data().to_vec()));
    model.visit_buffers_mut(&mut |_, _, t| out.push(t.data().to_vec()));
    out
}

/// Puts back a [`snapshot`].
pub(crate) fn restore(model: &mut Sequential, snapshot: &[Vec<f32>]) {
    let mut k = 0;
    model.visit_params_mut(&mut |_, _, p| {
        p.value.data_mut().copy_from_slice(&snapshot[k]);
        k += 1;
    });
    model.visit_buffers_mut(&mut |_, _, t| {
        t.data_mut().copy_from_slice(&snapshot[k]);
        k += 1;
    });
}
