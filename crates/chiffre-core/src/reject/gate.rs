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
pub const HIDDEN: usize = 256;

/// The gate's classes: what a mark is.
pub mod class {
    /// Not a digit: a letter, a symbol, a word, a shape, a scribble.
    pub const NOT_A_DIGIT: u8 = 0;
    /// One whole digit.
    pub const DIGIT: u8 = 1;
    /// Digits cut wrong: half a digit, or two run together (what a bad cut
    /// of touching digits makes). Neither a digit nor "not a digit": set
    /// aside when deciding whether a mark is a digit, but not one whole
    /// digit, so the number reader cuts elsewhere.
    pub const WRONG_CUT: u8 = 2;
    /// How many.
    pub const COUNT: usize = 3;
}

/// What the gate says of one mark.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Judgement {
    /// The probability that the mark is a digit rather than not a digit,
    /// the wrong-cut class set aside: P(digit) / (P(digit) + P(not a
    /// digit)). Below the threshold, "not a digit". (1 − P(not a digit),
    /// which counts wrong cuts as digits, let many letters through: 69.9 %
    /// of the test non-digits rejected against 82.3 %, bench/reject.sh.)
    pub digit: f32,
    /// The probability that the mark is one whole digit: what the number
    /// reader maximises when it chooses where to cut touching digits.
    pub whole: f32,
}

/// What the reader makes of `inputs`: its class scores (`[N × classes]`)
/// and its features (`[N × width]`), with `width`. The features are the
/// output of its last flatten layer (what its convolutions saw) and the
/// input of its last layer (its last hidden layer), or only the latter when
/// they are the same or there is no flatten layer. (The picture's own
/// pixels were tried as well: the gate then rejected more digits, 2.7 %
/// of the MNIST test set at the threshold 0.5 instead of 1.7 %.)
pub fn scores_and_features(network: &mut Sequential, inputs: &[Pixels]) -> (Vec<f32>, Vec<f32>, usize) {
    let classes = network.num_classes();
    let sources = feature_sources(network);
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

/// The layers whose inputs are the gate's features (see
/// [`scores_and_features`]): the layer after the last flatten layer, and the
/// last layer. Flatten and the last layer always run as steps of their own,
/// so their outputs are kept.
pub fn feature_sources(network: &Sequential) -> Vec<usize> {
    let layers = network.layers().len();
    let flatten = network.layers().iter().rposition(|node| matches!(node, Node::Flatten(_))).map(|i| i + 1);
    match flatten {
        Some(f) if f != layers - 1 => vec![f, layers - 1],
        _ => vec![layers - 1],
    }
}

/// The gate's inputs: each example's features then its scores.
pub fn gate_inputs(scores: &[f32], features: &[f32], classes: usize, width: usize) -> Vec<f32> {
    scores
        .chunks_exact(classes)
        .zip(features.chunks_exact(width.max(1)))
        .flat_map(|(s, f)| f.iter().chain(s).copied())
        .collect()
}

/// The gate's inputs for `inputs` (each example's features then its
/// scores, as [`gate_inputs`] makes them from [`scores_and_features`]),
/// appended to `rows` a chunk at a time, so that the features of all
/// examples and their copy as rows are never held at once (the judges' fit:
/// 880 MB of features for 340,000 examples). Returns the features' width.
/// The same values as the two functions give for the whole of `inputs`:
/// the network reads the same chunks.
pub fn append_gate_inputs(network: &mut Sequential, inputs: &[Pixels], rows: &mut Vec<f32>) -> usize {
    let classes = network.num_classes();
    let mut width = 0;
    for chunk in inputs.chunks(CHUNK) {
        let (scores, features, w) = scores_and_features(network, chunk);
        rows.extend(gate_inputs(&scores, &features, classes, w));
        width = w;
    }
    width
}

/// A trained gate: the standardisation of its inputs and its network.
pub struct Gate {
    /// Mean of each input over the training examples.
    pub mean: Vec<f32>,
    /// 1 / standard deviation of each input.
    pub scale: Vec<f32>,
    /// Inputs `[1, 1, D]` → dense → ReLU → dense 3 (the [`class`]es; a gate
    /// stored before wrong cuts had a class of their own has 2: not a digit, digit).
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
            LayerSpec::Dense { units: class::COUNT, init: crate::layers::Init::Glorot },
        ],
        training: None,
    }
}

