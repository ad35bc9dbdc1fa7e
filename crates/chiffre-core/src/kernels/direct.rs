//! Direct convolution for a first layer: one input channel, stride 1, no
//! padding (the tutorial's `conv2d(32, 3×3)` and `fast`'s `conv2d(24, 5×5)`).
//!
//! Shapes: input `x [B, H, W, 1]`, weight `W [OC, k, k, 1]`, bias `b [OC]`,
//! output `z [B, OH, OW, OC]`.
//!
//! Forward only. For these layers im2col + GEMM wastes half the time: each
//! im2col row is `k·k` scalars gathered from `k` runs of `k` values (as costly
//! as the GEMM), and a GEMM with `K = 9` or `25` spends much of its time
//! packing. Here a few output pixels' `OC` sums sit in SIMD registers, each
//! tap adding one broadcast input value times the tap's `OC` weights, straight
//! from the image (`fast`'s first layer with its pooling: 3.7 → 1.9 ms per
//! step). The loops are plain Rust over fixed-size arrays, compiled for
//! AVX2 + FMA and for AVX-512 (`#[target_feature]`, each used only when the
//! CPU has it) and for WebAssembly SIMD128; elsewhere, and for every
//! backward, the convolution takes the im2col + GEMM path. (A direct weight gradient, four taps' sums in registers over a
//! block's pixels, measured slower than im2col + GEMM in training: 4.9–5.2
//! against 3.7–3.9 ms per `fast` step.) Each sum is a chain of fused
//! multiply-adds in a fixed order, so results are the same on every run and
//! for any number of threads.

use super::im2col::ConvGeometry;

/// Most taps (`k·k`) the direct kernels take: kernels up to 5×5.
pub const MAX_TAPS: usize = 25;

/// A convolution the direct kernels take, as [`supported`] found it: the
/// kernel side and filter count, and the registers to use (AVX2 + FMA,
/// AVX-512, SIMD128). Only
/// [`supported`] makes one, so [`forward`] needs no check of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Direct(Shape, Width);

/// The vector registers the kernel is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // each target makes only its own
enum Width {
    /// AVX2 + FMA: 16 registers of 8 values.
    Avx2,
    /// AVX-512: 32 registers of 16 values, twice the pixels per pass.
    Avx512,
    /// WebAssembly SIMD128: 16 registers of 4 values (as the browser's
    /// compiler maps them on x86-64), multiply then add.
    Simd128,
}

/// The kernel sides and filter counts the direct kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // targets without direct kernels make none
enum Shape {
    K3F8,
    K3F16,
    K3F24,
    K3F32,
    K5F8,
    K5F16,
    K5F24,
    K5F32,
}

/// The direct kernel for a convolution of geometry `g` with `oc` filters on
/// this CPU, if there is one: one channel, stride 1, no padding, a 3×3 or
/// 5×5 kernel, 8, 16, 24 or 32 filters, and AVX2 with FMA.
#[cfg(target_arch = "x86_64")]
pub fn supported(g: &ConvGeometry, oc: usize) -> Option<Direct> {
    let has_avx2_fma = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    if g.c != 1 || !g.is_valid_stride_one() || !has_avx2_fma {
        return None;
    }
    let avx512 = std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vl");
    let width = if avx512 { Width::Avx512 } else { Width::Avx2 };
    Some(Direct(shape(g, oc)?, width))
}

/// In WebAssembly with SIMD128, the same shapes.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub fn supported(g: &ConvGeometry, oc: usize) -> Option<Direct> {
    if g.c != 1 || !g.is_valid_stride_one() {
        return None;
    }
    Some(Direct(shape(g, oc)?, Width::Simd128))
}

/// Elsewhere there are no direct kernels.
#[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
pub fn supported(g: &ConvGeometry, oc: usize) -> Option<Direct> {
    let _ = (g, oc);
    None
}

/// The compiled shape for a kernel side and filter count, if there is one.
fn shape(g: &ConvGeometry, oc: usize) -> Option<Shape> {
    Some(match (g.k, oc) {
        (3, 8) => Shape::K3F8,
        (3, 16) => Shape::K3F16,
        (3, 24) => Shape::K3F24,
        (3, 32) => Shape::K3F32,
        (5, 8) => Shape::K5F8,
        (5, 16) => Shape::K5F16,
        (5, 24) => Shape::K5F24,
        (5, 32) => Shape::K5F32,
        _ => return None,
    })
}

