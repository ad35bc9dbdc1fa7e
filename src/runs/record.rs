//! Recording one run as it trains: a row when it starts (`running`), one per
//! epoch as each ends, and its end (`finished` with the results, or
//! `stopped`, `diverged`, `failed` with the message). Each write is its own
//! transaction, so a killed process leaves every epoch it finished.

use super::{host, machine, open, HistoryError};
use crate::model::ModelSpec;
use crate::train::{EpochStats, TrainConfig};
use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What is known of a run when it starts.
pub struct RunStart<'a> {
    /// The network's name (a preset, or the spec's name).
    pub arch: &'a str,
    /// Its architecture.
    pub spec: &'a ModelSpec,
    /// The resolved training settings.
    pub config: &'a TrainConfig,
    /// Worker threads.
    pub threads: usize,
    /// Training examples (after `--limit` and `--val-split`).
    pub train_examples: usize,
    /// The data folder.
    pub data_dir: &'a Path,
}

/// The run being recorded.
pub struct Recorder {
    db: Connection,
    path: PathBuf,
    id: i64,
}

/// The SHA-256 of a file, in hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path)?;
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The SHA-256 of the data folder's IDX files (`train-*` and `t10k-*`), by name.
fn data_hashes(dir: &Path) -> serde_json::Value {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    names.retain(|p| {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        p.is_file() && (name.starts_with("train-") || name.starts_with("t10k-"))
    });
    names.sort();
    let map: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .filter_map(|p| {
            let hash = sha256_file(p).ok()?;
            Some((p.file_name()?.to_string_lossy().into_owned(), hash.into()))
        })
        .collect();
    map.into()
}

/// The current time, as SQLite writes it: `2026-12-04T10:15:30.123Z`.
pub(super) const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

impl Recorder {
    /// Opens (or creates) the history at `path` and records the run's start.
    pub fn start(path: &Path, run: &RunStart<'_>) -> Result<Recorder, HistoryError> {
        let db = open(path, true)?;
        let fail = |e: &dyn std::fmt::Display| HistoryError::new(path, e);
        let (cpu, cores) = machine();
        let config = run.config;
        db.execute(
            &format!(
                "INSERT INTO runs (started, status, pid, host, arch, spec, settings, optimizer, lr, batch_size, epochs,
                    seed, threads, augment, train_examples, data_dir, data_sha256, cpu, cores)
                 VALUES ({NOW}, 'running', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
            ),
            params![
                std::process::id(),
                host(),
                run.arch,
                serde_json::to_string(run.spec).map_err(|e| fail(&e))?,
                serde_json::to_string(config).map_err(|e| fail(&e))?,
                config.optimizer.name(),
                // As written (0.001, not the f32's 0.0010000000474974513).
                config.lr.to_string().parse::<f64>().unwrap_or(f64::from(config.lr)),
                config.batch_size as i64,
                config.epochs as i64,
                config.seed as i64,
                run.threads as i64,
                config.augment.is_some(),
                run.train_examples as i64,
                std::fs::canonicalize(run.data_dir)
                    .unwrap_or_else(|_| run.data_dir.to_path_buf())
                    .display()
                    .to_string(),
                data_hashes(run.data_dir).to_string(),
                cpu,
                cores as i64,
            ],
        )
        .map_err(|e| fail(&e))?;
        let id = db.last_insert_rowid();
        Ok(Recorder { db, path: path.to_path_buf(), id })
    }

    /// The run's number in the history.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The history's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self, e: impl std::fmt::Display) -> HistoryError {
        HistoryError::new(&self.path, e)
    }

    /// Records an epoch that has ended.
    pub fn epoch(&mut self, s: &EpochStats) -> Result<(), HistoryError> {
        self.db
            .execute(
                "INSERT OR REPLACE INTO epochs (run_id, epoch, train_loss, train_accuracy, val_loss, val_accuracy,
                    seconds, images_per_sec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    self.id,
                    s.epoch as i64,
                    s.train_loss,
                    s.train_accuracy,
                    s.val_loss,
                    s.val_accuracy,
                    s.seconds,
                    s.images_per_sec
                ],
            )
            .map(|_| ())
            .map_err(|e| self.fail(e))
    }

    /// Records a run that trained to its end: the test results, the training
    /// loop's seconds and the model file (with its SHA-256).
    pub fn finish(
        &mut self,
        test_accuracy: f64,
        test_loss: f64,
        train_seconds: f64,
        model: &Path,
    ) -> Result<(), HistoryError> {
        let hash = sha256_file(model).ok();
        let model = std::fs::canonicalize(model).unwrap_or_else(|_| model.to_path_buf());
        self.db
            .execute(
                &format!(
                    "UPDATE runs SET status = 'finished', ended = {NOW}, test_accuracy = ?2, test_loss = ?3,
                        train_seconds = ?4, model = ?5, model_sha256 = ?6 WHERE id = ?1"
                ),
                params![self.id, test_accuracy, test_loss, train_seconds, model.display().to_string(), hash],
            )
            .map(|_| ())
            .map_err(|e| self.fail(e))
    }

    /// Records a run that ended otherwise: `stopped` (Ctrl-C), `diverged` or
    /// `failed`, with the message.
    pub fn end(&mut self, status: &str, message: &str) -> Result<(), HistoryError> {
        self.db
            .execute(
                &format!("UPDATE runs SET status = ?2, ended = {NOW}, message = ?3 WHERE id = ?1"),
                params![self.id, status, message],
            )
            .map(|_| ())
            .map_err(|e| self.fail(e))
    }
}
