//! Finite-difference gradient checks: for every layer and loss, the gradient
//! that `backward` computes must match `(L(x + ε) - L(x - ε)) / 2ε`.
//!
//! Each check uses the scalar `L = Σ r ⊙ forward(x)` with a fixed random `r`,
//! whose gradient with respect to the output is exactly `r`.

use chiffre::layers::{
    BatchNorm, BatchNormConfig, Conv2d, Conv2dConfig, Dense, Dropout, Flatten, Init, Layer, Mode, Padding, Pool2d,
    Relu, Sigmoid, Tanh,
};
use chiffre::loss::Loss;
use chiffre::model::{LayerSpec, ModelSpec, Sequential};
use chiffre::tensor::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const EPS: f32 = 1e-2;

fn random(shape: &[usize], rng: &mut ChaCha8Rng) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(shape, (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()).unwrap()
}

/// `L = Σ r ⊙ layer(x)`, computed in f64 on a fresh copy of the layer (so a
/// dropout layer draws the same mask every time).
fn objective<L: Layer + Clone>(layer: &L, x: &Tensor, r: &Tensor) -> f64 {
    let mut layer = layer.clone();
    let mut y = Tensor::default();
    layer.forward(x, &mut y, Mode::Train);
    y.data().iter().zip(r.data()).map(|(a, b)| *a as f64 * *b as f64).sum()
}

fn assert_close(what: &str, analytic: f32, numeric: f64) {
    let tolerance = 2e-2 * (1.0 + numeric.abs().max(analytic.abs() as f64));
    assert!(
        (analytic as f64 - numeric).abs() <= tolerance,
        "{what}: backward gives {analytic}, finite differences give {numeric}"
    );
}

