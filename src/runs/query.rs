//! Reading the history: runs (newest first, filtered), one run's epochs,
//! removing runs. A run still marked `running` whose process is gone from
//! this machine is shown as `interrupted`, its recorded epochs kept.

use super::{alive, host};
use crate::train::EpochStats;
use rusqlite::{params, Connection, Row};

/// One run, as listed.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// Its number.
    pub id: i64,
    /// When it started (UTC, `2026-12-04T10:15:30.123Z`).
    pub started: String,
    /// When it ended, if it did.
    pub ended: Option<String>,
    /// running, finished, stopped, diverged, failed, or interrupted (its process died).
    pub status: String,
    /// Why it stopped, diverged or failed.
    pub message: Option<String>,
    /// The network.
    pub arch: String,
    /// Epochs asked for.
    pub epochs: i64,
    /// Epochs recorded.
    pub epochs_done: i64,
    /// The optimizer's name.
    pub optimizer: String,
    /// The (peak) learning rate.
    pub lr: f64,
    /// Examples per step.
    pub batch_size: i64,
    /// The seed.
    pub seed: i64,
    /// Worker threads.
    pub threads: i64,
    /// Whether the images were augmented.
    pub augment: bool,
    /// Training examples.
    pub train_examples: i64,
    /// The data folder.
    pub data_dir: String,
    /// The data files' SHA-256, as JSON.
    pub data_sha256: String,
    /// The CPU model and the cores available.
    pub cpu: String,
    /// Cores available.
    pub cores: i64,
    /// Test accuracy, when finished.
    pub test_accuracy: Option<f64>,
    /// Test loss, when finished.
    pub test_loss: Option<f64>,
    /// Seconds of the training loop (of the recorded epochs, when not finished).
    pub train_seconds: Option<f64>,
    /// The model file written, when finished, and its SHA-256.
    pub model: Option<String>,
    /// The model file's SHA-256.
    pub model_sha256: Option<String>,
    /// Every resolved setting, as JSON (`TrainConfig`).
    pub settings: String,
    /// The architecture, as JSON (a spec).
    pub spec: String,
}

/// One recorded epoch: what `chiffre train` measured ([`EpochStats`]).
pub type Epoch = EpochStats;

/// Which runs to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this network.
    pub arch: Option<String>,
    /// Only this status (interrupted included).
    pub status: Option<String>,
    /// Only runs started on or after this date or time (`2026-12-01`, or a full timestamp).
    pub since: Option<String>,
}

const COLUMNS: &str = "id, started, ended, status, message, arch, epochs,
    (SELECT count(*) FROM epochs WHERE run_id = runs.id),
    optimizer, lr, batch_size, seed, threads, augment, train_examples, data_dir, data_sha256, cpu, cores,
    test_accuracy, test_loss,
    coalesce(train_seconds, (SELECT sum(seconds) FROM epochs WHERE run_id = runs.id)),
    model, model_sha256, settings, spec, pid, host";

fn run_of(row: &Row<'_>, here: &str) -> rusqlite::Result<Run> {
    let status: String = row.get(3)?;
    let (pid, machine): (u32, String) = (row.get(26)?, row.get(27)?);
    let status = if status == "running" && machine == here && !alive(pid) { "interrupted".into() } else { status };
    Ok(Run {
        id: row.get(0)?,
        started: row.get(1)?,
        ended: row.get(2)?,
        status,
        message: row.get(4)?,
        arch: row.get(5)?,
        epochs: row.get(6)?,
        epochs_done: row.get(7)?,
        optimizer: row.get(8)?,
        lr: row.get(9)?,
        batch_size: row.get(10)?,
        seed: row.get(11)?,
        threads: row.get(12)?,
        augment: row.get(13)?,
        train_examples: row.get(14)?,
        data_dir: row.get(15)?,
        data_sha256: row.get(16)?,
        cpu: row.get(17)?,
        cores: row.get(18)?,
        test_accuracy: row.get(19)?,
        test_loss: row.get(20)?,
        train_seconds: row.get(21)?,
        model: row.get(22)?,
        model_sha256: row.get(23)?,
        settings: row.get(24)?,
        spec: row.get(25)?,
    })
}

