//! Matrix multiply, through the `gemm` crate, and the reductions around it.
//!
//! Why `gemm` and not `matrixmultiply`: on these 2-core machines `gemm` (with
//! its AVX-512 kernels, feature `x86-v4`) ran the large products and the
//! tutorial CNN's im2col shapes 1.3–1.5× faster than `matrixmultiply` with
//! threading (see `shared/DESIGN.md` for the table), and it threads through
//! rayon, the same pool as the rest of the engine. Both accept arbitrary
//! strides, so transposes cost nothing.

use crate::par::prelude::*;

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transpose {
    /// Use the matrix as stored (row-major).
    No,
    /// Use the transpose of the stored row-major matrix.
    Yes,
}

/// A matrix product, described by name: `c = op(a) · op(b)`, or
/// `c += op(a) · op(b)` when `accumulate`; every matrix row-major.
///
/// * `op(a)` is `m × k`: `a` is stored `m × k`, or `k × m` when `a` is
///   [`Transpose::Yes`];
/// * `op(b)` is `k × n`: `b` is stored `k × n`, or `n × k` when `b` is
///   [`Transpose::Yes`];
/// * `c` is `m × n`.
///
/// ```
/// use chiffre_core::kernels::Gemm;
/// // [1 2; 3 4] · [5; 6] = [17; 39]
/// let mut c = [0.0; 2];
/// Gemm::new(2, 1, 2).run(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0], &mut c);
/// assert_eq!(c, [17.0, 39.0]);
/// // The same with b stored as a row, transposed: and added to c.
/// Gemm::new(2, 1, 2).b_transposed().accumulating(true).run(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0], &mut c);
/// assert_eq!(c, [34.0, 78.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemm {
    /// Rows of `c`.
    pub m: usize,
    /// Columns of `c`.
    pub n: usize,
    /// The inner dimension, summed over.
    pub k: usize,
    /// How `a` is stored.
    pub a: Transpose,
    /// How `b` is stored.
    pub b: Transpose,
    /// Add the product to `c` instead of overwriting it.
    pub accumulate: bool,
}

impl Gemm {
    /// `c[m × n] = a[m × k] · b[k × n]`, both stored as used, `c` overwritten.
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        Gemm { m, n, k, a: Transpose::No, b: Transpose::No, accumulate: false }
    }

    /// `a` is stored `k × m` and used transposed.
    pub fn a_transposed(self) -> Self {
        Gemm { a: Transpose::Yes, ..self }
    }

    /// `b` is stored `n × k` and used transposed.
    pub fn b_transposed(self) -> Self {
        Gemm { b: Transpose::Yes, ..self }
    }

    /// Adds the product to `c` when `accumulate` (else overwrites `c`).
    pub fn accumulating(self, accumulate: bool) -> Self {
        Gemm { accumulate, ..self }
    }

    /// Runs on the current thread pool. The split is over blocks of `c`,
    /// never over `k`, so the result is the same for a given thread count.
    ///
    /// # Panics
    /// When a slice is shorter than its stated shape (a programming error).
    pub fn run(self, a: &[f32], b: &[f32], c: &mut [f32]) {
        self.run_on(a, b, c, crate::par::current_num_threads());
    }

    /// [`Gemm::run`] on the calling thread only: for kernels that are
    /// already parallel over blocks of a batch, so that thread pools never nest.
    pub fn run_serial(self, a: &[f32], b: &[f32], c: &mut [f32]) {
        self.run_on(a, b, c, 1);
    }

    /// The product on `threads` threads of the current pool.
    fn run_on(self, a: &[f32], b: &[f32], c: &mut [f32], threads: usize) {
        let Gemm { m, n, k, a: ta, b: tb, accumulate } = self;
        assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
        if m == 0 || n == 0 {
            return;
        }
        if k == 0 {
            if !accumulate {
                c[..m * n].fill(0.0);
            }
            return;
        }
        // (row stride, column stride) of each operand, in elements.
        let (a_rs, a_cs) = match ta {
            Transpose::No => (k as isize, 1),
            Transpose::Yes => (1, m as isize),
        };
        let (b_rs, b_cs) = match tb {
            Transpose::No => (n as isize, 1),
            Transpose::Yes => (1, k as isize),
        };
        let strides = Strides { a: (a_rs, a_cs), b: (b_rs, b_cs), c: (n as isize, 1) };
        product(self, a, b, c, strides, threads);
    }
}

/// (row stride, column stride) of each operand of `product`, in elements.
#[derive(Clone, Copy)]
struct Strides {
    a: (isize, isize),
    b: (isize, isize),
    c: (isize, isize),
}

