//! im2col / col2im for channels-last images: a convolution becomes one GEMM.
//!
//! For an input `[B, H, W, C]` and a `k × k` kernel, `im2col` writes one row
//! per output pixel `(b, oy, ox)` (so `B·OH·OW` rows) holding the `k·k·C`
//! input values under the kernel, in `(ky, kx, c)` order, with zeros where the
//! kernel hangs over the padded border. The convolution is then
//! `out[B·OH·OW, OC] = col · Wᵀ` with the weights stored `[OC, k, k, C]`.

use rayon::prelude::*;

/// Sizes of one 2-D convolution (or of any sliding window).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Input channels.
    pub c: usize,
    /// Kernel side.
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Zero rows added above (and columns on the left).
    pub pad_top: usize,
    /// Zero columns added on the left.
    pub pad_left: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl ConvGeometry {
    /// Length of one im2col row: `k·k·C`.
    pub fn patch_len(&self) -> usize {
        self.k * self.k * self.c
    }

    /// Input offset of `(iy, ix)` for output pixel `(oy, ox)` and kernel tap
    /// `(ky, kx)`, or `None` when it falls in the padding.
    #[inline]
    fn source(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let iy = (oy * self.stride + ky).checked_sub(self.pad_top)?;
        let ix = (ox * self.stride + kx).checked_sub(self.pad_left)?;
        (iy < self.h && ix < self.w).then_some((iy, ix))
    }
}

/// `input [B, H, W, C]` → `col [B·OH·OW, k·k·C]`.
///
/// Channels-last makes the `k` taps of one kernel row `(ky, 0..k, 0..C)` one
/// contiguous run of `k·C` input values, so each is a single copy unless the
/// kernel hangs over the left or right border. Parallel over output rows.
pub fn im2col(input: &[f32], g: &ConvGeometry, col: &mut [f32]) {
    let image = g.h * g.w * g.c;
    // One kernel row, and the im2col rows of one output row (oy) of one image.
    let (run, row_block) = (g.k * g.c, g.ow * g.patch_len());
    // Tasks of at least ~16K values: rayon's per-task cost would dominate smaller ones.
    let min_rows = (1 << 14) / row_block.max(1) + 1;
    col.par_chunks_mut(row_block).enumerate().with_min_len(min_rows).for_each(|(index, block)| {
        let (b, oy) = (index / g.oh, index % g.oh);
        let x = &input[b * image..(b + 1) * image];
        for (ox, patch) in block.chunks_exact_mut(g.patch_len()).enumerate() {
            let left = (ox * g.stride) as isize - g.pad_left as isize;
            for (ky, out) in patch.chunks_exact_mut(run).enumerate() {
                let iy = (oy * g.stride + ky) as isize - g.pad_top as isize;
                if iy < 0 || iy >= g.h as isize {
                    out.fill(0.0);
                    continue;
                }
                let row = iy as usize * g.w;
                if left >= 0 && left as usize + g.k <= g.w {
                    let at = (row + left as usize) * g.c;
                    copy_run(out, &x[at..at + run]);
                } else {
                    for (kx, tap) in out.chunks_exact_mut(g.c).enumerate() {
                        let ix = left + kx as isize;
                        if ix < 0 || ix >= g.w as isize {
                            tap.fill(0.0);
                        } else {
                            let at = (row + ix as usize) * g.c;
                            tap.copy_from_slice(&x[at..at + g.c]);
                        }
                    }
                }
            }
        }
    });
}

/// Copies a kernel row. The first convolution's rows are 3 values: too
/// short for a `memcpy` call, so that length gets a copy of known size,
/// which compiles to three moves.
#[inline]
fn copy_run(out: &mut [f32], src: &[f32]) {
    if out.len() == 3 && src.len() == 3 {
        out[..3].copy_from_slice(&src[..3]);
    } else {
        out.copy_from_slice(src);
    }
}

/// The adjoint of [`im2col`]: `dcol [B·OH·OW, k·k·C]` → `dinput [B, H, W, C]`,
/// summing the contributions of overlapping windows. Overwrites `dinput`.
pub fn col2im(dcol: &[f32], g: &ConvGeometry, dinput: &mut [f32]) {
    let image = g.h * g.w * g.c;
    let per_image = g.oh * g.ow * g.patch_len();
    dinput.par_chunks_mut(image).zip(dcol.par_chunks(per_image)).for_each(|(dx, col)| {
        dx.fill(0.0);
        let mut rows = col.chunks_exact(g.patch_len());
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let Some(row) = rows.next() else { return };
                let mut taps = row.chunks_exact(g.c);
                for ky in 0..g.k {
                    for kx in 0..g.k {
                        let Some(tap) = taps.next() else { return };
                        if let Some((iy, ix)) = g.source(oy, ox, ky, kx) {
                            let at = (iy * g.w + ix) * g.c;
                            for (d, v) in dx[at..at + g.c].iter_mut().zip(tap) {
                                *d += v;
                            }
                        }
                    }
                }
            }
        }
    });
}
