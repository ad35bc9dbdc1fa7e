//! Winograd's F(2×2, 3×3) convolution (Lavin & Gray, 2016): each 2×2 tile of
//! the output from a 4×4 tile of the input with 16 multiplications per
//! channel pair instead of 36, 2.25× fewer.
//!
//! Shapes: input `x [B, H, W, C]`, filters `g [OC, 3, 3, C]`, output
//! `z [B, OH, OW, OC]`; `T` tiles of 2×2 output pixels (per image
//! `ceil(OH/2) · ceil(OW/2)`, or fewer when only part of the output is
//! needed); transformed filters `U [16][C, OC]`, transformed input tiles
//! `V [16][T, C]`, their products `M [16][T, OC]`.
//!
//! With `d` a 4×4 input tile (each entry a vector of C channels) and
//!
//! ```text
//!      ⎡1  0 -1  0⎤        ⎡ 1    0    0 ⎤        ⎡1 1  1  0⎤
//! Bᵀ = ⎢0  1  1  0⎥    G = ⎢1/2  1/2  1/2⎥   Aᵀ = ⎣0 1 -1 -1⎦
//!      ⎢0 -1  1  0⎥        ⎢1/2 -1/2  1/2⎥
//!      ⎣0  1  0 -1⎦        ⎣ 0    0    1 ⎦
//! ```
//!
//! the output tile is `Aᵀ [Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)] A`: `U = G g Gᵀ` once per
//! weight update, `V = Bᵀ d B` per tile, and for each of the 16 positions ξ
//! of the 4×4 the channel sum is a matrix product `M[ξ] = V[ξ] · U[ξ]`
//! ([`super::packed`], `U` packed once). The transforms only add, subtract
//! and halve, so rounding stays close to the direct sum's: every output is
//! a sum of the same products, each input value entering at most 4 sums of
//! 2–3 terms before the product (the tests bound the difference from the
//! plain convolution by `1e-5 · (1 + Σ|x·w|)`).

mod backward;

pub use backward::{input_grad, weight_grad};

use super::conv::grown;
use super::im2col::ConvGeometry;
use super::packed::{matmul_packed, PackedMatrix};
use super::simd::{self, array, vectors, Isa, Scalar, Vector};
use std::sync::atomic::{AtomicBool, Ordering};

/// The filters of a 3×3 convolution in the Winograd domain, `U[ξ] = (G g
/// Gᵀ)[ξ]` as 16 packed `[C × OC]` matrices; rebuilt (in place) whenever the
/// weights change.
#[derive(Clone, Debug, Default)]
pub struct WinogradFilters {
    c: usize,
    oc: usize,
    u: Vec<PackedMatrix>,
}

impl WinogradFilters {
    /// Empty filters (no channels), to be filled by [`WinogradFilters::update`].
    pub fn new() -> Self {
        WinogradFilters::default()
    }

    /// Transforms `weight [OC, 3, 3, C]`, reusing the allocations.
    ///
    /// # Panics
    /// When `weight` is not `oc · 9 · c` values.
    pub fn update(&mut self, weight: &[f32], c: usize, oc: usize) {
        assert_eq!(weight.len(), oc * 9 * c, "3×3 filters [{oc}, 3, 3, {c}]");
        // g[o][i][j][ch] = weight[o, i, j, ch]
        self.fill(c, oc, |o, ch, i, j| weight[((o * 3 + i) * 3 + j) * c + ch]);
    }

    /// The filters of the convolution that gives a convolution's input
    /// gradient (see the `backward` module): `weight [OC, 3, 3, C]` flipped in both
    /// directions, its channels and filters swapped, so the result has `OC`
    /// input channels and `C` filters. Reuses the allocations.
    ///
    /// # Panics
    /// When `weight` is not `oc · 9 · c` values.
    pub fn update_flipped(&mut self, weight: &[f32], c: usize, oc: usize) {
        assert_eq!(weight.len(), oc * 9 * c, "3×3 filters [{oc}, 3, 3, {c}]");
        // g'[ch][i][j][o] = weight[o, 2 - i, 2 - j, ch]: filter `ch` of the input gradient reads channel `o` of dz
        self.fill(oc, c, |ch, o, i, j| weight[((o * 3 + 2 - i) * 3 + 2 - j) * c + ch]);
    }

