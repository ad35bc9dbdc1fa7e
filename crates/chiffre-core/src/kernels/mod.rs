//! The hot loops, and only they: matrix multiply, im2col/col2im, the blocked
//! convolution (with its fused ReLU and pooling), the direct convolution of
//! first layers, pooling, and the 8-bit integer product of quantized
//! inference ([`int8`]).
//!
//! Every layer that needs heavy arithmetic calls into this module, so that
//! speed work happens in one place. Each optimised kernel has a plain, obvious
//! twin in [`mod@reference`], and the tests check one against the other on random
//! shapes.
//!
//! All image tensors are channels-last, `[B, H, W, C]` (see [`crate::tensor`]).

mod conv;
pub mod direct;
mod gemm;
mod im2col;
pub mod int8;
mod packed;
mod pool;
pub mod reference;
mod simd;
mod winograd;

pub use conv::{
    conv_backward, conv_backward_fused, conv_backward_winograd, conv_forward, conv_forward_fused, conv_forward_packed,
    conv_forward_winograd, packed_suits, Blocking, ConvGrads, Epilogue, BLOCK_BYTES, GROUP_IMAGES,
};
pub use gemm::{add_bias_rows, matmul_reduce_rows, sum_rows, Gemm, Transpose, REDUCE_CHUNK};
pub use im2col::{col2im, col2im_serial, im2col, im2col_serial, ConvGeometry};
pub use int8::{matmul_i8, PackedI8};
pub use packed::{matmul_packed, PackedMatrix};
pub use pool::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, relu_grad, PoolGeometry};
pub use winograd::{set_enabled as set_winograd, suits as winograd_suits, WinogradFilters};
