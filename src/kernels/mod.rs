//! The hot loops, and only they: matrix multiply, im2col/col2im, pooling.
//!
//! Every layer that needs heavy arithmetic calls into this module, so that
//! speed work happens in one place. Each optimised kernel has a plain, obvious
//! twin in [`reference`], and the tests check one against the other on random
//! shapes.
//!
//! All image tensors are channels-last, `[B, H, W, C]` (see [`crate::tensor`]).

mod gemm;
mod im2col;
mod pool;
pub mod reference;

pub use gemm::{matmul, Transpose};
pub use im2col::{col2im, im2col, ConvGeometry};
pub use pool::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, PoolGeometry};

/// Adds `bias[j]` to every row of the row-major `rows × bias.len()` matrix `out`.
pub fn add_bias_rows(out: &mut [f32], bias: &[f32]) {
    for row in out.chunks_exact_mut(bias.len()) {
        for (o, b) in row.iter_mut().zip(bias) {
            *o += b;
        }
    }
}

/// Column sums of the row-major `rows × sums.len()` matrix `m`, written into
/// `sums` (used for bias gradients). The rows are summed in order, so the
/// result does not depend on the thread count.
pub fn sum_rows(m: &[f32], sums: &mut [f32]) {
    sums.fill(0.0);
    for row in m.chunks_exact(sums.len()) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
}
