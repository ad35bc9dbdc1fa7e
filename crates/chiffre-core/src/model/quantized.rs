//! A network for 8-bit inference (issue 19's int8 path, second step: built
//! and measured in memory; not yet stored in a file nor used by the
//! commands): every convolution and dense layer multiplies 7-bit activations
//! by 8-bit weights ([`crate::kernels::int8`]), the rest stays in `f32`, and
//! so does a first convolution of one channel (with its ReLU and pooling).
//!
//! Shapes (one stage of a batch of `B`): a convolution's input `x [B, H, W,
//! C]` → quantized at the layer's activation scale → its patches as bytes
//! `[B·OH·OW, k·k·C]` (rows padded to 4) → integer sums `[B·OH·OW, OC]` → `f32` with the weights' per-channel
//! scales and the bias (and the ReLU that followed the layer in the network)
//! → `y [B, OH, OW, OC]`. A dense layer is the same with `x [B, I]` as its
//! own im2col. Pooling and flattening are as in `f32`.
//!
//! Each activation scale is calibrated once: the largest input the layer
//! sees over the calibration images, over 127 (the int8 kernels take 7-bit
//! activations). The inputs must be non-negative (pixels, ReLU outputs), as
//! they are in every preset; a network whose layers see negative inputs, or
//! that has layers without an int8 form here (sigmoid, tanh, batch
//! normalisation), is refused with the layer named.

use super::{Node, Sequential};
use crate::kernels::int8::{
    dequantize, im2col_u8, matmul_i8_with, padded, quantize_activations, quantize_values, quantize_weights, Int8Isa,
    QuantizedWeights, ACT_MAX,
};
use crate::kernels::{max_pool_forward, ConvGeometry, Epilogue, PoolGeometry};
use crate::layers::{Conv2d, Mode, PoolKind};
use crate::model::Step;
use crate::tensor::Tensor;

/// Rows of a product computed together on one thread (a block fits the
/// caches: 256 rows of 288 bytes in, 256 × 64 sums out).
const ROWS_PER_BLOCK: usize = 256;

/// One step of a [`QuantizedNetwork`].
#[derive(Clone, Debug)]
enum Stage {
    /// A convolution (`geometry`) or a dense layer (`None`) in 8 bits.
    Product {
        geometry: Option<ConvGeometry>,
        /// Inputs per output (`k·k·C`, or `I`).
        k: usize,
        weights: QuantizedWeights,
        bias: Vec<f32>,
        /// The value of one step of the quantized input.
        act_scale: f32,
        relu: bool,
    },
    /// Max or mean pooling, in `f32`.
    Pool { geometry: PoolGeometry, max: bool },
    /// A first convolution of one channel, left in `f32` with its ReLU and
    /// pooling fused (its direct kernel is fast, and in 8 bits its 9 inputs
    /// per output would cost more to quantize than to multiply).
    Float { conv: Box<Conv2d>, epilogue: Epilogue, input: Tensor, output: Tensor },
}

