//! The run history: every `chiffre train` remembered in an SQLite database
//! (`runs/history.sqlite` under the working directory by default), with its
//! full settings, data, machine, every epoch as it ends, the result and how
//! the run ended. [`Recorder`] writes it while a run trains; [`query`] reads
//! it for `chiffre runs`.
//!
//! Why SQLite (the `rusqlite` crate, SQLite bundled: no system library):
//! one file, transactions that survive a killed process (WAL mode: a
//! `SIGKILL` loses at most the epoch in progress, and the file stays
//! consistent), several processes writing at once (a busy timeout makes the
//! second wait its turn instead of failing), and queries for free.
//!
//! The schema is versioned (`PRAGMA user_version`): [`MIGRATIONS`] are run
//! in order, each in its own transaction, by whichever process opens the
//! database first.

pub mod query;
mod record;
pub mod sweep;

pub use record::{Recorder, RunStart};

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the history is, when neither `--runs-db` nor `CHIFFRE_RUNS_DB` says.
pub const DEFAULT_DB: &str = "runs/history.sqlite";

/// The environment variable that moves the history.
pub const DB_ENV: &str = "CHIFFRE_RUNS_DB";

/// How long a process waits for another that is writing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The schema, one step per version: `MIGRATIONS[i]` takes version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs and their epochs.
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        ended TEXT,
        status TEXT NOT NULL,
        message TEXT,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        arch TEXT NOT NULL,
        spec TEXT NOT NULL,
        settings TEXT NOT NULL,
        optimizer TEXT NOT NULL,
        lr REAL NOT NULL,
        batch_size INTEGER NOT NULL,
        epochs INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        threads INTEGER NOT NULL,
        augment INTEGER NOT NULL,
        train_examples INTEGER NOT NULL,
        data_dir TEXT NOT NULL,
        data_sha256 TEXT NOT NULL,
        cpu TEXT NOT NULL,
        cores INTEGER NOT NULL,
        test_accuracy REAL,
        test_loss REAL,
        train_seconds REAL,
        model TEXT,
        model_sha256 TEXT
    );
    CREATE TABLE epochs (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        train_loss REAL NOT NULL,
        train_accuracy REAL NOT NULL,
        val_loss REAL,
        val_accuracy REAL,
        seconds REAL NOT NULL,
        images_per_sec REAL NOT NULL,
        PRIMARY KEY (run_id, epoch)
    );
    CREATE INDEX runs_started ON runs (started);",
    // 2: sweeps, and which run did which setting and seed of each.
    "CREATE TABLE sweeps (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        started TEXT NOT NULL,
        grid TEXT NOT NULL
    );
    CREATE TABLE sweep_runs (
        sweep_id INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
        setting TEXT NOT NULL,
        seed INTEGER NOT NULL,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        PRIMARY KEY (sweep_id, setting, seed)
    );",
];

/// The history's file: `flag`, else `CHIFFRE_RUNS_DB`, else [`DEFAULT_DB`].
pub fn db_path(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os(DB_ENV).filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DB))
}

/// An error of the history, naming its file.
#[derive(Debug, thiserror::Error)]
#[error("the run history {path}: {message}")]
pub struct HistoryError {
    /// The database file.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

impl HistoryError {
    fn new(path: &Path, message: impl std::fmt::Display) -> Self {
        HistoryError { path: path.display().to_string(), message: message.to_string() }
    }
}

/// Opens the history at `path` (creating it and its folder when `create`),
/// with the busy timeout, WAL and foreign keys, and brings its schema up to date.
pub fn open(path: &Path, create: bool) -> Result<Connection, HistoryError> {
    let fail = |e: &dyn std::fmt::Display| HistoryError::new(path, e);
    if !create && !path.is_file() {
        return Err(fail(&"no such file (it is made by the first `chiffre train`)"));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| fail(&format!("cannot create {}: {e}", parent.display())))?;
    }
    let mut db = Connection::open(path).map_err(|e| fail(&e))?;
    db.busy_timeout(BUSY_TIMEOUT).map_err(|e| fail(&e))?;
    let mode = wal_mode(&db).map_err(|e| fail(&e))?;
    if mode != "wal" {
        return Err(fail(&format!("cannot use write-ahead logging (journal mode {mode})")));
    }
    db.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;").map_err(|e| fail(&e))?;
    migrate(&mut db).map_err(|e| fail(&e))?;
    Ok(db)
}

