//! 8-bit integer products for quantized inference (issue 19's int8 path,
//! first step: the kernel and its quantization, not yet wired into layers):
//! activations as unsigned 7-bit integers, weights as signed 8-bit integers
//! with one scale per output channel, sums in `i32`.
//!
//! Shapes: `a [m × kp]` of `u8` in `0..=`[`ACT_MAX`] (each row `k` values,
//! then zeros up to `kp` = `k` rounded up to 4: [`padded`]); `W [n × k]` of
//! `i8` in `-127..=127`, packed once by [`PackedI8::pack`]; `c [m × n]` of
//! `i32`, `c[i][j] = Σ_t a[i][t] · W[j][t]`.
//!
//! Why activations of 7 bits: AVX2 has no 8-bit dot product into 32 bits;
//! `vpmaddubsw` multiplies unsigned by signed bytes and adds neighbouring
//! pairs into *saturating* 16-bit sums: 2 · 255 · 127 = 64,770 overflows,
//! 2 · 127 · 127 = 32,258 does not. With activations at most 127 the AVX2
//! path is exact, like AVX-512 VNNI's `vpdpbusd` (four products into 32
//! bits, no saturation) and the portable code: all give the same integers,
//! bit for bit, and the tests check them against [`super::reference`]. The
//! layers' activations are never negative (pixels 0–1, ReLU outputs), so no
//! zero point is needed; a weight of −128 is never made, so `−W` fits too.
//!
//! Layout of `W`: panels of [`NR`] = 16 output channels; in a panel, for each
//! group of 4 consecutive `t`, 16 × 4 bytes: channel `j`'s 4 weights side by
//! side, one 32-bit lane each. A tile step broadcasts 4 bytes of a row of
//! `a` (one `u32`) to every lane and multiply-adds them with the 64 bytes of
//! each panel: 16 sums of 4 products each per panel, for `MR` = 6 rows at a
//! time.

/// The largest activation value (7 bits: see the module documentation).
pub const ACT_MAX: u8 = 127;
/// The largest weight magnitude.
pub const WEIGHT_MAX: i8 = 127;
/// Output channels per panel.
pub const NR: usize = 16;
/// Rows of `a` per register tile.
const MR: usize = 6;

/// `k` rounded up to a multiple of 4: the row length of `a` and of a panel's
/// groups.
pub fn padded(k: usize) -> usize {
    k.div_ceil(4) * 4
}

/// `W [n × k]` laid out for [`matmul_i8`]: `ceil(n / NR)` panels, each
/// `padded(k) / 4` groups of `NR × 4` bytes (zeros past `k` and past `n`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackedI8 {
    k: usize,
    n: usize,
    data: Vec<i8>,
}

impl PackedI8 {
    /// Packs `w [n × k]` (a layer's weights, one row per output channel).
    ///
    /// # Panics
    /// When `w` is not `n · k` values.
    pub fn pack(w: &[i8], n: usize, k: usize) -> Self {
        assert_eq!(w.len(), n * k, "weights [{n} × {k}]");
        let groups = padded(k) / 4;
        let mut data = vec![0i8; n.div_ceil(NR) * groups * NR * 4];
        for (j, row) in w.chunks_exact(k.max(1)).enumerate().take(n) {
            let (panel, lane) = (j / NR, j % NR);
            for (t, &v) in row.iter().enumerate() {
                data[(panel * groups + t / 4) * NR * 4 + lane * 4 + t % 4] = v;
            }
        }
        PackedI8 { k, n, data }
    }

    /// The `k` of `W [n × k]`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The `n` of `W [n × k]`.
    pub fn n(&self) -> usize {
        self.n
    }
}

/// The instructions [`matmul_i8`] runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Isa {
    /// AVX-512 with VNNI (`vpdpbusd`).
    #[cfg(target_arch = "x86_64")]
    Vnni,
    /// AVX2 (`vpmaddubsw` + `vpmaddwd`).
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// Plain code.
    Portable,
}

impl Int8Isa {
    /// The best this CPU runs.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vnni")
            {
                return Int8Isa::Vnni;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Int8Isa::Avx2;
            }
        }
        Int8Isa::Portable
    }

    /// Whether this CPU runs it.
    pub fn runs_here(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Int8Isa::Vnni => Int8Isa::detect() == Int8Isa::Vnni,
            #[cfg(target_arch = "x86_64")]
            Int8Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            Int8Isa::Portable => true,
        }
    }

    /// Every one this CPU runs, best first (for the tests).
    pub fn available() -> Vec<Self> {
        let mut out = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if Int8Isa::detect() == Int8Isa::Vnni {
                out.push(Int8Isa::Vnni);
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                out.push(Int8Isa::Avx2);
            }
        }
        out.push(Int8Isa::Portable);
        out
    }
}

