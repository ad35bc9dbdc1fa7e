//! `Sequential`: layers applied one after the other, forward then backward.
//!
//! Activations `acts[i]` (the input of layer `i`; `acts[n]` is the output)
//! and their gradients `grads[i]` are owned here and reused from batch to
//! batch: once the batch size is known, no step allocates.

use super::fusion::{fusion_plan, Step};
use super::node::Node;
use super::spec::{LayerSpec, ModelSpec};
use super::ModelError;
use crate::layers::{Layer, Mode, Param, Then};
use crate::loss::Loss;
use crate::tensor::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// A feed-forward stack of layers with its activation buffers.
pub struct Sequential {
    spec: ModelSpec,
    /// One node per layer of the spec, in order.
    layers: Vec<Node>,
    acts: Vec<Tensor>,
    grads: Vec<Tensor>,
    /// Seconds spent in each layer's (forward, backward), when profiling.
    profile: Option<Vec<(f64, f64)>>,
    /// Index of the first layer with parameters: back-propagation ends there.
    first_learnable: usize,
    /// The whole input of [`Sequential::infer_loaded`], while it runs chunk by chunk.
    staged: Tensor,
    /// The class scores of [`Sequential::infer_loaded`].
    scores: Tensor,
    /// Examples per pass of [`Sequential::infer_loaded`].
    infer_chunk: usize,
    /// How [`Sequential::forward_loaded`] runs the layers: in steps, some
    /// of which fuse a convolution with the ReLU and pooling after it.
    steps: Vec<Step>,
    /// Whether the last forward pass ran fused steps (backward must match it).
    ran_fused: bool,
}

/// Activation values (f32) one chunk of [`Sequential::infer_loaded`] may
/// produce across all layers: about 16 MB, so that a chunk's activations
/// stay in the CPU caches instead of streaming through memory.
pub const INFER_BUDGET: usize = 1 << 22;

/// The most learnable values a network may declare (64 Mi, 256 MiB of `f32`,
/// as much again for their gradients): a spec or a model file asking for more
/// is refused before anything is allocated.
pub const MAX_PARAMS: usize = 1 << 26;

/// The most values one example may occupy at the input or at any layer's
/// output (16 Mi, 64 MiB of `f32`), checked before anything is allocated.
pub const MAX_VALUES_PER_EXAMPLE: usize = 1 << 24;

/// The most layers a network may declare.
pub const MAX_LAYERS: usize = 1024;

/// Fewest examples per chunk, so that the GEMMs stay efficient.
const MIN_INFER_CHUNK: usize = 64;

