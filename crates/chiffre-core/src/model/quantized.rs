//! A network for 8-bit inference (what `chiffre quantize` files read with):
//! every convolution and dense layer multiplies 7-bit activations by 8-bit
//! weights ([`crate::kernels::int8`]); a first convolution of one channel
//! stays in `f32` (with its ReLU, pooling and batch normalisation).
//!
//! Shapes (one stage of a batch of `B`): a convolution's input `x [B, H, W,
//! C]` of bytes (quantized at the layer's activation scale) → integer sums
//! `[B·OH·OW, OC]`, the patches read where they lie
//! ([`crate::kernels::int8::conv_i8_with`]; copied first only for padded
//! convolutions) → a max pooling that follows, on the sums → each value
//! converted with the weights' per-channel scales and the bias (and the ReLU
//! that followed the layer) and quantized at once at the next layer's
//! activation scale → the next layer's bytes `[B, OH', OW', OC]`. A dense
//! layer is the same with `x [B, I]` (rows padded to 4 bytes). Only the last
//! layer's scores, and what feeds a stage in `f32`, are stored as `f32`.
//! Batches run in blocks of images, in parallel, each block's product and
//! conversion together while its sums are in the cache.
//!
//! Each activation scale is calibrated once: the largest input the layer
//! sees over the calibration images, over 127 (the int8 kernels take 7-bit
//! activations). The inputs must be non-negative (pixels, ReLU outputs), as
//! they are in every preset; a network whose layers see negative inputs, or
//! that has layers without an int8 form here (sigmoid, tanh), is refused
//! with the layer named.
//!
//! A batch normalisation is folded into the layer before it (`fast` and
//! `best`): at inference it is `y = s·x + t` per channel, so the product's
//! conversion `sum·m + b` becomes `sum·(m·s) + (b·s + t)`. A max pooling
//! between them still pools the sums (it pooled `x`, which grows with the
//! sum); a max pooling after a folded normalisation whose scale is negative
//! for some channel runs in `f32` on the converted values (pooling the sums
//! would take the wrong end). After a first convolution in `f32`, the
//! normalisation is a per-channel scale and shift on its output.

use super::{Node, Sequential};
use crate::kernels::int8::{
    im2col_u8, padded, patches_in_place, quantize_into, quantize_rows_into, quantize_weights, Dequantize, Int8Isa,
    QuantizedWeights, ACT_MAX,
};
use crate::kernels::{max_pool_forward, ConvGeometry, Epilogue, PoolGeometry};
use crate::layers::{Conv2d, Mode, PoolKind};
use crate::model::Step;
use crate::tensor::Tensor;
use fold::Affine;
use product::{pooled_part, Product};

/// One step of a [`QuantizedNetwork`].
#[derive(Clone, Debug)]
enum Stage {
    /// A convolution (`geometry`) or a dense layer (`None`) in 8 bits, with
    /// the max pooling that follows it (`pool`), if any.
    Product {
        /// Its index in the network.
        layer: usize,
        geometry: Option<ConvGeometry>,
        /// Inputs per output (`k·k·C`, or `I`).
        k: usize,
        weights: QuantizedWeights,
        /// Sums to outputs: scales, bias, ReLU.
        convert: Dequantize,
        /// The value of one step of the quantized input.
        act_scale: f32,
        pool: Option<PoolGeometry>,
    },
    /// Mean pooling, or a max pooling that follows no product, in `f32`.
    Pool { geometry: PoolGeometry, max: bool },
    /// A first convolution of one channel, left in `f32` with its ReLU and
    /// pooling fused (its direct kernel is fast, and in 8 bits its 9 inputs
    /// per output would cost more to quantize than to multiply).
    Float { conv: Box<Conv2d>, epilogue: Epilogue, output: Tensor, affine: Option<Affine> },
}

impl Stage {
    /// How the stage's input is quantized, when it takes bytes: its step,
    /// and whether each image's bytes are padded to 4 (a dense layer's rows).
    fn takes_bytes(&self) -> Option<(f32, bool)> {
        match self {
            Stage::Product { act_scale, geometry, .. } => Some((*act_scale, geometry.is_none())),
            _ => None,
        }
    }
}