    /// `U[ξ][ch, o] = (G g_o,ch Gᵀ)[ξ]` for `oc` filters over `c` channels,
    /// with `g(o, ch, i, j)` the filters' taps.
    fn fill(&mut self, c: usize, oc: usize, g: impl Fn(usize, usize, usize, usize) -> f32) {
        self.u.resize_with(16, PackedMatrix::new);
        self.u.iter_mut().for_each(|u| u.reshape(c, oc));
        for o in 0..oc {
            // every U[ξ] has the same layout: column o starts at `start`, rows `step` apart
            let (start, step) = self.u[0].column(o);
            for ch in 0..c {
                let g = |i: usize, j: usize| g(o, ch, i, j);
                // t = G g   (4×3)
                let t: [[f32; 3]; 4] = array([0.0; 3], |i| {
                    array(0.0, |j| match i {
                        0 => g(0, j),
                        1 => 0.5 * (g(0, j) + g(1, j) + g(2, j)),
                        2 => 0.5 * (g(0, j) - g(1, j) + g(2, j)),
                        _ => g(2, j),
                    })
                });
                // U[ξ = 4i + j][ch, o] = (t Gᵀ)[i][j]
                for (i, t) in t.iter().enumerate() {
                    let u = [t[0], 0.5 * (t[0] + t[1] + t[2]), 0.5 * (t[0] - t[1] + t[2]), t[2]];
                    for (j, u) in u.into_iter().enumerate() {
                        self.u[i * 4 + j].values_mut()[start + ch * step] = u;
                    }
                }
            }
        }
        (self.c, self.oc) = (c, oc);
    }

    /// Input channels of the filters last given to [`WinogradFilters::update`].
    pub fn channels(&self) -> usize {
        self.c
    }

    /// Filters (output channels) of the same.
    pub fn filters(&self) -> usize {
        self.oc
    }
}

/// How far apart (in values) the 16 matrices of `n` values each of one
/// Winograd domain (`V[ξ]`, `M[ξ]`, `D[ξ]`) are laid out: `n` rounded up to
/// whole 64-byte cache lines, and to an odd number of them. The transforms
/// write (or read) all 16 at once, one vector each; 16 streams whose
/// addresses differ by multiples of 4 KiB fall into the same few sets of
/// the L1 cache and evict each other (8 images of the tutorial's second
/// convolution in backward: 288 tiles × 32 channels × 4 bytes = 9 × 4 KiB).
/// With an odd number of lines between them, the 16 streams start in 16
/// different sets. (Forward's blocks, of 1–2 images, do not fall on such
/// multiples for the presets' shapes, and keep `T · C` apart.)
pub(crate) fn spread(n: usize) -> usize {
    let lines = n.div_ceil(16);
    16 * (lines | 1)
}

/// Whether the Winograd kernel computes a convolution of geometry `g`: a
/// 3×3 kernel with stride 1 (any padding).
pub fn supported(g: &ConvGeometry) -> bool {
    g.k == 3 && g.stride == 1
}

/// Whether forward should take the Winograd path (see [`set_enabled`]).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns the Winograd path on (the default) or off for the whole process:
/// for measuring one path against the other in the same run.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether forward should compute a convolution of geometry `g` with `oc`
/// filters over `images` images by Winograd rather than by im2col + GEMM,
/// by the rule measured on the presets' layers (2026-12-04, Intel Xeon with
/// AVX-512, one thread, µs per image, im2col → Winograd): the tutorial's
/// second convolution (13×13×32 → 64) 29.5 → 22.4 alone and 31 → 17 before
/// its pooling, at any batch; its third (5×5×64 → 64, a 3×3 output that 2×2
/// tiles cover as 4×4) 13.4 → 5.1 for one image but 4.0 → 4.7 in batches.
/// So: a 3×3 kernel with stride 1, at least 8 input channels and filters (a
/// first layer, one channel, has its direct kernel; the presets have no 3×3
/// layer with 2–7 channels, so that bound is a guess that keeps the
/// transforms small next to the products), and either tiles that waste little
/// (multiplications saved ≥ 1.5× after the tiles' overhang) or at most 2
/// images (where im2col's GEMM spends its time packing the weights). In
/// WebAssembly, whose GEMM (matrixmultiply, 4 lanes) is slower, Winograd wins
/// at any batch for the third too (the page's inference, batches of 1000:
/// 9,160–9,290 → 9,420–9,610 images/s, 2026-12-04, Chromium 156).
pub fn suits(g: &ConvGeometry, oc: usize, images: usize) -> bool {
    if !ENABLED.load(Ordering::Relaxed) || !supported(g) || g.c < 8 || oc < 8 {
        return false;
    }
    let covered = 4 * g.oh.div_ceil(2) * g.ow.div_ceil(2);
    let saved = 2.25 * (g.oh * g.ow) as f64 / covered.max(1) as f64;
    saved >= 1.5 || images <= 2 || cfg!(target_arch = "wasm32")
}

