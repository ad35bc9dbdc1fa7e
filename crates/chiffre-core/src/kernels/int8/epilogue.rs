//! What follows a quantized layer's integer product: max pooling on the sums
//! themselves, and the sums turned into the next layer's bytes in one pass
//! (no `f32` activation stored between two 8-bit layers).
//!
//! Shapes: `sums [rows × n]` (`i32`, one image's output pixels, or a batch's
//! rows) → pooled in place → `out [rows × n]` of bytes, at the next layer's
//! activation scale.
//!
//! Why pooling the sums gives the same numbers as pooling the outputs: each
//! output is `f(s) = max(0, s · (act_scale · scale_j) + bias_j)` (the ReLU
//! optional), and the next layer's byte is `q(f(s))`; with positive scales,
//! `s ↦ q(f(s))` never decreases, in `f32` rounding too (each step, the
//! conversion, the product, the sum, the `max`, rounds monotonically). So
//! `max q(f(s)) = q(f(max s))`, bit for bit: the tests compare with pooling
//! after the conversion.

use crate::kernels::PoolGeometry;

/// Max pooling of one image's sums `[h·w × c]` (`g`'s input) in place: the
/// pooled `[oh·ow × c]` in the first `oh·ow·c` values. In place is safe:
/// output cell `o` is written after its own window is read, and every later
/// window starts at input cell `oy·stride·w + ox·stride ≥ o + 1`.
///
/// # Panics
/// When `sums` is not one image of `g`.
pub fn max_pool_sums_in_place(sums: &mut [i32], g: &PoolGeometry) {
    assert_eq!(sums.len(), g.h * g.w * g.c, "one image of {}×{}×{}", g.h, g.w, g.c);
    let c = g.c;
    crate::kernels::simd::widest(
        #[inline(always)]
        || max_pool_sums(sums, g, c),
    );
}

/// The body of [`max_pool_sums_in_place`], compiled for the widest vectors.
#[inline(always)]
fn max_pool_sums(sums: &mut [i32], g: &PoolGeometry, c: usize) {
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            let o = (oy * g.ow + ox) * c;
            let at = |wy: usize, wx: usize| ((oy * g.stride + wy) * g.w + ox * g.stride + wx) * c;
            // Sixteen channels at a time in a fixed-size array, whole ones only: a
            // chunk of fixed length stays in a vector register (one of variable length
            // went through the stack, a store and a load per tap: 2026-12-07, perf).
            let mut first = 0;
            while first + LANES <= c {
                let mut best = [i32::MIN; LANES];
                for wy in 0..g.size {
                    for wx in 0..g.size {
                        let window: &[i32; LANES] = (&sums[at(wy, wx) + first..][..LANES]).try_into().expect("LANES");
                        // from y[o] = max over the window of x (on the sums: see the module documentation)
                        best.iter_mut().zip(window).for_each(|(b, &s)| *b = (*b).max(s));
                    }
                }
                sums[o + first..o + first + LANES].copy_from_slice(&best);
                first += LANES;
            }
            // the channels left, one at a time
            for ch in first..c {
                let mut best = i32::MIN;
                for wy in 0..g.size {
                    for wx in 0..g.size {
                        best = best.max(sums[at(wy, wx) + ch]);
                    }
                }
                sums[o + ch] = best;
            }
        }
    }
}

/// Channels pooled together.
const LANES: usize = 16;

/// The conversion of a layer's sums: `y = s · multiplier[j] + bias[j]`
/// (`multiplier[j] = act_scale · scale_j`), then `max(0, y)` with `relu`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dequantize {
    /// `act_scale · scale_j` per output channel.
    pub multiplier: Vec<f32>,
    /// The layer's bias.
    pub bias: Vec<f32>,
    /// Whether a ReLU follows.
    pub relu: bool,
}