/// The runs that pass `filter`, newest first.
pub fn list(db: &Connection, filter: &Filter) -> rusqlite::Result<Vec<Run>> {
    let here = host();
    let mut statement = db.prepare(&format!(
        "SELECT {COLUMNS} FROM runs WHERE (?1 IS NULL OR arch = ?1) AND (?2 IS NULL OR started >= ?2)
         ORDER BY started DESC, id DESC"
    ))?;
    let runs = statement
        .query_map(params![filter.arch, filter.since], |row| run_of(row, &here))?
        .collect::<rusqlite::Result<Vec<Run>>>()?;
    Ok(runs.into_iter().filter(|r| filter.status.as_ref().is_none_or(|s| &r.status == s)).collect())
}

/// Run `id`, if the history has it.
pub fn get(db: &Connection, id: i64) -> rusqlite::Result<Option<Run>> {
    let here = host();
    let mut statement = db.prepare(&format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"))?;
    let mut rows = statement.query_map(params![id], |row| run_of(row, &here))?;
    rows.next().transpose()
}

/// The recorded epochs of run `id`, in order.
pub fn epochs(db: &Connection, id: i64) -> rusqlite::Result<Vec<Epoch>> {
    let mut statement = db.prepare(
        "SELECT epoch, train_loss, train_accuracy, val_loss, val_accuracy, seconds, images_per_sec
         FROM epochs WHERE run_id = ?1 ORDER BY epoch",
    )?;
    let rows = statement.query_map(params![id], |r| {
        Ok(Epoch {
            epoch: r.get::<_, i64>(0)? as usize,
            train_loss: r.get(1)?,
            train_accuracy: r.get(2)?,
            val_loss: r.get(3)?,
            val_accuracy: r.get(4)?,
            seconds: r.get(5)?,
            images_per_sec: r.get(6)?,
        })
    })?;
    rows.collect()
}

/// Removes the runs `ids` (and their epochs); how many there were.
pub fn remove(db: &mut Connection, ids: &[i64]) -> rusqlite::Result<usize> {
    // The write lock first: a deferred transaction that has read may be
    // refused at once, without the busy timeout, when another run writes.
    let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut removed = 0;
    for id in ids {
        removed += tx.execute("DELETE FROM runs WHERE id = ?1", params![id])?;
    }
    tx.commit()?;
    Ok(removed)
}

impl Run {
    /// Its settings, flattened to `(name, value)` (nested ones as
    /// `optimizer.rho`), with the network, threads and training examples.
    pub fn flat_settings(&self) -> Vec<(String, String)> {
        fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
            match v {
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                        walk(&name, v, out);
                    }
                }
                other => out.push((prefix.to_string(), other.to_string().trim_matches('"').to_string())),
            }
        }
        let mut out = vec![
            ("arch".to_string(), self.arch.clone()),
            ("threads".to_string(), self.threads.to_string()),
            ("train_examples".to_string(), self.train_examples.to_string()),
        ];
        if let Ok(settings) = serde_json::from_str::<serde_json::Value>(&self.settings) {
            walk("", &settings, &mut out);
        }
        out
    }

    /// The run as one JSON object (`chiffre runs --json`, `export --format jsonl`).
    pub fn to_json(&self) -> serde_json::Value {
        let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap_or(serde_json::Value::Null);
        serde_json::json!({
            "id": self.id,
            "started": self.started,
            "ended": self.ended,
            "status": self.status,
            "message": self.message,
            "arch": self.arch,
            "epochs": self.epochs,
            "epochs_done": self.epochs_done,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "threads": self.threads,
            "augment": self.augment,
            "train_examples": self.train_examples,
            "test_accuracy": self.test_accuracy,
            "test_loss": self.test_loss,
            "train_seconds": self.train_seconds,
            "model": self.model,
            "model_sha256": self.model_sha256,
            "data": self.data_dir,
            "data_sha256": parse(&self.data_sha256),
            "cpu": self.cpu,
            "cores": self.cores,
            "settings": parse(&self.settings),
        })
    }
}