/// `c [m × n] = a [m × padded(k)] · Wᵀ`, with this CPU's best instructions.
///
/// # Panics
/// When `a` is not `m` rows of `padded(k)` or `c` not `m × n` (see
/// [`matmul_i8_with`]).
pub fn matmul_i8(a: &[u8], w: &PackedI8, c: &mut [i32]) {
    matmul_i8_with(Int8Isa::detect(), a, w, c)
}

/// [`matmul_i8`] with the instructions `isa`, which this CPU must run
/// (one of [`Int8Isa::available`]). Register tiles of `MR` = 6 rows (then
/// single rows) × 4 panels (64 output channels: 24 of AVX-512's 32
/// registers hold sums) or 1 (AVX2, and the panels left over).
///
/// # Panics
/// When `a` is not whole rows of `padded(k)` values, `c` is not as many rows
/// of `n`, an activation exceeds [`ACT_MAX`] (checked in debug builds), or
/// the CPU lacks `isa`.
pub fn matmul_i8_with(isa: Int8Isa, a: &[u8], w: &PackedI8, c: &mut [i32]) {
    let (kp, n) = (padded(w.k), w.n);
    let m = a.len().checked_div(kp).unwrap_or_else(|| c.len() / n.max(1));
    assert_eq!(a.len(), m * kp, "activations: rows of {kp} (k = {} padded to 4)", w.k);
    assert_eq!(c.len(), m * n, "output [{m} × {n}]");
    debug_assert!(a.iter().all(|&v| v <= ACT_MAX), "activations are 0..=127");
    product(isa, a, (m, |i| i * kp), Rows { segments: 1, len: kp, stride: kp }, w, c);
}

/// Where the rows of a product's left operand lie: row `i`'s `t`-th value
/// is at `start(i) + (t / len) · stride + t % len`. Plain rows are one
/// segment; a convolution's patch read where the image lies
/// ([`conv_i8_with`]) is `k` segments (one per kernel row) of `len = k·C`
/// bytes, `stride = W·C` apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rows {
    /// Segments per row.
    pub segments: usize,
    /// Values per segment (a multiple of 4).
    pub len: usize,
    /// From one segment's start to the next.
    pub stride: usize,
}

/// Whether [`conv_i8_with`] reads the patches of a convolution of geometry
/// `g` in place: no padding, and each kernel row's `k·C` bytes a multiple
/// of 4 (the products take 4 bytes at a time). Otherwise the patches are
/// copied first ([`im2col_u8`]).
pub fn patches_in_place(g: &super::ConvGeometry) -> bool {
    g.pad_top == 0 && g.pad_left == 0 && (g.k * g.c).is_multiple_of(4) && g.oh > 0 && g.ow > 0
}

/// A convolution's integer sums: `c [B·OH·OW × n] = patches(x) · Wᵀ` for
/// images `x [B, H, W, C]` of bytes, the patches read where they lie (no
/// copy: [`Rows`]). `w` is `W [n × k·k·C]` in the order of [`im2col_u8`]'s
/// rows (kernel row, kernel column, channel), so the sums are those of
/// [`im2col_u8`] then [`matmul_i8_with`], integer for integer.
///
/// # Panics
/// When `g` does not suit ([`patches_in_place`]), `x` is not whole images of
/// `g`, `w` not `k·k·C` wide, `c` not `B·OH·OW × n`, or the CPU lacks `isa`.
pub fn conv_i8_with(isa: Int8Isa, x: &[u8], g: &super::ConvGeometry, w: &PackedI8, c: &mut [i32]) {
    assert!(patches_in_place(g), "patches read in place: no padding, k·C a multiple of 4");
    let image = g.h * g.w * g.c;
    assert!(x.len().is_multiple_of(image), "whole images of {}×{}×{}", g.h, g.w, g.c);
    assert_eq!(w.k, g.patch_len(), "weights [n × k·k·C]");
    let (pixels, m) = (g.oh * g.ow, x.len() / image * g.oh * g.ow);
    assert_eq!(c.len(), m * w.n, "output [{m} × {}]", w.n);
    debug_assert!(x.iter().all(|&v| v <= ACT_MAX), "activations are 0..=127");
    let start = |i: usize| {
        let (b, oy, ox) = (i / pixels, i % pixels / g.ow, i % g.ow);
        b * image + (oy * g.stride * g.w + ox * g.stride) * g.c
    };
    product(isa, x, (m, start), Rows { segments: g.k, len: g.k * g.c, stride: g.w * g.c }, w, c);
}

