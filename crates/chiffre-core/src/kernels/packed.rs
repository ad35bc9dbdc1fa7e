//! A matrix product whose right operand is laid out once and used many
//! times: a layer's weights at inference, the transformed filters of a
//! Winograd convolution.
//!
//! Shapes: `a [m × k]` (row stride `lda`), `B [k × n]` packed into column
//! panels of `NR`, `c [m × n]` (row stride `ldc`).
//!
//! Why not the general GEMM: for the small products of one image (9 to 121
//! rows) the `gemm` crate spends much of its time packing `B`, the same
//! 18,000–37,000 weights on every call (the tutorial CNN's third convolution
//! ran at 47 GFLOP/s on one image, its second at 144, where the machine's
//! square products reach 220 per core). Here `B` is packed when the weights
//! change, and the product is one register tile after another: `MR` rows ×
//! `NR` columns of sums in vector registers, each step of `k` adding a
//! broadcast value of `a` times one row of the panel. The loops are plain
//! Rust over fixed-size arrays, compiled three times (AVX-512, AVX2 + FMA,
//! and portable code, which is WebAssembly SIMD128 in the browser build);
//! each sum is a chain of multiply-adds in `k` order, so results do not
//! depend on the thread count.

use super::simd::{self, vectors, Isa, Vector};

/// `B [k × n]` laid out for [`matmul_packed`]: `ceil(n / NR)` panels, each
/// `k` rows of `NR` values (the columns past `n` are zeros).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PackedMatrix {
    k: usize,
    n: usize,
    nr: usize,
    data: Vec<f32>,
}

/// The panel width `NR` of the tiles run for `isa` on a `B` of `n` columns
/// (rows: 6, or 4 for the portable kernel). AVX-512 takes 64 columns at a
/// time (24 of its 32 registers hold sums), or 32 when `B` has no more: a
/// 64-wide panel would compute as many zeros as values for 32 filters.
fn panel_width(isa: Isa, n: usize) -> usize {
    let _ = n; // only AVX-512 looks at it
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if n <= 32 => 32,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => 64,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => 16,
        Isa::Portable => 8,
    }
}

impl PackedMatrix {
    /// An empty matrix (`k = n = 0`), to be filled by a `pack_*` method.
    pub fn new() -> Self {
        PackedMatrix::default()
    }

    /// Packs `B [k × n]` stored row-major, reusing this matrix's allocation.
    pub fn pack_rows(&mut self, b: &[f32], k: usize, n: usize) {
        assert!(b.len() >= k * n, "B holds {} values, not {k} × {n}", b.len());
        self.pack_with(k, n, |kk, j| b[kk * n + j]);
    }

    /// Packs `B = Wᵀ` from `w [n × k]` stored row-major (a layer's weights
    /// `[outputs, inputs]`), reusing this matrix's allocation.
    pub fn pack_transposed(&mut self, w: &[f32], n: usize, k: usize) {
        assert!(w.len() >= k * n, "W holds {} values, not {n} × {k}", w.len());
        self.pack_with(k, n, |kk, j| w[j * k + kk]);
    }

    fn pack_with(&mut self, k: usize, n: usize, value: impl Fn(usize, usize) -> f32) {
        self.reshape(k, n);
        for j in 0..n {
            let (start, step) = self.column(j);
            for kk in 0..k {
                self.data[start + kk * step] = value(kk, j);
            }
        }
    }

    /// Shapes this matrix for a `B [k × n]` that the caller writes value by
    /// value through [`PackedMatrix::column`] (the padding columns stay zero);
    /// keeps the values when the shape is unchanged.
    pub(crate) fn reshape(&mut self, k: usize, n: usize) {
        let nr = panel_width(Isa::detect(), n);
        if (self.k, self.n, self.nr) != (k, n, nr) {
            self.data.clear();
            self.data.resize(n.div_ceil(nr) * k * nr, 0.0);
            (self.k, self.n, self.nr) = (k, n, nr);
        }
    }

    /// Where column `j` of `B` lives in [`PackedMatrix::values_mut`]:
    /// `B[kk][j]` is at `start + kk · step` (one division per column, not
    /// per value).
    #[inline]
    pub(crate) fn column(&self, j: usize) -> (usize, usize) {
        ((j / self.nr * self.k) * self.nr + j % self.nr, self.nr)
    }

    /// The packed values, to be written where [`PackedMatrix::column`] says.
    pub(crate) fn values_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Rows of `B` (the inner dimension of the product).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of `B` (and of the product).
    pub fn n(&self) -> usize {
        self.n
    }
}

/// `c = a · B (+ bias)`, on the calling thread: `a` is `m` rows of `B.k()`
/// values, `lda` apart; `c` is `m` rows of `B.n()` values, `ldc` apart;
/// `bias` (`B.n()` values) is added to every row when given.
///
/// # Panics
/// When a slice is shorter than its stated shape (a programming error).
pub fn matmul_packed(
    a: &[f32],
    lda: usize,
    m: usize,
    b: &PackedMatrix,
    bias: Option<&[f32]>,
    c: &mut [f32],
    ldc: usize,
) {
    let (k, n) = (b.k, b.n);
    if m == 0 || n == 0 {
        return;
    }
    assert!(lda >= k && ldc >= n, "row strides {lda}, {ldc} below the row lengths {k}, {n}");
    assert!(a.len() >= (m - 1) * lda + k && c.len() >= (m - 1) * ldc + n, "a or c shorter than {m} rows");
    assert!(bias.is_none_or(|b| b.len() >= n), "bias shorter than {n}");
    let isa = Isa::detect();
    assert_eq!(panel_width(isa, n), b.nr, "B was packed for another CPU");
    let run = Run { a, lda, m, k, n, panels: &b.data, bias, ldc };
    match isa {
        // SAFETY: the kernel was chosen because the CPU has the features.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if b.nr == 32 => unsafe { avx512_narrow(run, c) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512(run, c) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2(run, c) },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Portable => tiles::<simd::Simd128, 4, 2>(run, c),
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        Isa::Portable => tiles::<simd::Scalar, 4, 8>(run, c),
    }
}

