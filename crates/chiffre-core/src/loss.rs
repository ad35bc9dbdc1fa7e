//! Losses: how far the network's answer is from the target, and the gradient
//! that back-propagation starts from.
//!
//! The network ends with raw scores ("logits") `z [B, K]`; the probabilities
//! are `p = softmax(z)`. Both losses take the logits, so that the softmax and
//! the loss can be differentiated together, stably.

use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Which loss to train with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Softmax + cross-entropy, fused: `L = -log p[target]`, mean over the batch.
    #[default]
    CrossEntropy,
    /// The tutorial's error formula on the probabilities:
    /// `L = ½ Σ_k (p_k - t_k)²` with `t` one-hot, mean over the batch.
    Mse,
}

fn max_of(z: &[f32]) -> f32 {
    z.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// `log Σ_k e^(z_k - max z)`, in f64.
fn log_sum_exp(z: &[f32]) -> f64 {
    let max = max_of(z);
    z.iter().map(|&v| ((v - max) as f64).exp()).sum::<f64>().ln()
}

/// Writes `softmax(z)` of each row of `logits [B, K]` into `probs`.
/// Subtracting the row maximum first keeps `exp` from overflowing.
pub fn softmax_rows(logits: &[f32], classes: usize, probs: &mut [f32]) {
    for (z, p) in logits.chunks_exact(classes).zip(probs.chunks_exact_mut(classes)) {
        let max = max_of(z);
        let mut sum = 0.0;
        for (p, &z) in p.iter_mut().zip(z) {
            *p = (z - max).exp();
            sum += *p;
        }
        p.iter_mut().for_each(|p| *p /= sum);
    }
}

impl Loss {
    /// Mean loss over the batch of `logits [B, K]` against `labels [B]`, and
    /// its gradient d(loss)/d(logits) written into `grad` (resized to `[B, K]`).
    /// Labels must be `< K` (the data room checks this before training).
    pub fn forward_backward(self, logits: &Tensor, labels: &[u8], grad: &mut Tensor) -> f32 {
        self.forward_backward_smoothed(logits, labels, grad, 0.0)
    }

    /// As [`Loss::forward_backward`], with label smoothing `ε` for the
    /// cross-entropy: the target is `(1 - ε)` on the label and `ε / K` spread
    /// over all `K` classes, so `L = -Σ_k t_k log p_k` and `dL/dz = p - t`.
    /// `ε = 0` is the plain loss, bit for bit. The squared error ignores `ε`.
    pub fn forward_backward_smoothed(self, logits: &Tensor, labels: &[u8], grad: &mut Tensor, eps: f32) -> f32 {
        let (batch, classes) = (logits.batch(), logits.item_len());
        grad.resize(logits.shape());
        // grad holds p = softmax(z) first, then is turned into dL/dz in place.
        softmax_rows(logits.data(), classes, grad.data_mut());
        let scale = 1.0 / batch as f32;
        let mut total = 0.0f64;
        let rows = logits.data().chunks_exact(classes);
        for ((p, z), &label) in grad.data_mut().chunks_exact_mut(classes).zip(rows).zip(labels) {
            let t = label as usize;
            match self {
                Loss::CrossEntropy if eps > 0.0 => {
                    // L = -Σ t_k log p_k,  log p_k = z_k - max - log Σ e^(z - max)
                    let (lse, max) = (log_sum_exp(z), max_of(z));
                    let uniform = eps / classes as f32;
                    for (k, (pk, &zk)) in p.iter_mut().zip(z).enumerate() {
                        let tk = uniform + if k == t { 1.0 - eps } else { 0.0 };
                        total -= tk as f64 * ((zk - max) as f64 - lse);
                        // dL/dz_k = p_k - t_k
                        *pk -= tk;
                    }
                }
                Loss::CrossEntropy => {
                    // L = -log p_t = log Σ_k e^(z_k - max) - (z_t - max): exact even when
                    // p_t underflows to 0, and NaN/∞ only when the logits are.
                    total += log_sum_exp(z) - (z[t] - max_of(z)) as f64;
                    // dL/dz_k = p_k - t_k
                    p[t] -= 1.0;
                }
                Loss::Mse => {
                    // L = ½ Σ (p_k - t_k)²;  g_k = dL/dp_k = p_k - t_k
                    let mut dot = 0.0; // Σ_i g_i p_i
                    for (k, &pk) in p.iter().enumerate() {
                        let g = pk - f32::from(k == t);
                        total += 0.5 * (g as f64) * (g as f64);
                        dot += g * pk;
                    }
                    // through the softmax Jacobian: dL/dz_k = p_k (g_k - Σ_i g_i p_i)
                    for (k, pk) in p.iter_mut().enumerate() {
                        let g = *pk - f32::from(k == t);
                        *pk *= g - dot;
                    }
                }
            }
            p.iter_mut().for_each(|g| *g *= scale);
        }
        (total / batch as f64) as f32
    }
}

/// Index of the largest value of each row of `logits [B, K]`: the predicted class.
pub fn argmax_rows(logits: &[f32], classes: usize) -> impl Iterator<Item = usize> + '_ {
    logits.chunks_exact(classes).map(|row| {
        row.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
    })
}