/// `c [m × n] = a · Wᵀ`, `m` rows of `a` found in `x` by `start` and
/// `rows`, with `isa` (see [`matmul_i8_with`] for the tiles).
fn product(
    isa: Int8Isa,
    x: &[u8],
    (m, start): (usize, impl Fn(usize) -> usize),
    rows: Rows,
    w: &PackedI8,
    c: &mut [i32],
) {
    let (kp, n) = (padded(w.k), w.n);
    assert!(rows.len.is_multiple_of(4) && rows.segments * rows.len == kp, "rows of {kp} bytes in segments");
    assert!(isa.runs_here(), "this CPU does not run {isa:?}");
    let (panels, stride) = (n.div_ceil(NR), kp / 4 * NR * 4);
    // The furthest a row reads past its start.
    let reach = (rows.segments - 1) * rows.stride + rows.len;
    let mut p = 0;
    while p < panels {
        let wide = if matches!(isa, Int8Isa::Portable) || panels - p < 4 { 1 } else { 4 };
        #[cfg(target_arch = "x86_64")]
        let wide = if isa == Int8Isa::Avx2 { 1 } else { wide };
        let tile = Tile { rows, ldc: n, cols: (n - p * NR).min(wide * NR) };
        let panel = &w.data[p * stride..(p + wide) * stride];
        let mut i = 0;
        while i < m {
            let count = if m - i >= MR { MR } else { 1 };
            let starts: [usize; MR] = super::simd::array(0, |r| start(i + r.min(count - 1)));
            assert!(starts.iter().all(|&s| s + reach <= x.len()), "row {i}: patches inside the input");
            let c = &mut c[i * n + p * NR..];
            match isa {
                // SAFETY: `runs_here` checked the CPU's features; each of the
                // `count` rows reads `reach` bytes from its start inside `x`
                // (asserted), `panel` holds `wide` panels, and `c` reaches row
                // `count - 1`'s column `cols - 1` (shapes asserted by the callers).
                #[cfg(target_arch = "x86_64")]
                Int8Isa::Vnni => unsafe {
                    match (count, wide) {
                        (MR, 4) => x86::tile_vnni::<MR, 4>(x, &starts, panel, stride, c, tile),
                        (MR, _) => x86::tile_vnni::<MR, 1>(x, &starts, panel, stride, c, tile),
                        (_, 4) => x86::tile_vnni::<1, 4>(x, &starts, panel, stride, c, tile),
                        _ => x86::tile_vnni::<1, 1>(x, &starts, panel, stride, c, tile),
                    }
                },
                #[cfg(target_arch = "x86_64")]
                Int8Isa::Avx2 => unsafe {
                    match count {
                        MR => x86::tile_avx2::<MR>(x, &starts, panel, c, tile),
                        _ => x86::tile_avx2::<1>(x, &starts, panel, c, tile),
                    }
                },
                Int8Isa::Portable => tile_portable(x, &starts[..count], panel, c, tile),
            }
            i += count;
        }
        p += wide;
    }
}

/// Where a register tile reads and writes: its rows of `a` as [`Rows`] say;
/// `cols` output channels (of the tile's panels) in rows `ldc` apart.
#[derive(Clone, Copy)]
struct Tile {
    rows: Rows,
    ldc: usize,
    cols: usize,
}

/// One tile in plain code: `c[r][j] = Σ_t a[r][t] · W[j][t]` for the rows
/// starting at `starts` and the tile's `cols` channels.
fn tile_portable(x: &[u8], starts: &[usize], panel: &[i8], c: &mut [i32], tile: Tile) {
    let Rows { segments, len, stride } = tile.rows;
    let kp = segments * len;
    for (r, &start) in starts.iter().enumerate() {
        // a[r][t], segment by segment
        let row = (0..segments).flat_map(|s| &x[start + s * stride..start + s * stride + len]);
        for j in 0..tile.cols {
            let (groups, lane) = (&panel[j / NR * kp * NR..], j % NR);
            let weights = groups.chunks_exact(NR * 4).flat_map(|g| &g[lane * 4..lane * 4 + 4]);
            c[r * tile.ldc + j] = row.clone().zip(weights).map(|(&x, &w)| i32::from(x) * i32::from(w)).sum();
        }
    }
}

