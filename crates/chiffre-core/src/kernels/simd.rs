//! The vector instructions the hand-vectorised kernels are written in
//! ([`super::packed`], [`super::winograd`]): one small trait, implemented
//! for AVX-512, AVX2 + FMA, WebAssembly SIMD128 and plain scalar code, and
//! the choice among them for this CPU.

/// The widest vector instructions this CPU has, among those compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F (16 lanes).
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// AVX2 with FMA (8 lanes).
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// WebAssembly SIMD128 in the browser build (4 lanes), plain code elsewhere.
    Portable,
}

impl Isa {
    /// The best this CPU runs (std caches the CPU's answer).
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }
}

/// Runs `f` compiled for the widest vectors this CPU has: its body is
/// inlined into a function built for AVX-512 (F and BW), or AVX2, chosen at
/// run time, so that plain loops over slices (a quantization, a pooling, a
/// conversion) run 16 or 8 lanes wide instead of the baseline's 4 (SSE2).
/// The 8-bit network's element-wise steps, compiled for SSE2 only, took a
/// quarter of its time (2026-12-07, Intel Xeon, perf).
///
/// Only for code whose result does not depend on the width (no sums whose
/// order changes): the loops it is given compute each value on its own.
/// Mark the closure `#[inline(always)]`: a closure left as a call of its
/// own runs in the baseline's instructions (the pooling of 8-bit sums did,
/// 2026-12-07).
#[inline(always)]
pub(crate) fn widest<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        #[target_feature(enable = "avx512f,avx512bw")]
        unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if has!("avx512f") && has!("avx512bw") {
            // SAFETY: this CPU has AVX-512 F and BW.
            return unsafe { avx512(f) };
        }
        if has!("avx2") {
            // SAFETY: this CPU has AVX2.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// `[f(0), …, f(N - 1)]` for the kernels' other small arrays (a tile's pixel
/// slices, a transform's rows), built by a plain loop in the caller, for the
/// reason [`vectors`] gives: the Winograd input transform called
/// `core::array::try_from_fn` once per tile for its 16 pixels, 1.6 % of the
/// time of reading numbers (2026-12-07, Intel Xeon, perf). `first` fills the
/// array before `f` does.
#[inline(always)]
pub(crate) fn array<T: Copy, const N: usize>(first: T, mut f: impl FnMut(usize) -> T) -> [T; N] {
    let mut out = [first; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = f(i);
    }
    out
}

/// `[f(0), …, f(N - 1)]` for the kernels' arrays of vectors, built by a plain
/// loop in the caller. Not `std::array::from_fn`: that is a library function
/// the compiler may or may not inline, and where it did not (after an
/// unrelated change elsewhere in the crate), the vector instructions inside
/// it could not be inlined either (they need the kernel's instruction set,
/// which `from_fn` lacks): the Winograd input transform called
/// `_mm512_loadu_ps` as a function, a twentieth of the time of reading
/// numbers (2026-12-06, Intel Xeon, perf).
///
/// # Safety
/// `f` may use `V`'s instructions, and so does this (a zero to start from):
/// the caller runs where they exist.
#[inline(always)]
pub(crate) unsafe fn vectors<V: Vector, const N: usize>(f: impl FnMut(usize) -> V) -> [V; N] {
    // SAFETY: the caller runs where `V`'s instructions exist.
    array(unsafe { V::splat(0.0) }, f)
}

/// A vector of `LANES` values of `f32`. Every method is `unsafe`: the
/// caller runs where the instructions exist, on pointers to `LANES` values.
pub trait Vector: Copy {
    /// Values per vector.
    const LANES: usize;
    /// `LANES` values from `p`.
    unsafe fn load(p: *const f32) -> Self;
    /// Writes the values to `p`.
    unsafe fn store(p: *mut f32, v: Self);
    /// `x` in every lane.
    unsafe fn splat(x: f32) -> Self;
    /// `a · b + c`, fused where the machine can.
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self;
    /// `a + b`.
    unsafe fn add(a: Self, b: Self) -> Self;
    /// `a - b`.
    unsafe fn sub(a: Self, b: Self) -> Self;
    /// `max(a, 0)`.
    unsafe fn relu(a: Self) -> Self;
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Vector;
    use std::arch::x86_64::*;

    /// 16 lanes, AVX-512F.
    #[derive(Clone, Copy)]
    pub struct Avx512(__m512);

    impl Vector for Avx512 {
        const LANES: usize = 16;
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Avx512(_mm512_loadu_ps(p))
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: Self) {
            _mm512_storeu_ps(p, v.0)
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self {
            Avx512(_mm512_set1_ps(x))
        }
        #[inline(always)]
        unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
            Avx512(_mm512_fmadd_ps(a.0, b.0, c.0))
        }
        #[inline(always)]
        unsafe fn add(a: Self, b: Self) -> Self {
            Avx512(_mm512_add_ps(a.0, b.0))
        }
        #[inline(always)]
        unsafe fn sub(a: Self, b: Self) -> Self {
            Avx512(_mm512_sub_ps(a.0, b.0))
        }
        #[inline(always)]
        unsafe fn relu(a: Self) -> Self {
            Avx512(_mm512_max_ps(a.0, _mm512_setzero_ps()))
        }
    }

    /// 8 lanes, AVX2 with FMA.
    #[derive(Clone, Copy)]
    pub struct Avx2(__m256);

    impl Vector for Avx2 {
        const LANES: usize = 8;
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Avx2(_mm256_loadu_ps(p))
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: Self) {
            _mm256_storeu_ps(p, v.0)
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self {
            Avx2(_mm256_set1_ps(x))
        }
        #[inline(always)]
        unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
            Avx2(_mm256_fmadd_ps(a.0, b.0, c.0))
        }
        #[inline(always)]
        unsafe fn add(a: Self, b: Self) -> Self {
            Avx2(_mm256_add_ps(a.0, b.0))
        }
        #[inline(always)]
        unsafe fn sub(a: Self, b: Self) -> Self {
            Avx2(_mm256_sub_ps(a.0, b.0))
        }
        #[inline(always)]
        unsafe fn relu(a: Self) -> Self {
            Avx2(_mm256_max_ps(a.0, _mm256_setzero_ps()))
        }
    }
}