/// Product of `dims`, `None` on overflow.
fn product(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// The weights layer `spec` declares on per-example input `input`, counted
/// before anything is allocated; `None` when the count overflows.
fn declared_params(spec: &LayerSpec, input: &[usize]) -> Option<usize> {
    let with_bias = |weights: Option<usize>, bias: usize| weights.and_then(|w| w.checked_add(bias));
    match *spec {
        LayerSpec::Dense { units, .. } => with_bias(input.first().and_then(|&i| i.checked_mul(units)), units),
        LayerSpec::Conv2d { filters, kernel, .. } => {
            with_bias(input.last().and_then(|&c| product(&[filters, kernel, kernel, c])), filters)
        }
        _ => Some(0),
    }
}

/// Refuses a per-example shape of more than [`MAX_VALUES_PER_EXAMPLE`] values.
fn check_values(shape: &[usize], what: &str) -> Result<(), String> {
    match product(shape) {
        Some(n) if n <= MAX_VALUES_PER_EXAMPLE => Ok(()),
        _ => Err(format!("{what} {shape:?} holds more than {MAX_VALUES_PER_EXAMPLE} values per example, the limit")),
    }
}

impl Sequential {
    /// Builds the network of `spec`, with initial weights drawn from `seed`.
    /// Fails, naming the layer, when a shape is impossible.
    pub fn new(spec: &ModelSpec, seed: u64) -> Result<Self, ModelError> {
        Self::new_within(spec, seed, MAX_PARAMS)
    }

    /// [`Sequential::new`] refusing, before allocating them, more than
    /// `max_params` weights (at most [`MAX_PARAMS`]): a model file of `n`
    /// bytes holds at most `n / 4`, so a small file cannot make the loader
    /// allocate more than its size promises.
    pub fn new_within(spec: &ModelSpec, seed: u64, max_params: usize) -> Result<Self, ModelError> {
        let max_params = max_params.min(MAX_PARAMS);
        let invalid = |message: String| ModelError::Invalid { name: spec.name.clone(), message };
        if spec.input.contains(&0) {
            return Err(invalid(format!("input shape {:?} has a zero dimension", spec.input)));
        }
        if spec.layers.is_empty() {
            return Err(invalid("has no layers".into()));
        }
        if spec.layers.len() > MAX_LAYERS {
            return Err(invalid(format!("has {} layers; the limit is {MAX_LAYERS}", spec.layers.len())));
        }
        check_values(&spec.input, "input shape").map_err(invalid)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut shape: Vec<usize> = spec.input.to_vec();
        let mut layers = Vec::with_capacity(spec.layers.len());
        let mut params = 0usize;
        for (index, layer_spec) in spec.layers.iter().enumerate() {
            let shape_err = |message: String| ModelError::Shape { index, kind: layer_spec.kind().into(), message };
            // Sizes are checked before the layer allocates anything.
            let total = declared_params(layer_spec, &shape).and_then(|n| n.checked_add(params));
            params = match total {
                Some(n) if n <= max_params => n,
                Some(n) => {
                    return Err(shape_err(format!(
                        "the network would have {n} weights, over the limit of {max_params}"
                    )))
                }
                None => return Err(shape_err(format!("declares more than {max_params} weights, the limit"))),
            };
            let layer = Node::build(layer_spec, &shape, index, &mut rng, seed)?;
            shape = layer.output_shape().to_vec();
            check_values(&shape, "output shape").map_err(shape_err)?;
            layers.push(layer);
        }
        if shape.len() != 1 || shape[0] < 2 {
            return Err(invalid(format!(
                "the last layer must give one score per class (a vector of at least 2), got {shape:?}; end with flatten and dense"
            )));
        }
        let n = layers.len();
        let first_learnable = layers.iter().position(|l| !l.params().is_empty()).unwrap_or(n);
        let per_example: usize = layers.iter().map(|l| l.output_shape().iter().product::<usize>()).sum();
        let infer_chunk = (INFER_BUDGET / per_example.max(1)).max(MIN_INFER_CHUNK);
        Ok(Sequential {
            first_learnable,
            staged: Tensor::default(),
            scores: Tensor::default(),
            infer_chunk,
            steps: fusion_plan(&layers),
            ran_fused: false,
            spec: spec.clone(),
            layers,
            acts: vec![Tensor::default(); n + 1],
            grads: vec![Tensor::default(); n + 1],
            profile: None,
        })
    }

    /// The architecture.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[Node] {
        &self.layers
    }

    /// Per-example input shape `[height, width, channels]`.
    pub fn input_shape(&self) -> [usize; 3] {
        self.spec.input
    }

    /// Number of classes (outputs of the last layer).
    pub fn num_classes(&self) -> usize {
        self.layers.last().map_or(0, |l| l.output_shape()[0])
    }

    /// Number of learnable values.
    pub fn num_params(&self) -> usize {
        self.layers.iter().flat_map(|l| l.params()).map(|(_, p)| p.value.len()).sum()
    }

    /// Multiply-adds of one forward pass for one example.
    pub fn forward_macs(&self) -> usize {
        self.layers.iter().map(|l| l.forward_macs()).sum()
    }

    /// The input buffer, shaped `[batch, H, W, C]`, to be filled before
    /// [`Sequential::forward_loaded`]. Reuses its allocation.
    pub fn input_mut(&mut self, batch: usize) -> &mut Tensor {
        let [h, w, c] = self.spec.input;
        self.acts[0].resize(&[batch, h, w, c]);
        &mut self.acts[0]
    }

    /// Runs the network on the input buffer, fused steps and all; returns
    /// the class scores `[B, K]`. The activations inside a fused step (a
    /// convolution's output before its ReLU and pooling) are not computed:
    /// use [`Sequential::forward_each_layer`] to see every layer's output.
    pub fn forward_loaded(&mut self, mode: Mode) -> &Tensor {
        self.run_forward(mode, true)
    }

    /// As [`Sequential::forward_loaded`], but one layer at a time, keeping
    /// every layer's output in [`Sequential::activations`] (for pictures of
    /// what each layer does; slower).
    pub fn forward_each_layer(&mut self, mode: Mode) -> &Tensor {
        self.run_forward(mode, false)
    }

    fn run_forward(&mut self, mode: Mode, fused: bool) -> &Tensor {
        self.ran_fused = fused;
        for s in 0..self.steps.len() {
            let step = self.steps[s];
            let (first, last) = (step.first(), step.last());
            let start = self.profile.is_some().then(Instant::now);
            let ran_as_one = fused && {
                let (before, after) = self.acts.split_at_mut(first + 1);
                let (x, out) = (&before[first], &mut after[last - first]);
                match (step, &mut self.layers[first]) {
                    // y = relu?(pool?(conv(x))); in inference without the pooling's winners (no backward follows)
                    (Step::ConvEpilogue { epilogue, .. }, Node::Conv2d(conv)) => {
                        match mode {
                            Mode::Eval => conv.infer_fused(x.data(), out, epilogue),
                            Mode::Train => conv.forward_fused(x, out, epilogue),
                        }
                        true
                    }
                    (Step::BatchNormRelu { .. }, Node::BatchNorm(bn)) => {
                        bn.forward_fused(x, out, mode, Then::Relu);
                        true
                    }
                    // A single layer, or a plan that does not fit the nodes: one layer at a time.
                    _ => false,
                }
            };
            if !ran_as_one {
                for i in first..=last {
                    let (before, after) = self.acts.split_at_mut(i + 1);
                    self.layers[i].forward(&before[i], &mut after[0], mode);
                }
            }
            if let (Some(times), Some(start)) = (self.profile.as_mut(), start) {
                times[first].0 += start.elapsed().as_secs_f64();
            }
        }
        &self.acts[self.layers.len()]
    }

    /// Class scores `[B, K]` of the input buffer in inference mode, computed
    /// [`Sequential::infer_chunk`] examples at a time: the same numbers as
    /// `forward_loaded(Mode::Eval)`, faster and in less memory for large
    /// batches, but only the scores are kept (not every layer's activations).
    pub fn infer_loaded(&mut self) -> &Tensor {
        let batch = self.acts[0].batch();
        let chunk = self.infer_chunk;
        if batch <= chunk {
            return self.forward_loaded(Mode::Eval);
        }
        let [h, w, c] = self.spec.input;
        let (per, classes) = (h * w * c, self.num_classes());
        std::mem::swap(&mut self.staged, &mut self.acts[0]);
        self.scores.resize(&[batch, classes]);
        for start in (0..batch).step_by(chunk) {
            let len = chunk.min(batch - start);
            self.acts[0].resize(&[len, h, w, c]);
            self.acts[0].data_mut().copy_from_slice(&self.staged.data()[start * per..(start + len) * per]);
            let n = self.layers.len();
            self.forward_loaded(Mode::Eval);
            self.scores.data_mut()[start * classes..(start + len) * classes].copy_from_slice(self.acts[n].data());
        }
        &self.scores
    }

    /// Examples per pass of [`Sequential::infer_loaded`]: as many as fit
    /// [`INFER_BUDGET`] activation values, at least 64.
    pub fn infer_chunk(&self) -> usize {
        self.infer_chunk
    }

    /// Copies `input [B, H, W, C]` (or `[B, H·W·C]`) in and runs forward.
    ///
    /// # Panics
    /// When `input` does not hold whole examples of the model's input shape.
    pub fn forward(&mut self, input: &Tensor, mode: Mode) -> &Tensor {
        let per = self.spec.input.iter().product::<usize>();
        assert_eq!(
            input.len() % per,
            0,
            "input of {} values is not a whole number of {per}-value examples",
            input.len()
        );
        self.input_mut(input.len() / per).data_mut().copy_from_slice(input.data());
        self.forward_loaded(mode)
    }

    /// The activations of the last forward pass: `[input, layer 0 output, …]`
    /// (after [`Sequential::forward_loaded`], those inside a fused step are
    /// left from an earlier pass, or empty).
    pub fn activations(&self) -> &[Tensor] {
        &self.acts
    }

    /// Computes `loss` on the last forward pass against `labels`, then
    /// back-propagates through every layer, leaving the gradients in the
    /// parameters. Returns the mean loss of the batch.
    pub fn backward(&mut self, loss: Loss, labels: &[u8]) -> f32 {
        self.backward_smoothed(loss, labels, 0.0)
    }

    /// As [`Sequential::backward`], with label smoothing `eps` (see
    /// [`Loss::forward_backward_smoothed`]).
    pub fn backward_smoothed(&mut self, loss: Loss, labels: &[u8], eps: f32) -> f32 {
        let n = self.layers.len();
        let value = loss.forward_backward_smoothed(&self.acts[n], labels, &mut self.grads[n], eps);
        // Layers before the first learnable one have nothing to learn and
        // nobody needs their gradients: back-propagation stops there, and
        // that layer does not compute its input gradient.
        let first = self.first_learnable();
        for s in (0..self.steps.len()).rev() {
            let step = self.steps[s];
            let (first_of_step, last) = (step.first(), step.last());
            if last < first {
                break;
            }
            let start = self.profile.is_some().then(Instant::now);
            let ran_as_one = self.ran_fused && {
                let i = first_of_step;
                let (grads_before, grads_after) = self.grads.split_at_mut(i + 1);
                let grad_input = if i > first { Some(&mut grads_before[i]) } else { None };
                let (x, y, dy) = (&self.acts[i], &self.acts[last + 1], &grads_after[last - i]);
                match (step, &mut self.layers[i]) {
                    (Step::ConvEpilogue { epilogue, .. }, Node::Conv2d(conv)) => {
                        conv.backward_fused(x, y, dy, grad_input, epilogue);
                        true
                    }
                    (Step::BatchNormRelu { .. }, Node::BatchNorm(bn)) => {
                        bn.backward_fused(x, y, dy, grad_input, Then::Relu);
                        true
                    }
                    _ => false,
                }
            };
            if !ran_as_one {
                for i in (first_of_step.max(first)..=last).rev() {
                    let (grads_before, grads_after) = self.grads.split_at_mut(i + 1);
                    let grad_input = if i > first { Some(&mut grads_before[i]) } else { None };
                    self.layers[i].backward(&self.acts[i], &self.acts[i + 1], &grads_after[0], grad_input);
                }
            }
            if let (Some(times), Some(start)) = (self.profile.as_mut(), start) {
                times[first_of_step].1 += start.elapsed().as_secs_f64();
            }
        }
        value
    }

    /// Starts (or stops) timing each layer's forward and backward passes,
    /// resetting the totals.
    pub fn set_profiling(&mut self, on: bool) {
        self.profile = on.then(|| vec![(0.0, 0.0); self.layers.len()]);
    }

    /// How [`Sequential::forward_loaded`] groups the layers: each range of
    /// layer indices runs as one step (a convolution fused with the ReLU and
    /// pooling after it, or a single layer). Profiled times of a step are
    /// counted on its first layer.
    pub fn steps(&self) -> Vec<std::ops::RangeInclusive<usize>> {
        self.steps.iter().map(|s| s.first()..=s.last()).collect()
    }

    /// The steps themselves: which layers run fused, and how.
    pub fn plan(&self) -> &[Step] {
        &self.steps
    }

    /// Seconds spent in each layer's (forward, backward) since profiling started.
    pub fn layer_times(&self) -> Option<&[(f64, f64)]> {
        self.profile.as_deref()
    }

    /// Index of the first layer with parameters (the layer count if none).
    fn first_learnable(&self) -> usize {
        self.first_learnable
    }

    /// Floating-point operations of one training step for one example: the
    /// forward pass (2 per multiply-add), and a backward pass that costs
    /// twice as much (weight and input gradients), except for the first
    /// learnable layer, whose input gradient is never computed.
    pub fn train_flops_per_example(&self) -> usize {
        let first = self.layers.get(self.first_learnable()).map_or(0, |l| l.forward_macs());
        2 * (3 * self.forward_macs() - first)
    }

    /// Calls `f(layer index, name, param)` on every learnable parameter, in order.
    pub fn visit_params_mut(&mut self, f: &mut dyn FnMut(usize, &'static str, &mut Param)) {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            layer.visit_params_mut(&mut |name, p| f(i, name, p));
        }
    }

    /// Calls `f(layer index, name, buffer)` on every buffer (running statistics), in order.
    pub fn visit_buffers_mut(&mut self, f: &mut dyn FnMut(usize, &'static str, &mut Tensor)) {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            layer.visit_buffers_mut(&mut |name, t| f(i, name, t));
        }
    }

    /// Every buffer with its file name, `layers.<index>.<name>`.
    pub fn named_buffers(&self) -> Vec<(String, &Tensor)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| l.buffers().into_iter().map(move |(name, t)| (format!("layers.{i}.{name}"), t)))
            .collect()
    }

    /// The seed and position of each layer's random stream (`None` for layers without one).
    pub fn rng_states(&self) -> Vec<Option<(u64, u128)>> {
        self.layers.iter().map(|l| l.rng_state()).collect()
    }

    /// Restores states from [`Sequential::rng_states`].
    pub fn set_rng_states(&mut self, states: &[Option<(u64, u128)>]) {
        for (layer, state) in self.layers.iter_mut().zip(states) {
            if let Some(state) = state {
                layer.set_rng_state(*state);
            }
        }
    }

    /// Every parameter with its file name, `layers.<index>.<name>`.
    pub fn named_params(&self) -> Vec<(String, &Param)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| l.params().into_iter().map(move |(name, p)| (format!("layers.{i}.{name}"), p)))
            .collect()
    }
}
