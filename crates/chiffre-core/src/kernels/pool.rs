//! Max and mean pooling over channels-last images, windows `size × size`
//! moved by `stride`, no padding (Keras' `valid`: a partial window at the
//! edge is dropped).

use crate::par::prelude::*;

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

    /// Calls `f(o, at)` for every output position of one image and every
    /// cell of its window, in order: `o` is the output's offset and `at` the
    /// window cell's input offset (each the start of `C` channels).
    fn for_each_window_cell(&self, mut f: impl FnMut(usize, usize)) {
        for oy in 0..self.oh {
            for ox in 0..self.ow {
                for wy in 0..self.size {
                    for wx in 0..self.size {
                        f((oy * self.ow + ox) * self.c, self.offset(oy, ox, wy, wx));
                    }
                }
            }
        }
    }
}

/// `input [B, H, W, C]` → `output [B, OH, OW, C]`, each the largest value of
/// its window. The inner loop runs over the `C` contiguous channels, so it
/// vectorises; nothing but the output is kept (backward finds the winner of
/// each window again by comparing the input with the output).
pub fn max_pool_forward(input: &[f32], g: &PoolGeometry, output: &mut [f32]) {
    if g.size == 2 && g.stride == 2 {
        let images = output.par_chunks_mut(g.image_out()).zip(input.par_chunks(g.image_in()));
        return images.for_each(|(out, x)| max_pool_2x2_forward(x, g, out));
    }
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
    if g.size == 2 && g.stride == 2 {
        return images.zip(grads).for_each(|((dx, x), (y, dy))| max_pool_2x2_backward(x, y, dy, g, dx));
    }
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

/// The four taps of the 2×2 window of output cell `ox` on the input rows
/// `top` and `bottom` (each `W·C` values), in reading order, `c` values each.
#[inline]
fn window_2x2<'a>(top: &'a [f32], bottom: &'a [f32], ox: usize, c: usize) -> [&'a [f32]; 4] {
    let (left, right) = (2 * ox * c, (2 * ox + 1) * c);
    [&top[left..left + c], &top[right..right + c], &bottom[left..left + c], &bottom[right..right + c]]
}

/// The four taps of the same window in the gradient rows `dtop` and
/// `dbottom`, as [`window_2x2`], writable.
#[inline]
fn window_2x2_mut<'a>(dtop: &'a mut [f32], dbottom: &'a mut [f32], ox: usize, c: usize) -> [&'a mut [f32]; 4] {
    let (left, right) = (2 * ox * c, (2 * ox + 1) * c);
    let (da, db) = dtop[left..right + c].split_at_mut(c);
    let (dd, de) = dbottom[left..right + c].split_at_mut(c);
    [da, db, dd, de]
}

/// [`max_pool_forward`] for one image, for 2×2 windows with stride 2 (every
/// preset's pooling): the four taps are read straight from two input rows,
/// channel by channel, a loop that vectorises.
fn max_pool_2x2_forward(x: &[f32], g: &PoolGeometry, out: &mut [f32]) {
    let (c, row) = (g.c, g.w * g.c);
    for (oy, out) in out.chunks_exact_mut(g.ow * c).enumerate() {
        let (top, bottom) = (&x[2 * oy * row..(2 * oy + 1) * row], &x[(2 * oy + 1) * row..(2 * oy + 2) * row]);
        for (ox, out) in out.chunks_exact_mut(c).enumerate() {
            let [a, b, d, e] = window_2x2(top, bottom, ox, c);
            for ((((o, a), b), d), e) in out.iter_mut().zip(a).zip(b).zip(d).zip(e) {
                *o = a.max(*b).max(d.max(*e));
            }
        }
    }
}

/// [`max_pool_backward`] for one image, 2×2 windows with stride 2: each
/// tap gets the gradient when it equals the maximum and no earlier tap (in
/// reading order) did, branch-free so that the channel loop vectorises.
fn max_pool_2x2_backward(x: &[f32], y: &[f32], dy: &[f32], g: &PoolGeometry, dx: &mut [f32]) {
    zero_uncovered(dx, g);
    let (c, row) = (g.c, g.w * g.c);
    let out_rows = y.chunks_exact(g.ow * c).zip(dy.chunks_exact(g.ow * c));
    for (oy, (y, dy)) in out_rows.enumerate() {
        let (top, bottom) = (&x[2 * oy * row..(2 * oy + 1) * row], &x[(2 * oy + 1) * row..(2 * oy + 2) * row]);
        let (dtop, dbottom) = dx[2 * oy * row..(2 * oy + 2) * row].split_at_mut(row);
        for (ox, (y, dy)) in y.chunks_exact(c).zip(dy.chunks_exact(c)).enumerate() {
            route_2x2(window_2x2(top, bottom, ox, c), y, dy, window_2x2_mut(dtop, dbottom, ox, c));
        }
    }
}

