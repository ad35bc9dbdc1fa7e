//! Sweeps: a grid of training settings, each trained with several seeds,
//! remembered in the history so that a sweep started again skips what it
//! already finished; and the answer to "which setting is better?": the mean
//! and spread over seeds, and which differences are larger than that spread
//! (Welch's t-test, 95 %).

use super::record::NOW;
use rusqlite::{params, Connection, OptionalExtension};

/// One setting of a grid: every swept value but the seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// The network.
    pub arch: String,
    /// The optimizer, when swept or given.
    pub optimizer: Option<String>,
    /// The learning rate, when swept or given.
    pub lr: Option<f64>,
    /// The batch size, when swept or given.
    pub batch_size: Option<usize>,
    /// Epochs.
    pub epochs: usize,
}

impl Setting {
    /// A short label, also the setting's key in the history: `mlp lr 0.001 batch 64 epochs 5`.
    pub fn label(&self) -> String {
        let mut parts = vec![self.arch.clone()];
        if let Some(o) = &self.optimizer {
            parts.push(o.clone());
        }
        if let Some(lr) = self.lr {
            parts.push(format!("lr {lr}"));
        }
        if let Some(b) = self.batch_size {
            parts.push(format!("batch {b}"));
        }
        parts.push(format!("epochs {}", self.epochs));
        parts.join(" ")
    }

    /// The `chiffre train` flags of this setting.
    pub fn flags(&self) -> Vec<String> {
        let mut flags = vec!["--arch".to_string(), self.arch.clone(), "--epochs".into(), self.epochs.to_string()];
        if let Some(o) = &self.optimizer {
            flags.extend(["--optimizer".into(), o.clone()]);
        }
        if let Some(lr) = self.lr {
            flags.extend(["--lr".into(), lr.to_string()]);
        }
        if let Some(b) = self.batch_size {
            flags.extend(["--batch-size".into(), b.to_string()]);
        }
        flags
    }
}

/// The grid: every combination of the values given, in order.
pub fn grid(
    archs: &[String],
    optimizers: &[String],
    lrs: &[f64],
    batch_sizes: &[usize],
    epochs: &[usize],
) -> Vec<Setting> {
    let opt = |v: &[String]| if v.is_empty() { vec![None] } else { v.iter().cloned().map(Some).collect() };
    let mut settings = Vec::new();
    for arch in archs {
        for optimizer in opt(optimizers) {
            for lr in if lrs.is_empty() { vec![None] } else { lrs.iter().copied().map(Some).collect() } {
                for batch_size in
                    if batch_sizes.is_empty() { vec![None] } else { batch_sizes.iter().copied().map(Some).collect() }
                {
                    for &epochs in epochs {
                        settings.push(Setting {
                            arch: arch.clone(),
                            optimizer: optimizer.clone(),
                            lr,
                            batch_size,
                            epochs,
                        });
                    }
                }
            }
        }
    }
    settings
}

/// The sweep of `key` (its grid and fixed flags, written out), made when new: its number.
pub fn sweep_id(db: &Connection, key: &str, grid: &serde_json::Value) -> rusqlite::Result<i64> {
    db.execute(
        &format!("INSERT OR IGNORE INTO sweeps (key, started, grid) VALUES (?1, {NOW}, ?2)"),
        params![key, grid.to_string()],
    )?;
    db.query_row("SELECT id FROM sweeps WHERE key = ?1", params![key], |r| r.get(0))
}

/// The finished run of `setting` and `seed` in sweep `sweep`, if there is one.
pub fn finished_run(db: &Connection, sweep: i64, setting: &str, seed: u64) -> rusqlite::Result<Option<i64>> {
    db.query_row(
        "SELECT r.id FROM sweep_runs s JOIN runs r ON r.id = s.run_id
         WHERE s.sweep_id = ?1 AND s.setting = ?2 AND s.seed = ?3 AND r.status = 'finished'",
        params![sweep, setting, seed as i64],
        |r| r.get(0),
    )
    .optional()
}

/// Links run `run` to `setting` and `seed` of sweep `sweep`.
pub fn link(db: &Connection, sweep: i64, setting: &str, seed: u64, run: i64) -> rusqlite::Result<()> {
    db.execute(
        "INSERT OR REPLACE INTO sweep_runs (sweep_id, setting, seed, run_id) VALUES (?1, ?2, ?3, ?4)",
        params![sweep, setting, seed as i64, run],
    )
    .map(|_| ())
}

/// One setting's results over its seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The setting's label.
    pub setting: String,
    /// Test accuracies of its finished runs, one per seed.
    pub accuracies: Vec<f64>,
    /// Training seconds of the same runs.
    pub seconds: Vec<f64>,
}

