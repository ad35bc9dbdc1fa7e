//! The x86 register tiles of [`super::matmul_i8`]: AVX-512 VNNI and AVX2
//! (see the parent module for the layout and why activations stop at 127).

use super::{Tile, NR};
use crate::kernels::simd::array;
use std::arch::x86_64::*;

/// An `R × 16P` tile with AVX-512 VNNI: each step of 4 `t`, one 64-byte
/// group of each panel and, per row, 4 bytes of `a` broadcast from
/// memory; `sum += Σ of 4 products` in each of 16 lanes.
///
/// # Safety
/// The CPU must have AVX-512F, AVX-512BW and AVX-512 VNNI; from each of the
/// first `R` of `starts`, `x` holds a row as `tile.rows` lays it out;
/// `panels` holds `P` panels `stride` apart, and `c` reaches row `R - 1`'s
/// column `tile.cols - 1`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn tile_vnni<const R: usize, const P: usize>(
    x: &[u8],
    starts: &[usize],
    panels: &[i8],
    stride: usize,
    c: &mut [i32],
    tile: Tile,
) {
    let (rows, b) = (tile.rows, panels.as_ptr());
    let mut acc = [[_mm512_setzero_si512(); P]; R];
    for s in 0..rows.segments {
        // SAFETY (all pointers and loads): inside `x` and `panels`, by the caller's shapes.
        let a: [*const u8; R] = array(x.as_ptr(), |r| unsafe { x.as_ptr().add(starts[r] + s * rows.stride) });
        let b = unsafe { b.add(s * rows.len / 4 * 64) };
        for q in 0..rows.len / 4 {
            let w: [__m512i; P] =
                array(_mm512_setzero_si512(), |p| unsafe { _mm512_loadu_si512(b.add(p * stride + q * 64).cast()) });
            for (a, acc) in a.iter().zip(acc.iter_mut()) {
                let x = _mm512_set1_epi32(unsafe { a.add(4 * q).cast::<i32>().read_unaligned() });
                for (acc, w) in acc.iter_mut().zip(&w) {
                    // from c[r][j] = Σ_t a[r][t] · W[j][t], four t at a time (a unsigned, W signed)
                    *acc = _mm512_dpbusd_epi32(*acc, x, *w);
                }
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        for (p, acc) in acc.iter().enumerate() {
            let cols = tile.cols.saturating_sub(p * NR).min(NR);
            let mask: __mmask16 = ((1u32 << cols) - 1) as u16;
            // SAFETY: only the first `cols` lanes are written, inside `c`.
            unsafe { _mm512_mask_storeu_epi32(c.as_mut_ptr().add(r * tile.ldc + p * NR), mask, *acc) };
        }
    }
}

/// An `R × 16` tile with AVX2: the panel's 16 lanes as two vectors of 8;
/// per row, `vpmaddubsw` (pairs of products into 16 bits, exact for
/// activations ≤ 127) then `vpmaddwd` by 1 (pairs of pairs into 32 bits).
///
/// # Safety
/// The CPU must have AVX2; from each of the first `R` of `starts`, `x`
/// holds a row as `tile.rows` lays it out; `panel` holds one panel, and `c`
/// reaches row `R - 1`'s column `tile.cols - 1`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn tile_avx2<const R: usize>(x: &[u8], starts: &[usize], panel: &[i8], c: &mut [i32], tile: Tile) {
    let (rows, b) = (tile.rows, panel.as_ptr());
    let ones = _mm256_set1_epi16(1);
    let mut acc = [[_mm256_setzero_si256(); 2]; R];
    for s in 0..rows.segments {
        // SAFETY (all pointers and loads): inside `x` and `panel`, by the caller's shapes.
        let a: [*const u8; R] = array(x.as_ptr(), |r| unsafe { x.as_ptr().add(starts[r] + s * rows.stride) });
        let b = unsafe { b.add(s * rows.len / 4 * 64) };
        for q in 0..rows.len / 4 {
            let (w0, w1) =
                unsafe { (_mm256_loadu_si256(b.add(q * 64).cast()), _mm256_loadu_si256(b.add(q * 64 + 32).cast())) };
            for (a, acc) in a.iter().zip(acc.iter_mut()) {
                let x = _mm256_set1_epi32(unsafe { a.add(4 * q).cast::<i32>().read_unaligned() });
                // from c[r][j] = Σ_t a[r][t] · W[j][t]: pairs of t (16-bit), then the two pairs of a lane (32-bit)
                acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(_mm256_maddubs_epi16(x, w0), ones));
                acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(_mm256_maddubs_epi16(x, w1), ones));
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let mut lanes = [0i32; NR];
        // SAFETY: `lanes` is 16 `i32`s: two stores of 8.
        unsafe {
            _mm256_storeu_si256(lanes.as_mut_ptr().cast(), acc[0]);
            _mm256_storeu_si256(lanes.as_mut_ptr().add(8).cast(), acc[1]);
        }
        c[r * tile.ldc..r * tile.ldc + tile.cols].copy_from_slice(&lanes[..tile.cols]);
    }
}
