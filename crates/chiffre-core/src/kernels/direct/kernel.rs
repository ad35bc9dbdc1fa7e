//! The direct kernels' loops: plain Rust over fixed-size arrays, every
//! bound a constant (so the sums stay in registers), each compiled into one
//! function per instruction set (AVX2 + FMA, AVX-512, SIMD128), which
//! [`super`] calls where the CPU has it.

use super::{ConvGeometry, StripSink, MAX_TAPS};

/// What [`super::forward_pooled`] hands its kernels: `(x, g, weight, bias, relu, y)`.
pub(super) type PooledArgs<'a> = (&'a [f32], &'a ConvGeometry, &'a [f32], &'a [f32], bool, &'a mut [f32]);

/// `P` output pixels from input offset `at` on (their windows' top-left):
/// `acc[p] = b + Σ_taps x · W`, one broadcast value per pixel and tap
/// times the tap's `OC` weights; with `FUSED`, fused multiply-adds.
#[inline(always)]
fn pixels<const K: usize, const OC: usize, const P: usize, const FUSED: bool>(
    x: &[f32],
    w: usize,
    wt: &[[f32; OC]; MAX_TAPS],
    bias: &[f32; OC],
    at: usize,
    out: &mut [f32],
) {
    let acc = sums::<K, OC, P, FUSED>(x, w, wt, bias, at);
    for (out, acc) in out.chunks_exact_mut(OC).zip(&acc) {
        out.copy_from_slice(acc);
    }
}

/// The sums of [`pixels`], left in registers: `acc[p] = b + Σ_taps x · W`
/// for the `P` output pixels from input offset `at` on.
#[inline(always)]
fn sums<const K: usize, const OC: usize, const P: usize, const FUSED: bool>(
    x: &[f32],
    w: usize,
    wt: &[[f32; OC]; MAX_TAPS],
    bias: &[f32; OC],
    at: usize,
) -> [[f32; OC]; P] {
    let mut acc = [*bias; P];
    for ky in 0..K {
        // the K - 1 + P input values under this kernel row for the P pixels
        let row = &x[at + ky * w..][..K - 1 + P];
        for kx in 0..K {
            let wt = &wt[ky * K + kx];
            for (p, acc) in acc.iter_mut().enumerate() {
                let v = row[kx + p];
                for (a, wt) in acc.iter_mut().zip(wt) {
                    *a = if FUSED { v.mul_add(*wt, *a) } else { v * wt + *a };
                }
            }
        }
    }
    acc
}

/// See [`super::forward`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn forward_avx2<const K: usize, const OC: usize, const T: usize>(
    x: &[f32],
    g: &ConvGeometry,
    weight: &[f32],
    bias: &[f32],
    z: &mut [f32],
    each: StripSink,
) {
    run::<K, OC, T, true>(x, g, weight, bias, z, each)
}

/// See [`super::forward`]: the same loops in AVX-512's wider registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
pub(super) unsafe fn forward_avx512<const K: usize, const OC: usize, const T: usize>(
    x: &[f32],
    g: &ConvGeometry,
    weight: &[f32],
    bias: &[f32],
    z: &mut [f32],
    each: StripSink,
) {
    run::<K, OC, T, true>(x, g, weight, bias, z, each)
}

/// See [`super::forward`]: SIMD128 (enabled for the whole WebAssembly
/// build), multiply then add, since SIMD128 has no fused form.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(super) fn forward_simd128<const K: usize, const OC: usize, const T: usize>(
    x: &[f32],
    g: &ConvGeometry,
    weight: &[f32],
    bias: &[f32],
    z: &mut [f32],
    each: StripSink,
) {
    run::<K, OC, T, false>(x, g, weight, bias, z, each)
}

/// See [`super::forward_pooled`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn pooled_avx2<const K: usize, const OC: usize, const T: usize>(
    (x, g, weight, bias, relu, y): PooledArgs,
) {
    run_pooled::<K, OC, T, true>(x, g, weight, bias, relu, y)
}

/// See [`super::forward_pooled`]: in AVX-512's wider registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
pub(super) unsafe fn pooled_avx512<const K: usize, const OC: usize, const T: usize>(
    (x, g, weight, bias, relu, y): PooledArgs,
) {
    run_pooled::<K, OC, T, true>(x, g, weight, bias, relu, y)
}

/// See [`super::forward_pooled`]: SIMD128, multiply then add.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(super) fn pooled_simd128<const K: usize, const OC: usize, const T: usize>(
    (x, g, weight, bias, relu, y): PooledArgs,
) {
    run_pooled::<K, OC, T, false>(x, g, weight, bias, relu, y)
}

