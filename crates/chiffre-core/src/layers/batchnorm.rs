//! Batch normalisation: each channel is shifted and scaled to zero mean and
//! unit variance over the batch, then given a learned scale `γ` and shift
//! `β`. Training uses the batch's statistics and keeps running averages of
//! them; inference uses the running averages, so one example's answer does
//! not depend on the others in its batch.
//!
//! Shapes (channels-last, so both kinds are the same computation on rows):
//! `BatchNorm2d`: input `x [B, H, W, C]`, statistics over the `R = B·H·W`
//! rows of each channel; `BatchNorm1d`: input `x [B, C]`, over the `R = B`
//! rows. `γ [C]` (`weight`), `β [C]` (`bias`), running mean and variance
//! `[C]`; output `y` has the shape of `x`.

use super::{Layer, Mode, Param};
use crate::kernels::relu_grad;
use crate::par::prelude::*;
use crate::tensor::Tensor;

/// Rows per parallel block: fixed, so that sums (and the trained weights) are
/// the same for any number of threads.
const ROWS_PER_BLOCK: usize = 256;

/// The settings of a [`BatchNorm`] (PyTorch's defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    /// Weight of each batch in the running statistics, in `[0, 1]`.
    pub momentum: f32,
    /// ε added to the variance, positive.
    pub eps: f32,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig { momentum: 0.1, eps: 1e-5 }
    }
}

/// What the same pass does after normalising (a ReLU layer that the
/// network's plan fused into the batch normalisation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    /// Nothing: the normalised values are the output.
    Identity,
    /// `max(0, ·)`.
    Relu,
}

/// `y = γ · (x - μ) / √(σ² + ε) + β`, per channel.
#[derive(Clone, Debug)]
pub struct BatchNorm {
    kind: &'static str,
    shape: Vec<usize>,
    /// Weight of the current batch in the running averages (PyTorch: 0.1).
    momentum: f32,
    eps: f32,
    gamma: Param,
    beta: Param,
    running_mean: Tensor,
    running_var: Tensor,
    /// x̂ = (x - μ) / √(σ² + ε) of the last training pass, for backward.
    xhat: Vec<f32>,
    /// 1 / √(σ² + ε) of the last training pass, per channel.
    inv_std: Vec<f32>,
    /// Per-block partial sums (two per channel), reduced in block order.
    partial: Vec<f64>,
    /// Per-channel scale and shift of a pass (or three factors of backward), `[3, C]`.
    affine: Vec<f32>,
    /// Per-channel sums of a pass, `[2, C]`.
    sums: Vec<f64>,
}

impl BatchNorm {
    /// Batch normalisation of feature maps `[H, W, C]`, per channel
    /// (`batch_norm2d`); `Err` says why the settings or shapes are impossible.
    pub fn feature_maps(input: &[usize], config: BatchNormConfig) -> Result<Self, String> {
        Self::new(input, true, config)
    }

    /// Batch normalisation of vectors `[N]`, per feature (`batch_norm1d`);
    /// `Err` says why the settings or shapes are impossible.
    pub fn vectors(input: &[usize], config: BatchNormConfig) -> Result<Self, String> {
        Self::new(input, false, config)
    }

    fn new(input: &[usize], is_image: bool, config: BatchNormConfig) -> Result<Self, String> {
        let BatchNormConfig { momentum, eps } = config;
        let kind = if is_image { "batch_norm2d" } else { "batch_norm1d" };
        match (is_image, input.len()) {
            (true, 3) | (false, 1) => {}
            (true, _) => return Err(format!("expects feature maps [height, width, channels], got {input:?}")),
            (false, _) => return Err(format!("expects a flat input [N], got {input:?}: use batch_norm2d on images")),
        }
        if !(0.0..=1.0).contains(&momentum) {
            return Err(format!("momentum must be in [0, 1], got {momentum}"));
        }
        if !(eps.is_finite() && eps > 0.0) {
            return Err(format!("eps must be a positive number, got {eps}"));
        }
        let c = input[input.len() - 1];
        let mut gamma = Tensor::zeros(&[c]);
        gamma.fill(1.0);
        let mut running_var = Tensor::zeros(&[c]);
        running_var.fill(1.0);
        Ok(BatchNorm {
            kind,
            shape: input.to_vec(),
            momentum,
            eps,
            gamma: Param::new(gamma),
            beta: Param::new(Tensor::zeros(&[c])),
            running_mean: Tensor::zeros(&[c]),
            running_var,
            xhat: Vec::new(),
            inv_std: vec![0.0; c],
            partial: Vec::new(),
            affine: vec![0.0; 3 * c],
            sums: vec![0.0; 2 * c],
        })
    }

