//! The verifier: a second judge beside the gate, a small convolutional
//! network that looks at the mark's own 28×28 input (not at what the digit
//! reader made of it) and says the same three things: not a digit, one whole
//! digit, or digits cut wrong (see [`class`]).
//!
//! Why a second judge: the gate reads the digit reader's features, and the
//! reader, trained on digits alone, has no reason to keep what tells a
//! hexagon from a 0 or half an 8 from a 3: where its features are alike, the
//! gate cannot tell them apart. The verifier is trained on the pixels, for
//! that question only, on the same examples as the gate; the two
//! judgements are combined by [`combine`].
//!
//! Shapes (one example):
//! ```text
//! [28, 28, 1] → conv 3×3, 16 → ReLU → max 2×2 → [13, 13, 16]
//!             → conv 3×3, 32 → ReLU → max 2×2 → [5, 5, 32] → flatten [800]
//!             → dense 64 → ReLU → dense 3 (the classes)
//! ```

use super::gate::{class, class_probabilities, train_classifier};
use crate::layers::{Init, Padding};
use crate::model::QuantizedNetwork;
use crate::model::{LayerSpec, ModelSpec, Sequential};
use crate::preprocess::Pixels;

/// The verifier's architecture (about 56,000 weights).
pub fn verifier_spec() -> ModelSpec {
    use LayerSpec::*;
    let conv = |filters| Conv2d { filters, kernel: 3, stride: 1, padding: Padding::Valid, init: Init::He };
    let pool = MaxPool2d { size: 2, stride: None };
    ModelSpec {
        name: "reject-verifier".into(),
        input: [28, 28, 1],
        layers: vec![
            conv(16),
            Relu,
            pool.clone(),
            conv(32),
            Relu,
            pool,
            Flatten,
            Dense { units: 64, init: Init::He },
            Relu,
            Dense { units: class::COUNT, init: Init::Glorot },
        ],
        training: None,
    }
}

/// A trained verifier.
pub struct Verifier {
    /// `[28, 28, 1]` → 3 class scores.
    pub network: Sequential,
    /// The network in 8 bits, which judges in its place (from an 8-bit model
    /// file: `chiffre quantize`).
    pub quantized: Option<QuantizedNetwork>,
    /// The pictures asked, side by side, for `quantized` (kept between calls).
    staged: Vec<f32>,
}

impl Verifier {
    /// Trains a verifier on `pixels` (borrowed: the caller's pictures are
    /// not copied) labelled with [`class`]es, `epochs` epochs of Adam, batch
    /// 128, seeded.
    pub fn train(pixels: &[&Pixels], labels: &[u8], epochs: usize, seed: u64) -> Result<Verifier, String> {
        if pixels.is_empty() || pixels.len() != labels.len() {
            return Err(format!(
                "the verifier needs one label per picture: {} pictures, {} labels",
                pixels.len(),
                labels.len()
            ));
        }
        if let Some(bad) = labels.iter().find(|&&l| usize::from(l) >= class::COUNT) {
            return Err(format!("the verifier's labels are 0 to {}, got {bad}", class::COUNT - 1));
        }
        let mut network = Sequential::new(&verifier_spec(), seed ^ 0x5E1F).map_err(|e| e.to_string())?;
        let rows: Vec<&[f32]> = pixels.iter().map(|p| &p[..]).collect();
        train_classifier(&mut network, &rows, labels, epochs, seed ^ 0x5E1F)
            .map_err(|e| format!("training the verifier {e}"))?;
        Ok(Verifier { network, quantized: None, staged: Vec::new() })
    }

    /// Checks that `network` can be a verifier: 28×28×1 in, 3 classes out.
    pub fn from_network(network: Sequential) -> Result<Verifier, String> {
        if network.spec().input != [28, 28, 1] || network.num_classes() != class::COUNT {
            return Err(format!(
                "the verifier must read 28×28×1 inputs and give {} scores; this one reads {:?} and gives {}",
                class::COUNT,
                network.spec().input,
                network.num_classes()
            ));
        }
        Ok(Verifier { network, quantized: None, staged: Vec::new() })
    }