/// A network for 8-bit inference, made from a trained [`Sequential`] by
/// [`QuantizedNetwork::new`].
#[derive(Clone, Debug)]
pub struct QuantizedNetwork {
    input: [usize; 3],
    classes: usize,
    stages: Vec<Stage>,
    /// Scratch, grown once per batch size: the stage's input and output
    /// (bytes or `f32`), copied patches, integer sums.
    bytes: [Vec<u8>; 2],
    floats: [Vec<f32>; 2],
    col: Vec<u8>,
    sums: Vec<i32>,
    /// What [`QuantizedNetwork::forward_with_features`] hands back.
    features: Vec<f32>,
    /// The scores and features of a batch run block by block ([`BLOCK`]).
    block_scores: Vec<f32>,
    block_features: Vec<f32>,
}

/// Images per block of a forward pass: a larger batch runs block by block,
/// so that each stage's output stays in the caches for the next (the
/// tutorial CNN's first convolution, in `f32`, gives 22 MB for 1,000
/// images). Measured with `chiffre bench --int8` (batches of 1,000, 2
/// threads; 2026-12-06, Intel Xeon, three alternating runs): the tutorial
/// CNN 64–68 k images/s in one block, 61–66 k in blocks of 32, 71–78 k of
/// 64, 76–87 k of 128, 77–84 k of 256; `fast` (two runs) 61–69 k in one
/// block, 75–76 k in blocks of 128; `best` 15.6–16.9 k and 16.1–16.3 k.
const BLOCK: usize = 128;

/// Images per pass of a first convolution left in `f32` (`Stage::Float`):
/// its `f32` output (21.6 KB an image for the tutorial CNN) is quantized
/// while it is in cache, instead of going to memory and back. Measured
/// together with the pooling that writes no winners in inference
/// ([`Conv2d::infer_fused`]): the tutorial CNN in 8 bits, 256 images on one
/// thread (`cargo bench --bench kernels -- network`, 2026-12-07, Intel
/// Xeon, four alternating runs, criterion's lower bounds) 3.83–4.11 →
/// 3.64–3.77 ms.
const FLOAT_CHUNK: usize = 32;

/// Where a stage's input is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Held {
    /// The images given.
    Images,
    /// `floats[0]`.
    Floats,
    /// `bytes[0]`, quantized for this stage.
    Bytes,
}

impl QuantizedNetwork {
    /// Quantizes `network`, with its activation scales calibrated on
    /// `images` (`[N, H, W, C]` flattened, the network's input shape).
    /// Errors name the layer that has no 8-bit form, or that sees negative
    /// inputs on the calibration images.
    pub fn new(network: &mut Sequential, images: &[f32]) -> Result<Self, String> {
        let input = network.input_shape();
        let per_image: usize = input.iter().product();
        if images.is_empty() || !images.len().is_multiple_of(per_image) {
            return Err(format!("calibration: whole images of {input:?} are needed, got {} values", images.len()));
        }
        let n = images.len() / per_image;
        network.input_mut(n).data_mut().copy_from_slice(images);
        network.forward_each_layer(Mode::Eval);
        let kinds: Vec<&'static str> = network.spec().layers.iter().map(|l| l.kind()).collect();
        let (layers, acts) = (network.layers(), network.activations());
        let mut scales = Vec::new();
        for (i, node) in layers.iter().enumerate().skip(float_layers(network)) {
            if !matches!(node, Node::Conv2d(_) | Node::Dense(_)) {
                continue;
            }
            // acts[i] is layer i's input
            let x = acts[i].data();
            let low = x.iter().fold(f32::INFINITY, |m, &v| m.min(v));
            if low < 0.0 {
                return Err(format!(
                    "layer {} ({}) sees negative inputs ({low}) on the calibration images: \
                     the int8 path takes non-negative activations",
                    i + 1,
                    kinds[i]
                ));
            }
            let largest = x.iter().fold(0.0f32, |m, &v| m.max(v));
            scales.push((i, if largest > 0.0 { largest / f32::from(ACT_MAX) } else { 1.0 }));
        }
        Self::from_scales(network, &scales)
    }

