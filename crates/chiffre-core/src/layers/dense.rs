//! Fully-connected layer: every output is a weighted sum of every input plus
//! a bias: the tutorial's perceptron, and the "Dense" layers of the MLP and
//! of the CNN's head.
//!
//! Shapes: input `x [B, I]`, weight `W [O, I]`, bias `b [O]`, output `y [B, O]`.

use super::{resize_batch, resize_batch_for_overwrite, Init, Layer, Mode, Param};
use crate::kernels::{add_bias_rows, matmul_packed, matmul_reduce_rows, sum_rows, Gemm, PackedMatrix};
use crate::tensor::Tensor;
use rand_chacha::ChaCha8Rng;

/// `y = x · Wᵀ + b`.
#[derive(Clone, Debug)]
pub struct Dense {
    inputs: usize,
    out_shape: [usize; 1],
    weight: Param,
    bias: Param,
    /// Partial sums of the weight and bias gradients, one block per chunk of rows.
    workspace: Vec<f32>,
    /// `Wᵀ` packed for [`matmul_packed`], for inference on 2 to
    /// [`PACKED_MAX_ROWS`] rows; rebuilt after every change of the weights.
    packed: PackedMatrix,
    /// Whether `packed` holds the current weights: cleared whenever the
    /// parameters are lent out mutably (an optimizer step, a load).
    packed_fresh: bool,
}

/// Inference on 2 to this many rows multiplies by weights packed once
/// ([`matmul_packed`], on the calling thread) instead of the general GEMM,
/// which packs them again on every call: a number's tried digits (20 to 80
/// rows). Measured with the layers of the tutorial CNN, the gate and the
/// verifier (AMD EPYC, AVX2, 2026-12-05, best of 5; GEMM on 2 threads /
/// packed on one): 0.55–0.86× at 1 row (the GEMM's own one-row path wins),
/// 2.5–2.7× at 8 rows, 1.1–1.5× at 40, 0.8–1.3× at 128.
pub const PACKED_MAX_ROWS: usize = 64;

impl Dense {
    /// A dense layer from `inputs` to `units`, weights drawn by `init`.
    pub fn new(inputs: usize, units: usize, init: Init, rng: &mut ChaCha8Rng) -> Self {
        let mut weight = Tensor::zeros(&[units, inputs]);
        init.fill(weight.data_mut(), inputs, units, rng);
        Dense {
            inputs,
            out_shape: [units],
            weight: Param::new(weight),
            bias: Param::new(Tensor::zeros(&[units])),
            workspace: Vec::new(),
            packed: PackedMatrix::new(),
            packed_fresh: false,
        }
    }

    fn units(&self) -> usize {
        self.out_shape[0]
    }

    /// The weights `W [units, inputs]`.
    pub fn weight(&self) -> &Param {
        &self.weight
    }

    /// The bias `b [units]`.
    pub fn bias(&self) -> &Param {
        &self.bias
    }
}

impl Layer for Dense {
    fn kind(&self) -> &'static str {
        "dense"
    }

    fn output_shape(&self) -> &[usize] {
        &self.out_shape
    }

    fn forward(&mut self, x: &Tensor, y: &mut Tensor, mode: Mode) {
        let (batch, i, o) = (x.batch(), self.inputs, self.units());
        // every output is written below
        resize_batch_for_overwrite(y, batch, &self.out_shape);
        if mode == Mode::Eval && (2..=PACKED_MAX_ROWS).contains(&batch) {
            if !self.packed_fresh {
                // Wᵀ[I,O] laid out in panels, once per weight update
                self.packed.pack_transposed(self.weight.value.data(), o, i);
                self.packed_fresh = true;
            }
            // y[B,O] = x[B,I] · W[O,I]ᵀ + b (the same product; backward is the same)
            matmul_packed(x.data(), i, batch, &self.packed, Some(self.bias.value.data()), y.data_mut(), o);
            return;
        }
        // y[B,O] = x[B,I] · W[O,I]ᵀ
        Gemm::new(batch, o, i).b_transposed().run(x.data(), self.weight.value.data(), y.data_mut());
        // y += b (broadcast over the batch)
        add_bias_rows(y.data_mut(), self.bias.value.data());
    }

    fn backward(&mut self, x: &Tensor, _y: &Tensor, dy: &Tensor, dx: Option<&mut Tensor>) {
        let (batch, i, o) = (x.batch(), self.inputs, self.units());
        // from y = x·Wᵀ:  dW[O,I] = dy[B,O]ᵀ · x[B,I]
        matmul_reduce_rows(o, i, batch, dy.data(), x.data(), self.weight.grad.data_mut(), &mut self.workspace);
        // from y += b:    db[O] = Σ_B dy
        sum_rows(dy.data(), self.bias.grad.data_mut(), &mut self.workspace);
        if let Some(dx) = dx {
            resize_batch(dx, batch, &[i]);
            // from y = x·Wᵀ:  dx[B,I] = dy[B,O] · W[O,I]
            Gemm::new(batch, i, o).run(dy.data(), self.weight.value.data(), dx.data_mut());
        }
    }

    fn params(&self) -> Vec<(&'static str, &Param)> {
        vec![("weight", &self.weight), ("bias", &self.bias)]
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(&'static str, &mut Param)) {
        self.packed_fresh = false;
        f("weight", &mut self.weight);
        f("bias", &mut self.bias);
    }

    fn forward_macs(&self) -> usize {
        self.inputs * self.units()
    }
}