/// 4 lanes, WebAssembly SIMD128 (multiply, then add: the fused form is
/// not in SIMD128; relaxed SIMD's multiply-add where the build has it).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[derive(Clone, Copy)]
pub struct Simd128(std::arch::wasm32::v128);

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl Vector for Simd128 {
    const LANES: usize = 4;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Simd128(std::arch::wasm32::v128_load(p as *const std::arch::wasm32::v128))
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self) {
        std::arch::wasm32::v128_store(p as *mut std::arch::wasm32::v128, v.0)
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Simd128(std::arch::wasm32::f32x4_splat(x))
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        #[cfg(target_feature = "relaxed-simd")]
        {
            // fused where the engine has it (the relaxed build, see crates/chiffre-web/build.sh)
            Simd128(std::arch::wasm32::f32x4_relaxed_madd(a.0, b.0, c.0))
        }
        #[cfg(not(target_feature = "relaxed-simd"))]
        {
            use std::arch::wasm32::{f32x4_add, f32x4_mul};
            Simd128(f32x4_add(f32x4_mul(a.0, b.0), c.0))
        }
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        Simd128(std::arch::wasm32::f32x4_add(a.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        Simd128(std::arch::wasm32::f32x4_sub(a.0, b.0))
    }
    #[inline(always)]
    unsafe fn relu(a: Self) -> Self {
        use std::arch::wasm32::{f32x4_pmax, f32x4_splat};
        Simd128(f32x4_pmax(a.0, f32x4_splat(0.0)))
    }
}

/// One lane, plain code: where no vector kernel is compiled.
#[derive(Clone, Copy)]
pub struct Scalar(f32);

impl Vector for Scalar {
    const LANES: usize = 1;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Scalar(*p)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self) {
        *p = v.0
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Scalar(x)
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self, b: Self, c: Self) -> Self {
        Scalar(a.0 * b.0 + c.0)
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        Scalar(a.0 + b.0)
    }
    #[inline(always)]
    unsafe fn sub(a: Self, b: Self) -> Self {
        Scalar(a.0 - b.0)
    }
    #[inline(always)]
    unsafe fn relu(a: Self) -> Self {
        Scalar(a.0.max(0.0))
    }
}