/// A network for 8-bit inference, made from a trained [`Sequential`] by
/// [`QuantizedNetwork::new`].
#[derive(Clone, Debug)]
pub struct QuantizedNetwork {
    input: [usize; 3],
    classes: usize,
    stages: Vec<Stage>,
    /// Scratch, grown once per batch size: a quantized input, its patches
    /// (or rows), the integer sums, and each stage's output.
    bytes: Vec<u8>,
    quantized: Vec<u8>,
    sums: Vec<i32>,
    outputs: Vec<Vec<f32>>,
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
        let mut stages = Vec::new();
        // The layers a fused first step covers.
        let mut done = 0;
        if let (Some(Node::Conv2d(conv)), Some(&Step::ConvEpilogue { conv: 0, last, epilogue })) =
            (layers.first(), network.plan().first())
        {
            if conv.geometry().c == 1 {
                let (input, output) = (Tensor::zeros(&[0]), Tensor::zeros(&[0]));
                stages.push(Stage::Float { conv: Box::new(conv.clone()), epilogue, input, output });
                done = last + 1;
            }
        }
        for (i, node) in layers.iter().enumerate().skip(done) {
            // acts[i] is layer i's input
            let largest = || {
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
                Ok(x.iter().fold(0.0f32, |m, &v| m.max(v)))
            };
            let relu = matches!(layers.get(i + 1), Some(Node::Relu(_)));
            let product = |weight: &[f32], bias: &[f32], geometry, largest: f32| -> Result<Stage, String> {
                let (n, k) = (bias.len(), weight.len() / bias.len().max(1));
                let weights = quantize_weights(weight, n, k).map_err(|e| format!("layer {}: {e}", i + 1))?;
                let act_scale = if largest > 0.0 { largest / f32::from(ACT_MAX) } else { 1.0 };
                Ok(Stage::Product { geometry, k, weights, bias: bias.to_vec(), act_scale, relu })
            };
            match node {
                Node::Conv2d(conv) => stages.push(product(
                    conv.weight().value.data(),
                    conv.bias().value.data(),
                    Some(conv.geometry()),
                    largest()?,
                )?),
                Node::Dense(dense) => {
                    stages.push(product(dense.weight().value.data(), dense.bias().value.data(), None, largest()?)?)
                }
                Node::Pool2d(pool) => {
                    stages.push(Stage::Pool { geometry: pool.geometry(), max: pool.pool_kind() == PoolKind::Max })
                }
                // Fused into the product before it (a ReLU right after one); dropout is the identity at inference.
                Node::Relu(_) if i > 0 && matches!(layers[i - 1], Node::Conv2d(_) | Node::Dense(_)) => {}
                Node::Flatten(_) | Node::Dropout(_) => {}
                _ => {
                    return Err(format!(
                        "layer {} ({}) has no 8-bit form here: only convolutions and dense layers (each with the \
                         ReLU after it), pooling, flattening and dropout",
                        i + 1,
                        kinds[i]
                    ))
                }
            }
        }
        Ok(QuantizedNetwork {
            input,
            classes: network.num_classes(),
            stages,
            bytes: Vec::new(),
            quantized: Vec::new(),
            sums: Vec::new(),
            outputs: Vec::new(),
        })
    }

    /// The class scores `[B, classes]` of `images` (`[B, H, W, C]`
    /// flattened), on the calling thread's pool.
    ///
    /// # Panics
    /// When `images` is not whole images of the network's input shape.
    pub fn forward<'a>(&'a mut self, images: &'a [f32]) -> &'a [f32] {
        use crate::par::prelude::*;
        let per_image: usize = self.input.iter().product();
        assert!(images.len().is_multiple_of(per_image), "whole images of {:?}", self.input);
        let b = images.len() / per_image;
        let isa = Int8Isa::detect();
        self.outputs.resize_with(self.stages.len(), Vec::new);
        for (s, stage) in self.stages.iter_mut().enumerate() {
            let (before, after) = self.outputs.split_at_mut(s);
            let (x, y) = (before.last().map_or(images, |x| x.as_slice()), &mut after[0]);
            match stage {
                Stage::Product { geometry, k, weights, bias, act_scale, relu } => {
                    let (kp, n) = (padded(*k), bias.len());
                    let rows = match geometry {
                        Some(g) => {
                            // the input quantized once, then its patches as bytes
                            quantize_values(x, *act_scale, &mut self.bytes);
                            im2col_u8(&self.bytes, g, &mut self.quantized);
                            b * g.oh * g.ow
                        }
                        None => {
                            quantize_activations(x, *k, *act_scale, &mut self.quantized);
                            b
                        }
                    };
                    debug_assert_eq!(self.quantized.len(), rows * kp);
                    self.sums.resize(rows * n, 0);
                    y.resize(rows * n, 0.0);
                    // Blocks of rows in parallel (each block's sums are the same whoever computes them).
                    let blocks = self.quantized.par_chunks(ROWS_PER_BLOCK * kp.max(1));
                    let outputs = self
                        .sums
                        .par_chunks_mut(ROWS_PER_BLOCK * n.max(1))
                        .zip(y.par_chunks_mut(ROWS_PER_BLOCK * n.max(1)));
                    blocks.zip(outputs).for_each(|(a, (sums, y))| {
                        // sums ≈ (x / act_scale) · (W / scales)ᵀ, in integers
                        matmul_i8_with(isa, a, &weights.packed, sums);
                        // y = relu?(sums · act_scale · scales + b)
                        dequantize(sums, *act_scale, &weights.scales, bias, *relu, y);
                    });
                }
                Stage::Pool { geometry, max } => {
                    y.resize(b * geometry.oh * geometry.ow * geometry.c, 0.0);
                    if *max {
                        max_pool_forward(x, geometry, y);
                    } else {
                        crate::kernels::avg_pool_forward(x, geometry, y);
                    }
                }
                Stage::Float { conv, epilogue, input, output } => {
                    let g = conv.geometry();
                    input.resize(&[b, g.h, g.w, g.c]);
                    input.data_mut().copy_from_slice(x);
                    // y = pool?(relu?(conv(x))), as the f32 network runs it
                    conv.forward_fused(input, output, *epilogue);
                    y.clear();
                    y.extend_from_slice(output.data());
                }
            }
        }
        let scores = self.outputs.last().map_or(images, |y| y.as_slice());
        debug_assert_eq!(scores.len(), b * self.classes);
        scores
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
                Stage::Product { k, bias, .. } => bias.len() * k + 8 * bias.len(),
                Stage::Float { conv, .. } => 4 * (conv.weight().value.len() + conv.bias().value.len()),
                Stage::Pool { .. } => 0,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Init, Padding};
    use crate::model::{LayerSpec, ModelSpec};

    fn small_cnn(last_activation: LayerSpec) -> ModelSpec {
        use LayerSpec::*;
        ModelSpec {
            name: "small".into(),
            input: [12, 12, 1],
            layers: vec![
                Conv2d { filters: 8, kernel: 3, stride: 1, padding: Padding::Valid, init: Init::He },
                Relu,
                MaxPool2d { size: 2, stride: None },
                Conv2d { filters: 16, kernel: 3, stride: 1, padding: Padding::Same, init: Init::He },
                last_activation,
                Flatten,
                Dense { units: 20, init: Init::He },
                Relu,
                Dense { units: 10, init: Init::Glorot },
            ],
            training: None,
        }
    }

    fn images(n: usize) -> Vec<f32> {
        (0..n * 144).map(|i| ((i * 7919 + i / 144 * 31) % 101) as f32 / 100.0).collect()
    }

    #[test]
    fn the_quantized_network_scores_close_to_the_f32_one() {
        let mut network = Sequential::new(&small_cnn(LayerSpec::Relu), 3).unwrap();
        let mut quantized = QuantizedNetwork::new(&mut network, &images(32)).unwrap();
        let x = images(40);
        network.input_mut(40).data_mut().copy_from_slice(&x);
        let want = network.forward_loaded(Mode::Eval).data().to_vec();
        let got = quantized.forward(&x).to_vec();
        assert_eq!(got.len(), want.len());
        let spread = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = got.iter().zip(&want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        // Four layers of 8-bit rounding: each score within a few percent of the largest.
        assert!(worst <= 0.05 * spread, "worst {worst} against scores up to {spread}");
        assert!(worst > 0.0, "the scores are quantized, not copied");
        // A class changes only where the f32 scores' top two are within twice the error of each other.
        let argmax = |s: &[f32]| s.iter().enumerate().fold(0, |b, (i, v)| if *v > s[b] { i } else { b });
        for (q, f) in got.chunks(10).zip(want.chunks(10)) {
            let (cq, cf) = (argmax(q), argmax(f));
            assert!(cq == cf || f[cf] - f[cq] <= 2.0 * worst, "class {cf} became {cq}: {f:?} vs {q:?}");
        }
    }

    #[test]
    fn layers_without_an_int8_form_are_refused_by_name() {
        let refusal = |spec: &ModelSpec, images: &[f32]| {
            let mut network = Sequential::new(spec, 3).unwrap();
            QuantizedNetwork::new(&mut network, images).expect_err("refused")
        };
        let error = refusal(&small_cnn(LayerSpec::Sigmoid), &images(4));
        assert!(error.contains("layer 5") && error.contains("no 8-bit form"), "{error}");
        let error = refusal(&small_cnn(LayerSpec::Relu), &images(4)[..100]);
        assert!(error.contains("whole images"), "{error}");
        // A first dense layer (no f32 convolution before it) on negative pixels.
        use LayerSpec::*;
        let layers = vec![Flatten, Dense { units: 8, init: Init::He }, Relu, Dense { units: 10, init: Init::Glorot }];
        let mlp = ModelSpec { layers, ..small_cnn(LayerSpec::Relu) };
        let negative: Vec<f32> = images(4).iter().map(|v| v - 0.5).collect();
        let error = refusal(&mlp, &negative);
        assert!(error.contains("layer 2") && error.contains("negative"), "{error}");
        // The same network on the pixels as they are is quantized, every layer in 8 bits.
        let mut network = Sequential::new(&mlp, 3).unwrap();
        let quantized = QuantizedNetwork::new(&mut network, &images(4)).unwrap();
        assert_eq!(quantized.weight_bytes(), 144 * 8 + 8 * 8 + 8 * 10 + 8 * 10);
    }
}
