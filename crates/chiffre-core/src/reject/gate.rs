//! The gate: a small network, beside the digit reader, that says whether a
//! mark is a digit at all. It reads what the digit reader made of the
//! picture (the input of its last layer, and its class scores), standardised,
//! and is trained after it on digits against generated non-digits, with the
//! engine's own layers and optimizer; the reader's weights are not touched.

use crate::data::shuffle_indices;
use crate::layers::Mode;
use crate::loss::{softmax_rows, Loss};
use crate::model::{LayerSpec, ModelSpec, Node, Sequential};
use crate::optim::{Optimizer, OptimizerKind};
use crate::preprocess::{Pixels, PIXELS};

/// Examples per forward pass when reading features.
const CHUNK: usize = 256;

/// Hidden units of the gate.
pub const HIDDEN: usize = 128;

/// What the reader makes of `inputs`: its class scores (`[N × classes]`)
/// and its features (`[N × width]`), with `width`. The features are the
/// output of its last flatten layer (what its convolutions saw) and the
/// input of its last layer (its last hidden layer), or only the latter when
/// they are the same or there is no flatten layer. (The picture's own
/// pixels were tried as well: the gate then rejected more digits, 2.7 %
/// of the MNIST test set at the threshold 0.5 instead of 1.7 %.)
pub fn scores_and_features(network: &mut Sequential, inputs: &[Pixels]) -> (Vec<f32>, Vec<f32>, usize) {
    let classes = network.num_classes();
    let layers = network.layers().len();
    // Flatten and the last layer always run as steps of their own: their outputs are kept.
    let flatten = network.layers().iter().rposition(|node| matches!(node, Node::Flatten(_))).map(|i| i + 1);
    let sources: Vec<usize> = match flatten {
        Some(f) if f != layers - 1 => vec![f, layers - 1],
        _ => vec![layers - 1],
    };
    let (mut scores, mut features, mut width) = (Vec::new(), Vec::new(), 0);
    for chunk in inputs.chunks(CHUNK) {
        let staged = network.input_mut(chunk.len()).data_mut();
        staged.chunks_exact_mut(PIXELS).zip(chunk).for_each(|(dst, p)| dst.copy_from_slice(p));
        scores.extend_from_slice(network.forward_loaded(Mode::Eval).data());
        let acts = network.activations();
        let per: Vec<usize> = sources.iter().map(|&a| acts[a].len() / chunk.len()).collect();
        width = per.iter().sum();
        for example in 0..chunk.len() {
            for (&a, &n) in sources.iter().zip(&per) {
                features.extend_from_slice(&acts[a].data()[example * n..(example + 1) * n]);
            }
        }
    }
    debug_assert_eq!(scores.len(), inputs.len() * classes);
    (scores, features, width)
}

/// The gate's inputs: each example's features then its scores.
pub fn gate_inputs(scores: &[f32], features: &[f32], classes: usize, width: usize) -> Vec<f32> {
    scores
        .chunks_exact(classes)
        .zip(features.chunks_exact(width.max(1)))
        .flat_map(|(s, f)| f.iter().chain(s).copied())
        .collect()
}

/// A trained gate: the standardisation of its inputs and its network.
pub struct Gate {
    /// Mean of each input over the training examples.
    pub mean: Vec<f32>,
    /// 1 / standard deviation of each input.
    pub scale: Vec<f32>,
    /// Inputs `[1, 1, D]` → dense → ReLU → dense 2 (not a digit, digit).
    pub network: Sequential,
}

/// The gate's architecture for `inputs` values per example.
pub fn gate_spec(inputs: usize) -> ModelSpec {
    ModelSpec {
        name: "reject-gate".into(),
        input: [1, 1, inputs],
        layers: vec![
            LayerSpec::Flatten,
            LayerSpec::Dense { units: HIDDEN, init: crate::layers::Init::He },
            LayerSpec::Relu,
            LayerSpec::Dense { units: 2, init: crate::layers::Init::Glorot },
        ],
        training: None,
    }
}

impl Gate {
    /// Trains a gate on `inputs` (`labels.len()` rows; label 1 a digit, 0 not)
    /// for `epochs` epochs of Adam, batch 128, seeded.
    pub fn train(inputs: &[f32], labels: &[u8], epochs: usize, seed: u64) -> Result<Gate, String> {
        let n = labels.len();
        if n == 0 || !inputs.len().is_multiple_of(n) {
            return Err(format!("the gate needs whole examples: {} values for {n} labels", inputs.len()));
        }
        let d = inputs.len() / n;
        let mut mean = vec![0.0f64; d];
        let mut var = vec![0.0f64; d];
        for row in inputs.chunks_exact(d) {
            mean.iter_mut().zip(row).for_each(|(m, &v)| *m += f64::from(v) / n as f64);
        }
        for row in inputs.chunks_exact(d) {
            var.iter_mut().zip(row).zip(&mean).for_each(|((s, &v), m)| *s += (f64::from(v) - m).powi(2) / n as f64);
        }
        let mean: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
        let scale: Vec<f32> = var.iter().map(|&v| (1.0 / (v.sqrt() + 1e-3)) as f32).collect();
        let network = Sequential::new(&gate_spec(d), seed).map_err(|e| e.to_string())?;
        let mut gate = Gate { mean, scale, network };
        let standard = gate.standardise(inputs);
        let mut optimizer = Optimizer::new(OptimizerKind::ADAM, 2e-3);
        let (batch, mut order, mut y) = (128, Vec::new(), Vec::new());
        for epoch in 0..epochs {
            shuffle_indices(&mut order, n, seed, epoch as u64 + 1);
            for indices in order.chunks(batch) {
                let staged = gate.network.input_mut(indices.len()).data_mut();
                y.clear();
                for (dst, &i) in staged.chunks_exact_mut(d).zip(indices) {
                    dst.copy_from_slice(&standard[i * d..(i + 1) * d]);
                    y.push(labels[i]);
                }
                gate.network.forward_loaded(Mode::Train);
                let loss = gate.network.backward(Loss::CrossEntropy, &y);
                if !loss.is_finite() {
                    return Err(format!("training the gate diverged (loss {loss}) at epoch {}", epoch + 1));
                }
                optimizer.step(&mut gate.network);
            }
        }
        Ok(gate)
    }

    /// The inputs standardised (mean 0, standard deviation 1 on the training examples).
    fn standardise(&self, inputs: &[f32]) -> Vec<f32> {
        let d = self.mean.len();
        inputs
            .chunks_exact(d)
            .flat_map(|row| row.iter().zip(&self.mean).zip(&self.scale).map(|((v, m), s)| (v - m) * s))
            .collect()
    }

    /// Values per example the gate reads.
    pub fn width(&self) -> usize {
        self.mean.len()
    }

    /// The probability that each example of `inputs` is a digit.
    pub fn digit_probabilities(&mut self, inputs: &[f32]) -> Vec<f32> {
        let d = self.width();
        let standard = self.standardise(inputs);
        let mut out = Vec::with_capacity(standard.len() / d.max(1));
        let mut probs = Vec::new();
        for chunk in standard.chunks(CHUNK * d) {
            let rows = chunk.len() / d;
            self.network.input_mut(rows).data_mut().copy_from_slice(chunk);
            let scores = self.network.forward_loaded(Mode::Eval).data();
            probs.resize(scores.len(), 0.0);
            softmax_rows(scores, 2, &mut probs);
            out.extend(probs.chunks_exact(2).map(|p| if p[1].is_finite() { p[1] } else { 0.0 }));
        }
        out
    }
}