/// Checks d/dx and d/dparams of `layer` at input `x`.
fn check_layer<L: Layer + Clone>(layer: L, in_shape: &[usize], seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = random(in_shape, &mut rng);
    if layer.kind() == "max_pool2d" {
        // Max is not differentiable where two values tie: use distinct values
        // at least 3ε apart, so that a nudge of ε never changes the winner.
        use rand::seq::SliceRandom;
        let mut values: Vec<f32> = (0..x.len()).map(|i| i as f32 * 3.0 * EPS).collect();
        values.shuffle(&mut rng);
        x.data_mut().copy_from_slice(&values);
    }
    let mut probe = layer.clone();
    let mut y = Tensor::default();
    probe.forward(&x, &mut y, Mode::Train);
    let r = random(y.shape(), &mut rng);
    let mut dx = Tensor::default();
    probe.backward(&x, &y, &r, Some(&mut dx));
    assert_eq!(dx.shape(), x.shape(), "{}: input gradient shape", layer.kind());

    // Input gradient, at up to 40 positions spread over the tensor.
    let step = (x.len() / 40).max(1);
    for i in (0..x.len()).step_by(step) {
        let (mut plus, mut minus) = (x.clone(), x.clone());
        plus.data_mut()[i] += EPS;
        minus.data_mut()[i] -= EPS;
        let numeric = (objective(&layer, &plus, &r) - objective(&layer, &minus, &r)) / (2.0 * EPS as f64);
        assert_close(&format!("{} dx[{i}]", layer.kind()), dx.data()[i], numeric);
    }

    // Parameter gradients.
    for (p_index, (name, param)) in probe.params().into_iter().enumerate() {
        let step = (param.value.len() / 30).max(1);
        for j in (0..param.value.len()).step_by(step) {
            let nudged = |delta: f32| {
                let mut l = layer.clone();
                let mut k = 0;
                l.visit_params_mut(&mut |_, p| {
                    if k == p_index {
                        p.value.data_mut()[j] += delta;
                    }
                    k += 1;
                });
                objective(&l, &x, &r)
            };
            let numeric = (nudged(EPS) - nudged(-EPS)) / (2.0 * EPS as f64);
            assert_close(&format!("{} d{name}[{j}]", layer.kind()), param.grad.data()[j], numeric);
        }
    }
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

#[test]
fn dense() {
    check_layer(Dense::new(7, 5, Init::Glorot, &mut rng(1)), &[3, 7], 2);
}

#[test]
fn conv2d_valid() {
    check_layer(
        Conv2d::new(
            [6, 5, 2],
            Conv2dConfig { filters: 3, kernel: 3, stride: 1, padding: Padding::Valid, init: Init::He },
            &mut rng(3),
        )
        .unwrap(),
        &[2, 6, 5, 2],
        4,
    );
}

#[test]
fn conv2d_same_strided() {
    check_layer(
        Conv2d::new(
            [7, 6, 3],
            Conv2dConfig { filters: 4, kernel: 3, stride: 2, padding: Padding::Same, init: Init::Glorot },
            &mut rng(5),
        )
        .unwrap(),
        &[2, 7, 6, 3],
        6,
    );
}

#[test]
fn conv2d_even_kernel_same() {
    check_layer(
        Conv2d::new(
            [5, 5, 1],
            Conv2dConfig { filters: 2, kernel: 2, stride: 1, padding: Padding::Same, init: Init::Glorot },
            &mut rng(7),
        )
        .unwrap(),
        &[2, 5, 5, 1],
        8,
    );
}

#[test]
fn max_pool() {
    check_layer(Pool2d::max([6, 7, 3], 2, 2).unwrap(), &[2, 6, 7, 3], 9);
}

#[test]
fn max_pool_overlapping() {
    check_layer(Pool2d::max([5, 5, 2], 3, 1).unwrap(), &[2, 5, 5, 2], 10);
}

#[test]
fn avg_pool() {
    check_layer(Pool2d::mean([6, 6, 2], 2, 2).unwrap(), &[2, 6, 6, 2], 11);
}

#[test]
fn avg_pool_overlapping() {
    check_layer(Pool2d::mean([5, 4, 2], 2, 1).unwrap(), &[2, 5, 4, 2], 12);
}

#[test]
fn flatten() {
    check_layer(Flatten::new(&[3, 2, 2]), &[2, 3, 2, 2], 13);
}

#[test]
fn relu() {
    check_layer(Relu::new(&[10]), &[4, 10], 14);
}

#[test]
fn sigmoid() {
    check_layer(Sigmoid::new(&[10]), &[4, 10], 15);
}

#[test]
fn tanh() {
    check_layer(Tanh::new(&[2, 3, 2]), &[3, 2, 3, 2], 16);
}

#[test]
fn dropout() {
    check_layer(Dropout::new(&[20], 0.3, 99).unwrap(), &[3, 20], 17);
}

#[test]
fn batch_norm2d() {
    let mut bn = BatchNorm::feature_maps(&[3, 4, 3], BatchNormConfig::default()).unwrap();
    // Non-trivial γ and β, so that their gradients and the scaling of dx are checked.
    let mut k = 0.0;
    bn.visit_params_mut(&mut |_, p| {
        p.value.data_mut().iter_mut().for_each(|v| {
            *v += 0.3 * k - 0.2;
            k += 1.0;
        })
    });
    check_layer(bn, &[2, 3, 4, 3], 18);
}

#[test]
fn batch_norm1d() {
    check_layer(BatchNorm::vectors(&[6], BatchNormConfig::default()).unwrap(), &[5, 6], 19);
}

fn check_loss(loss: Loss, seed: u64) {
    check_smoothed_loss(loss, seed, 0.0);
}

fn check_smoothed_loss(loss: Loss, seed: u64, smoothing: f32) {
    let mut rng = rng(seed);
    let logits = random(&[4, 5], &mut rng);
    let labels = [0u8, 3, 4, 3];
    let mut grad = Tensor::default();
    loss.forward_backward_smoothed(&logits, &labels, &mut grad, smoothing);
    let mut scratch = Tensor::default();
    for i in 0..logits.len() {
        let (mut plus, mut minus) = (logits.clone(), logits.clone());
        plus.data_mut()[i] += EPS;
        minus.data_mut()[i] -= EPS;
        let numeric = (loss.forward_backward_smoothed(&plus, &labels, &mut scratch, smoothing) as f64
            - loss.forward_backward_smoothed(&minus, &labels, &mut scratch, smoothing) as f64)
            / (2.0 * EPS as f64);
        assert_close(&format!("{loss:?} dlogits[{i}]"), grad.data()[i], numeric);
    }
}

#[test]
fn cross_entropy() {
    check_loss(Loss::CrossEntropy, 20);
}

#[test]
fn cross_entropy_with_label_smoothing() {
    check_smoothed_loss(Loss::CrossEntropy, 22, 0.1);
    // ε = 0 is the plain loss, bit for bit.
    let logits = random(&[3, 4], &mut rng(23));
    let (mut a, mut b) = (Tensor::default(), Tensor::default());
    let plain = Loss::CrossEntropy.forward_backward(&logits, &[1, 2, 3], &mut a);
    let smoothed = Loss::CrossEntropy.forward_backward_smoothed(&logits, &[1, 2, 3], &mut b, 0.0);
    assert_eq!((plain.to_bits(), a.data()), (smoothed.to_bits(), b.data()));
}

#[test]
fn mean_squared_error() {
    check_loss(Loss::Mse, 21);
}

#[test]
fn cross_entropy_is_stable_for_huge_logits() {
    let logits = Tensor::from_vec(&[1, 3], vec![1000.0, -1000.0, 0.0]).unwrap();
    let mut grad = Tensor::default();
    let right = Loss::CrossEntropy.forward_backward(&logits, &[0], &mut grad);
    assert!(right.is_finite() && right.abs() < 1e-6, "confident and right: loss {right}");
    assert!(grad.data().iter().all(|g| g.is_finite()));
    let wrong = Loss::CrossEntropy.forward_backward(&logits, &[1], &mut grad);
    assert!(wrong.is_finite() && wrong > 50.0, "confident and wrong: loss {wrong}");
}

/// The whole chain through `Sequential::backward`, every kind of layer at once.
#[test]
fn sequential_end_to_end() {
    let spec = ModelSpec {
        name: "mix".into(),
        input: [8, 8, 1],
        training: None,
        layers: vec![
            LayerSpec::Conv2d { filters: 3, kernel: 3, stride: 1, padding: Padding::Same, init: Init::He },
            LayerSpec::BatchNorm2d { momentum: 0.1, eps: 1e-5 },
            LayerSpec::Tanh,
            LayerSpec::MaxPool2d { size: 2, stride: None },
            LayerSpec::Conv2d { filters: 4, kernel: 2, stride: 1, padding: Padding::Valid, init: Init::Glorot },
            LayerSpec::Sigmoid,
            LayerSpec::AvgPool2d { size: 3, stride: None },
            LayerSpec::Flatten,
            LayerSpec::Dense { units: 6, init: Init::Glorot },
            LayerSpec::BatchNorm1d { momentum: 0.1, eps: 1e-5 },
            LayerSpec::Relu,
            LayerSpec::Dense { units: 3, init: Init::Glorot },
        ],
    };
    let mut rng = rng(30);
    let x = random(&[4, 8, 8, 1], &mut rng);
    let labels = [2u8, 0, 1, 2];
    let loss_at = |model: &mut Sequential| {
        model.forward(&x, Mode::Train);
        model.backward(Loss::CrossEntropy, &labels) as f64
    };
    let mut model = Sequential::new(&spec, 31).unwrap();
    loss_at(&mut model);
    let mut analytic = Vec::new();
    model.visit_params_mut(&mut |i, name, p| analytic.push((i, name, p.grad.clone())));
    for (p_index, (layer, name, grad)) in analytic.iter().enumerate() {
        for j in (0..grad.len()).step_by((grad.len() / 8).max(1)) {
            let nudged = |delta: f32| {
                let mut m = Sequential::new(&spec, 31).unwrap();
                let mut k = 0;
                m.visit_params_mut(&mut |_, _, p| {
                    if k == p_index {
                        p.value.data_mut()[j] += delta;
                    }
                    k += 1;
                });
                loss_at(&mut m)
            };
            let numeric = (nudged(EPS) - nudged(-EPS)) / (2.0 * EPS as f64);
            assert_close(&format!("layer {layer} d{name}[{j}]"), grad.data()[j], numeric);
        }
    }
}
