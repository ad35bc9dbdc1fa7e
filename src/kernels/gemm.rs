//! Matrix multiply, through the `gemm` crate.
//!
//! Why `gemm` and not `matrixmultiply`: on these 2-core machines `gemm` (with
//! its AVX-512 kernels, feature `x86-v4`) ran the large products and the
//! tutorial CNN's im2col shapes 1.3–1.5× faster than `matrixmultiply` with
//! threading (see `shared/DESIGN.md` for the table), and it threads through
//! rayon, the same pool as the rest of the engine. Both accept arbitrary
//! strides, so transposes cost nothing.

use gemm::Parallelism;

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transpose {
    /// Use the matrix as stored (row-major).
    No,
    /// Use the transpose of the stored row-major matrix.
    Yes,
}

/// `c = a · b` (or `c += a · b` when `accumulate`), all row-major.
///
/// * `a` is `m × k`; with `Transpose::Yes` it is stored as `k × m`.
/// * `b` is `k × n`; with `Transpose::Yes` it is stored as `n × k`.
/// * `c` is `m × n`.
///
/// Runs on the current rayon pool. The split is over blocks of `c`, never over
/// `k`, so the result is the same for a given thread count.
///
/// # Panics
/// When a slice is shorter than its stated shape (a programming error).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    ta: Transpose,
    b: &[f32],
    tb: Transpose,
    c: &mut [f32],
    accumulate: bool,
) {
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
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
    // SAFETY: the asserts above guarantee every index the strides reach is in
    // bounds; `c` does not alias `a` or `b` (it is a distinct &mut).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
