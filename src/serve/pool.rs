//! The prediction workers: a few plain threads, each owning its own copy of
//! the [`Model`] (its forward pass needs `&mut`: it reuses its activation
//! buffers), fed from one bounded queue. Decoding, preprocessing and the
//! forward pass all run here, off the async threads, so the server keeps
//! accepting and answering (health checks, the page, errors) while they work.
//! Each worker is single-threaded: a parallel pass over one image costs more
//! in hand-offs than it saves, and two workers already keep two cores busy.

use crate::predict::Model;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// One piece of work for a worker: it gets the worker's model.
type Job = Box<dyn FnOnce(&mut Model) + Send>;

/// Why a job did not run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoolError {
    /// The queue is full: more jobs are waiting than the pool was sized for.
    #[error("the prediction queue is full ({0} jobs waiting); retry shortly")]
    Busy(usize),
    /// The pool is shutting down.
    #[error("the server is shutting down")]
    Closed,
    /// The job panicked (a bug); the worker survived and goes on.
    #[error("the prediction failed unexpectedly (a bug in chiffre; the server goes on)")]
    Panicked,
}

/// A fixed set of worker threads, one [`Model`] each, behind one bounded queue.
pub struct Pool {
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    queue: usize,
}

impl Pool {
    /// Starts one worker per model; at most `queue` jobs wait for a free worker.
    pub fn start(models: Vec<Model>, queue: usize) -> Self {
        let queue = queue.max(1);
        let (sender, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let workers = models
            .into_iter()
            .enumerate()
            .map(|(i, model)| {
                let receiver = Arc::clone(&receiver);
                std::thread::Builder::new()
                    .name(format!("chiffre-predict-{i}"))
                    .spawn(move || single_threaded(move || work(model, &receiver)))
                    .expect("the system can start a few threads")
            })
            .collect();
        Pool { jobs: Some(sender), workers, queue }
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Runs `f` on a free worker's model and waits (asynchronously) for its
    /// result. Never blocks the calling thread: a full queue is an error.
    pub async fn run<R, F>(&self, f: F) -> Result<R, PoolError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Model) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |model| {
            // The receiver is gone when the request timed out: nothing to tell.
            let _ = tx.send(catch_unwind(AssertUnwindSafe(|| f(model))));
        });
        let sender = self.jobs.as_ref().ok_or(PoolError::Closed)?;
        sender.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => PoolError::Busy(self.queue),
            TrySendError::Disconnected(_) => PoolError::Closed,
        })?;
        match rx.await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(_panic)) => Err(PoolError::Panicked),
            Err(_) => Err(PoolError::Closed),
        }
    }
}

/// Runs `f` inside a one-thread rayon pool, so that the engine's parallel
/// loops run inline on this worker (`rayon::current_num_threads()` is 1 there)
/// instead of all workers queueing on the global pool: a single image is too
/// small to split, and the workers already use the cores.
pub(crate) fn single_threaded(f: impl FnOnce() + Send) {
    match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}

/// A worker's loop: take the next job, run it on this worker's model, until
/// the queue is closed.
fn work(mut model: Model, jobs: &Mutex<Receiver<Job>>) {
    loop {
        // Jobs catch their own panics, so the lock is never poisoned by one;
        // recover anyway rather than stop serving.
        let next = jobs.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).recv();
        match next {
            Ok(job) => job(&mut model),
            Err(_) => return,
        }
    }
}

impl Drop for Pool {
    /// Closes the queue, lets the workers finish the jobs already queued, and joins them.
    fn drop(&mut self) {
        self.jobs.take();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{preset, Sequential};

    fn models(n: usize) -> Vec<Model> {
        (0..n)
            .map(|_| Model::from_network(Sequential::new(&preset("perceptron", 10).unwrap(), 1).unwrap()).unwrap())
            .collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn jobs_run_on_the_workers_and_a_panic_does_not_kill_them() {
        let pool = Pool::start(models(2), 8);
        assert_eq!(pool.workers(), 2);
        let classes = pool.run(|m| m.num_classes()).await;
        assert_eq!(classes, Ok(10));
        let panicked = pool.run(|_| -> usize { panic!("a bug") }).await;
        assert_eq!(panicked, Err(PoolError::Panicked));
        for _ in 0..4 {
            assert_eq!(pool.run(|m| m.predict_pixels(&[0.0; 784]).unwrap().probabilities.len()).await, Ok(10));
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_is_refused_not_waited_for() {
        let pool = Pool::start(models(1), 1);
        let (hold, release) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        // Occupy the only worker (and wait until it has taken the job), then fill the queue's only place.
        let first = pool.run(move |_| {
            started_tx.send(()).ok();
            release.recv().ok()
        });
        let mut first = Box::pin(first);
        assert!(futures_poll_once(&mut first).await.is_none());
        started.recv().unwrap();
        let second = pool.run(|_| ());
        let mut second = Box::pin(second);
        assert!(futures_poll_once(&mut second).await.is_none());
        assert_eq!(pool.run(|_| ()).await, Err(PoolError::Busy(1)));
        hold.send(()).unwrap();
        assert_eq!(first.await, Ok(Some(())));
        assert_eq!(second.await, Ok(()));
    }

    /// Polls a future once; `Some` if it finished.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
        use std::task::Poll;
        std::future::poll_fn(|cx| match std::pin::Pin::new(&mut *f).poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => Poll::Ready(None),
        })
        .await
    }
}