    /// Quantizes `network` with known activation scales: `(layer index, the
    /// value of one step of its input)` for every convolution and dense
    /// layer in 8 bits, as [`QuantizedNetwork::input_scales`] gives them (a
    /// model file stores them). Errors name a layer without a scale, a scale
    /// that is not positive and finite, or a layer without an 8-bit form.
    pub fn from_scales(network: &Sequential, scales: &[(usize, f32)]) -> Result<Self, String> {
        let kinds: Vec<&'static str> = network.spec().layers.iter().map(|l| l.kind()).collect();
        let layers = network.layers();
        let mut stages = Vec::new();
        // The layers a fused first step covers.
        let done = float_layers(network);
        if let (true, Some(Node::Conv2d(conv)), Some(&step)) = (done > 0, layers.first(), network.plan().first()) {
            // Alone (a batch normalisation follows it), the convolution has no epilogue.
            let epilogue = match step {
                Step::ConvEpilogue { epilogue, .. } => epilogue,
                _ => Epilogue::default(),
            };
            let output = Tensor::zeros(&[0]);
            stages.push(Stage::Float { conv: Box::new(conv.clone()), epilogue, output, affine: None });
        }
        for (i, node) in layers.iter().enumerate().skip(done) {
            let relu = matches!(layers.get(i + 1), Some(Node::Relu(_)));
            let product = |weight: &[f32], bias: &[f32], geometry| -> Result<Stage, String> {
                let act_scale = scales.iter().find(|&&(l, _)| l == i).map(|&(_, s)| s);
                let act_scale = act_scale.ok_or_else(|| format!("layer {} ({}): no input scale", i + 1, kinds[i]))?;
                if !(act_scale.is_finite() && act_scale > 0.0) {
                    return Err(format!("layer {} ({}): input scale {act_scale}, not positive", i + 1, kinds[i]));
                }
                let (n, k) = (bias.len(), weight.len() / bias.len().max(1));
                let weights = quantize_weights(weight, n, k).map_err(|e| format!("layer {}: {e}", i + 1))?;
                let convert = Dequantize::new(act_scale, &weights.scales, bias, relu);
                Ok(Stage::Product { layer: i, geometry, k, weights, convert, act_scale, pool: None })
            };
            match node {
                Node::Conv2d(conv) => {
                    stages.push(product(conv.weight().value.data(), conv.bias().value.data(), Some(conv.geometry()))?)
                }
                Node::Dense(dense) => {
                    stages.push(product(dense.weight().value.data(), dense.bias().value.data(), None)?)
                }
                Node::Pool2d(pool) => {
                    let (geometry, max) = (pool.geometry(), pool.pool_kind() == PoolKind::Max);
                    match stages.last_mut() {
                        // A max pooling right after a product (and its ReLU) pools its sums, when
                        // its output grows with them (a folded normalisation's scale may be negative).
                        Some(Stage::Product { pool: fused @ None, convert, .. })
                            if max && convert.multiplier.iter().all(|&m| m >= 0.0) =>
                        {
                            *fused = Some(geometry)
                        }
                        _ => stages.push(Stage::Pool { geometry, max }),
                    }
                }
                Node::BatchNorm(norm) => {
                    if !fold::batch_norm(stages.last_mut(), norm) {
                        return Err(no_int8_form(i, kinds[i]));
                    }
                }
                // Fused into the product before it (a ReLU right after one); dropout is the identity at inference.
                Node::Relu(_) if i > 0 && matches!(layers[i - 1], Node::Conv2d(_) | Node::Dense(_)) => {}
                // A ReLU after a max pooling fused into a product: max(0, ·) commutes with the max, so
                // the product applies it before pooling.
                Node::Relu(_) if i > 1 && matches!(layers[i - 1], Node::Pool2d(_)) => match stages.last_mut() {
                    Some(Stage::Product { pool: Some(_), convert, .. }) => convert.relu = true,
                    _ => return Err(no_int8_form(i, kinds[i])),
                },
                // A ReLU after a normalisation folded into the step before.
                Node::Relu(_) if i > 0 && matches!(layers[i - 1], Node::BatchNorm(_)) => match stages.last_mut() {
                    Some(Stage::Product { convert, .. }) => convert.relu = true,
                    Some(Stage::Float { affine: Some(affine), .. }) => affine.relu = true,
                    _ => return Err(no_int8_form(i, kinds[i])),
                },
                Node::Flatten(_) | Node::Dropout(_) => {}
                _ => return Err(no_int8_form(i, kinds[i])),
            }
        }
        Ok(QuantizedNetwork {
            input: network.input_shape(),
            classes: network.num_classes(),
            stages,
            bytes: Default::default(),
            floats: Default::default(),
            col: Vec::new(),
            sums: Vec::new(),
            features: Vec::new(),
            block_scores: Vec::new(),
            block_features: Vec::new(),
        })
    }

