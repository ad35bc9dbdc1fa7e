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
    assert!(isa.runs_here(), "this CPU does not run {isa:?}");
    let (panels, stride) = (n.div_ceil(NR), kp / 4 * NR * 4);
    let mut p = 0;
    while p < panels {
        let wide = if matches!(isa, Int8Isa::Portable) || panels - p < 4 { 1 } else { 4 };
        #[cfg(target_arch = "x86_64")]
        let wide = if isa == Int8Isa::Avx2 { 1 } else { wide };
        let tile = Tile { kp, ldc: n, cols: (n - p * NR).min(wide * NR) };
        let panel = &w.data[p * stride..(p + wide) * stride];
        let mut i = 0;
        while i < m {
            let rows = if m - i >= MR { MR } else { 1 };
            let (a, c) = (&a[i * kp..(i + rows) * kp], &mut c[i * n + p * NR..]);
            match isa {
                // SAFETY: `runs_here` checked the CPU's features; `a` holds
                // `rows` rows of `kp`, `panel` `wide` panels, and `c` reaches
                // row `rows - 1`'s column `cols - 1` (shapes asserted above).
                #[cfg(target_arch = "x86_64")]
                Int8Isa::Vnni => unsafe {
                    match (rows, wide) {
                        (MR, 4) => x86::tile_vnni::<MR, 4>(a, panel, stride, c, tile),
                        (MR, _) => x86::tile_vnni::<MR, 1>(a, panel, stride, c, tile),
                        (_, 4) => x86::tile_vnni::<1, 4>(a, panel, stride, c, tile),
                        _ => x86::tile_vnni::<1, 1>(a, panel, stride, c, tile),
                    }
                },
                #[cfg(target_arch = "x86_64")]
                Int8Isa::Avx2 => unsafe {
                    match rows {
                        MR => x86::tile_avx2::<MR>(a, panel, c, tile),
                        _ => x86::tile_avx2::<1>(a, panel, c, tile),
                    }
                },
                Int8Isa::Portable => tile_portable(a, panel, c, tile),
            }
            i += rows;
        }
        p += wide;
    }
}

/// Where a register tile writes: `cols` output channels (of the tile's
/// panels) in rows `ldc` apart; `a`'s rows are `kp` long.
#[derive(Clone, Copy)]
struct Tile {
    kp: usize,
    ldc: usize,
    cols: usize,
}