/// `z = conv(x) + b`, then `max(0, ·)` with `relu`, for the whole images in
/// `x`, over the top-left `needed = [rows, columns]` of each output (the
/// rest of `z` is left as it was: a 2×2 pooling that drops an odd last row
/// never reads it). `v` and `m` are scratch, grown once.
///
/// # Panics
/// When the filters do not match `g` and `bias`, or `z` is not `[B, OH, OW, OC]`.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    x: &[f32],
    g: &ConvGeometry,
    filters: &WinogradFilters,
    bias: &[f32],
    relu: bool,
    needed: [usize; 2],
    z: &mut [f32],
    scratch: (&mut Vec<f32>, &mut Vec<f32>),
) {
    let (c, oc) = (g.c, bias.len());
    assert!(supported(g) && filters.c == c && filters.oc == oc, "Winograd filters for another convolution");
    let image = g.h * g.w * c;
    let images = x.len().checked_div(image).unwrap_or(0);
    assert_eq!(z.len(), images * g.oh * g.ow * oc, "output [B, OH, OW, OC]");
    let [rows, cols] = [needed[0].min(g.oh), needed[1].min(g.ow)];
    let (th, tw) = (rows.div_ceil(2), cols.div_ceil(2));
    let tiles = images * th * tw;
    if tiles == 0 || oc == 0 {
        return;
    }
    let (v, m) = scratch;
    let v = grown(v, 16 * tiles * c);
    let m = grown(m, 16 * tiles * oc);
    let run = Run { x, g, filters, bias, relu, needed: [rows, cols], tiles: [images, th, tw], v, m };
    match Isa::detect() {
        // SAFETY: the CPU has the features (that is how `detect` chose).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512(run, z) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2(run, z) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Portable => stages::<simd::Simd128>(run, z),
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        Isa::Portable => stages::<Scalar>(run, z),
    }
}