/// The product `g` through `gemm` (its AVX-512 kernels), on `threads`
/// threads of the rayon pool.
#[cfg(not(target_arch = "wasm32"))]
fn product(g: Gemm, a: &[f32], b: &[f32], c: &mut [f32], s: Strides, threads: usize) {
    let (m, n, k, beta) = (g.m, g.n, g.k, if g.accumulate { 1.0 } else { 0.0 });
    #[cfg(feature = "parallel")]
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    #[cfg(not(feature = "parallel"))]
    let parallelism = {
        debug_assert_eq!(threads, 1);
        gemm::Parallelism::None
    };
    // SAFETY: the caller checked that every index the strides reach is in
    // bounds; `c` does not alias `a` or `b` (it is a distinct &mut).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            s.c.1,
            s.c.0,
            beta != 0.0,
            a.as_ptr(),
            s.a.1,
            s.a.0,
            b.as_ptr(),
            s.b.1,
            s.b.0,
            beta,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// The product `g` through `matrixmultiply`, whose sgemm has a WebAssembly
/// SIMD128 kernel; single-threaded (WebAssembly has no threads).
#[cfg(target_arch = "wasm32")]
fn product(g: Gemm, a: &[f32], b: &[f32], c: &mut [f32], s: Strides, _threads: usize) {
    let (m, n, k, beta) = (g.m, g.n, g.k, if g.accumulate { 1.0 } else { 0.0 });
    // SAFETY: the caller checked that every index the strides reach is in
    // bounds; `c` does not alias `a` or `b` (it is a distinct &mut).
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            s.a.0,
            s.a.1,
            b.as_ptr(),
            s.b.0,
            s.b.1,
            beta,
            c.as_mut_ptr(),
            s.c.0,
            s.c.1,
        );
    }
}

/// Rows of a reduction handled by one task in [`matmul_reduce_rows`] and
/// [`sum_rows`]: fixed, so that results do not depend on the thread count.
pub const REDUCE_CHUNK: usize = 2048;

/// `c[m×n] = aᵀ · b` where `a` is stored `k × m` and `b` is `k × n`: the
/// shape of a weight gradient (`dW = dyᵀ · x`), a small result reduced over
/// many rows, which the plain GEMM cannot spread over threads. The rows are
/// cut into chunks of [`REDUCE_CHUNK`], each chunk's product computed on its
/// own thread into `workspace`, and the partial products summed in order.
pub fn matmul_reduce_rows(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32], workspace: &mut Vec<f32>) {
    let chunks = k.div_ceil(REDUCE_CHUNK);
    if chunks <= 1 {
        return Gemm::new(m, n, k).a_transposed().run(a, b, c);
    }
    workspace.resize(chunks * m * n, 0.0);
    workspace.par_chunks_mut(m * n).enumerate().for_each(|(i, part)| {
        let (k0, k1) = (i * REDUCE_CHUNK, ((i + 1) * REDUCE_CHUNK).min(k));
        let (a, b) = (&a[k0 * m..k1 * m], &b[k0 * n..k1 * n]);
        Gemm::new(m, n, k1 - k0).a_transposed().run_serial(a, b, part);
    });
    let c = &mut c[..m * n];
    c.fill(0.0);
    for part in workspace.chunks_exact(m * n) {
        c.iter_mut().zip(part).for_each(|(c, p)| *c += p);
    }
}

/// Column sums of the row-major `rows × sums.len()` matrix `m` (a bias
/// gradient), in parallel over fixed chunks of rows summed in order, so the
/// result does not depend on the thread count.
pub fn sum_rows(m: &[f32], sums: &mut [f32], workspace: &mut Vec<f32>) {
    let cols = sums.len();
    let chunk = REDUCE_CHUNK * cols;
    workspace.resize(m.len().div_ceil(chunk.max(1)) * cols, 0.0);
    workspace.par_chunks_mut(cols.max(1)).zip(m.par_chunks(chunk.max(1))).for_each(|(part, rows)| {
        part.fill(0.0);
        for row in rows.chunks_exact(cols) {
            part.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
    });
    sums.fill(0.0);
    for part in workspace.chunks_exact(cols.max(1)) {
        sums.iter_mut().zip(part).for_each(|(s, p)| *s += p);
    }
}

/// Adds `bias[j]` to every row of the row-major `rows × bias.len()` matrix
/// `out`, in parallel over blocks of rows.
pub fn add_bias_rows(out: &mut [f32], bias: &[f32]) {
    out.par_chunks_mut(REDUCE_CHUNK * bias.len().max(1)).for_each(|block| {
        for row in block.chunks_exact_mut(bias.len()) {
            row.iter_mut().zip(bias).for_each(|(o, b)| *o += b);
        }
    });
}