mod epilogue;
mod quantize;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use epilogue::{max_pool_sums_in_place, Dequantize};
pub(crate) use quantize::quantized;
pub use quantize::{
    dequantize, im2col_u8, quantize_activations, quantize_into, quantize_rows, quantize_rows_into, quantize_values,
    quantize_weights, QuantizedWeights,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every kernel this CPU runs gives exactly the plain sum.
        #[test]
        fn each_kernel_gives_the_plain_integer_product(
            (m, k, n) in (1usize..14, 1usize..70, 1usize..90),
            seed in any::<u64>(),
        ) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let a: Vec<u8> = (0..m * k).map(|_| rng.random_range(0..=ACT_MAX)).collect();
            let w: Vec<i8> = (0..n * k).map(|_| rng.random_range(-WEIGHT_MAX..=WEIGHT_MAX)).collect();
            let want = reference::matmul_u8_i8(&a, &w, m, k, n);
            let mut padded_a = Vec::new();
            let as_f32: Vec<f32> = a.iter().map(|&v| f32::from(v)).collect();
            quantize_activations(&as_f32, k, 1.0, &mut padded_a);
            let packed = PackedI8::pack(&w, n, k);
            for isa in Int8Isa::available() {
                let mut c = vec![i32::MIN; m * n];
                matmul_i8_with(isa, &padded_a, &packed, &mut c);
                prop_assert_eq!(&c, &want, "{:?}", isa);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// A convolution's patches read in place give the integers of the
        /// copied patches, on every kernel this CPU runs.
        #[test]
        fn patches_read_in_place_give_the_copied_patches_sums(
            (h, w, c, k, stride) in (1usize..10, 1usize..10, 1usize..17, 1usize..5, 1usize..3),
            (images, n, seed) in (1usize..3, 1usize..70, any::<u64>()),
        ) {
            use rand::{Rng, SeedableRng};
            prop_assume!(k <= h && k <= w && (k * c).is_multiple_of(4));
            let (oh, ow) = ((h - k) / stride + 1, (w - k) / stride + 1);
            let g = crate::kernels::ConvGeometry { h, w, c, k, stride, pad_top: 0, pad_left: 0, oh, ow };
            prop_assert!(patches_in_place(&g));
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let x: Vec<u8> = (0..images * h * w * c).map(|_| rng.random_range(0..=ACT_MAX)).collect();
            let weights: Vec<i8> = (0..n * g.patch_len()).map(|_| rng.random_range(-WEIGHT_MAX..=WEIGHT_MAX)).collect();
            let packed = PackedI8::pack(&weights, n, g.patch_len());
            let mut col = Vec::new();
            im2col_u8(&x, &g, &mut col);
            for isa in Int8Isa::available() {
                let (mut want, mut got) = (vec![0; images * oh * ow * n], vec![i32::MIN; images * oh * ow * n]);
                matmul_i8_with(isa, &col, &packed, &mut want);
                conv_i8_with(isa, &x, &g, &packed, &mut got);
                prop_assert_eq!(&got, &want, "{:?}", isa);
            }
        }
    }

    #[test]
    fn the_largest_values_do_not_saturate() {
        // Every product at its largest, both signs, over a long row: AVX2's
        // 16-bit pair sums are at their limit (2 · 127 · 127 = 32,258).
        let (m, k, n) = (5, 1000, 17);
        let a = vec![ACT_MAX; m * k];
        let w: Vec<i8> = (0..n * k).map(|i| if (i / k) % 2 == 0 { WEIGHT_MAX } else { -WEIGHT_MAX }).collect();
        let packed = PackedI8::pack(&w, n, k);
        for isa in Int8Isa::available() {
            let mut c = vec![0; m * n];
            matmul_i8_with(isa, &a, &packed, &mut c);
            for (j, &v) in c.iter().enumerate() {
                let sign = if (j % n) % 2 == 0 { 1 } else { -1 };
                assert_eq!(v, sign * 1000 * 127 * 127, "{isa:?} at {j}");
            }
        }
    }
}
