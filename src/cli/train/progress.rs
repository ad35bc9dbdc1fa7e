//! What `chiffre train` shows and remembers while it trains: the progress
//! bar and one line per epoch, and each epoch recorded in the run history
//! ([`crate::runs`]) as it ends. A history that cannot be written is said
//! once, and training goes on without it.

use crate::runs::{Recorder, RunStart};
use crate::train::{EpochStats, Observer, TrainError};
use indicatif::ProgressBar;
use std::path::Path;

/// The observer of a training run.
pub(super) struct Progress {
    pub bar: Option<ProgressBar>,
    pub epochs: usize,
    pub recorder: Option<Recorder>,
}

/// Starts recording in the history at `db`, or says why it cannot.
pub(super) fn start_recording(db: &Path, run: &RunStart<'_>) -> Option<Recorder> {
    match Recorder::start(db, run) {
        Ok(recorder) => Some(recorder),
        Err(e) => {
            eprintln!("warning: {e}; training goes on without recording it (--no-record says nothing)");
            None
        }
    }
}

impl Progress {
    /// Applies `write` to the recorder; on failure, says so once and stops recording.
    fn record(&mut self, write: impl FnOnce(&mut Recorder) -> Result<(), crate::runs::HistoryError>) {
        if let Some(recorder) = self.recorder.as_mut() {
            if let Err(e) = write(recorder) {
                eprintln!("warning: {e}; training goes on without recording it");
                self.recorder = None;
            }
        }
    }

    /// Records the end of a run that finished.
    pub fn finished(&mut self, test_accuracy: f64, test_loss: f64, train_seconds: f64, model: &Path) {
        self.record(|r| r.finish(test_accuracy, test_loss, train_seconds, model));
    }

    /// Records a run stopped by Ctrl-C.
    pub fn stopped(&mut self, message: &str) {
        self.record(|r| r.end("stopped", message));
    }

    /// Records a run that ended with `error`: `diverged` when its numbers
    /// became NaN or infinite, else `failed`.
    pub fn failed(&mut self, error: &anyhow::Error) {
        let diverged = error.downcast_ref::<Diverged>().is_some()
            || matches!(
                error.downcast_ref::<TrainError>(),
                Some(TrainError::NonFinite { .. } | TrainError::NonFiniteWeights { .. })
            );
        let message = super::super::error_message(error);
        self.record(|r| r.end(if diverged { "diverged" } else { "failed" }, &message));
    }
}

/// A run whose test loss came out NaN or infinite.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct Diverged(pub String);

impl Observer for Progress {
    fn batch(&mut self, epoch: usize, done: usize, total: usize, loss: f64, accuracy: f64, rate: f64) {
        let Some(bar) = &self.bar else { return };
        if done == total || bar.position() == 0 || done as u64 >= bar.position() + 2048 {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(format!(
                "epoch {epoch}/{}  loss {loss:.4}  acc {accuracy:.4}  {rate:.0} img/s",
                self.epochs
            ));
        }
    }

    fn epoch(&mut self, s: &EpochStats) {
        // Recorded before it is printed: an epoch a person (or a test) has seen is in the history.
        self.record(|r| r.epoch(s));
        if let Some(bar) = &self.bar {
            bar.set_position(0);
        }
        let held_out = match (s.val_loss, s.val_accuracy) {
            (Some(l), Some(a)) => format!("  held-out loss {l:.4} acc {a:.4}"),
            _ => String::new(),
        };
        let line = format!(
            "epoch {}/{}  loss {:.4}  acc {:.4}{held_out}  {:.1}s  {:.0} img/s",
            s.epoch, self.epochs, s.train_loss, s.train_accuracy, s.seconds, s.images_per_sec
        );
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(line),
            _ => println!("{line}"),
        }
    }
}