/// One 2×2 window's gradients, channel by channel: each tap gets `dy` when
/// it equals the maximum `y` and no earlier tap (in reading order) did. The
/// four outputs are separate `&mut` arguments, so the compiler knows they do
/// not overlap, and `&` rather than `&&` keeps the loop branch-free: both
/// are needed for it to vectorise.
#[inline]
fn route_2x2(taps: [&[f32]; 4], y: &[f32], dy: &[f32], [da, db, dd, de]: [&mut [f32]; 4]) {
    let c = y.len();
    // Every slice exactly `c` long, so that the loop carries no bounds check.
    let [a, b, d, e] = taps.map(|t| &t[..c]);
    let (dy, da, db, dd, de) = (&dy[..c], &mut da[..c], &mut db[..c], &mut dd[..c], &mut de[..c]);
    for i in 0..c {
        let (m, grad) = (y[i], dy[i]);
        let wins_a = a[i] == m;
        let wins_b = !wins_a & (b[i] == m);
        let wins_d = !(wins_a | wins_b) & (d[i] == m);
        let wins_e = !(wins_a | wins_b | wins_d) & (e[i] == m);
        da[i] = if wins_a { grad } else { 0.0 };
        db[i] = if wins_b { grad } else { 0.0 };
        dd[i] = if wins_d { grad } else { 0.0 };
        de[i] = if wins_e { grad } else { 0.0 };
    }
}

