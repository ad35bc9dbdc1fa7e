//! Max and mean pooling over channels-last images, windows `size × size`
//! moved by `stride`, no padding (Keras' `valid`: a partial window at the
//! edge is dropped).

use rayon::prelude::*;

/// Sizes of one pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeometry {
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Channels (pooling is per channel).
    pub c: usize,
    /// Window side.
    pub size: usize,
    /// Step between windows.
    pub stride: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl PoolGeometry {
    fn image_in(&self) -> usize {
        self.h * self.w * self.c
    }
    fn image_out(&self) -> usize {
        self.oh * self.ow * self.c
    }
    /// Offset, within one image, of the first channel of window position
    /// `(wy, wx)` of output cell `(oy, ox)`.
    #[inline]
    fn offset(&self, oy: usize, ox: usize, wy: usize, wx: usize) -> usize {
        ((oy * self.stride + wy) * self.w + ox * self.stride + wx) * self.c
    }
}

/// `input [B, H, W, C]` → `output [B, OH, OW, C]`, each the largest value of
/// its window. The inner loop runs over the `C` contiguous channels, so it
/// vectorises; nothing but the output is kept (backward finds the winner of
/// each window again by comparing the input with the output).
pub fn max_pool_forward(input: &[f32], g: &PoolGeometry, output: &mut [f32]) {
    output.par_chunks_mut(g.image_out()).zip(input.par_chunks(g.image_in())).for_each(|(out, x)| {
        for (cell, out) in out.chunks_exact_mut(g.c).enumerate() {
            let (oy, ox) = (cell / g.ow, cell % g.ow);
            out.fill(f32::NEG_INFINITY);
            for wy in 0..g.size {
                for wx in 0..g.size {
                    let at = g.offset(oy, ox, wy, wx);
                    out.iter_mut().zip(&x[at..at + g.c]).for_each(|(o, &v)| *o = o.max(v));
                }
            }
        }
    });
}

/// Backward of [`max_pool_forward`]: each output gradient goes to the input
/// that won its window, the first in reading order when several tie, so that
/// exactly one input receives it. Branch-free: the gradient still to route
/// is carried along the window and handed to the first input equal to the
/// maximum. Overwrites `dinput`.
pub fn max_pool_backward(input: &[f32], output: &[f32], doutput: &[f32], g: &PoolGeometry, dinput: &mut [f32]) {
    /// Channels handled together, their gradients still to route kept on the stack.
    const LANES: usize = 64;
    let images = dinput.par_chunks_mut(g.image_in()).zip(input.par_chunks(g.image_in()));
    let grads = output.par_chunks(g.image_out()).zip(doutput.par_chunks(g.image_out()));
    // Windows that tile the image (stride = size) touch each input at most
    // once: their inputs are assigned, and only the strip the windows leave
    // uncovered is zeroed. Overlapping or gapped windows accumulate into zeros.
    let tiled = g.stride == g.size;
    images.zip(grads).for_each(|((dx, x), (y, dy))| {
        if tiled {
            zero_uncovered(dx, g);
        } else {
            dx.fill(0.0);
        }
        for (cell, (y, dy)) in y.chunks_exact(g.c).zip(dy.chunks_exact(g.c)).enumerate() {
            let (oy, ox) = (cell / g.ow, cell % g.ow);
            for c0 in (0..g.c).step_by(LANES) {
                let n = LANES.min(g.c - c0);
                let mut pending = [0.0f32; LANES];
                pending[..n].copy_from_slice(&dy[c0..c0 + n]);
                let best = &y[c0..c0 + n];
                for wy in 0..g.size {
                    for wx in 0..g.size {
                        let at = g.offset(oy, ox, wy, wx) + c0;
                        let lanes = dx[at..at + n].iter_mut().zip(&x[at..at + n]);
                        for ((d, &v), (p, &b)) in lanes.zip(pending[..n].iter_mut().zip(best)) {
                            let win = v == b;
                            let share = if win { *p } else { 0.0 };
                            *d = if tiled { share } else { *d + share };
                            *p = if win { 0.0 } else { *p };
                        }
                    }
                }
            }
        }
    });
}

/// Zeroes the rows and columns of one image that no window of `g` covers
/// (when stride = size: the last `(H - size) % size` rows and columns).
fn zero_uncovered(dx: &mut [f32], g: &PoolGeometry) {
    let (covered_h, covered_w) = (g.oh * g.size, g.ow * g.size);
    for (row, values) in dx.chunks_exact_mut(g.w * g.c).enumerate() {
        if row >= covered_h {
            values.fill(0.0);
        } else {
            values[covered_w * g.c..].fill(0.0);
        }
    }
}

/// `input [B, H, W, C]` → `output [B, OH, OW, C]`, each the mean of its window.
pub fn avg_pool_forward(input: &[f32], g: &PoolGeometry, output: &mut [f32]) {
    let scale = 1.0 / (g.size * g.size) as f32;
    output.par_chunks_mut(g.image_out()).zip(input.par_chunks(g.image_in())).for_each(|(out, x)| {
        out.fill(0.0);
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let o = (oy * g.ow + ox) * g.c;
                for wy in 0..g.size {
                    for wx in 0..g.size {
                        let at = g.offset(oy, ox, wy, wx);
                        for (acc, v) in out[o..o + g.c].iter_mut().zip(&x[at..at + g.c]) {
                            *acc += v;
                        }
                    }
                }
                out[o..o + g.c].iter_mut().for_each(|v| *v *= scale);
            }
        }
    });
}

/// Backward of [`avg_pool_forward`]: each output gradient is shared equally by
/// the `size²` inputs of its window. Overwrites `dinput`.
pub fn avg_pool_backward(doutput: &[f32], g: &PoolGeometry, dinput: &mut [f32]) {
    let scale = 1.0 / (g.size * g.size) as f32;
    dinput.par_chunks_mut(g.image_in()).zip(doutput.par_chunks(g.image_out())).for_each(|(dx, dy)| {
        dx.fill(0.0);
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let o = (oy * g.ow + ox) * g.c;
                for wy in 0..g.size {
                    for wx in 0..g.size {
                        let at = g.offset(oy, ox, wy, wx);
                        for (d, v) in dx[at..at + g.c].iter_mut().zip(&dy[o..o + g.c]) {
                            *d += v * scale;
                        }
                    }
                }
            }
        }
    });
}