/// The operands of one [`forward`], checked, with its scratch.
struct Run<'a> {
    x: &'a [f32],
    g: &'a ConvGeometry,
    filters: &'a WinogradFilters,
    bias: &'a [f32],
    relu: bool,
    needed: [usize; 2],
    /// `[images, tile rows, tile columns]`.
    tiles: [usize; 3],
    v: &'a mut [f32],
    m: &'a mut [f32],
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn avx512(run: Run, z: &mut [f32]) {
    stages::<simd::Avx512>(run, z)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2(run: Run, z: &mut [f32]) {
    stages::<simd::Avx2>(run, z)
}

/// The three stages, with the transforms in `V`'s vectors (the channels
/// that do not fill one, one at a time).
#[inline(always)]
fn stages<V: Vector>(run: Run, z: &mut [f32]) {
    let Run { x, g, filters, bias, relu, needed, tiles: [images, th, tw], v, m } = run;
    let (c, oc, tiles) = (g.c, bias.len(), images * th * tw);
    let per_image = g.oh * g.ow * oc;
    // V[ξ][t, C] = (Bᵀ d B)[ξ] for every tile t
    transform_inputs::<V>(x, g, [images, th, tw], v, tiles * c);
    // M[ξ] = V[ξ] · U[ξ]   (the sum over channels: 16 products [T, C] · [C, OC])
    for (xi, u) in filters.u.iter().enumerate() {
        matmul_packed(&v[xi * tiles * c..], c, tiles, u, None, &mut m[xi * tiles * oc..], oc);
    }
    // z = Aᵀ M A + b, then ReLU
    for t in 0..tiles {
        let (b, ty, tx) = (t / (th * tw), t / tw % th, t % tw);
        let z = &mut z[b * per_image..(b + 1) * per_image];
        let tile = OutputTile { at: [2 * ty, 2 * tx], needed, ow: g.ow, oc, relu };
        let mut o0 = 0;
        while o0 + V::LANES <= oc {
            output_lanes::<V>(m, t * oc + o0, tiles * oc, &bias[o0..], &tile, &mut z[o0..]);
            o0 += V::LANES;
        }
        for o0 in o0..oc {
            output_lanes::<Scalar>(m, t * oc + o0, tiles * oc, &bias[o0..], &tile, &mut z[o0..]);
        }
    }
}

/// `V[ξ][t, C] = (Bᵀ d B)[ξ]` for every tile `t` of `[images, tile rows,
/// tile columns]`: the 4×4 input tile `d` at `(2·ty − pad_top, 2·tx − pad_left)`,
/// zeros outside the image; `v` holds the 16 matrices `[T, C]`, `stride` values apart.
#[inline(always)]
fn transform_inputs<V: Vector>(
    x: &[f32],
    g: &ConvGeometry,
    [images, th, tw]: [usize; 3],
    v: &mut [f32],
    stride: usize,
) {
    let (c, tiles, image) = (g.c, images * th * tw, g.h * g.w * g.c);
    for t in 0..tiles {
        let (b, ty, tx) = (t / (th * tw), t / tw % th, t % tw);
        let x = &x[b * image..(b + 1) * image];
        let at = [2 * ty as isize - g.pad_top as isize, 2 * tx as isize - g.pad_left as isize];
        // the 16 input pixels' channel vectors, or None outside the image
        let d: [Option<&[f32]>; 16] = array(None, |p| {
            let (iy, ix) = (at[0] + (p / 4) as isize, at[1] + (p % 4) as isize);
            let inside = iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w;
            inside.then(|| &x[(iy as usize * g.w + ix as usize) * c..][..c])
        });
        let mut c0 = 0;
        while c0 + V::LANES <= c {
            input_lanes::<V>(&d, c0, v, t * c, stride);
            c0 += V::LANES;
        }
        for c0 in c0..c {
            input_lanes::<Scalar>(&d, c0, v, t * c, stride);
        }
    }
}

/// `V[ξ] = (Bᵀ d B)[ξ]` for channels `c0..c0 + V::LANES` of a tile whose
/// 16 pixels are `d` (None: outside the image, zeros), written to
/// `v[ξ · stride + offset + c0..]`.
#[inline(always)]
fn input_lanes<V: Vector>(d: &[Option<&[f32]>; 16], c0: usize, v: &mut [f32], offset: usize, stride: usize) {
    // SAFETY (every `unsafe` here): `V`'s instructions are enabled where the stages run;
    // each pixel holds C ≥ c0 + LANES values, and every store's range is checked by slicing.
    let d: [V; 16] = unsafe {
        vectors(|p| match d[p] {
            Some(d) => V::load(d[c0..c0 + V::LANES].as_ptr()),
            None => V::splat(0.0),
        })
    };
    let (add, sub) = (|a, b| unsafe { V::add(a, b) }, |a, b| unsafe { V::sub(a, b) });
    // rows: r = Bᵀ d;  r0 = d0 - d2, r1 = d1 + d2, r2 = d2 - d1, r3 = d1 - d3 (each a row of 4)
    let mut r = d;
    for j in 0..4 {
        let col = |i: usize| d[i * 4 + j];
        r[j] = sub(col(0), col(2));
        r[4 + j] = add(col(1), col(2));
        r[8 + j] = sub(col(2), col(1));
        r[12 + j] = sub(col(1), col(3));
    }
    // columns: the same on each row of r, stored as V[ξ]
    for i in 0..4 {
        let row = |j: usize| r[i * 4 + j];
        let out = [sub(row(0), row(2)), add(row(1), row(2)), sub(row(2), row(1)), sub(row(1), row(3))];
        for (j, out) in out.into_iter().enumerate() {
            let at = (i * 4 + j) * stride + offset + c0;
            unsafe { V::store(v[at..at + V::LANES].as_mut_ptr(), out) };
        }
    }
}

/// Where one output tile goes: its top-left output pixel, the part of the
/// output that is needed, the output's width and channels, and whether ReLU follows.
struct OutputTile {
    at: [usize; 2],
    needed: [usize; 2],
    ow: usize,
    oc: usize,
    relu: bool,
}

/// Channels `0..V::LANES` of one 2×2 output tile from `M[ξ][t]` at
/// `m[ξ · stride + offset..]`: `Aᵀ M A + b`, ReLU when asked, written to `z
/// [OH, OW, OC]` (starting at the tile's first channel) for the pixels inside
/// the needed part.
#[inline(always)]
fn output_lanes<V: Vector>(m: &[f32], offset: usize, stride: usize, bias: &[f32], tile: &OutputTile, z: &mut [f32]) {
    // SAFETY (every `unsafe` here): as in `input_lanes`, every range checked by slicing.
    let mv: [V; 16] = unsafe { vectors(|xi| V::load(m[xi * stride + offset..][..V::LANES].as_ptr())) };
    let b = unsafe { V::load(bias[..V::LANES].as_ptr()) };
    let (add, sub) = (|a, b| unsafe { V::add(a, b) }, |a, b| unsafe { V::sub(a, b) });
    // rows: s = Aᵀ M;  s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 (each a row of 4)
    let s: [[V; 4]; 2] = unsafe {
        [vectors(|j| add(add(mv[j], mv[4 + j]), mv[8 + j])), vectors(|j| sub(sub(mv[4 + j], mv[8 + j]), mv[12 + j]))]
    };
    for (i, s) in s.iter().enumerate() {
        // columns: y_i0 = s0 + s1 + s2, y_i1 = s1 - s2 - s3; then + b and ReLU
        let y = [add(add(add(s[0], s[1]), s[2]), b), add(sub(sub(s[1], s[2]), s[3]), b)];
        for (j, y) in y.into_iter().enumerate() {
            let (oy, ox) = (tile.at[0] + i, tile.at[1] + j);
            if oy < tile.needed[0] && ox < tile.needed[1] {
                let y = if tile.relu { unsafe { V::relu(y) } } else { y };
                let at = (oy * tile.ow + ox) * tile.oc;
                unsafe { V::store(z[at..at + V::LANES].as_mut_ptr(), y) };
            }
        }
    }
}
