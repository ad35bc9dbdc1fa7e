//! Data parallelism, with or without threads.
//!
//! With the feature `parallel` (the default) this is rayon: `use
//! crate::par::prelude::*` brings `par_chunks_mut`, `par_iter`,
//! `into_par_iter`, ... Without it the same names give the standard
//! sequential iterators, so every kernel is written once and runs on the
//! calling thread (WebAssembly has no threads). The kernels split their work
//! by blocks whose count depends on [`current_num_threads`] (never on how
//! rayon schedules them), so a build without `parallel` computes the same
//! numbers as a parallel build on one thread.

#[cfg(feature = "parallel")]
pub use rayon::current_num_threads;

/// Threads the kernels split their work over: always 1 without `parallel`.
#[cfg(not(feature = "parallel"))]
pub fn current_num_threads() -> usize {
    1
}

/// Runs `f` on one of the pool's threads (the calling one when it is one).
///
/// Reading a picture runs many small parallel loops (a few network inputs
/// each); started from a thread outside the pool, every one of them hands its
/// work to the pool and sleeps until it is done. Run from a pool thread they
/// share the work without those hand-offs: one picture at a time reads
/// 12-19 % faster (`cargo bench --bench read`, Intel Xeon, 2026-12-07).
/// `rayon::scope` runs its body on a pool thread when called from outside.
#[cfg(feature = "parallel")]
pub fn on_a_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}

/// Runs `f` (on the calling thread: there are no others).
#[cfg(not(feature = "parallel"))]
pub fn on_a_worker<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// The iterator methods the kernels use.
pub mod prelude {
    #[cfg(feature = "parallel")]
    pub use rayon::prelude::*;

    #[cfg(not(feature = "parallel"))]
    pub use super::sequential::{IntoParallelIterator, ParallelSlice, ParallelSliceMut};
}

/// rayon's entry points, as sequential iterators.
#[cfg(not(feature = "parallel"))]
mod sequential {
    /// `par_iter` and `par_chunks` on a slice: its `iter` and `chunks`.
    pub trait ParallelSlice<T> {
        /// The slice's items in order.
        fn par_iter(&self) -> std::slice::Iter<'_, T>;
        /// The slice in chunks of `size` items (the last may be shorter).
        fn par_chunks(&self, size: usize) -> std::slice::Chunks<'_, T>;
    }

    impl<T> ParallelSlice<T> for [T] {
        fn par_iter(&self) -> std::slice::Iter<'_, T> {
            self.iter()
        }
        fn par_chunks(&self, size: usize) -> std::slice::Chunks<'_, T> {
            self.chunks(size)
        }
    }

    /// `par_iter_mut` and `par_chunks_mut` on a slice: its `iter_mut` and `chunks_mut`.
    pub trait ParallelSliceMut<T> {
        /// The slice's items in order, mutably.
        fn par_iter_mut(&mut self) -> std::slice::IterMut<'_, T>;
        /// The slice in mutable chunks of `size` items (the last may be shorter).
        fn par_chunks_mut(&mut self, size: usize) -> std::slice::ChunksMut<'_, T>;
    }

    impl<T> ParallelSliceMut<T> for [T] {
        fn par_iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
            self.iter_mut()
        }
        fn par_chunks_mut(&mut self, size: usize) -> std::slice::ChunksMut<'_, T> {
            self.chunks_mut(size)
        }
    }

    /// `into_par_iter` on anything iterable: its `into_iter`.
    pub trait IntoParallelIterator: IntoIterator + Sized {
        /// The items in order.
        fn into_par_iter(self) -> Self::IntoIter {
            self.into_iter()
        }
    }

    impl<I: IntoIterator> IntoParallelIterator for I {}
}

#[cfg(all(test, feature = "parallel"))]
mod tests {
    use super::on_a_worker;

    #[test]
    fn work_started_outside_the_pool_runs_on_one_of_its_threads() {
        // The test harness's thread is no pool thread.
        assert_eq!(rayon::current_thread_index(), None);
        let (index, answer) = on_a_worker(|| (rayon::current_thread_index(), 6 * 7));
        assert!(index.is_some(), "ran outside the pool");
        assert_eq!(answer, 42);
        // From a pool thread, on that same thread.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a pool");
        let caller = std::thread::current().id();
        let inner = pool.install(|| {
            let here = std::thread::current().id();
            (here, on_a_worker(|| std::thread::current().id()))
        });
        assert_eq!(inner.0, inner.1, "a pool thread runs it itself");
        assert_ne!(inner.0, caller);
    }
}
