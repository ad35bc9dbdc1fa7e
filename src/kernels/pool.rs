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
}

/// `input [B, H, W, C]` → `output [B, OH, OW, C]`, each the largest value of
/// its window; `argmax` (same length as `output`) records, for backward, the
/// position of that value inside its image.
pub fn max_pool_forward(input: &[f32], g: &PoolGeometry, output: &mut [f32], argmax: &mut [u32]) {
    output
        .par_chunks_mut(g.image_out())
        .zip(argmax.par_chunks_mut(g.image_out()))
        .zip(input.par_chunks(g.image_in()))
        .for_each(|((out, arg), x)| {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let o = (oy * g.ow + ox) * g.c;
                    let first = ((oy * g.stride) * g.w + ox * g.stride) * g.c;
                    out[o..o + g.c].copy_from_slice(&x[first..first + g.c]);
                    for (ch, a) in arg[o..o + g.c].iter_mut().enumerate() {
                        *a = (first + ch) as u32;
                    }
                    for wy in 0..g.size {
                        for wx in 0..g.size {
                            let at = ((oy * g.stride + wy) * g.w + ox * g.stride + wx) * g.c;
                            for ch in 0..g.c {
                                // Strictly greater: ties go to the first position.
                                if x[at + ch] > out[o + ch] {
                                    out[o + ch] = x[at + ch];
                                    arg[o + ch] = (at + ch) as u32;
                                }
                            }
                        }
                    }
                }
            }
        });
}

/// Backward of [`max_pool_forward`]: each output gradient goes to the input
/// position that won the max. Overwrites `dinput`.
pub fn max_pool_backward(doutput: &[f32], argmax: &[u32], g: &PoolGeometry, dinput: &mut [f32]) {
    dinput
        .par_chunks_mut(g.image_in())
        .zip(doutput.par_chunks(g.image_out()))
        .zip(argmax.par_chunks(g.image_out()))
        .for_each(|((dx, dy), arg)| {
            dx.fill(0.0);
            for (d, &a) in dy.iter().zip(arg) {
                dx[a as usize] += d;
            }
        });
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
                        let at = ((oy * g.stride + wy) * g.w + ox * g.stride + wx) * g.c;
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
                        let at = ((oy * g.stride + wy) * g.w + ox * g.stride + wx) * g.c;
                        for (d, v) in dx[at..at + g.c].iter_mut().zip(&dy[o..o + g.c]) {
                            *d += v * scale;
                        }
                    }
                }
            }
        }
    });
}
