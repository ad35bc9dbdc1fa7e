//! Batch normalisation folded into the 8-bit network's step before it: at
//! inference it is `y = s·x + t` per channel ([`BatchNorm::inference_affine`]),
//! so a product's conversion `sum·m + b` becomes `sum·(m·s) + (b·s + t)`, and
//! after a first convolution in `f32` it is a scale and shift on its output.

use super::Stage;
use crate::layers::BatchNorm;

/// A batch normalisation (and the ReLU after it) on a [`Stage::Float`]'s
/// output: `y = relu?(scale · x + shift)` per channel.
#[derive(Clone, Debug)]
pub(super) struct Affine {
    pub(super) scale: Vec<f32>,
    pub(super) shift: Vec<f32>,
    pub(super) relu: bool,
}

impl Affine {
    /// Applies it to `y` (channels last, `scale.len()` of them).
    pub(super) fn apply(&self, y: &mut [f32]) {
        for row in y.chunks_exact_mut(self.scale.len().max(1)) {
            for ((v, &s), &t) in row.iter_mut().zip(&self.scale).zip(&self.shift) {
                let a = s * *v + t;
                *v = if self.relu { a.max(0.0) } else { a };
            }
        }
    }
}

/// Folds `norm` into `last`, the step before it: true when it could (a
/// product whose ReLU does not come between them, or a first `f32` step).
pub(super) fn batch_norm(last: Option<&mut Stage>, norm: &BatchNorm) -> bool {
    let (scale, shift): (Vec<f32>, Vec<f32>) = (0..norm.scale().value.len()).map(|c| norm.inference_affine(c)).unzip();
    match last {
        // y = s·(sum·m + b) + t = sum·(m·s) + (b·s + t)
        Some(Stage::Product { convert, .. }) if !convert.relu && convert.bias.len() == scale.len() => {
            for (((m, b), &s), &t) in convert.multiplier.iter_mut().zip(&mut convert.bias).zip(&scale).zip(&shift) {
                (*m, *b) = (*m * s, *b * s + t);
            }
            true
        }
        Some(Stage::Float { affine: fold @ None, .. }) => {
            *fold = Some(Affine { scale, shift, relu: false });
            true
        }
        _ => false,
    }
}
