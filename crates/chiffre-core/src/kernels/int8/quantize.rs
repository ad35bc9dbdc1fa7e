//! Quantization for the 8-bit products ([`super`]): a layer's weights to
//! signed bytes with one scale per output channel, activations to 7-bit
//! unsigned bytes at one step per layer, a convolution's patches in bytes,
//! and the integer sums back to `f32`.

use super::{padded, PackedI8, ACT_MAX, WEIGHT_MAX};

/// A layer's weights quantized: `W ≈ scales[j] · q[j]` row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedWeights {
    /// The integers, packed.
    pub packed: PackedI8,
    /// One scale per output channel (row of `W`).
    pub scales: Vec<f32>,
}

/// Quantizes `w [n × k]` symmetrically per output channel ([`quantize_rows`])
/// and packs it for the products.
pub fn quantize_weights(w: &[f32], n: usize, k: usize) -> Result<QuantizedWeights, String> {
    let (q, scales) = quantize_rows(w, n, k)?;
    Ok(QuantizedWeights { packed: PackedI8::pack(&q, n, k), scales })
}

/// Quantizes `w [n × k]` symmetrically row by row: each row's largest
/// magnitude becomes ±[`WEIGHT_MAX`] (a row of zeros keeps scale 1), `w ≈
/// scales[row] · q`. Non-finite weights are refused. Quantizing `q · scale`
/// again gives `q` back (the largest is `±127 · scale`, within a rounding of
/// the same scale).
pub fn quantize_rows(w: &[f32], n: usize, k: usize) -> Result<(Vec<i8>, Vec<f32>), String> {
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
    Ok((q, scales))
}

/// Quantizes activations `x`, rows of `k`, at `scale` (the value of one
/// step): `round(x / scale)` clamped to `0..=`[`ACT_MAX`], each row padded
/// with zeros to [`padded`]`(k)`, into `out` (resized; reused between calls).
/// A NaN becomes 0.
pub fn quantize_activations(x: &[f32], k: usize, scale: f32, out: &mut Vec<u8>) {
    let rows = x.len().checked_div(k).unwrap_or(0);
    // Every value is written below (padding included): no clearing pass.
    out.resize(rows * padded(k), 0);
    quantize_rows_into(x, k, scale, out);
}

/// [`quantize_activations`] into `out`, which must hold the padded rows.
///
/// # Panics
/// When `out` is not as many rows of `padded(k)` as `x` has of `k`.
pub fn quantize_rows_into(x: &[f32], k: usize, scale: f32, out: &mut [u8]) {
    let (rows, kp) = (x.len().checked_div(k).unwrap_or(0), padded(k));
    assert_eq!(out.len(), rows * kp, "{rows} rows of {kp} bytes");
    for (row, o) in x.chunks_exact(k.max(1)).zip(out.chunks_exact_mut(kp.max(1))) {
        let (values, padding) = o.split_at_mut(k);
        quantize_into(row, scale, values);
        padding.fill(0);
    }
}

/// Quantizes `x` at `scale` as [`quantize_activations`] does, value for
/// value, without padding (a convolution's input, before [`im2col_u8`]).
pub fn quantize_values(x: &[f32], scale: f32, out: &mut Vec<u8>) {
    out.resize(x.len(), 0);
    quantize_into(x, scale, out);
}

/// [`quantize_values`] into `out`, which must be as long as `x`.
///
/// # Panics
/// When the lengths differ.
pub fn quantize_into(x: &[f32], scale: f32, out: &mut [u8]) {
    assert_eq!(out.len(), x.len(), "one byte per value");
    let inverse = 1.0 / scale;
    crate::kernels::simd::widest(
        #[inline(always)]
        || {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = quantized(v * inverse);
            }
        },
    );
}

/// `v` (a value over its step) as a 7-bit activation: rounded half up (by
/// truncation: the values that matter are ≥ 0, and `f32::round` is a
/// library call that stops vectorisation), clamped to `0..=`[`ACT_MAX`], a
/// NaN to 0.
#[inline(always)]
pub(crate) fn quantized(v: f32) -> u8 {
    // `max` turns a NaN into 0
    let clamped = (v + 0.5).max(0.0).min(f32::from(ACT_MAX));
    // SAFETY: `clamped` is finite and in 0..=127, which `i32` holds (Rust's
    // checked `as` conversion would stop the loops' vectorisation).
    unsafe { clamped.to_int_unchecked::<i32>() as u8 }
}

/// The patches of a convolution of geometry `g` over quantized images `x
/// [B, H, W, C]`, one row of `padded(k·k·C)` bytes per output pixel (zeros
/// where the kernel overhangs the image, and past `k·k·C`): the byte twin of
/// [`crate::kernels::im2col`], for [`super::matmul_i8`]. Images in parallel.
///
/// # Panics
/// When `x` is not whole images of `g`.
pub fn im2col_u8(x: &[u8], g: &crate::kernels::ConvGeometry, col: &mut Vec<u8>) {
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
    use crate::kernels::int8::matmul_i8;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

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
