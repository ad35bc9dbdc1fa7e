//! Optimizer steps against values computed by hand.

use chiffre::layers::Init;
use chiffre::model::{LayerSpec, ModelSpec, Sequential};
use chiffre::optim::{Optimizer, OptimizerKind};

/// A model with exactly one weight and one bias (1 input → 2 outputs would be
/// the smallest classifier: weight [2, 1], bias [2]); we drive the first weight.
fn tiny() -> Sequential {
    let spec = ModelSpec {
        name: "tiny".into(),
        input: [1, 1, 1],
        training: None,
        layers: vec![LayerSpec::Flatten, LayerSpec::Dense { units: 2, init: Init::Glorot }],
    };
    let mut model = Sequential::new(&spec, 0).unwrap();
    model.visit_params_mut(&mut |_, _, p| p.value.fill(1.0));
    model
}

/// Sets every gradient to `g`, steps, and returns the first weight.
fn step(model: &mut Sequential, opt: &mut Optimizer, g: f32) -> f32 {
    model.visit_params_mut(&mut |_, _, p| p.grad.fill(g));
    opt.step(model);
    let mut first = None;
    model.visit_params_mut(&mut |_, _, p| {
        first.get_or_insert(p.value.data()[0]);
    });
    first.unwrap()
}

fn close(a: f32, b: f32) {
    assert!((a - b).abs() < 1e-6, "{a} vs {b}");
}

#[test]
fn sgd() {
    let (mut m, mut o) = (tiny(), Optimizer::new(OptimizerKind::SGD, 0.1));
    close(step(&mut m, &mut o, 0.5), 0.95); // 1 - 0.1·0.5
    close(step(&mut m, &mut o, -1.0), 1.05); // 0.95 + 0.1·1
}

#[test]
fn sgd_with_momentum() {
    let (mut m, mut o) = (tiny(), Optimizer::new(OptimizerKind::Sgd { momentum: 0.9 }, 0.1));
    close(step(&mut m, &mut o, 0.5), 0.95); // v = -0.05
    close(step(&mut m, &mut o, 0.5), 0.855); // v = 0.9·(-0.05) - 0.05 = -0.095
}

#[test]
fn rmsprop() {
    let (mut m, mut o) = (tiny(), Optimizer::new(OptimizerKind::RMSPROP, 0.001));
    // s = 0.1·0.25 = 0.025; step = 0.001·0.5/√(0.025 + 1e-7) = 0.0031622714
    close(step(&mut m, &mut o, 0.5), 1.0 - 0.003_162_271_4);
    // s = 0.9·0.025 + 0.1·0.25 = 0.0475; step = 0.001·0.5/√(0.0475 + 1e-7) = 0.0022941549
    close(step(&mut m, &mut o, 0.5), 1.0 - 0.003_162_271_4 - 0.002_294_154_9);
}

#[test]
fn adam() {
    let (mut m, mut o) = (tiny(), Optimizer::new(OptimizerKind::ADAM, 0.01));
    // t=1: m̂ = g, v̂ = g², step = lr·g/(|g| + ε) ≈ lr
    close(step(&mut m, &mut o, 0.5), 0.99);
    // t=2 with g = -0.5: m = 0.9·0.05 - 0.05 = -0.005 → m̂ = -0.005/0.19 = -0.0263158;
    // v = 0.999·0.00025 + 0.00025 = 0.00049975 → v̂ = 0.00049975/0.001999 = 0.25 → √ = 0.5;
    // step = 0.01·(-0.0263158)/0.5 = -0.000526316
    close(step(&mut m, &mut o, -0.5), 0.99 + 0.000_526_316);
}

#[test]
fn adamw_decays_matrices_but_not_biases() {
    // Dense weight [2, 1] decays, bias [2] does not.
    let kind = OptimizerKind::AdamW { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.1 };
    let (mut m, mut o) = (tiny(), Optimizer::new(kind, 0.01));
    // t=1: w ← w·(1 - lr·λ) = 0.999, then the Adam step ≈ lr → 0.989
    close(step(&mut m, &mut o, 0.5), 0.999 - 0.01);
    let mut bias = None;
    m.visit_params_mut(&mut |_, name, p| {
        if name == "bias" {
            bias = Some(p.value.data()[0]);
        }
    });
    close(bias.unwrap(), 0.99); // 1 - the Adam step, no decay
}

#[test]
fn optimizer_state_round_trips() {
    let (mut m, mut o) = (tiny(), Optimizer::new(OptimizerKind::ADAM, 0.01));
    step(&mut m, &mut o, 0.5);
    let saved: Vec<(Vec<f32>, Vec<f32>)> = o.state().iter().map(|(a, b)| (a.to_vec(), b.to_vec())).collect();
    let mut copy = Optimizer::new(OptimizerKind::ADAM, 0.01);
    copy.set_state(o.steps, saved);
    let mut m2 = tiny();
    m2.visit_params_mut(&mut |_, _, p| p.value.fill(0.99));
    let a = step(&mut m, &mut o, -0.3);
    let b = step(&mut m2, &mut copy, -0.3);
    assert_eq!(a.to_bits(), b.to_bits(), "a restored optimizer takes the same step");
}
