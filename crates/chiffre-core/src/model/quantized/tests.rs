//! The tests of [`super::QuantizedNetwork`]: scores close to the `f32`
//! network's, the fused stages bit for bit those of plain ones, refusals.
use super::*;
use crate::kernels::int8::matmul_i8_with;
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

/// Valid convolutions (patches read in place), a max pooling after a
/// product with the ReLU after the pooling (on 9×9 outputs, of which it
/// reads 8×8), a mean pooling in `f32`.
fn pooled_cnn() -> ModelSpec {
    use LayerSpec::*;
    let conv = |filters| Conv2d { filters, kernel: 3, stride: 1, padding: Padding::Valid, init: Init::He };
    ModelSpec {
        name: "pooled".into(),
        input: [12, 12, 1],
        layers: vec![
            Conv2d { filters: 8, kernel: 2, stride: 1, padding: Padding::Valid, init: Init::He },
            Relu,
            conv(12),
            MaxPool2d { size: 2, stride: None },
            Relu,
            conv(16),
            Relu,
            AvgPool2d { size: 2, stride: None },
            Flatten,
            Dense { units: 10, init: Init::Glorot },
        ],
        training: None,
    }
}

/// The scores of `network` in f32 and in 8 bits for `x`.
fn both_scores(network: &mut Sequential, quantized: &mut QuantizedNetwork, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let b = x.len() / 144;
    network.input_mut(b).data_mut().copy_from_slice(x);
    let want = network.forward_loaded(Mode::Eval).data().to_vec();
    (quantized.forward(x).to_vec(), want)
}