    fn channels(&self) -> usize {
        self.gamma.value.len()
    }

    /// Per-channel `(Σ a, Σ a·b)` over all rows of `a` and `b` (both
    /// `[rows, c]`), into `sums[..c]` and `sums[c..]`: blocks of
    /// [`ROWS_PER_BLOCK`] rows in parallel, each summed row by row in f64,
    /// then the blocks added in block order (the same numbers for any
    /// number of threads). Row slices rather than flat indices, so that the
    /// channel loop vectorises.
    /// With `mask` (a ReLU's outputs, `[rows, c]`), `a` is first multiplied
    /// by the ReLU's derivative `[mask > 0]`.
    fn channel_sums(partial: &mut Vec<f64>, sums: &mut [f64], c: usize, a: &[f32], b: &[f32], mask: Option<&[f32]>) {
        let chunk = ROWS_PER_BLOCK * c;
        let blocks = a.len().div_ceil(chunk).max(1);
        partial.clear();
        partial.resize(blocks * 2 * c, 0.0);
        let blocks = partial.par_chunks_mut(2 * c).zip(a.par_chunks(chunk)).zip(b.par_chunks(chunk));
        blocks.enumerate().for_each(|(i, ((out, a), b))| {
            let (sa, sab) = out.split_at_mut(c);
            let mask = mask.map(|m| &m[i * chunk..i * chunk + a.len()]);
            for (r, (a, b)) in a.chunks_exact(c).zip(b.chunks_exact(c)).enumerate() {
                let sums = sa.iter_mut().zip(sab.iter_mut());
                match mask {
                    Some(m) => {
                        for (((sa, sab), (&a, &b)), &m) in sums.zip(a.iter().zip(b)).zip(&m[r * c..(r + 1) * c]) {
                            let a = a * relu_grad(m);
                            *sa += a as f64;
                            *sab += (a * b) as f64;
                        }
                    }
                    None => {
                        for ((sa, sab), (&a, &b)) in sums.zip(a.iter().zip(b)) {
                            *sa += a as f64;
                            *sab += (a * b) as f64;
                        }
                    }
                }
            }
        });
        sums.fill(0.0);
        for block in partial.chunks_exact(2 * c) {
            sums.iter_mut().zip(block).for_each(|(s, v)| *s += v);
        }
    }

    /// The settings it was built with.
    pub fn config(&self) -> BatchNormConfig {
        BatchNormConfig { momentum: self.momentum, eps: self.eps }
    }

    /// The learned scale `γ [C]` (`weight` in files).
    pub fn scale(&self) -> &Param {
        &self.gamma
    }

    /// The learned shift `β [C]` (`bias` in files).
    pub fn shift(&self) -> &Param {
        &self.beta
    }

    /// The running mean `[C]` that inference uses.
    pub fn running_mean(&self) -> &Tensor {
        &self.running_mean
    }

    /// The running variance `[C]` that inference uses.
    pub fn running_var(&self) -> &Tensor {
        &self.running_var
    }

    /// What inference does to channel `ch`: `y = scale · x + shift`, with
    /// `scale = γ / √(running σ² + ε)` and `shift = β − running μ · scale`
    /// (the 8-bit network folds it into the layer before:
    /// [`crate::model::QuantizedNetwork`]).
    pub fn inference_affine(&self, ch: usize) -> (f32, f32) {
        // y = γ · (x - running μ) / √(running σ² + ε) + β, as one scale and shift
        let inv = 1.0 / (self.running_var.data()[ch] + self.eps).sqrt();
        let scale = self.gamma.value.data()[ch] * inv;
        (scale, self.beta.value.data()[ch] - self.running_mean.data()[ch] * scale)
    }

