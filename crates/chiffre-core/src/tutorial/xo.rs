//! A tiny CNN with the tutorial's layers learns to tell "X" from "O".

use super::shapes::{draw, Shape, Variant};
use super::Grid;
use crate::layers::Layer;
use crate::layers::{Init, Mode, Padding};
use crate::loss::{argmax_rows, Loss};
use crate::model::{LayerSpec, ModelSpec, Sequential};
use crate::optim::{Optimizer, OptimizerKind};
use crate::tensor::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Side of the images.
const SIDE: usize = 9;

/// What the tiny CNN learned.
#[derive(Clone, Debug)]
pub struct XoResult {
    /// Accuracy on fresh shapes it never saw.
    pub accuracy: f32,
    /// Number of fresh shapes scored.
    pub tested: usize,
    /// Its three 3×3 filters after training.
    pub filters: Vec<Grid>,
    /// Mean training loss of the first and of the last epoch.
    pub loss: (f32, f32),
}

/// Random shapes: shifted by up to a pixel, rotated by up to 20°, 80–110 %
/// of the size, strokes 0.8 to 1.6 pixels wide. Label 0 = X, 1 = O.
fn examples(n: usize, rng: &mut ChaCha8Rng) -> (Vec<f32>, Vec<u8>) {
    let mut pixels = Vec::with_capacity(n * SIDE * SIDE);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let label = rng.random_range(0..2u8);
        let shape = if label == 0 { Shape::X } else { Shape::O };
        let v = Variant {
            dx: rng.random_range(-1.0..=1.0),
            dy: rng.random_range(-1.0..=1.0),
            angle: rng.random_range(-20.0..=20.0),
            thickness: rng.random_range(0.8..=1.6),
            scale: rng.random_range(0.8..=1.1),
        };
        pixels.extend(draw(shape, SIDE, v).values);
        labels.push(label);
    }
    (pixels, labels)
}

/// The tutorial's layers, small: 3 filters 3×3 → ReLU → 2×2 max-pooling →
/// flatten → 2 outputs.
pub fn x_or_o_spec() -> ModelSpec {
    ModelSpec {
        name: "x-or-o".into(),
        input: [SIDE, SIDE, 1],
        layers: vec![
            LayerSpec::Conv2d { filters: 3, kernel: 3, stride: 1, padding: Padding::Valid, init: Init::Glorot },
            LayerSpec::Relu,
            LayerSpec::MaxPool2d { size: 2, stride: None },
            LayerSpec::Flatten,
            LayerSpec::Dense { units: 2, init: Init::Glorot },
        ],
        training: None,
    }
}

/// Trains the tiny CNN on 400 random shapes (20 epochs, batch 20, Adam),
/// then scores it on 200 fresh ones.
pub fn train_x_or_o(seed: u64) -> XoResult {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (train_x, train_y) = examples(400, &mut rng);
    let (test_x, test_y) = examples(200, &mut rng);
    let mut net = Sequential::new(&x_or_o_spec(), seed).expect("the x-or-o network is valid");
    let mut optimizer = Optimizer::new(OptimizerKind::ADAM, 0.01);
    let per = SIDE * SIDE;
    let (batch, epochs) = (20, 20);
    let mut input = Tensor::zeros(&[batch, SIDE, SIDE, 1]);
    let mut losses = Vec::new();
    for _ in 0..epochs {
        let mut total = 0.0;
        for (xs, ys) in train_x.chunks(batch * per).zip(train_y.chunks(batch)) {
            input.resize(&[ys.len(), SIDE, SIDE, 1]);
            input.data_mut().copy_from_slice(xs);
            net.forward(&input, Mode::Train);
            total += net.backward(Loss::CrossEntropy, ys);
            optimizer.step(&mut net);
        }
        losses.push(total / (train_y.len() / batch) as f32);
    }
    let test = Tensor::from_vec(&[test_y.len(), SIDE, SIDE, 1], test_x).expect("whole examples");
    let scores = net.forward(&test, Mode::Eval);
    let right = argmax_rows(scores.data(), 2).zip(&test_y).filter(|&(p, &y)| p == y as usize).count();
    let weight = net.layers()[0].params()[0].1.value.data().to_vec();
    let filters = weight.chunks_exact(9).map(|w| Grid { rows: 3, cols: 3, values: w.to_vec() }).collect();
    XoResult {
        accuracy: right as f32 / test_y.len() as f32,
        tested: test_y.len(),
        filters,
        loss: (losses[0], *losses.last().unwrap_or(&losses[0])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tiny_cnn_learns_x_from_o() {
        let r = train_x_or_o(1);
        assert!(r.accuracy >= 0.95, "accuracy {}", r.accuracy);
        assert!(r.loss.1 < r.loss.0 / 4.0, "loss {:?}", r.loss);
        assert_eq!(r.filters.len(), 3);
    }
}