    /// The class scores `[B, classes]` of `images` (`[B, H, W, C]`
    /// flattened), on the calling thread's pool.
    ///
    /// # Panics
    /// When `images` is not whole images of the network's input shape.
    pub fn forward<'a>(&'a mut self, images: &'a [f32]) -> &'a [f32] {
        self.run_blocks(images, &[]).0
    }

    /// [`QuantizedNetwork::forward`], and the inputs of the dense layers
    /// `sources` (layer indices) as `f32` (each byte times its step), image
    /// by image: `[B, Σ inputs]`, each image's in the order of `sources` (the
    /// features [`crate::reject`]'s gate reads, as
    /// [`crate::reject::scores_and_features`] takes them from the `f32`
    /// network). `None` when a source is not a dense layer in 8 bits.
    ///
    /// # Panics
    /// When `images` is not whole images of the network's input shape.
    pub fn forward_with_features<'a>(
        &'a mut self,
        images: &'a [f32],
        sources: &[usize],
    ) -> Option<(&'a [f32], &'a [f32])> {
        let dense = |l: &usize| {
            self.stages.iter().any(|s| matches!(s, Stage::Product { layer, geometry: None, .. } if layer == l))
        };
        if !sources.iter().all(dense) {
            return None;
        }
        let (scores, features) = self.run_blocks(images, sources);
        Some((scores, features))
    }

    /// [`QuantizedNetwork::run`] on blocks of at most [`BLOCK`] images, the
    /// scores and features put together.
    fn run_blocks<'a>(&'a mut self, images: &'a [f32], sources: &[usize]) -> (&'a [f32], &'a [f32]) {
        let per_image: usize = self.input.iter().product();
        if images.len() <= BLOCK * per_image {
            return self.run(images, sources);
        }
        let (mut scores, mut features) =
            (std::mem::take(&mut self.block_scores), std::mem::take(&mut self.block_features));
        scores.clear();
        features.clear();
        for part in images.chunks(BLOCK * per_image) {
            let (s, f) = self.run(part, sources);
            scores.extend_from_slice(s);
            features.extend_from_slice(f);
        }
        (self.block_scores, self.block_features) = (scores, features);
        (&self.block_scores, &self.block_features)
    }

    /// The forward pass, the inputs of layers `sources` kept as features.
    fn run<'a>(&'a mut self, images: &'a [f32], sources: &[usize]) -> (&'a [f32], &'a [f32]) {
        let per_image: usize = self.input.iter().product();
        assert!(images.len().is_multiple_of(per_image), "whole images of {:?}", self.input);
        let b = images.len() / per_image;
        let isa = Int8Isa::detect();
        // Each image's features: the sources' inputs side by side, each at its offset.
        let mut offsets = Vec::with_capacity(sources.len());
        let mut width = 0;
        for source in sources {
            let k = self.stages.iter().find_map(|s| match s {
                Stage::Product { layer, k, .. } if layer == source => Some(*k),
                _ => None,
            });
            offsets.push((*source, width));
            width += k.unwrap_or(0);
        }
        self.features.clear();
        self.features.resize(b * width, 0.0);
        // Where the stage's input is, and how many values it has. The
        // buffers only grow (a shorter stage uses their start), so that
        // nothing is cleared between calls.
        let (mut held, mut len) = (Held::Images, images.len());
        for s in 0..self.stages.len() {
            let next = self.stages.get(s + 1).and_then(Stage::takes_bytes);
            let [x_bytes, y_bytes] = &mut self.bytes;
            let [x_floats, y_floats] = &mut self.floats;
            let x_floats: &[f32] = match held {
                Held::Images => images,
                Held::Floats => &x_floats[..len],
                Held::Bytes => &[],
            };
            match &mut self.stages[s] {
                Stage::Product { layer, geometry, k, weights, convert, act_scale, pool } => {
                    if held != Held::Bytes {
                        // the f32 input quantized (a dense layer's rows padded to 4)
                        len = quantize_input(x_floats, geometry.is_none().then_some(*k), *act_scale, x_bytes, 0);
                    }
                    if let Some(&(_, offset)) = offsets.iter().find(|(l, _)| l == layer) {
                        // features = the input as the layer reads it, each byte times its step
                        let rows = x_bytes[..len].chunks_exact(padded(*k)).zip(self.features.chunks_exact_mut(width));
                        for (row, out) in rows {
                            out[offset..offset + *k]
                                .iter_mut()
                                .zip(row)
                                .for_each(|(f, &q)| *f = f32::from(q) * *act_scale);
                        }
                    }
                    let n = convert.bias.len();
                    // Only the outputs a pooling reads (the 11th row and column of an 11×11
                    // output under a 2×2 pooling are never read).
                    let (geometry, pool) = pooled_part(*geometry, *pool);
                    // Per image: the rows of sums, and the rows left after pooling.
                    let rows = geometry.map_or(1, |g| g.oh * g.ow);
                    let kept = pool.map_or(rows, |p| p.oh * p.ow);
                    let product = Product { isa, geometry, weights, rows, n, pool };
                    let x: &[u8] = match &geometry {
                        Some(g) if !patches_in_place(g) => {
                            im2col_u8(&x_bytes[..len], g, &mut self.col);
                            &self.col
                        }
                        _ => &x_bytes[..len],
                    };
                    let sums = grown(&mut self.sums, b * rows * n);
                    match next {
                        Some((scale, pad)) => {
                            // y = q'(relu?(pool?(x·Wᵀ) · scales + b)): the next layer's bytes
                            let image = if pad { padded(kept * n) } else { kept * n };
                            len = b * image;
                            product.run(x, sums, grown(y_bytes, len), image, |sums, y| {
                                convert.to_bytes(sums, scale, &mut y[..kept * n]);
                                y[kept * n..].fill(0);
                            });
                            held = Held::Bytes;
                        }
                        None => {
                            // y = relu?(pool?(x·Wᵀ) · scales + b)
                            len = b * kept * n;
                            let y = grown(y_floats, len);
                            product.run(x, sums, y, kept * n, |sums, y| convert.to_floats(sums, y));
                            held = Held::Floats;
                        }
                    }
                }
                Stage::Pool { geometry, max } => {
                    len = b * geometry.oh * geometry.ow * geometry.c;
                    let y = grown(y_floats, len);
                    if *max {
                        max_pool_forward(x_floats, geometry, y);
                    } else {
                        crate::kernels::avg_pool_forward(x_floats, geometry, y);
                    }
                    held = Held::Floats;
                }
                Stage::Float { conv, epilogue, output, affine } => {
                    // y = pool?(relu?(conv(x))), as the f32 network infers it, then
                    // y = relu?(s·y + t) for a batch normalisation after it
                    let mut run = |x: &[f32], output: &mut Tensor| {
                        conv.infer_fused(x, output, *epilogue);
                        if let Some(affine) = affine {
                            affine.apply(output.data_mut());
                        }
                    };
                    match next {
                        Some((scale, pad)) => {
                            // FLOAT_CHUNK images at a time, each chunk's f32 output quantized for the
                            // next layer while it is in cache (a dense one's rows padded to 4)
                            let per_image = x_floats.len() / b.max(1);
                            len = 0;
                            for x in x_floats.chunks(FLOAT_CHUNK * per_image.max(1)) {
                                run(x, output);
                                let y = output.data();
                                let k = y.len() / (x.len() / per_image).max(1);
                                len += quantize_input(y, pad.then_some(k), scale, y_bytes, len);
                            }
                            held = Held::Bytes;
                        }
                        None => {
                            run(x_floats, output);
                            let y = output.data();
                            len = y.len();
                            grown(y_floats, len).copy_from_slice(y);
                            held = Held::Floats;
                        }
                    }
                }
            }
            match held {
                Held::Bytes => self.bytes.swap(0, 1),
                Held::Floats => self.floats.swap(0, 1),
                Held::Images => {}
            }
        }
        let scores: &[f32] = if held == Held::Images { images } else { &self.floats[0][..len] };
        debug_assert_eq!(scores.len(), b * self.classes);
        (scores, &self.features)
    }

    /// The activation scales, `(layer index, the value of one step of its
    /// input)` for each layer in 8 bits: what [`QuantizedNetwork::from_scales`]
    /// takes back.
    pub fn input_scales(&self) -> Vec<(usize, f32)> {
        let scale = |s: &Stage| match s {
            Stage::Product { layer, act_scale, .. } => Some((*layer, *act_scale)),
            _ => None,
        };
        self.stages.iter().filter_map(scale).collect()
    }

    /// Classes scored.
    pub fn num_classes(&self) -> usize {
        self.classes
    }

    /// Bytes of the weights and biases as stored in 8 bits (weights), and
    /// `f32` (biases and scales).
    pub fn weight_bytes(&self) -> usize {
        self.stages
            .iter()
            .map(|s| match s {
                Stage::Product { k, convert, .. } => convert.bias.len() * k + 8 * convert.bias.len(),
                Stage::Float { conv, affine, .. } => {
                    4 * (conv.weight().value.len() + conv.bias().value.len())
                        + affine.as_ref().map_or(0, |a| 8 * a.scale.len())
                }
                Stage::Pool { .. } => 0,
            })
            .sum()
    }
}