    /// Forward, followed by `max(0, ·)` with [`Then::Relu`] (a ReLU layer
    /// fused into this one by the network's plan: one pass instead of two).
    pub fn forward_fused(&mut self, x: &Tensor, y: &mut Tensor, mode: Mode, then: Then) {
        let relu = then == Then::Relu;
        let c = self.channels();
        let rows = x.len() / c;
        y.resize(x.shape());
        self.affine.resize(3 * c, 0.0);
        if mode == Mode::Eval {
            for ch in 0..c {
                (self.affine[ch], self.affine[c + ch]) = self.inference_affine(ch);
            }
        }
        let (scale, rest) = self.affine.split_at_mut(c);
        let shift = &mut rest[..c];
        if mode == Mode::Eval {
            scale_shift(x.data(), scale, shift, relu, y.data_mut());
            return;
        }
        let xs = x.data();
        // μ = Σ x / R;  σ² = Σ x² / R - μ²  (biased, as in the normalisation)
        Self::channel_sums(&mut self.partial, &mut self.sums, c, xs, xs, None);
        let (sum, sum_sq) = self.sums.split_at(c);
        let n = rows.max(1) as f64;
        for ch in 0..c {
            let mean = sum[ch] / n;
            let var = (sum_sq[ch] / n - mean * mean).max(0.0);
            self.inv_std[ch] = (1.0 / (var + self.eps as f64).sqrt()) as f32;
            // running averages (the variance unbiased, as PyTorch keeps it)
            let m = self.momentum;
            let unbiased = if rows > 1 { var * n / (n - 1.0) } else { var };
            let rm = &mut self.running_mean.data_mut()[ch];
            *rm = (1.0 - m) * *rm + m * mean as f32;
            let rv = &mut self.running_var.data_mut()[ch];
            *rv = (1.0 - m) * *rv + m * unbiased as f32;
            // x̂ = x · inv_std - μ · inv_std
            scale[ch] = self.inv_std[ch];
            shift[ch] = -(mean as f32) * self.inv_std[ch];
        }
        self.xhat.resize(xs.len(), 0.0);
        // x̂ = x · inv_std - μ · inv_std;  y = γ · x̂ + β, then max(0, y) with relu   (one pass)
        let chunk = ROWS_PER_BLOCK * c;
        let (gamma, beta) = (self.gamma.value.data(), self.beta.value.data());
        let blocks = y.data_mut().par_chunks_mut(chunk).zip(self.xhat.par_chunks_mut(chunk)).zip(xs.par_chunks(chunk));
        blocks.for_each(|((y, xhat), x)| {
            for ((y, xhat), x) in y.chunks_exact_mut(c).zip(xhat.chunks_exact_mut(c)).zip(x.chunks_exact(c)) {
                let factors = scale.iter().zip(&*shift).zip(gamma).zip(beta);
                for (((y, xhat), x), (((s, t), g), b)) in y.iter_mut().zip(xhat).zip(x).zip(factors) {
                    *xhat = x * s + t;
                    *y = *xhat * g + b;
                    if relu {
                        *y = y.max(0.0);
                    }
                }
            }
        });
    }

    /// Backward of [`BatchNorm::forward_fused`] with the same `then`; `y`
    /// is its output (the ReLU's derivative is read from it).
    pub fn backward_fused(&mut self, x: &Tensor, y: &Tensor, dy: &Tensor, dx: Option<&mut Tensor>, then: Then) {
        let relu = then == Then::Relu;
        let c = self.channels();
        let rows = x.len() / c;
        let (dys, xhat) = (dy.data(), &self.xhat);
        // with relu, from y = max(0, u):  du = dy · [y > 0]  (computed where it is read, below)
        let mask = relu.then(|| y.data());
        // from u = γ·x̂ + β:  dβ = Σ du,  dγ = Σ du·x̂
        Self::channel_sums(&mut self.partial, &mut self.sums, c, dys, xhat, mask);
        let (dbeta, dgamma) = self.sums.split_at(c);
        for ch in 0..c {
            self.beta.grad.data_mut()[ch] = dbeta[ch] as f32;
            self.gamma.grad.data_mut()[ch] = dgamma[ch] as f32;
        }
        let Some(dx) = dx else { return };
        dx.resize(x.shape());
        // from x̂ = (x - μ)/σ with μ and σ of the batch:
        //   dx = γ/σ · (dy - Σdy/R - x̂ · Σ(dy·x̂)/R)
        let n = rows.max(1) as f64;
        // affine holds k = γ/σ, then Σdy/R and Σ(dy·x̂)/R, per channel
        self.affine.resize(3 * c, 0.0);
        let (k, means) = self.affine.split_at_mut(c);
        let (mean_dy, mean_dyx) = means.split_at_mut(c);
        for ch in 0..c {
            k[ch] = self.gamma.value.data()[ch] * self.inv_std[ch];
            mean_dy[ch] = (dbeta[ch] / n) as f32;
            mean_dyx[ch] = (dgamma[ch] / n) as f32;
        }
        let (k, mean_dy, mean_dyx) = (&*k, &*mean_dy, &*mean_dyx);
        let chunk = ROWS_PER_BLOCK * c;
        let ys = y.data();
        let blocks = dx.data_mut().par_chunks_mut(chunk).zip(dys.par_chunks(chunk)).zip(xhat.par_chunks(chunk));
        blocks.enumerate().for_each(|(b, ((dx, dy), xh))| {
            // the ReLU's outputs of this block (unused without relu)
            let y = if relu { &ys[b * chunk..b * chunk + dx.len()] } else { &[][..] };
            for (r, ((dx, dy), xh)) in
                dx.chunks_exact_mut(c).zip(dy.chunks_exact(c)).zip(xh.chunks_exact(c)).enumerate()
            {
                let factors = k.iter().zip(mean_dy).zip(mean_dyx);
                if relu {
                    let y = &y[r * c..(r + 1) * c];
                    for ((((dx, dy), xh), ((k, mdy), mdyx)), y) in dx.iter_mut().zip(dy).zip(xh).zip(factors).zip(y) {
                        *dx = k * (dy * relu_grad(*y) - mdy - xh * mdyx);
                    }
                } else {
                    for (((dx, dy), xh), ((k, mdy), mdyx)) in dx.iter_mut().zip(dy).zip(xh).zip(factors) {
                        *dx = k * (dy - mdy - xh * mdyx);
                    }
                }
            }
        });
    }
}

