//! One product stage of a [`super::QuantizedNetwork`] on a batch: blocks of
//! images in parallel, each block's integer sums, the max pooling on them,
//! and the conversion to the next layer's input, while the sums are in the
//! cache.

use crate::kernels::int8::{
    conv_i8_with, matmul_i8_with, max_pool_sums_in_place, patches_in_place, Int8Isa, QuantizedWeights,
};
use crate::kernels::{ConvGeometry, PoolGeometry};

/// Rows of a product computed together on one thread (a block fits the
/// caches: 256 rows of 288 bytes in, 256 × 64 sums out).
const ROWS_PER_BLOCK: usize = 256;

/// A convolution's geometry cut to the outputs that the max pooling after
/// it reads, and the pooling's geometry on them: a pooling of windows
/// `size` wide every `stride` reads `(oh - 1)·stride + size` rows.
pub(super) fn pooled_part(
    conv: Option<ConvGeometry>,
    pool: Option<PoolGeometry>,
) -> (Option<ConvGeometry>, Option<PoolGeometry>) {
    match (conv, pool) {
        (Some(g), Some(p)) if p.oh > 0 && p.ow > 0 => {
            let (h, w) = ((p.oh - 1) * p.stride + p.size, (p.ow - 1) * p.stride + p.size);
            let (h, w) = (h.min(g.oh), w.min(g.ow));
            (Some(ConvGeometry { oh: h, ow: w, ..g }), Some(PoolGeometry { h, w, ..p }))
        }
        _ => (conv, pool),
    }
}

/// One product stage's work on a batch, block by block.
pub(super) struct Product<'a> {
    pub isa: Int8Isa,
    pub geometry: Option<ConvGeometry>,
    pub weights: &'a QuantizedWeights,
    /// Rows of sums per image, and their width.
    pub rows: usize,
    pub n: usize,
    pub pool: Option<PoolGeometry>,
}

impl Product<'_> {
    /// For each block of images, in parallel: the sums of `x` (images, or
    /// their copied patches) into `sums`, each image's pooled in place, then
    /// `emit(image's sums, image's output)` into `y`, `y_image` values an
    /// image.
    pub fn run<T: Send>(
        &self,
        x: &[u8],
        sums: &mut [i32],
        y: &mut [T],
        y_image: usize,
        emit: impl Fn(&[i32], &mut [T]) + Sync,
    ) {
        use crate::par::prelude::*;
        let b = sums.len() / (self.rows * self.n).max(1);
        if b == 0 {
            return;
        }
        let x_image = x.len() / b;
        let per_block = (ROWS_PER_BLOCK / self.rows).max(1);
        let (n, rows) = (self.n, self.rows);
        let blocks = x.par_chunks(per_block * x_image).zip(sums.par_chunks_mut(per_block * rows * n));
        blocks.zip(y.par_chunks_mut(per_block * y_image)).for_each(|((x, sums), y)| {
            match self.geometry {
                // sums = patches(x) · Wᵀ, the patches read in place
                Some(g) if patches_in_place(&g) => conv_i8_with(self.isa, x, &g, &self.weights.packed, sums),
                // sums = x · Wᵀ (a dense layer's rows, or copied patches)
                _ => matmul_i8_with(self.isa, x, &self.weights.packed, sums),
            }
            for (sums, y) in sums.chunks_exact_mut(rows * n).zip(y.chunks_exact_mut(y_image)) {
                let kept = match &self.pool {
                    Some(p) => {
                        // from y = maxpool(z), on the sums
                        max_pool_sums_in_place(sums, p);
                        p.oh * p.ow
                    }
                    None => rows,
                };
                emit(&sums[..kept * n], y);
            }
        });
    }
}
