//! im2col / col2im for channels-last images: a convolution becomes one GEMM.
//!
//! For an input `[B, H, W, C]` and a `k × k` kernel, `im2col` writes one row
//! per output pixel `(b, oy, ox)` (so `B·OH·OW` rows) holding the `k·k·C`
//! input values under the kernel, in `(ky, kx, c)` order, with zeros where the
//! kernel hangs over the padded border. The convolution is then
//! `out[B·OH·OW, OC] = col · Wᵀ` with the weights stored `[OC, k, k, C]`.

use crate::par::prelude::*;

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
    /// Whether the kernel moves by one pixel over the unpadded input (Keras'
    /// `valid`, stride 1: every preset's convolutions), so that each window
    /// lies inside the image and the output is `(H - k + 1) × (W - k + 1)`.
    pub fn is_valid_stride_one(&self) -> bool {
        self.stride == 1
            && self.pad_top == 0
            && self.pad_left == 0
            && self.oh + self.k == self.h + 1
            && self.ow + self.k == self.w + 1
    }

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

/// `input [B, H, W, C]` → `col [B·OH·OW, k·k·C]`, in parallel over images.
pub fn im2col(input: &[f32], g: &ConvGeometry, col: &mut [f32]) {
    let (image, per_image) = (g.h * g.w * g.c, g.oh * g.ow * g.patch_len());
    if image == 0 || per_image == 0 {
        return;
    }
    col.par_chunks_mut(per_image).zip(input.par_chunks(image)).for_each(|(col, x)| im2col_serial(x, g, col));
}