#[test]
fn the_quantized_network_scores_close_to_the_f32_one() {
    for spec in [small_cnn(LayerSpec::Relu), pooled_cnn()] {
        let mut network = Sequential::new(&spec, 3).unwrap();
        let mut quantized = QuantizedNetwork::new(&mut network, &images(32)).unwrap();
        let (got, want) = both_scores(&mut network, &mut quantized, &images(40));
        assert_eq!(got.len(), want.len());
        let spread = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = got.iter().zip(&want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        // Four layers of 8-bit rounding: each score within a few percent of the largest.
        assert!(worst <= 0.05 * spread, "{}: worst {worst} against scores up to {spread}", spec.name);
        assert!(worst > 0.0, "the scores are quantized, not copied");
        // A class changes only where the f32 scores' top two are within twice the error of each other.
        let argmax = |s: &[f32]| s.iter().enumerate().fold(0, |b, (i, v)| if *v > s[b] { i } else { b });
        for (q, f) in got.chunks(10).zip(want.chunks(10)) {
            let (cq, cf) = (argmax(q), argmax(f));
            assert!(cq == cf || f[cf] - f[cq] <= 2.0 * worst, "class {cf} became {cq}: {f:?} vs {q:?}");
        }
    }
}

/// The stages run one after the other in plain code: each product's
/// input quantized from `f32`, its patches copied, the portable kernel,
/// the outputs converted to `f32`, then pooled in `f32`.
fn staged(network: &mut QuantizedNetwork, images: &[f32]) -> Vec<f32> {
    use crate::kernels::int8::{dequantize, quantize_activations, quantize_values};
    let b = images.len() / network.input.iter().product::<usize>();
    let mut x = images.to_vec();
    for stage in &mut network.stages {
        x = match stage {
            Stage::Product { geometry, k, weights, convert, act_scale, pool, .. } => {
                let mut a = Vec::new();
                match geometry {
                    Some(g) => {
                        let mut bytes = Vec::new();
                        quantize_values(&x, *act_scale, &mut bytes);
                        im2col_u8(&bytes, g, &mut a);
                    }
                    None => quantize_activations(&x, *k, *act_scale, &mut a),
                }
                let n = convert.bias.len();
                let mut sums = vec![0; a.len() / padded(*k) * n];
                matmul_i8_with(Int8Isa::Portable, &a, &weights.packed, &mut sums);
                let mut y = vec![0.0; sums.len()];
                dequantize(&sums, *act_scale, &weights.scales, &convert.bias, convert.relu, &mut y);
                match pool {
                    Some(p) => {
                        let mut pooled = vec![0.0; b * p.oh * p.ow * p.c];
                        max_pool_forward(&y, p, &mut pooled);
                        pooled
                    }
                    None => y,
                }
            }
            Stage::Pool { geometry, max } => {
                let mut y = vec![0.0; b * geometry.oh * geometry.ow * geometry.c];
                if *max {
                    max_pool_forward(&x, geometry, &mut y);
                } else {
                    crate::kernels::avg_pool_forward(&x, geometry, &mut y);
                }
                y
            }
            Stage::Float { conv, epilogue, output, affine } => {
                let g = conv.geometry();
                // as training runs it (the pooling's winners kept): the network infers without them
                let input = Tensor::from_vec(&[b, g.h, g.w, g.c], x.clone()).expect("whole images");
                conv.forward_fused(&input, output, *epilogue);
                let mut y = output.data().to_vec();
                if let Some(affine) = affine {
                    affine.apply(&mut y);
                }
                y
            }
        };
    }
    x
}

#[test]
fn the_fused_stages_give_the_plain_stages_scores_bit_for_bit() {
    for spec in [small_cnn(LayerSpec::Relu), pooled_cnn()] {
        let mut network = Sequential::new(&spec, 5).unwrap();
        let mut quantized = QuantizedNetwork::new(&mut network, &images(16)).unwrap();
        assert!(
            quantized.stages.iter().any(|s| matches!(s, Stage::Product { pool: Some(_), .. })) || spec.name == "small",
            "{}: a pooling fused",
            spec.name
        );
        // Batches of one image, and of several blocks (the second convolution's blocks hold 2 or 3 images).
        for b in [1, 7, 40] {
            let x = images(b);
            let want = staged(&mut quantized, &x);
            assert_eq!(quantized.forward(&x), want.as_slice(), "{}: batch {b}", spec.name);
        }
    }
}

/// `fast`'s and `best`'s shapes, small: a batch normalisation after a
/// first convolution and its pooling (in `f32`), after a product and its
/// pooling, after a product alone, after a dense layer; each with a ReLU.
fn normalised_cnn() -> ModelSpec {
    use LayerSpec::*;
    let conv = |filters| Conv2d { filters, kernel: 3, stride: 1, padding: Padding::Valid, init: Init::He };
    let (norm2d, norm1d) = (BatchNorm2d { momentum: 0.1, eps: 1e-5 }, BatchNorm1d { momentum: 0.1, eps: 1e-5 });
    let pool = || MaxPool2d { size: 2, stride: None };
    ModelSpec {
        name: "normalised".into(),
        input: [12, 12, 1],
        layers: vec![
            Conv2d { filters: 8, kernel: 2, stride: 1, padding: Padding::Valid, init: Init::He },
            pool(),
            norm2d.clone(),
            Relu,
            Conv2d { filters: 12, kernel: 3, stride: 1, padding: Padding::Same, init: Init::He },
            norm2d.clone(),
            Relu,
            conv(16),
            pool(),
            norm2d,
            Relu,
            Flatten,
            Dense { units: 20, init: Init::He },
            norm1d,
            Relu,
            Dense { units: 10, init: Init::Glorot },
        ],
        training: None,
    }
}

/// `network` with every batch normalisation given statistics and learned
/// values of its own, a third of the scales negative.
fn with_statistics(mut network: Sequential) -> Sequential {
    let norms: Vec<usize> = (network.spec().layers.iter().enumerate())
        .filter(|(_, l)| matches!(l, LayerSpec::BatchNorm2d { .. } | LayerSpec::BatchNorm1d { .. }))
        .map(|(i, _)| i)
        .collect();
    let mut k = 0usize;
    let mut next = move || {
        k += 1;
        ((k * 7919) % 97) as f32 / 97.0
    };
    network.visit_params_mut(&mut |i, name, p| {
        if norms.contains(&i) {
            for (c, v) in p.value.data_mut().iter_mut().enumerate() {
                *v = match name {
                    "weight" => (0.5 + next()) * if c % 3 == 1 { -1.0 } else { 1.0 },
                    _ => next() - 0.5,
                };
            }
        }
    });
    network.visit_buffers_mut(&mut |_, name, t| {
        for v in t.data_mut() {
            *v = if name == "running_var" { 0.2 + next() } else { next() - 0.3 };
        }
    });
    network
}

#[test]
fn batch_normalisations_are_folded_and_score_close_to_the_f32_network() {
    // As `fast` begins (a first convolution, its pooling, a normalisation), and as `best` does (no pooling).
    let mut best_like = normalised_cnn();
    best_like.layers.remove(1);
    for spec in [normalised_cnn(), best_like] {
        let mut network = with_statistics(Sequential::new(&spec, 7).unwrap());
        let mut quantized = QuantizedNetwork::new(&mut network, &images(32)).unwrap();
        // Every normalisation folded: into the first f32 step (a scale and shift on its output), into
        // three products' conversions; the product's pooling comes before its normalisation, so it pools the sums.
        let kinds: Vec<&str> = quantized
            .stages
            .iter()
            .map(|s| match s {
                Stage::Float { affine: Some(a), .. } if a.relu => "float+norm+relu",
                Stage::Float { .. } => "float",
                Stage::Product { pool: Some(_), convert, .. } if convert.relu => "product+pool+relu",
                Stage::Product { convert, .. } if convert.relu => "product+relu",
                Stage::Product { .. } => "product",
                Stage::Pool { .. } => "pool",
            })
            .collect();
        assert_eq!(kinds, ["float+norm+relu", "product+relu", "product+pool+relu", "product+relu", "product"]);
        let folded = quantized.stages.iter().any(|s| match s {
            Stage::Product { convert, .. } => convert.multiplier.iter().any(|&m| m < 0.0),
            _ => false,
        });
        assert!(folded, "negative scales folded into the conversions");
        let (got, want) = both_scores(&mut network, &mut quantized, &images(40));
        let spread = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = got.iter().zip(&want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(worst <= 0.05 * spread, "{} layers: worst {worst} against scores up to {spread}", spec.layers.len());
    }
}

#[test]
fn a_max_pooling_after_a_negative_scale_runs_on_the_values() {
    use LayerSpec::*;
    // conv → norm → ReLU → max pooling: with negative scales the pooling cannot take the sums.
    let mut spec = normalised_cnn();
    let pool = spec.layers.remove(8);
    spec.layers.insert(10, pool);
    assert!(matches!(spec.layers[7..=10], [Conv2d { .. }, BatchNorm2d { .. }, Relu, MaxPool2d { .. }]));
    let mut network = with_statistics(Sequential::new(&spec, 7).unwrap());
    let mut quantized = QuantizedNetwork::new(&mut network, &images(32)).unwrap();
    assert!(quantized.stages.iter().any(|s| matches!(s, Stage::Pool { max: true, .. })));
    let (got, want) = both_scores(&mut network, &mut quantized, &images(40));
    let spread = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = got.iter().zip(&want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst <= 0.05 * spread, "worst {worst} against scores up to {spread}");
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

#[test]
fn a_network_rebuilt_from_its_input_scales_scores_the_same() {
    let mut network = Sequential::new(&small_cnn(LayerSpec::Relu), 3).unwrap();
    let mut quantized = QuantizedNetwork::new(&mut network, &images(16)).unwrap();
    let scales = quantized.input_scales();
    // the second convolution and the two dense layers (the first convolution stays in f32)
    assert_eq!(scales.iter().map(|s| s.0).collect::<Vec<_>>(), vec![3, 6, 8]);
    let mut rebuilt = QuantizedNetwork::from_scales(&network, &scales).unwrap();
    let x = images(9);
    assert_eq!(rebuilt.forward(&x), quantized.forward(&x));
    // A missing or impossible scale is refused, naming the layer.
    let error = QuantizedNetwork::from_scales(&network, &scales[..2]).err().unwrap();
    assert!(error.contains("layer 9") && error.contains("no input scale"), "{error}");
    let error = QuantizedNetwork::from_scales(&network, &[(3, 0.1), (6, f32::NAN), (8, 0.1)]).err().unwrap();
    assert!(error.contains("layer 7"), "{error}");
}

#[test]
fn a_batch_run_block_by_block_gives_each_images_scores_and_features_as_one_pass() {
    let mut network = Sequential::new(&small_cnn(LayerSpec::Relu), 4).unwrap();
    let mut quantized = QuantizedNetwork::new(&mut network, &images(16)).unwrap();
    // Two whole blocks and a part of one.
    let n = 2 * BLOCK + 37;
    let x = images(n);
    let (scores, features) = quantized.run(&x, &[6, 8]);
    let (scores, features) = (scores.to_vec(), features.to_vec());
    let (blocked_scores, blocked_features) = quantized.forward_with_features(&x, &[6, 8]).expect("dense layers");
    assert_eq!(blocked_scores.len(), n * 10);
    assert_eq!(blocked_scores, scores.as_slice());
    assert_eq!(blocked_features, features.as_slice());
    assert_eq!(quantized.forward(&x), scores.as_slice());
}

#[test]
fn the_dense_layers_inputs_come_back_as_features_close_to_the_f32_ones() {
    let mut network = Sequential::new(&small_cnn(LayerSpec::Relu), 3).unwrap();
    let mut quantized = QuantizedNetwork::new(&mut network, &images(40)).unwrap();
    let scales = quantized.input_scales();
    let x = images(40);
    network.input_mut(40).data_mut().copy_from_slice(&x);
    network.forward_each_layer(Mode::Eval);
    // The f32 inputs of layers 6 and 8 (the two dense layers), image by image.
    let (first, second) = (network.activations()[6].data().to_vec(), network.activations()[8].data().to_vec());
    let (scores, features) = quantized.forward_with_features(&x, &[6, 8]).expect("two dense layers");
    assert_eq!(scores.len(), 40 * 10);
    let (w1, w2) = (first.len() / 40, second.len() / 40);
    assert_eq!(features.len(), 40 * (w1 + w2));
    // Each is the input of an 8-bit layer computed by 8-bit layers: within a few steps
    // (2 % of the calibrated range), and the features are the bytes, not the f32 values.
    let step = |layer: usize| scales.iter().find(|s| s.0 == layer).unwrap().1;
    let mut exact = true;
    for (i, f) in features.chunks_exact(w1 + w2).enumerate() {
        let pairs = f[..w1].iter().zip(&first[i * w1..(i + 1) * w1]).map(|p| (6, p));
        for (layer, (got, want)) in pairs.chain(f[w1..].iter().zip(&second[i * w2..(i + 1) * w2]).map(|p| (8, p))) {
            assert!((got - want).abs() <= 0.02 * step(layer) * 127.0, "layer {layer}: {got} vs {want}");
            let q = got / step(layer);
            assert!((q - q.round()).abs() < 1e-3, "layer {layer}: {got} is not a whole number of steps");
            exact &= got == want;
        }
    }
    assert!(!exact, "quantized, not copied");
    // Not a dense layer: no features.
    assert!(quantized.forward_with_features(&x, &[3]).is_none());
}
