//! The layer graph's nodes: the closed set of layer kinds a network holds.
//!
//! A [`super::Sequential`] keeps one [`Node`] per layer of its spec. Code
//! that must know what a layer is (the fusion plan, the ONNX export, the
//! report, inspection) `match`es on the node, and the compiler asks every
//! such place for an arm when a kind is added; code that only runs layers
//! uses the [`Layer`] trait, which [`Node`] implements by handing the call
//! to the layer it holds.

use super::spec::LayerSpec;
use super::ModelError;
use crate::layers::{
    BatchNorm, BatchNormConfig, Conv2d, Conv2dConfig, Dense, Dropout, Flatten, Layer, Mode, Param, Pool2d, PoolKind,
    Relu, Sigmoid, Tanh,
};
use crate::tensor::Tensor;
use rand_chacha::ChaCha8Rng;

/// One layer of a network, of one of the kinds chiffre has.
#[derive(Clone, Debug)]
pub enum Node {
    /// Fully connected.
    Dense(Dense),
    /// 2-D convolution.
    Conv2d(Conv2d),
    /// Max or mean pooling.
    Pool2d(Pool2d),
    /// `[H, W, C]` → `[H·W·C]`.
    Flatten(Flatten),
    /// `max(0, x)`.
    Relu(Relu),
    /// `1 / (1 + e^-x)`.
    Sigmoid(Sigmoid),
    /// `tanh(x)`.
    Tanh(Tanh),
    /// Batch normalisation (of feature maps or of vectors).
    BatchNorm(BatchNorm),
    /// Inverted dropout.
    Dropout(Dropout),
}

/// `$body` applied to the layer inside `$node`, whatever its kind: the one
/// place that lists every kind for the calls all layers answer alike.
macro_rules! each_kind {
    ($node:expr, $layer:ident => $body:expr) => {
        match $node {
            Node::Dense($layer) => $body,
            Node::Conv2d($layer) => $body,
            Node::Pool2d($layer) => $body,
            Node::Flatten($layer) => $body,
            Node::Relu($layer) => $body,
            Node::Sigmoid($layer) => $body,
            Node::Tanh($layer) => $body,
            Node::BatchNorm($layer) => $body,
            Node::Dropout($layer) => $body,
        }
    };
}

/// `shape` as an image shape `[height, width, channels]`, or why not.
fn image_shape(shape: &[usize]) -> Result<[usize; 3], String> {
    <[usize; 3]>::try_from(shape)
        .map_err(|_| format!("expects an image input [height, width, channels], got {shape:?}"))
}

impl Node {
    /// Builds layer `index` of a network from its `spec`, on per-example
    /// input shape `input`; weights are drawn from `rng`, a dropout stream
    /// from `seed`. Fails, naming the layer, when the shapes are impossible.
    pub fn build(
        spec: &LayerSpec,
        input: &[usize],
        index: usize,
        rng: &mut ChaCha8Rng,
        seed: u64,
    ) -> Result<Node, ModelError> {
        let err = |message: String| ModelError::Shape { index, kind: spec.kind().to_string(), message };
        Ok(match *spec {
            LayerSpec::Dense { units, init } => {
                if input.len() != 1 {
                    return Err(err(format!("expects a flat input [N], got {input:?}: add a flatten layer before it")));
                }
                if units == 0 {
                    return Err(err("units must be at least 1".into()));
                }
                Node::Dense(Dense::new(input[0], units, init, rng))
            }
            LayerSpec::Conv2d { filters, kernel, stride, padding, init } => {
                let config = Conv2dConfig { filters, kernel, stride, padding, init };
                Node::Conv2d(Conv2d::new(image_shape(input).map_err(err)?, config, rng).map_err(err)?)
            }
            LayerSpec::MaxPool2d { size, stride } => {
                let shape = image_shape(input).map_err(err)?;
                Node::Pool2d(Pool2d::new(PoolKind::Max, shape, size, stride.unwrap_or(size)).map_err(err)?)
            }
            LayerSpec::AvgPool2d { size, stride } => {
                let shape = image_shape(input).map_err(err)?;
                Node::Pool2d(Pool2d::new(PoolKind::Mean, shape, size, stride.unwrap_or(size)).map_err(err)?)
            }
            LayerSpec::Flatten => Node::Flatten(Flatten::new(input)),
            LayerSpec::Relu => Node::Relu(Relu::new(input)),
            LayerSpec::Sigmoid => Node::Sigmoid(Sigmoid::new(input)),
            LayerSpec::Tanh => Node::Tanh(Tanh::new(input)),
            LayerSpec::BatchNorm2d { momentum, eps } => {
                Node::BatchNorm(BatchNorm::feature_maps(input, BatchNormConfig { momentum, eps }).map_err(err)?)
            }
            LayerSpec::BatchNorm1d { momentum, eps } => {
                Node::BatchNorm(BatchNorm::vectors(input, BatchNormConfig { momentum, eps }).map_err(err)?)
            }
            LayerSpec::Dropout { rate } => {
                let stream = seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9);
                Node::Dropout(Dropout::new(input, rate, stream).map_err(err)?)
            }
        })
    }

    /// The layer, to run it.
    pub fn layer(&self) -> &dyn Layer {
        each_kind!(self, l => l)
    }

    /// The layer, to run it or change its state.
    pub fn layer_mut(&mut self) -> &mut dyn Layer {
        each_kind!(self, l => l)
    }
}

impl Layer for Node {
    fn kind(&self) -> &'static str {
        self.layer().kind()
    }

    fn output_shape(&self) -> &[usize] {
        self.layer().output_shape()
    }

    fn forward(&mut self, input: &Tensor, output: &mut Tensor, mode: Mode) {
        self.layer_mut().forward(input, output, mode)
    }

    fn backward(&mut self, input: &Tensor, output: &Tensor, grad_output: &Tensor, grad_input: Option<&mut Tensor>) {
        self.layer_mut().backward(input, output, grad_output, grad_input)
    }

    fn params(&self) -> Vec<(&'static str, &Param)> {
        self.layer().params()
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(&'static str, &mut Param)) {
        self.layer_mut().visit_params_mut(f)
    }

    fn buffers(&self) -> Vec<(&'static str, &Tensor)> {
        self.layer().buffers()
    }

    fn visit_buffers_mut(&mut self, f: &mut dyn FnMut(&'static str, &mut Tensor)) {
        self.layer_mut().visit_buffers_mut(f)
    }

    fn rng_state(&self) -> Option<(u64, u128)> {
        self.layer().rng_state()
    }

    fn set_rng_state(&mut self, state: (u64, u128)) {
        self.layer_mut().set_rng_state(state)
    }

    fn forward_macs(&self) -> usize {
        self.layer().forward_macs()
    }
}