/// The windows of `T / 2` pooled outputs whose top row starts at input
/// offset `at` into `out [T / 2, OC]`: `relu?(max(a, b, d, e))` over each
/// window's sums (top left, top right, bottom left, bottom right).
#[inline(always)]
fn windows<const K: usize, const OC: usize, const T: usize, const FUSED: bool>(
    x: &[f32],
    w: usize,
    wt: &[[f32; OC]; MAX_TAPS],
    bias: &[f32; OC],
    relu: bool,
    at: usize,
    out: &mut [f32],
) {
    // the top row's T sums, each window's two kept as the larger: m = b > a ? b : a
    // (m[..T / 2] is used: an array of T / 2 would need a generic constant's arithmetic)
    let top = sums::<K, OC, T, FUSED>(x, w, wt, bias, at);
    let mut m = top;
    for q in 0..T / 2 {
        for (i, m) in m[q].iter_mut().enumerate() {
            let (a, b) = (top[2 * q][i], top[2 * q + 1][i]);
            *m = if b > a { b } else { a };
        }
    }
    // the bottom row's T sums, compared in the pooling's order: d, then e
    let bottom = sums::<K, OC, T, FUSED>(x, w, wt, bias, at + w);
    for (q, out) in out.chunks_exact_mut(OC).enumerate().take(T / 2) {
        for (i, out) in out.iter_mut().enumerate() {
            let (d, e) = (bottom[2 * q][i], bottom[2 * q + 1][i]);
            let mut v = m[q][i];
            v = if d > v { d } else { v };
            v = if e > v { e } else { v };
            *out = if relu { v.max(0.0) } else { v };
        }
    }
}

/// The body of the pooled kernels, compiled into each of the above:
/// every image's pooled rows, `T / 2` windows a pass.
#[inline(always)]
fn run_pooled<const K: usize, const OC: usize, const T: usize, const FUSED: bool>(
    x: &[f32],
    g: &ConvGeometry,
    weight: &[f32],
    bias: &[f32],
    relu: bool,
    y: &mut [f32],
) {
    let wt = taps::<K, OC>(weight);
    let bias: &[f32; OC] = bias.try_into().expect("OC biases");
    let (pooled_rows, pooled_row) = (g.oh / 2, g.ow / 2 * OC);
    for (x, y) in x.chunks_exact(g.h * g.w).zip(y.chunks_exact_mut(pooled_rows * pooled_row)) {
        for (py, y) in y.chunks_exact_mut(pooled_row).enumerate() {
            let at = 2 * py * g.w;
            let mut passes = y.chunks_exact_mut(T / 2 * OC);
            for (p, out) in (&mut passes).enumerate() {
                windows::<K, OC, T, FUSED>(x, g.w, &wt, bias, relu, at + p * T, out);
            }
            let done = g.ow / 2 / (T / 2) * T;
            for (q, out) in passes.into_remainder().chunks_exact_mut(OC).enumerate() {
                windows::<K, OC, 2, FUSED>(x, g.w, &wt, bias, relu, at + done + 2 * q, out);
            }
        }
    }
}

/// `wt[tap]` = the `OC` weights of one tap (W transposed), on the stack.
#[inline(always)]
fn taps<const K: usize, const OC: usize>(weight: &[f32]) -> [[f32; OC]; MAX_TAPS] {
    let mut wt = [[0.0f32; OC]; MAX_TAPS];
    for (o, filter) in weight.chunks_exact(K * K).enumerate() {
        for (t, &v) in filter.iter().enumerate() {
            wt[t][o] = v;
        }
    }
    wt
}

/// Output row `oy` of one image `x` into `z [OW, OC]`.
#[inline(always)]
fn row<const K: usize, const OC: usize, const T: usize, const FUSED: bool>(
    x: &[f32],
    g: &ConvGeometry,
    wt: &[[f32; OC]; MAX_TAPS],
    bias: &[f32; OC],
    oy: usize,
    z: &mut [f32],
) {
    let mut tiles = z.chunks_exact_mut(T * OC);
    for (t, out) in (&mut tiles).enumerate() {
        pixels::<K, OC, T, FUSED>(x, g.w, wt, bias, oy * g.w + t * T, out);
    }
    let done = g.ow / T * T;
    for (p, out) in tiles.into_remainder().chunks_exact_mut(OC).enumerate() {
        pixels::<K, OC, 1, FUSED>(x, g.w, wt, bias, oy * g.w + done + p, out);
    }
}

/// The kernel's body, compiled into each of the above: with `each`, for
/// every image in `x`, strips of `z.len() / (OW · OC)` output rows into
/// `z`, each handed to `each(image, first row, strip)`; without, every
/// image's whole output into `z`.
#[inline(always)]
fn run<const K: usize, const OC: usize, const T: usize, const FUSED: bool>(
    x: &[f32],
    g: &ConvGeometry,
    weight: &[f32],
    bias: &[f32],
    z: &mut [f32],
    each: StripSink,
) {
    let wt = taps::<K, OC>(weight);
    let bias: &[f32; OC] = bias.try_into().expect("OC biases");
    let (image, row_len) = (g.h * g.w, g.ow * OC);
    match each {
        None => {
            for (x, z) in x.chunks_exact(image).zip(z.chunks_exact_mut(g.oh * row_len)) {
                for (oy, z) in z.chunks_exact_mut(row_len).enumerate() {
                    row::<K, OC, T, FUSED>(x, g, &wt, bias, oy, z);
                }
            }
        }
        Some(each) => {
            let strip = (z.len() / row_len).max(1);
            for (b, x) in x.chunks_exact(image).enumerate() {
                for first in (0..g.oh).step_by(strip) {
                    let rows = strip.min(g.oh - first);
                    let z = &mut z[..rows * row_len];
                    for (oy, z) in (first..first + rows).zip(z.chunks_exact_mut(row_len)) {
                        row::<K, OC, T, FUSED>(x, g, &wt, bias, oy, z);
                    }
                    each(b, first, z);
                }
            }
        }
    }
}