/// Fused pooling for [`crate::kernels::conv_forward_fused`]: one image's
/// 2×2/stride-2 max pooling of `z [H, W, C]` into `out [H/2, W/2, C]`,
/// then, with `relu`, `max(0, ·)` (which commutes with the max). The tap
/// that won each window (0–3 in reading order, the first on ties, as
/// [`max_pool_backward`]) goes to `route`, since `z` itself is not kept.
///
/// An empty `route` keeps no winners (inference, which no backward pass
/// follows): the same `out`, to the bit, without writing a byte per output.
/// (Sixteen channels at a time in fixed-size arrays instead, as the pooling
/// of 8-bit sums does, was no faster within the noise: 2026-12-07.)
///
/// Compiled for AVX-512 and AVX2 as well, chosen at run time: in the
/// baseline's 4-lane SSE the pooling of the tutorial's first layer took
/// longer than its convolution.
pub fn max_pool_2x2_route_forward(z: &[f32], g: &PoolGeometry, relu: bool, out: &mut [f32], route: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        // SAFETY: each is called only where the CPU has its features.
        if has!("avx512f") && has!("avx512bw") && has!("avx512vl") {
            return unsafe { route_forward_avx512(z, g, relu, out, route) };
        }
        if has!("avx2") {
            return unsafe { route_forward_avx2(z, g, relu, out, route) };
        }
    }
    route_forward(z, g, relu, out, route)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn route_forward_avx512(z: &[f32], g: &PoolGeometry, relu: bool, out: &mut [f32], route: &mut [u8]) {
    route_forward(z, g, relu, out, route)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn route_forward_avx2(z: &[f32], g: &PoolGeometry, relu: bool, out: &mut [f32], route: &mut [u8]) {
    route_forward(z, g, relu, out, route)
}

/// The body of [`max_pool_2x2_route_forward`], compiled into each of the above.
#[inline(always)]
fn route_forward(z: &[f32], g: &PoolGeometry, relu: bool, out: &mut [f32], route: &mut [u8]) {
    if route.is_empty() {
        return pool_forward(z, g, relu, out);
    }
    let (c, row) = (g.c, g.w * g.c);
    let cells = out.chunks_exact_mut(c).zip(route.chunks_exact_mut(c));
    for (cell, (out, route)) in cells.enumerate() {
        let (oy, ox) = (cell / g.ow, cell % g.ow);
        let (top, bottom) = (&z[2 * oy * row..(2 * oy + 1) * row], &z[(2 * oy + 1) * row..(2 * oy + 2) * row]);
        let [a, b, d, e] = window_2x2(top, bottom, ox, c).map(|t| &t[..c]);
        let (out, route) = (&mut out[..c], &mut route[..c]);
        for i in 0..c {
            // strict comparisons in reading order: the first of equal maxima wins
            let (mut m, mut r) = (a[i], 0u8);
            (m, r) = if b[i] > m { (b[i], 1) } else { (m, r) };
            (m, r) = if d[i] > m { (d[i], 2) } else { (m, r) };
            (m, r) = if e[i] > m { (e[i], 3) } else { (m, r) };
            out[i] = if relu { m.max(0.0) } else { m };
            route[i] = r;
        }
    }
}

/// [`route_forward`] without the route: `out = relu?(max over each window)`.
#[inline(always)]
fn pool_forward(z: &[f32], g: &PoolGeometry, relu: bool, out: &mut [f32]) {
    let (c, row) = (g.c, g.w * g.c);
    for (cell, out) in out.chunks_exact_mut(c).enumerate() {
        let (oy, ox) = (cell / g.ow, cell % g.ow);
        let (top, bottom) = (&z[2 * oy * row..(2 * oy + 1) * row], &z[(2 * oy + 1) * row..(2 * oy + 2) * row]);
        let [a, b, d, e] = window_2x2(top, bottom, ox, c).map(|t| &t[..c]);
        let taps = a.iter().zip(b).zip(d.iter().zip(e));
        for (o, ((&a, &b), (&d, &e))) in out[..c].iter_mut().zip(taps) {
            // the routed loop's comparisons, so the same value to the bit (signed zeros, NaN)
            let mut m = a;
            m = if b > m { b } else { m };
            m = if d > m { d } else { m };
            m = if e > m { e } else { m };
            *o = if relu { m.max(0.0) } else { m };
        }
    }
}

/// Backward of [`max_pool_2x2_route_forward`] for one image: writes every
/// value of `dz [H, W, C]`: the gradient `dout` of each window (times
/// `out > 0` with `relu`, the ReLU's derivative) goes to the tap in `route`,
/// zeros everywhere else (the other taps and the uncovered strip).
pub fn max_pool_2x2_route_backward(
    out: &[f32],
    dout: &[f32],
    route: &[u8],
    g: &PoolGeometry,
    relu: bool,
    dz: &mut [f32],
) {
    zero_uncovered(dz, g);
    let (c, row) = (g.c, g.w * g.c);
    for oy in 0..g.oh {
        let (dtop, dbottom) = dz[2 * oy * row..(2 * oy + 2) * row].split_at_mut(row);
        for ox in 0..g.ow {
            let at = (oy * g.ow + ox) * c;
            let (out, dout, route) = (&out[at..at + c], &dout[at..at + c], &route[at..at + c]);
            let [da, db, dd, de] = window_2x2_mut(dtop, dbottom, ox, c);
            for i in 0..c {
                // from out = relu?(max(taps)):  d tap = dout · relu'(out), for the winning tap only
                let grad = if relu { dout[i] * relu_grad(out[i]) } else { dout[i] };
                let r = route[i];
                da[i] = if r == 0 { grad } else { 0.0 };
                db[i] = if r == 1 { grad } else { 0.0 };
                dd[i] = if r == 2 { grad } else { 0.0 };
                de[i] = if r == 3 { grad } else { 0.0 };
            }
        }
    }
}

/// The ReLU's derivative as a factor, read from its output: `[y > 0]`. The
/// one definition for the ReLU layer and for every kernel that fuses a ReLU,
/// so that fused and layer-by-layer runs give the same numbers.
#[inline]
pub fn relu_grad(y: f32) -> f32 {
    if y > 0.0 {
        1.0
    } else {
        0.0
    }
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
        g.for_each_window_cell(|o, at| {
            out[o..o + g.c].iter_mut().zip(&x[at..at + g.c]).for_each(|(acc, v)| *acc += v);
        });
        out.iter_mut().for_each(|v| *v *= scale);
    });
}

/// Backward of [`avg_pool_forward`]: each output gradient is shared equally by
/// the `size²` inputs of its window. Overwrites `dinput`.
pub fn avg_pool_backward(doutput: &[f32], g: &PoolGeometry, dinput: &mut [f32]) {
    let scale = 1.0 / (g.size * g.size) as f32;
    dinput.par_chunks_mut(g.image_in()).zip(doutput.par_chunks(g.image_out())).for_each(|(dx, dy)| {
        dx.fill(0.0);
        g.for_each_window_cell(|o, at| {
            dx[at..at + g.c].iter_mut().zip(&dy[o..o + g.c]).for_each(|(d, v)| *d += v * scale);
        });
    });
}