/// One tile in plain code: `c[r][j] = Σ_t a[r][t] · W[j][t]` for the tile's
/// rows and its `cols` channels.
fn tile_portable(a: &[u8], panel: &[i8], c: &mut [i32], tile: Tile) {
    for (r, row) in a.chunks_exact(tile.kp).enumerate() {
        for j in 0..tile.cols {
            let (groups, lane) = (&panel[j / NR * tile.kp * NR..], j % NR);
            let sum = row.chunks_exact(4).zip(groups.chunks_exact(NR * 4));
            c[r * tile.ldc + j] = sum
                .map(|(x, g)| {
                    x.iter().zip(&g[lane * 4..lane * 4 + 4]).map(|(&x, &w)| i32::from(x) * i32::from(w)).sum::<i32>()
                })
                .sum();
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86;

/// A layer's weights quantized: `W ≈ scales[j] · q[j]` row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedWeights {
    /// The integers, packed.
    pub packed: PackedI8,
    /// One scale per output channel (row of `W`).
    pub scales: Vec<f32>,
}

/// Quantizes `w [n × k]` symmetrically per output channel: each row's
/// largest magnitude becomes ±[`WEIGHT_MAX`] (a row of zeros keeps scale 1).
/// Non-finite weights are refused.
pub fn quantize_weights(w: &[f32], n: usize, k: usize) -> Result<QuantizedWeights, String> {
    if w.len() != n * k {
        return Err(format!("weights [{n} × {k}] need {} values, got {}", n * k, w.len()));
    }
    if let Some(bad) = w.iter().position(|v| !v.is_finite()) {
        return Err(format!("weight {bad} is {}: only finite weights can be quantized", w[bad]));
    }
    let mut q = vec![0i8; n * k];
    let mut scales = Vec::with_capacity(n);
    for (row, out) in w.chunks_exact(k.max(1)).zip(q.chunks_exact_mut(k.max(1))).take(n) {
        let largest = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = if largest > 0.0 { largest / f32::from(WEIGHT_MAX) } else { 1.0 };
        for (o, &v) in out.iter_mut().zip(row) {
            *o = (v / scale).round().clamp(-f32::from(WEIGHT_MAX), f32::from(WEIGHT_MAX)) as i8;
        }
        scales.push(scale);
    }
    scales.resize(n, 1.0);
    Ok(QuantizedWeights { packed: PackedI8::pack(&q, n, k), scales })
}

/// Quantizes activations `x`, rows of `k`, at `scale` (the value of one
/// step): `round(x / scale)` clamped to `0..=`[`ACT_MAX`], each row padded
/// with zeros to [`padded`]`(k)`, into `out` (resized; reused between calls).
/// A NaN becomes 0.
pub fn quantize_activations(x: &[f32], k: usize, scale: f32, out: &mut Vec<u8>) {
    let (rows, kp) = (x.len().checked_div(k).unwrap_or(0), padded(k));
    // Every value is written below (padding included): no clearing pass.
    out.resize(rows * kp, 0);
    let inverse = 1.0 / scale;
    for (row, o) in x.chunks_exact(k.max(1)).zip(out.chunks_exact_mut(kp.max(1))) {
        let (values, padding) = o.split_at_mut(k);
        for (o, &v) in values.iter_mut().zip(row) {
            // round half up by truncation (the values that matter are ≥ 0;
            // `f32::round` is a library call that stops vectorisation);
            // `max` turns a NaN into 0, and the value cast is in 0..=127
            *o = (v * inverse + 0.5).max(0.0).min(f32::from(ACT_MAX)) as i32 as u8;
        }
        padding.fill(0);
    }
}

/// Quantizes `x` at `scale` as [`quantize_activations`] does, value for
/// value, without padding (a convolution's input, before [`im2col_u8`]).
pub fn quantize_values(x: &[f32], scale: f32, out: &mut Vec<u8>) {
    out.resize(x.len(), 0);
    let inverse = 1.0 / scale;
    for (o, &v) in out.iter_mut().zip(x) {
        // as in `quantize_activations`
        *o = (v * inverse + 0.5).max(0.0).min(f32::from(ACT_MAX)) as i32 as u8;
    }
}

/// The patches of a convolution of geometry `g` over quantized images `x
/// [B, H, W, C]`, one row of `padded(k·k·C)` bytes per output pixel (zeros
/// where the kernel overhangs the image, and past `k·k·C`): the byte twin of
/// [`super::im2col`], for [`matmul_i8`]. Images in parallel.
///
/// # Panics
/// When `x` is not whole images of `g`.
pub fn im2col_u8(x: &[u8], g: &super::ConvGeometry, col: &mut Vec<u8>) {
    use crate::par::prelude::*;
    let image = g.h * g.w * g.c;
    assert!(image > 0 && x.len().is_multiple_of(image), "whole images of {}×{}×{}", g.h, g.w, g.c);
    let (kp, rows) = (padded(g.patch_len()), g.oh * g.ow);
    col.resize(x.len() / image * rows * kp, 0);
    if rows == 0 {
        return;
    }
    col.par_chunks_mut(rows * kp).zip(x.par_chunks(image)).for_each(|(col, x)| {
        for (r, row) in col.chunks_exact_mut(kp).enumerate() {
            let (oy, ox) = (r / g.ow, r % g.ow);
            let mut t = 0;
            for ky in 0..g.k {
                let iy = (oy * g.stride + ky).checked_sub(g.pad_top).filter(|&y| y < g.h);
                for kx in 0..g.k {
                    let ix = (ox * g.stride + kx).checked_sub(g.pad_left).filter(|&x| x < g.w);
                    let patch = &mut row[t..t + g.c];
                    match (iy, ix) {
                        (Some(iy), Some(ix)) => patch.copy_from_slice(&x[(iy * g.w + ix) * g.c..][..g.c]),
                        _ => patch.fill(0),
                    }
                    t += g.c;
                }
            }
            row[t..].fill(0);
        }
    });
}

/// `y[i][j] = sums[i][j] · act_scale · scales[j] + bias[j]`, then `max(0, ·)`
/// with `relu`: the `f32` outputs of a quantized layer, rows of `n =
/// bias.len()`.
///
/// # Panics
/// When `sums`, `y` and `scales` do not match `bias`.
pub fn dequantize(sums: &[i32], act_scale: f32, scales: &[f32], bias: &[f32], relu: bool, y: &mut [f32]) {
    let n = bias.len();
    assert!(scales.len() == n && sums.len() == y.len() && sums.len().is_multiple_of(n.max(1)), "rows of {n}");
    for (s, y) in sums.chunks_exact(n.max(1)).zip(y.chunks_exact_mut(n.max(1))) {
        for (((y, &s), &w), &b) in y.iter_mut().zip(s).zip(scales).zip(bias) {
            let v = s as f32 * (act_scale * w) + b;
            *y = if relu { v.max(0.0) } else { v };
        }
    }
}

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

        /// Quantized, a product stays within the rounding's bound of the
        /// `f32` one: each operand is off by at most half a step, so
        /// `|Σ a·w − Σ â·ŵ| ≤ Σ (|a|·sw/2 + |w|·sa/2 + sa·sw/4)` (plus the
        /// `f32` sums' own rounding).
        #[test]
        fn quantized_products_stay_within_the_rounding_bound(
            (m, k, n) in (1usize..6, 1usize..80, 1usize..20),
            seed in any::<u64>(),
        ) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let x: Vec<f32> = (0..m * k).map(|_| rng.random_range(0.0..3.0f32)).collect();
            let w: Vec<f32> = (0..n * k).map(|_| rng.random_range(-0.5..0.5f32)).collect();
            let bias: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0f32)).collect();
            let sa = x.iter().fold(0.0f32, |a, &v| a.max(v)) / f32::from(ACT_MAX);
            let q = quantize_weights(&w, n, k).unwrap();
            let mut qa = Vec::new();
            quantize_activations(&x, k, sa, &mut qa);
            let mut sums = vec![0; m * n];
            matmul_i8(&qa, &q.packed, &mut sums);
            let mut y = vec![0.0; m * n];
            dequantize(&sums, sa, &q.scales, &bias, false, &mut y);
            for i in 0..m {
                for j in 0..n {
                    let (row, wr) = (&x[i * k..(i + 1) * k], &w[j * k..(j + 1) * k]);
                    let exact: f32 = row.iter().zip(wr).map(|(a, b)| a * b).sum::<f32>() + bias[j];
                    let sw = q.scales[j];
                    let bound: f32 = row.iter().zip(wr).map(|(a, b)| a.abs() * sw / 2.0 + b.abs() * sa / 2.0 + sa * sw / 4.0).sum();
                    let err = (y[i * n + j] - exact).abs();
                    prop_assert!(err <= bound * 1.001 + 1e-4, "[{}, {}]: {} vs {} (bound {})", i, j, y[i * n + j], exact, bound);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// The byte patches are the `f32` patches quantized, row by row.
        #[test]
        fn byte_patches_are_the_quantized_float_patches(
            (h, w, c, k, stride, pad) in (1usize..9, 1usize..9, 1usize..6, 1usize..4, 1usize..3, 0usize..2),
            images in 1usize..3,
        ) {
            prop_assume!(k <= h + 2 * pad && k <= w + 2 * pad);
            let (oh, ow) = ((h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1);
            let g = crate::kernels::ConvGeometry { h, w, c, k, stride, pad_top: pad, pad_left: pad, oh, ow };
            let x: Vec<f32> = (0..images * h * w * c).map(|i| (i * 37 % 128) as f32).collect();
            let mut col = vec![0.0; images * oh * ow * g.patch_len()];
            crate::kernels::im2col(&x, &g, &mut col);
            let (mut want, mut bytes, mut got) = (Vec::new(), Vec::new(), Vec::new());
            quantize_activations(&col, g.patch_len(), 1.0, &mut want);
            quantize_values(&x, 1.0, &mut bytes);
            im2col_u8(&bytes, &g, &mut got);
            prop_assert_eq!(got, want);
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

    #[test]
    fn quantization_refuses_what_it_cannot_represent() {
        assert!(quantize_weights(&[1.0, f32::NAN], 1, 2).unwrap_err().contains("finite"));
        assert!(quantize_weights(&[1.0; 3], 2, 2).unwrap_err().contains("[2 × 2]"));
        // Activations: negative to 0, large to 127, NaN to 0, rows padded to 4.
        let mut out = Vec::new();
        quantize_activations(&[-1.0, 0.5, 1e9, f32::NAN, 2.0], 5, 0.5, &mut out);
        assert_eq!(out, vec![0, 1, 127, 0, 4, 0, 0, 0]);
        // A row of zero weights keeps scale 1 and gives 0.
        let q = quantize_weights(&[0.0; 4], 2, 2).unwrap();
        assert_eq!(q.scales, vec![1.0, 1.0]);
    }
}