/// Most output pixels one pass of the kernels computes.
///
/// More did not stay in registers: with AVX-512, 16 filters made 12 pixels
/// a pass and 8 filters 24, and the compiler then kept the sums in memory.
/// Measured on 256 images, one thread (2026-12-05, Intel Xeon Sapphire
/// Rapids, `direct::forward`, best of five): 3×3 with 16 filters 41.4 →
/// 2.4 µs per image (4.7 → 81 GFLOP/s), 5×5 with 16 filters 105 → 3.8 µs,
/// 3×3 with 8 filters 4.3 → 1.4 µs, 5×5 with 8 filters 10.0 → 2.0 µs; the
/// shapes that made 8 pixels or fewer already are unchanged (3×3 with 32
/// filters, the tutorial's, 3.7 µs; a cap of 4 or 6 was no better). The
/// "not a digit" verifier's first layer (3×3, 16 filters) was the slow one:
/// it read a number's candidate groups at 58 µs each, against 15 now.
#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
const MAX_PIXELS_PER_PASS: usize = 8;

/// How many pixels share one pass for `sums` values in registers and `oc`
/// filters: `sums / oc`, at most [`MAX_PIXELS_PER_PASS`].
#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
const fn pixels_per_pass(sums: usize, oc: usize) -> usize {
    let t = sums / oc;
    if t > MAX_PIXELS_PER_PASS {
        MAX_PIXELS_PER_PASS
    } else {
        t
    }
}

/// How many pixels of one output row share a pass of [`forward_pooled`]: an
/// even number (whole windows), at most [`MAX_PIXELS_PER_PASS`], and few
/// enough that the row's sums and the half as many window maxima of the row
/// above fit in the registers that hold `sums` values: `T · OC · 3 / 2 ≤
/// sums` (at least 2).
#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
const fn pooled_pixels_per_pass(sums: usize, oc: usize) -> usize {
    let t = 2 * sums / (3 * oc) / 2 * 2;
    if t > MAX_PIXELS_PER_PASS {
        MAX_PIXELS_PER_PASS
    } else if t < 2 {
        2
    } else {
        t
    }
}

/// Calls `$f::<K, OC, T>($args)` for the kernel side and filter count of
/// the [`Shape`], so that every loop bound is a constant: the loops unroll,
/// the sums stay in registers and no index is checked at run time. `T` is
/// how many pixels share one pass: `$sums / OC` (at most
/// [`MAX_PIXELS_PER_PASS`]), where `$sums` is the values that 12 vector
/// registers hold (the other registers hold the operands): 96 for AVX2 (16
/// registers of 8), 192 for AVX-512 (32 of 16), 48 for SIMD128 (16 of 4).
#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
macro_rules! dispatch {
    ($sums:expr, $f:ident, $shape:expr, ($($arg:expr),*)) => {
        match $shape {
            Shape::K3F8 => kernel::$f::<3, 8, { pixels_per_pass($sums, 8) }>($($arg),*),
            Shape::K3F16 => kernel::$f::<3, 16, { pixels_per_pass($sums, 16) }>($($arg),*),
            Shape::K3F24 => kernel::$f::<3, 24, { pixels_per_pass($sums, 24) }>($($arg),*),
            Shape::K3F32 => kernel::$f::<3, 32, { pixels_per_pass($sums, 32) }>($($arg),*),
            Shape::K5F8 => kernel::$f::<5, 8, { pixels_per_pass($sums, 8) }>($($arg),*),
            Shape::K5F16 => kernel::$f::<5, 16, { pixels_per_pass($sums, 16) }>($($arg),*),
            Shape::K5F24 => kernel::$f::<5, 24, { pixels_per_pass($sums, 24) }>($($arg),*),
            Shape::K5F32 => kernel::$f::<5, 32, { pixels_per_pass($sums, 32) }>($($arg),*),
        }
    };
}

/// `z = conv(x) + b` for the whole images in `x` (`z [rows, OC]`, one row
/// per output pixel), by the kernel that [`supported`] chose.
pub fn forward(direct: Direct, x: &[f32], g: &ConvGeometry, weight: &[f32], bias: &[f32], z: &mut [f32]) {
    dispatch_all(direct, x, g, weight, bias, z, None)
}

/// [`forward`] a strip of output rows at a time, so that what follows (a
/// pooling) takes each strip while it is in L1, where a whole first-layer
/// output is 55–86 KB: for every image in `x`, output rows `first..first +
/// rows` go to `strip` (`rows · OW · OC` values, the strip's length deciding
/// `rows`; the last strip may be shorter), then `each(image, first, strip)`.
pub fn forward_strips(
    direct: Direct,
    x: &[f32],
    g: &ConvGeometry,
    weight: &[f32],
    bias: &[f32],
    strip: &mut [f32],
    each: &mut dyn FnMut(usize, usize, &[f32]),
) {
    dispatch_all(direct, x, g, weight, bias, strip, Some(each))
}

