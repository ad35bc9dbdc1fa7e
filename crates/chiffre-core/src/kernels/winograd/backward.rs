//! Backward of Winograd's F(2×2, 3×3) convolution (Lavin & Gray, 2016, §4):
//! both gradients with the same tiles and transforms as [`super::forward`].
//!
//! Shapes: input `x [B, H, W, C]`, the gradient of the convolution's own
//! output `dz [B, OH, OW, OC]`, filters `g [OC, 3, 3, C]`; `T` tiles of 2×2
//! output pixels; `V [16][T, C]` (the input tiles, transformed as forward
//! does), `D [16][T, OC]` (the output gradient's tiles, transformed),
//! `dU [16][C, OC]`.
//!
//! - **Input gradient.** `dx = Σ_o dz_o ⋆ flip(g_o)`: a 3×3 convolution of `dz`
//!   (padded by `2 − pad` on each side) with the filters flipped in both
//!   directions and their channels and filters swapped. It runs through
//!   [`super::forward`] itself, with [`WinogradFilters::update_flipped`].
//! - **Weight gradient.** Forward computes each tile as `z_t = Aᵀ (U ⊙ V_t) A`
//!   with `U = G g Gᵀ`. Differentiating that line: `dU = Σ_t (A dz_t Aᵀ) ⊙ V_t`,
//!   for each of the 16 positions ξ a product `dU[ξ] = V[ξ]ᵀ · D[ξ]` summed
//!   over the tiles; and from `U = G g Gᵀ`: `dg = Gᵀ dU G`. A tile's output
//!   pixels outside the output (or outside `needed`, which a pooling after
//!   the convolution never reads, so their gradient is zero) count as zeros
//!   in `dz_t`, which makes the sum exact: those pixels' own values, computed
//!   by forward from padding, never reach the loss.
//!
//! The multiplications per image and channel pair, against im2col's
//! `9 · OH · OW`: `16 · T` (the tutorial's second convolution, 11×11 output
//! of which a pooling reads 10×10: 25 tiles, 400 against 1,089).
//!
//! **Not yet the layer's path: slower than im2col + GEMM so far.** Measured
//! with `cargo bench --bench kernels -- "cnn conv2 backward"` (batch 64,
//! 2 threads, no pooling: 36 tiles per image; 2026-12-06, Intel Xeon
//! Sapphire Rapids, a noisy shared machine, six alternating runs of 1.5 s,
//! criterion's lower bounds, ms, median / least): both gradients, im2col
//! 2.88 / 2.82, Winograd 3.62 / 2.84; the weight gradient alone 1.48 / 1.24
//! against 1.64 / 1.51. Blocks of 2 images (the forward's) instead of whole
//! groups of 8 were slower still (2.1 ms for the weight gradient in one
//! run). Where the time goes (perf, weight gradient alone): the transforms
//! of `x` and `dz` 37 %, the 16 products (the `gemm` crate, 32 × 64 × 288
//! each) 39 %: writing `V` and `D` for a group (1.8 MB) leaves L2, and the
//! products are too small for the general GEMM's packing to pay. The input
//! gradient through the forward kernel reads `dz` padded by 2 on each side
//! (15×15 for 11×11, 49 tiles per image) and saves only 1.4× of the
//! multiplications. What should make it pay: transforms written straight
//! into the product kernel's packed layout (as `kernels/packed.rs`'s
//! panels), a product kernel shaped for `[C, T] · [T, OC]` with short `T`
//! that accumulates `dU` over the group's blocks in registers, and the input
//! gradient only over the rows and columns of `dz` that are not zero.

use super::{spread, transform_inputs, WinogradFilters};
use crate::kernels::conv::grown;
use crate::kernels::gemm::Gemm;
use crate::kernels::im2col::ConvGeometry;
use crate::kernels::simd::{self, array, vectors, Isa, Scalar, Vector};

/// The geometry of the input gradient's convolution of a 3×3 stride-1
/// convolution `g` with `oc` filters: `dz [OH, OW, OC]` in, `dx [H, W, C]` out.
pub fn flipped_geometry(g: &ConvGeometry, oc: usize) -> ConvGeometry {
    ConvGeometry {
        h: g.oh,
        w: g.ow,
        c: oc,
        k: 3,
        stride: 1,
        pad_top: 2 - g.pad_top.min(2),
        pad_left: 2 - g.pad_left.min(2),
        oh: g.h,
        ow: g.w,
    }
}