    /// The verifier's class probabilities, one row of [`class::COUNT`] per picture.
    pub fn probabilities(&mut self, pixels: &[&Pixels]) -> Vec<f32> {
        if let Some(quantized) = &mut self.quantized {
            self.staged.clear();
            pixels.iter().for_each(|p| self.staged.extend_from_slice(&p[..]));
            let classes = quantized.num_classes();
            let mut probs = vec![0.0; pixels.len() * classes];
            crate::loss::softmax_rows(quantized.forward(&self.staged), classes, &mut probs);
            return probs;
        }
        let rows: Vec<&[f32]> = pixels.iter().map(|p| &p[..]).collect();
        class_probabilities(&mut self.network, &rows)
    }
}

/// The two judges' probabilities combined, row by row, in place in `gate`:
/// their geometric mean, normalised (a product of experts, each at half
/// weight: a class either judge finds unlikely stays unlikely, and a
/// judge that is merely unsure does not outvote one that is sure). Rows of
/// `classes` values in both.
pub fn combine(gate: &mut [f32], verifier: &[f32], classes: usize) {
    for (g, v) in gate.chunks_exact_mut(classes).zip(verifier.chunks_exact(classes)) {
        g.iter_mut().zip(v).for_each(|(g, &v)| *g = (*g * v).sqrt());
        let sum: f32 = g.iter().sum();
        if sum > 0.0 && sum.is_finite() {
            g.iter_mut().for_each(|g| *g /= sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::PIXELS;

    /// Pictures of three kinds: a vertical bar (digit), a horizontal bar
    /// (not a digit), a small square in a corner (wrong cut), slightly moved.
    fn pictures(n: usize) -> (Vec<Pixels>, Vec<u8>) {
        let (mut pixels, mut labels) = (Vec::new(), Vec::new());
        for i in 0..n * 3 {
            let label = (i % 3) as u8;
            let shift = (i / 3) % 5;
            let mut p = [0.0; PIXELS];
            for y in 0..28 {
                for x in 0..28 {
                    let ink = match label {
                        class::DIGIT => (4..24).contains(&y) && (12 + shift..15 + shift).contains(&x),
                        class::NOT_A_DIGIT => (12 + shift..15 + shift).contains(&y) && (4..24).contains(&x),
                        _ => (2 + shift..9 + shift).contains(&y) && (2..9).contains(&x),
                    };
                    p[y * 28 + x] = if ink { 1.0 } else { 0.0 };
                }
            }
            pixels.push(p);
            labels.push(label);
        }
        (pixels, labels)
    }

    #[test]
    fn it_learns_to_tell_the_three_kinds_apart() {
        let (pixels, labels) = pictures(40);
        let mut verifier = Verifier::train(&pixels.iter().collect::<Vec<_>>(), &labels, 8, 1).unwrap();
        let probs = verifier.probabilities(&pixels.iter().collect::<Vec<_>>());
        for (p, &label) in probs.chunks_exact(class::COUNT).zip(&labels) {
            assert!(p[usize::from(label)] > 0.8, "label {label}: {p:?}");
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        }
        let error = Verifier::train(&pixels.iter().collect::<Vec<_>>(), &vec![3; pixels.len()], 1, 1)
            .err()
            .expect("label 3 is refused");
        assert!(error.contains("labels are 0 to 2"), "{error}");
    }

    #[test]
    fn only_a_28_by_28_three_class_network_is_a_verifier() {
        let mut spec = verifier_spec();
        assert!(Verifier::from_network(Sequential::new(&spec, 1).unwrap()).is_ok());
        spec.layers.pop();
        spec.layers.push(LayerSpec::Dense { units: 10, init: Init::Glorot });
        let error = Verifier::from_network(Sequential::new(&spec, 1).unwrap()).err().expect("10 classes is refused");
        assert!(error.contains("3 scores"), "{error}");
    }

    #[test]
    fn the_combination_keeps_what_both_judges_agree_on() {
        // Both sure: unchanged. One unsure: the sure one wins. They disagree: neither is sure.
        let mut gate = vec![0.0, 1.0, 0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 0.9, 0.1, 0.0];
        let verifier = vec![0.0, 1.0, 0.0, 0.05, 0.9, 0.05, 0.1, 0.9, 0.0];
        combine(&mut gate, &verifier, 3);
        assert!((gate[1] - 1.0).abs() < 1e-6);
        assert!(gate[4] > 0.6 && gate[4] > gate[3] * 4.0, "{:?}", &gate[3..6]);
        assert!((gate[6] - 0.5).abs() < 1e-6 && (gate[7] - 0.5).abs() < 1e-6, "{:?}", &gate[6..9]);
        for row in gate.chunks_exact(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
}
