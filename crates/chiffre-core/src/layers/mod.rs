//! The layers: one file each, forward and backward side by side.
//!
//! A layer owns its parameters, their gradients and whatever it must remember
//! between `forward` and `backward` (the im2col matrix, the argmax of a pool,
//! a dropout mask). Those buffers are sized at the first batch and reused:
//! after the first step, training allocates nothing.
//!
//! Shapes are written per batch, channels-last: `[B, H, W, C]` for images,
//! `[B, N]` for vectors.

mod activation;
mod batchnorm;
mod conv2d;
mod dense;
mod dropout;
mod flatten;
pub mod init;
mod pool;

pub use activation::{Relu, Sigmoid, Tanh};
pub use batchnorm::{BatchNorm, BatchNormConfig, Then};
pub use conv2d::{Conv2d, Conv2dConfig, Padding};
pub use dense::Dense;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use init::Init;
pub use pool::{Pool2d, PoolKind};

use crate::tensor::Tensor;

/// Whether a forward pass is for training (dropout active, buffers kept for
/// backward) or for inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Training: keep what backward needs; dropout drops.
    Train,
    /// Inference: dropout is the identity.
    Eval,
}

/// A learnable tensor and the gradient of the loss with respect to it.
#[derive(Clone, Debug)]
pub struct Param {
    /// The values.
    pub value: Tensor,
    /// d(loss)/d(value), written by the layer's `backward`.
    pub grad: Tensor,
}

impl Param {
    /// A parameter with the given values and a zero gradient.
    pub fn new(value: Tensor) -> Self {
        let grad = Tensor::zeros(value.shape());
        Param { value, grad }
    }
}

/// One step of a sequential network.
///
/// `forward` maps a batch `input` to `output` (resized by the layer);
/// `backward` receives the same `input` and `output` plus d(loss)/d(output),
/// writes the parameter gradients, and, when asked, d(loss)/d(input).
pub trait Layer: Send {
    /// The layer's kind in snake case, as in spec files: `"conv2d"`, `"dense"`…
    fn kind(&self) -> &'static str;

    /// The per-example output shape (`[H, W, C]` or `[N]`).
    fn output_shape(&self) -> &[usize];

    /// Computes `output` from `input`.
    fn forward(&mut self, input: &Tensor, output: &mut Tensor, mode: Mode);

    /// Back-propagates `grad_output` = d(loss)/d(output). `grad_input` is
    /// `None` for the first layer, whose input gradient nobody needs.
    fn backward(&mut self, input: &Tensor, output: &Tensor, grad_output: &Tensor, grad_input: Option<&mut Tensor>);

    /// The learnable parameters with their names (`"weight"`, `"bias"`).
    fn params(&self) -> Vec<(&'static str, &Param)> {
        Vec::new()
    }

    /// Calls `f` on each learnable parameter, in the order of [`Layer::params`].
    fn visit_params_mut(&mut self, _f: &mut dyn FnMut(&'static str, &mut Param)) {}

    /// State that is not learned by gradient but must be saved with the
    /// weights (batch normalisation's running mean and variance).
    fn buffers(&self) -> Vec<(&'static str, &Tensor)> {
        Vec::new()
    }

    /// Calls `f` on each buffer, in the order of [`Layer::buffers`].
    fn visit_buffers_mut(&mut self, _f: &mut dyn FnMut(&'static str, &mut Tensor)) {}

    /// The seed and position of the layer's own random stream (dropout), for checkpoints.
    fn rng_state(&self) -> Option<(u64, u128)> {
        None
    }

    /// Puts the layer's random stream back to a state from [`Layer::rng_state`].
    fn set_rng_state(&mut self, _state: (u64, u128)) {}

    /// Multiply-adds of one forward pass for one example (for FLOP counts).
    fn forward_macs(&self) -> usize {
        0
    }
}

/// Sets `out` to the shape `[batch, per_example...]`, reusing its allocation
/// (new elements zero: [`Tensor::resize`]).
pub(crate) fn resize_batch(out: &mut Tensor, batch: usize, per_example: &[usize]) {
    let (shape, dims) = batch_shape(batch, per_example);
    out.resize(&shape[..dims]);
}

/// [`resize_batch`] for a layer's output, which the layer then writes
/// entirely ([`Tensor::resize_for_overwrite`]: nothing zeroed).
pub(crate) fn resize_batch_for_overwrite(out: &mut Tensor, batch: usize, per_example: &[usize]) {
    let (shape, dims) = batch_shape(batch, per_example);
    out.resize_for_overwrite(&shape[..dims]);
}

/// `[batch, per_example...]` in an array (no allocation), and its length.
fn batch_shape(batch: usize, per_example: &[usize]) -> ([usize; 4], usize) {
    let mut shape = [0usize; 4];
    shape[0] = batch;
    shape[1..=per_example.len()].copy_from_slice(per_example);
    (shape, per_example.len() + 1)
}