/// `dx [B, H, W, C] = Σ_o dz_o ⋆ flip(g_o)` (overwritten) from `dz [B, OH, OW,
/// OC]` and the flipped filters ([`WinogradFilters::update_flipped`]); `zeros`
/// is at least `C` zeros (the bias of that convolution), `scratch` as
/// [`super::forward`]'s.
///
/// # Panics
/// When the filters do not match `g`.
pub fn input_grad(
    dz: &[f32],
    g: &ConvGeometry,
    flipped: &WinogradFilters,
    zeros: &[f32],
    dx: &mut [f32],
    scratch: (&mut Vec<f32>, &mut Vec<f32>),
) {
    let oc = flipped.channels();
    assert_eq!(flipped.filters(), g.c, "flipped filters for another convolution");
    let back = flipped_geometry(g, oc);
    super::forward(dz, &back, flipped, &zeros[..g.c], false, [g.h, g.w], dx, scratch);
}

/// The weight gradient of [`super::forward`]: `dwt [9 · C, OC]`, stored
/// transposed (row `(i · 3 + j) · C + ch`, column `o`: tap `(i, j)` of channel
/// `ch` in filter `o`), overwritten, or added to with `accumulate`, from the
/// input `x [B, H, W, C]` and `dz [B, OH, OW, OC]`, over the top-left `needed
/// = [rows, columns]` of each output (the rest of `dz` must be zero, as
/// before a pooling that drops an odd last row). `scratch` holds `V`, `D` and
/// `dU`, grown once.
///
/// # Panics
/// When the shapes disagree (a programming error).
#[allow(clippy::too_many_arguments)]
pub fn weight_grad(
    x: &[f32],
    dz: &[f32],
    g: &ConvGeometry,
    oc: usize,
    needed: [usize; 2],
    dwt: &mut [f32],
    accumulate: bool,
    scratch: (&mut Vec<f32>, &mut Vec<f32>, &mut Vec<f32>),
) {
    let c = g.c;
    assert!(super::supported(g), "Winograd needs a 3×3 kernel with stride 1");
    assert_eq!(dwt.len(), 9 * c * oc, "dWᵀ [9·C, OC]");
    let image = g.h * g.w * c;
    let images = x.len().checked_div(image).unwrap_or(0);
    assert_eq!(dz.len(), images * g.oh * g.ow * oc, "dz [B, OH, OW, OC]");
    let [rows, cols] = [needed[0].min(g.oh), needed[1].min(g.ow)];
    let (th, tw) = (rows.div_ceil(2), cols.div_ceil(2));
    let tiles = images * th * tw;
    if tiles == 0 || oc == 0 || c == 0 {
        if !accumulate {
            dwt.fill(0.0);
        }
        return;
    }
    let (v, d, du) = scratch;
    let (v, d, du) = (grown(v, 16 * spread(tiles * c)), grown(d, 16 * spread(tiles * oc)), grown(du, 16 * c * oc));
    let run = GradRun { x, dz, g, oc, needed: [rows, cols], tiles: [images, th, tw], v, d };
    match Isa::detect() {
        // SAFETY: the CPU has the features (that is how `detect` chose).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { transforms_avx512(run) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { transforms_avx2(run) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Portable => transforms::<simd::Simd128>(run),
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        Isa::Portable => transforms::<Scalar>(run),
    }
    // dU[ξ][C, OC] = V[ξ][T, C]ᵀ · D[ξ][T, OC]   (the sum over tiles)
    for xi in 0..16 {
        let (v, d) = (&v[xi * spread(tiles * c)..][..tiles * c], &d[xi * spread(tiles * oc)..][..tiles * oc]);
        Gemm::new(c, oc, tiles).a_transposed().run_serial(v, d, &mut du[xi * c * oc..(xi + 1) * c * oc]);
    }
    // dg = Gᵀ dU G, for every channel pair at once (dU[ξ] and dWᵀ's rows are all [C, OC])
    filter_grad(du, c * oc, dwt, accumulate);
}