/// How many of `network`'s first layers run as one `f32` step in a
/// [`QuantizedNetwork`]: a first convolution of one channel, with the ReLU
/// and pooling fused after it; 0 when the network does not begin so. (In 8
/// bits, its 9 or 25 inputs per output made it about 3× slower: its patches
/// copied, 12 bytes a product row; 2026-12-06, Intel Xeon, `chiffre bench
/// --int8`: one image 44–47 µs against 14–16 µs for the tutorial's CNN.)
fn float_layers(network: &Sequential) -> usize {
    match (network.layers().first(), network.plan().first()) {
        (Some(Node::Conv2d(conv)), Some(&step)) if conv.geometry().c == 1 && step.first() == 0 => step.last() + 1,
        _ => 0,
    }
}

/// `values` quantized at step `scale` into `bytes` from byte `at` on, as a
/// layer in 8 bits reads them: in rows of `dense_row` values each padded to
/// 4 for a dense layer, as they are for a convolution. Returns how many
/// bytes it wrote.
fn quantize_input(values: &[f32], dense_row: Option<usize>, scale: f32, bytes: &mut Vec<u8>, at: usize) -> usize {
    match dense_row {
        Some(k) => {
            let len = values.len() / k.max(1) * padded(k);
            quantize_rows_into(values, k, scale, &mut grown(bytes, at + len)[at..]);
            len
        }
        None => {
            quantize_into(values, scale, &mut grown(bytes, at + values.len())[at..]);
            values.len()
        }
    }
}

/// The first `len` values of `buffer`, grown to hold them if it is shorter
/// (with zeros, once: the buffers of a forward pass only grow).
fn grown<T: Copy + Default>(buffer: &mut Vec<T>, len: usize) -> &mut [T] {
    if buffer.len() < len {
        buffer.resize(len, T::default());
    }
    &mut buffer[..len]
}

/// The refusal of layer `i` (0-based), of kind `kind`.
fn no_int8_form(i: usize, kind: &str) -> String {
    format!(
        "layer {} ({kind}) has no 8-bit form here: only convolutions and dense layers (each with the batch \
         normalisation and the ReLU after it, or after the max pooling that follows it), pooling, flattening and dropout",
        i + 1
    )
}

mod fold;
mod product;
#[cfg(test)]
mod tests;