impl Gate {
    /// Trains a gate on `inputs` (`labels.len()` rows; labels are [`class`]es)
    /// for `epochs` epochs of Adam, batch 128, seeded. Takes the rows, to
    /// standardise them in place (no second copy of what can be a gigabyte).
    pub fn train(mut inputs: Vec<f32>, labels: &[u8], epochs: usize, seed: u64) -> Result<Gate, String> {
        let n = labels.len();
        if n == 0 || !inputs.len().is_multiple_of(n) {
            return Err(format!("the gate needs whole examples: {} values for {n} labels", inputs.len()));
        }
        if let Some(bad) = labels.iter().find(|&&l| usize::from(l) >= class::COUNT) {
            return Err(format!("the gate's labels are 0 to {}, got {bad}", class::COUNT - 1));
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
        // the rows standardised in place, as `standardise` would copy them
        for row in inputs.chunks_exact_mut(d) {
            row.iter_mut().zip(&gate.mean).zip(&gate.scale).for_each(|((v, m), s)| *v = (*v - m) * s);
        }
        let rows: Vec<&[f32]> = inputs.chunks_exact(d).collect();
        train_classifier(&mut gate.network, &rows, labels, epochs, seed)
            .map_err(|e| format!("training the gate {e}"))?;
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

    /// The gate's class probabilities for each example of `inputs`: rows
    /// of [`class::COUNT`] values (2 for a gate stored before wrong cuts had
    /// a class of their own), in [`class`] order.
    pub fn probabilities(&mut self, inputs: &[f32]) -> Vec<f32> {
        let standard = self.standardise(inputs);
        let rows: Vec<&[f32]> = standard.chunks_exact(self.width().max(1)).collect();
        class_probabilities(&mut self.network, &rows)
    }

    /// What the gate says of each example of `inputs`.
    pub fn judge(&mut self, inputs: &[f32]) -> Vec<Judgement> {
        let classes = self.network.num_classes();
        self.probabilities(inputs).chunks_exact(classes).map(Judgement::from_probabilities).collect()
    }
}

impl Judgement {
    /// The judgement of one row of class probabilities in [`class`] order
    /// (3 classes, or 2 for a gate stored before wrong cuts had their own).
    pub fn from_probabilities(p: &[f32]) -> Judgement {
        let finite = |p: f32| if p.is_finite() { p } else { 0.0 };
        let whole = finite(p[usize::from(class::DIGIT)]);
        // A 2-class gate (stored before wrong cuts had their own class) knows only digits.
        let not = p[usize::from(class::NOT_A_DIGIT)];
        let digit = if p.len() > 2 { finite(whole / (whole + not)) } else { whole };
        Judgement { digit, whole }
    }
}

/// The softmax of `network`'s scores on `rows` (one example each, of the
/// network's input size; [`CHUNK`] per forward pass): one row of class
/// probabilities per example.
pub(crate) fn class_probabilities(network: &mut Sequential, rows: &[&[f32]]) -> Vec<f32> {
    let classes = network.num_classes();
    let mut probs = vec![0.0; rows.len() * classes];
    for (chunk, out) in rows.chunks(CHUNK).zip(probs.chunks_mut(CHUNK * classes)) {
        stage(network, chunk);
        softmax_rows(network.forward_loaded(Mode::Eval).data(), classes, out);
    }
    probs
}

/// Copies `rows` (one example each) into `network`'s input buffer.
fn stage(network: &mut Sequential, rows: &[&[f32]]) {
    let staged = network.input_mut(rows.len()).data_mut();
    let d = staged.len() / rows.len().max(1);
    staged.chunks_exact_mut(d.max(1)).zip(rows).for_each(|(dst, row)| dst.copy_from_slice(row));
}

/// Trains `network` on `rows` (one example each, of its input size, one per
/// label; labels are its classes) for `epochs` epochs of Adam (learning
/// rate 0.002), batch 128, in an order drawn from `seed`. The error says
/// what went wrong, to follow "training the gate" or the like.
pub(crate) fn train_classifier(
    network: &mut Sequential,
    rows: &[&[f32]],
    labels: &[u8],
    epochs: usize,
    seed: u64,
) -> Result<(), String> {
    let mut optimizer = Optimizer::new(OptimizerKind::ADAM, 2e-3);
    let (batch, mut order, mut x, mut y) = (128, Vec::new(), Vec::new(), Vec::new());
    for epoch in 0..epochs {
        shuffle_indices(&mut order, labels.len(), seed, epoch as u64 + 1);
        for indices in order.chunks(batch) {
            x.clear();
            y.clear();
            x.extend(indices.iter().map(|&i| rows[i]));
            y.extend(indices.iter().map(|&i| labels[i]));
            stage(network, &x);
            network.forward_loaded(Mode::Train);
            let loss = network.backward(Loss::CrossEntropy, &y);
            if !loss.is_finite() {
                return Err(format!("diverged (loss {loss}) at epoch {}", epoch + 1));
            }
            optimizer.step(network);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three clusters of 4-value inputs, one per class, `n` of each.
    fn clusters(n: usize) -> (Vec<f32>, Vec<u8>) {
        let (mut inputs, mut labels) = (Vec::new(), Vec::new());
        for i in 0..n * 3 {
            let label = (i % 3) as u8;
            let wobble = ((i * 37) % 11) as f32 / 20.0;
            inputs.extend((0..4).map(|k| if k == usize::from(label) { 3.0 + wobble } else { wobble }));
            labels.push(label);
        }
        (inputs, labels)
    }

    #[test]
    fn digits_non_digits_and_wrong_cuts_are_told_apart() {
        let (inputs, labels) = clusters(100);
        let mut gate = Gate::train(inputs.clone(), &labels, 20, 1).unwrap();
        let judged = gate.judge(&inputs);
        for (j, &label) in judged.iter().zip(&labels) {
            assert!(j.whole <= j.digit + 1e-6, "{j:?}");
            match label {
                class::NOT_A_DIGIT => assert!(j.digit < 0.2, "{j:?}"),
                class::DIGIT => assert!(j.whole > 0.8, "{j:?}"),
                _ => assert!(j.whole < 0.2, "a wrong cut is not one whole digit: {j:?}"),
            }
        }
        let error = Gate::train(inputs, &vec![3; labels.len()], 1, 1).err().expect("label 3 is refused");
        assert!(error.contains("labels are 0 to 2"), "{error}");
    }

    #[test]
    fn a_two_class_gate_of_an_older_file_judges_digits_alone() {
        let mut spec = gate_spec(4);
        spec.layers[3] = LayerSpec::Dense { units: 2, init: crate::layers::Init::Glorot };
        let network = Sequential::new(&spec, 1).unwrap();
        let mut gate = Gate { mean: vec![0.0; 4], scale: vec![1.0; 4], network };
        for j in gate.judge(&clusters(5).0) {
            assert_eq!(j.digit, j.whole);
            assert!((0.0..=1.0).contains(&j.digit));
        }
    }
}