/// Switches `db` to write-ahead logging and returns the journal mode it has.
///
/// SQLite answers "database is locked" to `PRAGMA journal_mode = WAL` at once,
/// without its busy handler, while another process holds a lock on a file that
/// is still in rollback mode: two trainings started together on a new history
/// met it (1 in 50 tries of a two-process race). So the switch is retried here
/// for as long as the busy timeout would have waited.
fn wal_mode(db: &Connection) -> rusqlite::Result<String> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match db.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            answer => return answer,
        }
    }
}

/// Runs the migrations the database has not had, each in a transaction that
/// takes the write lock first (two processes opening a new file at once
/// migrate it once).
fn migrate(db: &mut Connection) -> Result<(), String> {
    loop {
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(|e| e.to_string())?;
        let version: usize =
            tx.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).map_err(|e| e.to_string())? as usize;
        if version > MIGRATIONS.len() {
            return Err(format!(
                "its schema is version {version}, newer than this chiffre knows ({}): use a newer chiffre",
                MIGRATIONS.len()
            ));
        }
        let Some(step) = MIGRATIONS.get(version) else { return Ok(()) };
        tx.execute_batch(step).map_err(|e| format!("migration to version {}: {e}", version + 1))?;
        tx.pragma_update(None, "user_version", (version + 1) as i64).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
    }
}

/// This machine's name (for telling a dead run from one on another machine).
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The CPU's model name and the cores this process may use.
pub fn machine() -> (String, usize) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    (cpu, std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Whether process `pid` of this machine is alive (Linux: `/proc/PID`;
/// elsewhere it cannot be told, and a run is taken as alive).
pub fn alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_history_gets_the_whole_schema_and_a_second_open_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/history.sqlite");
        assert!(open(&path, false).unwrap_err().to_string().contains("no such file"));
        let db = open(&path, true).unwrap();
        let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
        drop(db);
        let db = open(&path, false).unwrap();
        let tables: i64 = db
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('runs', 'epochs')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 2);
    }

    #[test]
    fn processes_opening_a_new_history_together_all_get_it() {
        // Threads with their own connections take the same file locks as
        // processes do. Before `wal_mode` retried, about one race in fifty lost
        // with "database is locked"; forty races of four make that near certain.
        for round in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("new.sqlite");
            let barrier = std::sync::Barrier::new(4);
            std::thread::scope(|s| {
                let openers: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            open(&path, true).map(|db| {
                                db.execute(
                                    "INSERT INTO sweeps (key, started, grid) VALUES (hex(randomblob(8)), 'now', '{}')",
                                    [],
                                )
                                .map(|_| ())
                            })
                        })
                    })
                    .collect();
                for opener in openers {
                    let opened = opener.join().unwrap();
                    assert!(matches!(opened, Ok(Ok(()))), "round {round}: {opened:?}");
                }
            });
        }
    }

    #[test]
    fn a_history_from_a_newer_chiffre_is_refused_not_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        drop(open(&path, true).unwrap());
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let message = open(&path, false).unwrap_err().to_string();
        assert!(message.contains("version 99") && message.contains("newer chiffre"), "{message}");
    }

    #[test]
    fn an_older_history_is_migrated_keeping_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            let db = Connection::open(&path).unwrap();
            db.execute_batch(MIGRATIONS[0]).unwrap();
            db.pragma_update(None, "user_version", 1).unwrap();
            db.execute(
                "INSERT INTO runs (started, status, pid, host, arch, spec, settings, optimizer, lr, batch_size, epochs,
                    seed, threads, augment, train_examples, data_dir, data_sha256, cpu, cores)
                 VALUES ('2026-12-01T00:00:00Z', 'finished', 1, 'h', 'mlp', '{}', '{}', 'sgd', 0.1, 64, 1, 1, 1, 0, 10,
                    'd', '{}', 'c', 2)",
                [],
            )
            .unwrap();
        }
        let db = open(&path, false).unwrap();
        let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
        let (runs, sweeps): (i64, i64) = db
            .query_row("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM sweeps)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((runs, sweeps), (1, 0));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.sqlite");
        let text = b"my shopping list, not a database\n".repeat(200);
        std::fs::write(&path, &text).unwrap();
        let message = open(&path, true).unwrap_err().to_string();
        assert!(message.contains("notes.sqlite") && message.contains("not a database"), "{message}");
        assert_eq!(std::fs::read(&path).unwrap(), text);
    }

    #[test]
    fn the_flag_wins_over_the_environment_which_wins_over_the_default() {
        assert_eq!(db_path(Some(Path::new("x.sqlite"))), PathBuf::from("x.sqlite"));
        assert!(alive(std::process::id()));
    }
}