/// `out[i] = x[i] · scale[c] + shift[c]` for every row, then `max(0, ·)`
/// with `relu`, in parallel.
fn scale_shift(x: &[f32], scale: &[f32], shift: &[f32], relu: bool, out: &mut [f32]) {
    let c = scale.len();
    out.par_chunks_mut(ROWS_PER_BLOCK * c).zip(x.par_chunks(ROWS_PER_BLOCK * c)).for_each(|(out, x)| {
        for (out, x) in out.chunks_exact_mut(c).zip(x.chunks_exact(c)) {
            for (((o, x), s), t) in out.iter_mut().zip(x).zip(scale).zip(shift) {
                *o = x * s + t;
                if relu {
                    *o = o.max(0.0);
                }
            }
        }
    });
}

impl Layer for BatchNorm {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn forward(&mut self, x: &Tensor, y: &mut Tensor, mode: Mode) {
        self.forward_fused(x, y, mode, Then::Identity);
    }

    fn backward(&mut self, x: &Tensor, y: &Tensor, dy: &Tensor, dx: Option<&mut Tensor>) {
        self.backward_fused(x, y, dy, dx, Then::Identity);
    }

    fn params(&self) -> Vec<(&'static str, &Param)> {
        vec![("weight", &self.gamma), ("bias", &self.beta)]
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(&'static str, &mut Param)) {
        f("weight", &mut self.gamma);
        f("bias", &mut self.beta);
    }

    fn buffers(&self) -> Vec<(&'static str, &Tensor)> {
        vec![("running_mean", &self.running_mean), ("running_var", &self.running_var)]
    }

    fn visit_buffers_mut(&mut self, f: &mut dyn FnMut(&'static str, &mut Tensor)) {
        f("running_mean", &mut self.running_mean);
        f("running_var", &mut self.running_var);
    }

    fn forward_macs(&self) -> usize {
        2 * self.shape.iter().product::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_output_is_normalised_and_inference_uses_running_statistics() {
        let mut bn = BatchNorm::feature_maps(&[2, 2, 3], BatchNormConfig { momentum: 1.0, eps: 1e-5 }).unwrap();
        let x = Tensor::from_vec(&[2, 2, 2, 3], (0..24).map(|i| (i * 7 % 11) as f32).collect()).unwrap();
        let mut y = Tensor::default();
        bn.forward(&x, &mut y, Mode::Train);
        for ch in 0..3 {
            let v: Vec<f32> = y.data().iter().skip(ch).step_by(3).copied().collect();
            let mean = v.iter().sum::<f32>() / 8.0;
            let var = v.iter().map(|a| (a - mean) * (a - mean)).sum::<f32>() / 8.0;
            assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-3, "channel {ch}: mean {mean}, var {var}");
        }
        // momentum 1: the running statistics are this batch's (variance unbiased)
        let mut z = Tensor::default();
        bn.forward(&x, &mut z, Mode::Eval);
        for (a, b) in y.data().iter().zip(z.data()) {
            assert!((a * (7.0f32 / 8.0).sqrt() - b).abs() < 1e-3, "train {a}, eval {b}");
        }
    }

    #[test]
    fn impossible_settings_are_refused() {
        assert!(BatchNorm::feature_maps(&[4], BatchNormConfig { momentum: 0.1, eps: 1e-5 })
            .unwrap_err()
            .contains("feature maps"));
        assert!(BatchNorm::vectors(&[2, 2, 3], BatchNormConfig { momentum: 0.1, eps: 1e-5 })
            .unwrap_err()
            .contains("flat"));
        assert!(BatchNorm::vectors(&[4], BatchNormConfig { momentum: 1.5, eps: 1e-5 })
            .unwrap_err()
            .contains("momentum"));
    }
}