/// The finished runs of sweep `sweep`, by setting (in the order the sweep
/// ran them), best mean test accuracy first; `None` when there is no such sweep.
pub fn summaries(db: &Connection, sweep: i64) -> rusqlite::Result<Option<Vec<Summary>>> {
    let exists: Option<i64> =
        db.query_row("SELECT id FROM sweeps WHERE id = ?1", params![sweep], |r| r.get(0)).optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    let mut statement = db.prepare(
        "SELECT s.setting, r.test_accuracy, r.train_seconds FROM sweep_runs s JOIN runs r ON r.id = s.run_id
         WHERE s.sweep_id = ?1 AND r.status = 'finished' ORDER BY r.id",
    )?;
    let rows = statement
        .query_map(params![sweep], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?, r.get::<_, f64>(2)?)))?;
    let mut out: Vec<Summary> = Vec::new();
    for row in rows {
        let (setting, accuracy, seconds) = row?;
        match out.iter_mut().find(|s| s.setting == setting) {
            Some(s) => {
                s.accuracies.push(accuracy);
                s.seconds.push(seconds);
            }
            None => out.push(Summary { setting, accuracies: vec![accuracy], seconds: vec![seconds] }),
        }
    }
    rank(&mut out);
    Ok(Some(out))
}

/// Sorts settings by their mean test accuracy, best first.
pub fn rank(summaries: &mut [Summary]) {
    summaries.sort_by(|a, b| mean_sd(&b.accuracies).0.total_cmp(&mean_sd(&a.accuracies).0));
}

/// What to say of setting `s` against the best one (`best`, first of the ranking).
pub fn verdict(best: &Summary, s: &Summary) -> String {
    if std::ptr::eq(best, s) || best.setting == s.setting {
        return "best".into();
    }
    match differs(&best.accuracies, &s.accuracies) {
        None => "fewer than 2 seeds: no spread to judge by".into(),
        Some((t, true)) => format!("worse than the best beyond the seed spread (t = {t:.1})"),
        Some((t, false)) => format!("within the seed spread of the best (t = {t:.1})"),
    }
}

/// The mean and the sample standard deviation (0 for one value).
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// The two-sided 95 % critical value of Student's t with `df` degrees of freedom.
fn t_critical(df: f64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    // Rounded down: the conservative side.
    let k = df.floor().max(1.0) as usize;
    TABLE.get(k - 1).copied().unwrap_or(1.96)
}

/// Whether `a` and `b` differ by more than their seeds' spread: Welch's
/// t-test at 95 %, two-sided; `None` when either has fewer than two seeds
/// or neither varies. Returns `(t, beyond)`.
pub fn differs(a: &[f64], b: &[f64]) -> Option<(f64, bool)> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let ((ma, sa), (mb, sb)) = (mean_sd(a), mean_sd(b));
    let (va, vb) = (sa * sa / a.len() as f64, sb * sb / b.len() as f64);
    if va + vb == 0.0 {
        return (ma != mb).then_some((f64::INFINITY, true));
    }
    let t = (ma - mb) / (va + vb).sqrt();
    let df = (va + vb).powi(2) / (va * va / (a.len() as f64 - 1.0) + vb * vb / (b.len() as f64 - 1.0));
    Some((t, t.abs() > t_critical(df)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_every_combination_in_order() {
        let g = grid(&["mlp".into()], &[], &[0.1, 0.01], &[32, 64], &[2]);
        assert_eq!(g.len(), 4);
        assert_eq!(g[1].label(), "mlp lr 0.1 batch 64 epochs 2");
        assert_eq!(g[1].flags(), ["--arch", "mlp", "--epochs", "2", "--lr", "0.1", "--batch-size", "64"]);
    }

    #[test]
    fn welch_says_a_clear_gap_is_beyond_the_spread_and_a_small_one_is_not() {
        let (m, sd) = mean_sd(&[1.0, 2.0, 3.0]);
        assert!((m - 2.0).abs() < 1e-12 && (sd - 1.0).abs() < 1e-12);
        let clear = differs(&[0.97, 0.971, 0.969], &[0.95, 0.951, 0.949]).unwrap();
        assert!(clear.1 && clear.0 > 10.0, "{clear:?}");
        let noise = differs(&[0.970, 0.975, 0.965], &[0.968, 0.973, 0.963]).unwrap();
        assert!(!noise.1, "{noise:?}");
        assert_eq!(differs(&[0.9], &[0.8, 0.7]), None, "one seed has no spread");
        // Hand-checked: t = (2 − 5) / sqrt(1/3 + 1/3) = −3.674, df = 4, critical 2.776.
        let (t, beyond) = differs(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert!((t + 3.674).abs() < 1e-3 && beyond);
    }
}