/// The operands of one [`matmul_packed`], checked.
#[derive(Clone, Copy)]
struct Run<'a> {
    a: &'a [f32],
    lda: usize,
    m: usize,
    k: usize,
    n: usize,
    panels: &'a [f32],
    bias: Option<&'a [f32]>,
    ldc: usize,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn avx512(run: Run, c: &mut [f32]) {
    tiles::<simd::Avx512, 6, 4>(run, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn avx512_narrow(run: Run, c: &mut [f32]) {
    tiles::<simd::Avx512, 6, 2>(run, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2(run: Run, c: &mut [f32]) {
    tiles::<simd::Avx2, 6, 2>(run, c)
}

/// Every tile of `c`, panel by panel (a panel of `B` stays in L1 while the
/// rows of `a` pass under it): `MR × NR` tiles (`NR = NV · V::LANES`), and
/// the rows left at the bottom in one smaller tile of 4, 2 or 1 rows (fewer
/// rows computed for nothing: a one-image layer often has 4 or 9).
#[inline(always)]
fn tiles<V: Vector, const MR: usize, const NV: usize>(run: Run, c: &mut [f32]) {
    let nr = NV * V::LANES;
    for (p, panel) in run.panels.chunks_exact((run.k * nr).max(1)).enumerate() {
        let j0 = p * nr;
        let tile = Tile { panel, j0, cols: nr.min(run.n - j0) };
        let mut i0 = 0;
        while i0 + MR <= run.m {
            tile_rows::<V, MR, NV>(&run, &tile, i0, MR, c);
            i0 += MR;
        }
        match run.m - i0 {
            0 => {}
            1 => tile_rows::<V, 1, NV>(&run, &tile, i0, 1, c),
            2 => tile_rows::<V, 2, NV>(&run, &tile, i0, 2, c),
            rows @ (3 | 4) => tile_rows::<V, 4, NV>(&run, &tile, i0, rows, c),
            rows => tile_rows::<V, MR, NV>(&run, &tile, i0, rows, c),
        }
    }
}

/// One panel of `B` and the columns of `c` it gives.
struct Tile<'a> {
    panel: &'a [f32],
    j0: usize,
    cols: usize,
}

/// Rows `i0..i0 + rows` (`rows ≤ MR`) of `c` under one panel. The sums are
/// `MR · NV` vectors, which stay in registers: the loops over them have
/// constant bounds and unroll.
#[inline(always)]
fn tile_rows<V: Vector, const MR: usize, const NV: usize>(
    run: &Run,
    tile: &Tile,
    i0: usize,
    rows: usize,
    c: &mut [f32],
) {
    let (a, lda, k, ldc) = (run.a, run.lda, run.k, run.ldc);
    let (nr, j0, cols) = (NV * V::LANES, tile.j0, tile.cols);
    // SAFETY (every `unsafe` below): `V`'s instructions are enabled where `tiles` is called;
    // the panel holds `k` rows of NR values; every other range is checked by slicing.
    let init: [V; NV] = unsafe {
        vectors(|v| match run.bias {
            Some(bias) if cols == nr => V::load(bias[j0 + v * V::LANES..][..V::LANES].as_ptr()),
            Some(bias) => {
                let mut lane = [0.0f32; 16];
                let (from, to) = ((j0 + v * V::LANES).min(j0 + cols), (j0 + (v + 1) * V::LANES).min(j0 + cols));
                lane[..to - from].copy_from_slice(&bias[from..to]);
                V::load(lane.as_ptr())
            }
            None => V::splat(0.0),
        })
    };
    // where each row of this tile starts in `a`; past the last row, the last row
    // again (computed, not stored)
    let starts: [usize; MR] = simd::array(0, |r| (i0 + r.min(rows - 1)) * lda);
    let mut acc = [init; MR];
    for kk in 0..k {
        let row = tile.panel[kk * nr..][..nr].as_ptr();
        let b: [V; NV] = unsafe { vectors(|v| V::load(row.add(v * V::LANES))) };
        for (acc, start) in acc.iter_mut().zip(starts) {
            // SAFETY: `start + kk` < `(m - 1) · lda + k` ≤ `a.len()` (checked by `matmul_packed`).
            let v = unsafe { V::splat(*a.get_unchecked(start + kk)) };
            for (acc, b) in acc.iter_mut().zip(&b) {
                *acc = unsafe { V::mul_add(v, *b, *acc) };
            }
        }
    }
    for (r, acc) in acc.iter().enumerate().take(rows) {
        let at = (i0 + r) * ldc + j0;
        if cols == nr {
            for (v, acc) in acc.iter().enumerate() {
                unsafe { V::store(c[at + v * V::LANES..][..V::LANES].as_mut_ptr(), *acc) };
            }
        } else {
            let mut out = [0.0f32; 64];
            for (v, acc) in acc.iter().enumerate() {
                unsafe { V::store(out.as_mut_ptr().add(v * V::LANES), *acc) };
            }
            c[at..at + cols].copy_from_slice(&out[..cols]);
        }
    }
}