impl Dequantize {
    /// For a layer whose input steps are `act_scale` and whose weights'
    /// are `scales` (one per output channel).
    pub fn new(act_scale: f32, scales: &[f32], bias: &[f32], relu: bool) -> Self {
        Dequantize { multiplier: scales.iter().map(|&w| act_scale * w).collect(), bias: bias.to_vec(), relu }
    }

    /// `y [rows × n] = relu?(sums · multiplier + bias)`, as
    /// [`super::dequantize`] computes it.
    pub fn to_floats(&self, sums: &[i32], y: &mut [f32]) {
        let n = self.bias.len().max(1);
        for (s, y) in sums.chunks_exact(n).zip(y.chunks_exact_mut(n)) {
            for (((y, &s), &m), &b) in y.iter_mut().zip(s).zip(&self.multiplier).zip(&self.bias) {
                let v = s as f32 * m + b;
                *y = if self.relu { v.max(0.0) } else { v };
            }
        }
    }

    /// `out [rows × n] = q(relu?(sums · multiplier + bias))`, `q` the next
    /// layer's quantization at step `next_scale` (as
    /// [`super::quantize_values`]): the next layer's input, without storing
    /// the `f32` values.
    pub fn to_bytes(&self, sums: &[i32], next_scale: f32, out: &mut [u8]) {
        let n = self.bias.len().max(1);
        let inverse = 1.0 / next_scale;
        crate::kernels::simd::widest(
            #[inline(always)]
            || {
                for (s, out) in sums.chunks_exact(n).zip(out.chunks_exact_mut(n)) {
                    for (((o, &s), &m), &b) in out.iter_mut().zip(s).zip(&self.multiplier).zip(&self.bias) {
                        let v = s as f32 * m + b;
                        let y = if self.relu { v.max(0.0) } else { v };
                        // as quantize_values: round half up, NaN to 0, clamped to 0..=127
                        *o = super::quantized(y * inverse);
                    }
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::int8::{dequantize, quantize_values};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Pooling the sums then converting gives the bytes of converting,
        /// then pooling the `f32` outputs, then quantizing, bit for bit.
        #[test]
        fn pooled_sums_convert_to_the_pooled_outputs_bytes(
            (h, w, c, size, stride) in (1usize..9, 1usize..9, 1usize..40, 1usize..4, 1usize..4),
            relu in any::<bool>(),
            seed in any::<u64>(),
        ) {
            use rand::{Rng, SeedableRng};
            prop_assume!(size <= h && size <= w);
            let (oh, ow) = ((h - size) / stride + 1, (w - size) / stride + 1);
            let g = PoolGeometry { h, w, c, size, stride, oh, ow };
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let sums: Vec<i32> = (0..h * w * c).map(|_| rng.random_range(-400_000..400_000)).collect();
            let scales: Vec<f32> = (0..c).map(|_| rng.random_range(0.001..0.02f32)).collect();
            let bias: Vec<f32> = (0..c).map(|_| rng.random_range(-1.0..1.0f32)).collect();
            let (act, next) = (rng.random_range(0.001..0.05f32), rng.random_range(0.01..0.5f32));
            // the plain way: dequantize, pool in f32, quantize
            let mut y = vec![0.0; sums.len()];
            dequantize(&sums, act, &scales, &bias, relu, &mut y);
            let mut pooled = vec![0.0; oh * ow * c];
            crate::kernels::max_pool_forward(&y, &g, &mut pooled);
            let mut want = Vec::new();
            quantize_values(&pooled, next, &mut want);
            // pooled sums, converted once
            let convert = Dequantize::new(act, &scales, &bias, relu);
            let mut in_place = sums.clone();
            max_pool_sums_in_place(&mut in_place, &g);
            let mut got = vec![0u8; oh * ow * c];
            convert.to_bytes(&in_place[..oh * ow * c], next, &mut got);
            prop_assert_eq!(&got, &want);
            // and the f32 conversion is dequantize's, value for value
            let mut floats = vec![0.0; sums.len()];
            convert.to_floats(&sums, &mut floats);
            prop_assert_eq!(floats, y);
        }
    }
}