/// `y = relu?(max over each 2×2 window of conv(x) + b)` for the whole images
/// in `x` (`y [B, OH/2, OW/2, OC]`; an odd last row or column is dropped, as
/// the pooling drops it), for inference: each window's four sums are
/// compared in registers as they are made, so neither the convolution's
/// output nor the pooling's winners are written. The same values to the bit
/// as [`forward_strips`] followed by the pooling: each sum is made by the
/// same chain, and the maxima are taken in the pooling's order (top left,
/// top right, bottom left, bottom right; the first of equal ones kept).
pub fn forward_pooled(
    direct: Direct,
    x: &[f32],
    g: &ConvGeometry,
    weight: &[f32],
    bias: &[f32],
    relu: bool,
    y: &mut [f32],
) {
    assert!(direct.pools_in_registers(), "no pooled kernel for {direct:?}");
    if g.oh < 2 || g.ow < 2 {
        // no whole window: nothing to write
        return;
    }
    let args = (x, g, weight, bias, relu, y);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `dispatch_all`.
    unsafe {
        use kernel::{pooled_avx2 as avx2, pooled_avx512 as avx512};
        let (three, avx512_wide) = (direct.0 == Shape::K3F32, direct.1 == Width::Avx512);
        match (three, avx512_wide) {
            (true, true) => avx512::<3, 32, { pooled_pixels_per_pass(192, 32) }>(args),
            (false, true) => avx512::<5, 32, { pooled_pixels_per_pass(192, 32) }>(args),
            (true, false) => avx2::<3, 32, { pooled_pixels_per_pass(96, 32) }>(args),
            (false, false) => avx2::<5, 32, { pooled_pixels_per_pass(96, 32) }>(args),
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use kernel::pooled_simd128 as simd128;
        match direct.0 == Shape::K3F32 {
            true => simd128::<3, 32, { pooled_pixels_per_pass(48, 32) }>(args),
            false => simd128::<5, 32, { pooled_pixels_per_pass(48, 32) }>(args),
        }
    }
    #[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
    {
        // `supported` makes no `Direct` here.
        let _ = args;
        unreachable!("no direct kernel on this target: {direct:?}")
    }
}

impl Direct {
    /// Whether [`forward_pooled`] takes this shape: 32 filters. With fewer it
    /// was slower than a strip of [`forward_strips`] followed by the pooling
    /// (why is not known: not the pass size, see below); 64 images, one thread
    /// (`cargo bench --bench kernels`, 2026-12-07, Intel Xeon, AVX-512), strips
    /// then pooling / pooled in registers: 3×3 with 32 filters 184–199 /
    /// 136–138 µs, 5×5 with 32 filters 355 / 308 µs; 3×3 with 8, 16 and 24
    /// filters 88 / 110, 135 / 274 and 198 / 364 µs, 5×5 with 8 and 16
    /// filters 145 / 167 and 244 / 406 µs (and `fast`'s 5×5 with 24 filters,
    /// 256 images, 1.48 / 2.49 ms). For 3×3 with 16 filters (the verifier's
    /// first layer), 2, 4, 6 or 8 pixels a pass: 238, 150, 240 and 262 µs,
    /// against 122–131 µs for the strips.
    pub fn pools_in_registers(self) -> bool {
        matches!(self.0, Shape::K3F32 | Shape::K5F32)
    }
}

/// Where [`forward_strips`] hands each strip: `(image, first row, strip)`;
/// `None` for [`forward`], which writes whole outputs.
type StripSink<'a> = Option<&'a mut dyn FnMut(usize, usize, &[f32])>;

fn dispatch_all(
    direct: Direct,
    x: &[f32],
    g: &ConvGeometry,
    weight: &[f32],
    bias: &[f32],
    z: &mut [f32],
    each: StripSink,
) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a `Direct` exists only where `supported` found AVX2 and FMA,
    // and its width is AVX-512 only where it found AVX-512F.
    unsafe {
        match direct.1 {
            Width::Avx512 => dispatch!(192, forward_avx512, direct.0, (x, g, weight, bias, z, each)),
            _ => dispatch!(96, forward_avx2, direct.0, (x, g, weight, bias, z, each)),
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    dispatch!(48, forward_simd128, direct.0, (x, g, weight, bias, z, each));
    #[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
    {
        // `supported` makes no `Direct` here.
        let _ = (x, g, weight, bias, z, each);
        unreachable!("no direct kernel on this target: {direct:?}")
    }
}

#[cfg(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128")))]
mod kernel;