/// [`im2col`] on the calling thread, for the images in `input` (a whole
/// number of them): the blocked convolution calls it on one block at a time.
///
/// Channels-last makes the `k` taps of one kernel row `(ky, 0..k, 0..C)` one
/// contiguous run of `k·C` input values, so each is a single copy unless the
/// kernel hangs over the left or right border.
pub fn im2col_serial(input: &[f32], g: &ConvGeometry, col: &mut [f32]) {
    let (image, per_image) = (g.h * g.w * g.c, g.oh * g.ow * g.patch_len());
    if image == 0 || per_image == 0 {
        return;
    }
    let valid = g.is_valid_stride_one();
    match (g.c, g.k) {
        (1, 3) if valid => return im2col_one_channel::<3>(input, g, col),
        (1, 5) if valid => return im2col_one_channel::<5>(input, g, col),
        _ => {}
    }
    let run = g.k * g.c;
    for (x, col) in input.chunks_exact(image).zip(col.chunks_exact_mut(per_image)) {
        let mut patches = col.chunks_exact_mut(g.patch_len());
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let Some(patch) = patches.next() else { return };
                let left = (ox * g.stride) as isize - g.pad_left as isize;
                let inside = left >= 0 && left as usize + g.k <= g.w;
                for (ky, out) in patch.chunks_exact_mut(run).enumerate() {
                    let iy = (oy * g.stride + ky) as isize - g.pad_top as isize;
                    if iy < 0 || iy >= g.h as isize {
                        out.fill(0.0);
                        continue;
                    }
                    let row = iy as usize * g.w;
                    if inside {
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
        }
    }
}

/// [`im2col_serial`] of a first layer (one channel, `K × K`, stride 1, no
/// padding): each patch is `K` rows of `K` values, copied as fixed-size
/// arrays with every bound known at compile time (the general loop spends
/// more on its bookkeeping than on copying 3 or 5 values).
fn im2col_one_channel<const K: usize>(input: &[f32], g: &ConvGeometry, col: &mut [f32]) {
    let (image, per_image) = (g.h * g.w, g.oh * g.ow * K * K);
    for (x, col) in input.chunks_exact(image).zip(col.chunks_exact_mut(per_image)) {
        for (oy, col) in col.chunks_exact_mut(g.ow * K * K).enumerate() {
            // the K input rows under this output row
            let rows: [&[f32]; K] = super::simd::array(&[], |ky| &x[(oy + ky) * g.w..][..g.w]);
            for (ox, patch) in col.chunks_exact_mut(K * K).enumerate() {
                for (out, row) in patch.chunks_exact_mut(K).zip(rows) {
                    let out: &mut [f32; K] = out.try_into().expect("K values");
                    let src: &[f32; K] = row[ox..ox + K].try_into().expect("K values");
                    *out = *src;
                }
            }
        }
    }
}

/// [`col2im_serial`] for stride 1 without padding (every preset's layers):
/// the `k` taps of one kernel row land on `k·C` contiguous input values, so
/// each is one add loop over a run, with no per-tap bounds arithmetic.
fn col2im_valid(dcol: &[f32], g: &ConvGeometry, dinput: &mut [f32]) {
    let (image, per_image, run) = (g.h * g.w * g.c, g.oh * g.ow * g.patch_len(), g.k * g.c);
    for (dx, col) in dinput.chunks_exact_mut(image).zip(dcol.chunks_exact(per_image)) {
        dx.fill(0.0);
        for (p, patch) in col.chunks_exact(g.patch_len()).enumerate() {
            let (oy, ox) = (p / g.ow, p % g.ow);
            for (ky, taps) in patch.chunks_exact(run).enumerate() {
                let at = ((oy + ky) * g.w + ox) * g.c;
                for (d, v) in dx[at..at + run].iter_mut().zip(taps) {
                    *d += v;
                }
            }
        }
    }
}

/// Copies a kernel row (`k·C` values). Rows are short (3 or 5 values for a
/// first convolution over one channel, 48–192 for the next ones): a `memcpy`
/// call per row costs more than the copy, so short rows are copied as
/// fixed-size arrays and longer ones 8 values at a time, which compile to
/// plain moves.
#[inline]
fn copy_run(out: &mut [f32], src: &[f32]) {
    match out.len().min(src.len()) {
        1 => copy_fixed::<1>(out, src),
        2 => copy_fixed::<2>(out, src),
        3 => copy_fixed::<3>(out, src),
        4 => copy_fixed::<4>(out, src),
        5 => copy_fixed::<5>(out, src),
        6 => copy_fixed::<6>(out, src),
        7 => copy_fixed::<7>(out, src),
        n => {
            let mut out8 = out[..n].chunks_exact_mut(8);
            let mut src8 = src[..n].chunks_exact(8);
            for (o, s) in (&mut out8).zip(&mut src8) {
                copy_fixed::<8>(o, s);
            }
            for (o, s) in out8.into_remainder().iter_mut().zip(src8.remainder()) {
                *o = *s;
            }
        }
    }
}

/// Copies the first `N` values of `src` to `out` as one fixed-size array.
#[inline(always)]
fn copy_fixed<const N: usize>(out: &mut [f32], src: &[f32]) {
    let src: &[f32; N] = src[..N].try_into().expect("N values");
    let out: &mut [f32; N] = (&mut out[..N]).try_into().expect("N values");
    *out = *src;
}

/// The adjoint of [`im2col`]: `dcol [B·OH·OW, k·k·C]` → `dinput [B, H, W, C]`,
/// summing the contributions of overlapping windows. Overwrites `dinput`.
/// Parallel over images.
pub fn col2im(dcol: &[f32], g: &ConvGeometry, dinput: &mut [f32]) {
    let (image, per_image) = (g.h * g.w * g.c, g.oh * g.ow * g.patch_len());
    if image == 0 || per_image == 0 {
        dinput.fill(0.0);
        return;
    }
    dinput.par_chunks_mut(image).zip(dcol.par_chunks(per_image)).for_each(|(dx, col)| col2im_serial(col, g, dx));
}

/// [`col2im`] on the calling thread, for the images of `dinput` (a whole
/// number of them). Overwrites `dinput`.
pub fn col2im_serial(dcol: &[f32], g: &ConvGeometry, dinput: &mut [f32]) {
    let (image, per_image) = (g.h * g.w * g.c, g.oh * g.ow * g.patch_len());
    if image == 0 || per_image == 0 {
        dinput.fill(0.0);
        return;
    }
    if g.is_valid_stride_one() {
        return col2im_valid(dcol, g, dinput);
    }
    for (dx, col) in dinput.chunks_exact_mut(image).zip(dcol.chunks_exact(per_image)) {
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
    }
}