/// From `U = G g Gᵀ`: `dg = Gᵀ dU G`, with `du` 16 matrices of `n` values
/// and `dwt` 9 of them (tap `i · 3 + j`), overwritten or added to.
#[allow(clippy::needless_range_loop)] // `e` walks 16 inputs and 9 outputs in step; `i` two arrays
fn filter_grad(du: &[f32], n: usize, dwt: &mut [f32], accumulate: bool) {
    // Gᵀ's rows: q0 = u0 + (u1 + u2)/2, q1 = (u1 − u2)/2, q2 = (u1 + u2)/2 + u3
    let gt = |a: f32, b: f32, c: f32, d: f32| [a + 0.5 * (b + c), 0.5 * (b - c), 0.5 * (b + c) + d];
    let u = |xi: usize| &du[xi * n..(xi + 1) * n];
    let (u, dwt) = (array::<&[f32], 16>(&[], u), dwt);
    for e in 0..n {
        // r[·][j] = Gᵀ dU[·][j] (column j), then dg[i][·] = r[i][·] G
        let r: [[f32; 3]; 4] = array([0.0; 3], |j| gt(u[j][e], u[4 + j][e], u[8 + j][e], u[12 + j][e]));
        for i in 0..3 {
            for (j, value) in gt(r[0][i], r[1][i], r[2][i], r[3][i]).into_iter().enumerate() {
                let at = (i * 3 + j) * n + e;
                dwt[at] = if accumulate { dwt[at] + value } else { value };
            }
        }
    }
}

/// The operands of one [`weight_grad`]'s transforms, checked.
struct GradRun<'a> {
    x: &'a [f32],
    dz: &'a [f32],
    g: &'a ConvGeometry,
    oc: usize,
    needed: [usize; 2],
    /// `[images, tile rows, tile columns]`.
    tiles: [usize; 3],
    v: &'a mut [f32],
    d: &'a mut [f32],
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn transforms_avx512(run: GradRun) {
    transforms::<simd::Avx512>(run)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn transforms_avx2(run: GradRun) {
    transforms::<simd::Avx2>(run)
}

/// `V` as forward makes it, and `D[ξ][t, OC] = (A dz_t Aᵀ)[ξ]`, in `V`'s vectors.
#[inline(always)]
fn transforms<V: Vector>(run: GradRun) {
    let GradRun { x, dz, g, oc, needed, tiles: [images, th, tw], v, d } = run;
    let tiles = images * th * tw;
    transform_inputs::<V>(x, g, [images, th, tw], v, spread(tiles * g.c));
    let per_image = g.oh * g.ow * oc;
    for t in 0..tiles {
        let (b, ty, tx) = (t / (th * tw), t / tw % th, t % tw);
        let dz = &dz[b * per_image..(b + 1) * per_image];
        // the tile's 4 output pixels' gradients, or None where forward's pixel is not needed
        let tile: [Option<&[f32]>; 4] = array(None, |p| {
            let (oy, ox) = (2 * ty + p / 2, 2 * tx + p % 2);
            (oy < needed[0] && ox < needed[1]).then(|| &dz[(oy * g.ow + ox) * oc..][..oc])
        });
        let mut o0 = 0;
        while o0 + V::LANES <= oc {
            gradient_lanes::<V>(&tile, o0, d, t * oc, spread(tiles * oc));
            o0 += V::LANES;
        }
        for o0 in o0..oc {
            gradient_lanes::<Scalar>(&tile, o0, d, t * oc, spread(tiles * oc));
        }
    }
}

/// `D[ξ] = (A dz Aᵀ)[ξ]` for channels `o0..o0 + V::LANES` of a tile whose 4
/// output gradients are `dz` (None: zeros), written to `d[ξ · stride + offset + o0..]`.
#[inline(always)]
fn gradient_lanes<V: Vector>(dz: &[Option<&[f32]>; 4], o0: usize, d: &mut [f32], offset: usize, stride: usize) {
    // SAFETY (every `unsafe` here): `V`'s instructions are enabled where the transforms run;
    // each pixel holds OC ≥ o0 + LANES values, and every store's range is checked by slicing.
    let p: [V; 4] = unsafe {
        vectors(|i| match dz[i] {
            Some(dz) => V::load(dz[o0..o0 + V::LANES].as_ptr()),
            None => V::splat(0.0),
        })
    };
    let (add, sub) = (|a, b| unsafe { V::add(a, b) }, |a, b| unsafe { V::sub(a, b) });
    let zero = unsafe { V::splat(0.0) };
    // A's rows applied to a pair (a, b): (a, a + b, a − b, −b); first down the columns...
    let a = |top: V, bottom: V| [top, add(top, bottom), sub(top, bottom), sub(zero, bottom)];
    let (left, right) = (a(p[0], p[2]), a(p[1], p[3]));
    // ...then along each of the 4 rows
    for i in 0..4 {
        for (j, out) in a(left[i], right[i]).into_iter().enumerate() {
            let at = (i * 4 + j) * stride + offset + o0;
            unsafe { V::store(d[at..at + V::LANES].as_mut_ptr(), out) };
        }
    }
}
