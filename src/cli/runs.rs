//! `chiffre runs`: the run history (see [`crate::runs`]): list, show, remove, export.

use crate::runs::query::{self, Epoch, Filter, Run};
use crate::runs::{db_path, open};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `chiffre runs`.
#[derive(clap::Args, Debug)]
pub struct RunsArgs {
    #[command(subcommand)]
    command: Option<RunsCommand>,
    /// The history [default: runs/history.sqlite, or $CHIFFRE_RUNS_DB].
    #[arg(long, global = true, value_name = "FILE")]
    runs_db: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
enum RunsCommand {
    /// The runs, newest first (the default).
    List(ListArgs),
    /// One run: its settings, every epoch, and its curves.
    Show {
        /// The run's number (from `chiffre runs list`).
        id: i64,
        /// One JSON object, with the epochs.
        #[arg(long)]
        json: bool,
    },
    /// Several runs side by side: the settings that differ, the results, and the curves.
    Compare {
        /// The runs' numbers (two or more).
        #[arg(required = true, num_args = 2..)]
        ids: Vec<i64>,
    },
    /// Remove runs from the history (their model files stay).
    Rm {
        /// The runs' numbers.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Every run, as CSV or JSON Lines.
    Export {
        /// csv or jsonl.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Write to this file (atomically) instead of the standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug, Default)]
struct ListArgs {
    /// Only this network (perceptron, mlp, cnn, fast, best, or a spec's name).
    #[arg(long)]
    arch: Option<String>,
    /// Only this status: running, finished, stopped, diverged, failed, interrupted.
    #[arg(long, value_parser = ["running", "finished", "stopped", "diverged", "failed", "interrupted"])]
    status: Option<String>,
    /// Only runs started on or after this day (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE", value_parser = date)]
    since: Option<String>,
    /// One JSON object per run (JSON Lines).
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Format {
    /// Comma-separated values, one row per run, with a header.
    Csv,
    /// One JSON object per line, as `chiffre runs list --json`.
    Jsonl,
}

/// `--since`: a day, `YYYY-MM-DD`.
fn date(text: &str) -> Result<String, String> {
    let ok = text.len() == 10
        && text.chars().enumerate().all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() });
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!("expected a day as YYYY-MM-DD, got {text:?}"))
    }
}

/// Runs `chiffre runs`.
pub fn run(args: RunsArgs) -> anyhow::Result<()> {
    let path = db_path(args.runs_db.as_deref());
    let mut db = open(&path, false)?;
    let out = &mut std::io::stdout().lock();
    match args.command.unwrap_or(RunsCommand::List(ListArgs::default())) {
        RunsCommand::List(list) => {
            let filter = Filter { arch: list.arch, status: list.status, since: list.since };
            let runs = query::list(&db, &filter)?;
            if list.json {
                for r in &runs {
                    writeln!(out, "{}", r.to_json())?;
                }
            } else {
                write!(out, "{}", table(&runs))?;
            }
        }
        RunsCommand::Show { id, json } => {
            let Some(r) = query::get(&db, id)? else {
                anyhow::bail!("no run {id} in {} (`chiffre runs list` lists them)", path.display());
            };
            let epochs = query::epochs(&db, id)?;
            if json {
                let mut value = r.to_json();
                value["epochs_recorded"] = serde_json::to_value(&epochs)?;
                writeln!(out, "{value}")?;
            } else {
                write!(out, "{}", shown(&r, &epochs))?;
            }
        }
        RunsCommand::Compare { ids } => {
            let mut runs = Vec::new();
            for &id in &ids {
                let Some(r) = query::get(&db, id)? else {
                    anyhow::bail!("no run {id} in {} (`chiffre runs list` lists them)", path.display());
                };
                let epochs = query::epochs(&db, id)?;
                runs.push((r, epochs));
            }
            write!(out, "{}", compared(&runs))?;
        }
        RunsCommand::Rm { ids } => {
            let missing: Vec<String> =
                ids.iter().filter(|&&id| matches!(query::get(&db, id), Ok(None))).map(|id| id.to_string()).collect();
            if !missing.is_empty() {
                anyhow::bail!("no run {} in {}: nothing removed", missing.join(", "), path.display());
            }
            let removed = query::remove(&mut db, &ids)?;
            writeln!(out, "removed {removed} run{} from {}", if removed == 1 { "" } else { "s" }, path.display())?;
        }
        RunsCommand::Export { format, out: file } => {
            let runs = query::list(&db, &Filter::default())?;
            let text = match format {
                Format::Jsonl => runs.iter().map(|r| format!("{}\n", r.to_json())).collect::<String>(),
                Format::Csv => csv(&runs),
            };
            match file {
                Some(file) => crate::fsutil::write_atomic(&file, text.as_bytes())
                    .map_err(|e| anyhow::anyhow!("--out {}: cannot write: {e}", file.display()))?,
                None => write!(out, "{text}")?,
            }
        }
    }
    Ok(())
}

/// `2026-12-04T10:15:30.123Z` → `2026-12-04 10:15`.
fn minute(timestamp: &str) -> String {
    timestamp.get(..16).unwrap_or(timestamp).replace('T', " ")
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "–".into())
}

/// A learning rate, short: `0.001`, `3e-5`, `1e30`.
fn rate(lr: f64) -> String {
    if lr != 0.0 && !(1e-4..1e4).contains(&lr.abs()) {
        format!("{lr:e}")
    } else {
        format!("{lr}")
    }
}

/// The runs as a table for people.
fn table(runs: &[Run]) -> String {
    if runs.is_empty() {
        return "no runs recorded yet (`chiffre train` records each run)\n".into();
    }
    let header = [
        "id",
        "started (UTC)",
        "status",
        "arch",
        "epochs",
        "optimizer",
        "lr",
        "batch",
        "seed",
        "test acc",
        "seconds",
        "model",
    ];
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                minute(&r.started),
                r.status.clone(),
                r.arch.clone(),
                format!("{}/{}", r.epochs_done, r.epochs),
                r.optimizer.clone(),
                rate(r.lr),
                r.batch_size.to_string(),
                r.seed.to_string(),
                or_dash(r.test_accuracy.map(|a| format!("{a:.4}"))),
                or_dash(r.train_seconds.map(|s| format!("{s:.1}"))),
                or_dash(r.model.clone()),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([header[c].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut text = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        text.push_str(&line(row));
    }
    text
}

/// A row of block characters, one per value, from the lowest to the highest.
fn sparkline(values: &[f64]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    values
        .iter()
        .map(|&v| {
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
            BLOCKS[((t * 7.0).round() as usize).min(7)]
        })
        .collect()
}

/// One run for people: what it was, its settings, every epoch, its curves.
fn shown(r: &Run, epochs: &[Epoch]) -> String {
    let mut s = format!("run {}: {} {}, {}", r.id, r.arch, r.status, minute(&r.started));
    if let Some(ended) = &r.ended {
        s.push_str(&format!(" → {}", minute(ended)));
    }
    s.push('\n');
    if let Some(message) = &r.message {
        s.push_str(&format!("  {message}\n"));
    }
    if let Some(a) = r.test_accuracy {
        s.push_str(&format!(
            "  test accuracy {a:.4}, loss {:.4}, {:.1} s of training\n",
            r.test_loss.unwrap_or(f64::NAN),
            r.train_seconds.unwrap_or(0.0)
        ));
    }
    s.push_str(&format!("  model {}\n", or_dash(r.model.clone())));
    s.push_str(&format!(
        "  data {} ({} training images)\n  machine {} ({} cores, {} threads)\n",
        r.data_dir, r.train_examples, r.cpu, r.cores, r.threads
    ));
    s.push_str("settings\n");
    if let Ok(serde_json::Value::Object(settings)) = serde_json::from_str::<serde_json::Value>(&r.settings) {
        for (k, v) in settings {
            s.push_str(&format!("  {k:<16} {v}\n"));
        }
    }
    if epochs.is_empty() {
        s.push_str("no epoch recorded\n");
        return s;
    }
    s.push_str("epoch  loss     acc     held-out loss  held-out acc  seconds  img/s\n");
    for e in epochs {
        let held = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.4}"));
        s.push_str(&format!(
            "{:>5}  {:.4}  {:.4}  {:>13}  {:>12}  {:>7.1}  {:>5.0}\n",
            e.epoch,
            e.train_loss,
            e.train_accuracy,
            held(e.val_loss),
            held(e.val_accuracy),
            e.seconds,
            e.images_per_sec
        ));
    }
    let losses: Vec<f64> = epochs.iter().map(|e| e.train_loss).collect();
    let accuracies: Vec<f64> = epochs.iter().map(|e| e.train_accuracy).collect();
    s.push_str(&format!(
        "loss      {}  {:.4} → {:.4}\naccuracy  {}  {:.4} → {:.4}\n",
        sparkline(&losses),
        losses[0],
        losses[losses.len() - 1],
        sparkline(&accuracies),
        accuracies[0],
        accuracies[accuracies.len() - 1]
    ));
    s
}

/// Runs side by side: the settings that differ, the results, the curves.
fn compared(runs: &[(Run, Vec<Epoch>)]) -> String {
    let settings: Vec<Vec<(String, String)>> = runs.iter().map(|(r, _)| r.flat_settings()).collect();
    let mut names: Vec<String> = settings.iter().flatten().map(|(k, _)| k.clone()).collect();
    names.sort();
    names.dedup();
    let value = |i: usize, name: &str| {
        settings[i].iter().find(|(k, _)| k == name).map_or("–".to_string(), |(_, v)| v.clone())
    };
    let differ: Vec<&String> = names.iter().filter(|n| (1..runs.len()).any(|i| value(i, n) != value(0, n))).collect();
    let mut rows: Vec<Vec<String>> = vec![
        std::iter::once("run".to_string()).chain(runs.iter().map(|(r, _)| r.id.to_string())).collect(),
        std::iter::once("status".to_string()).chain(runs.iter().map(|(r, _)| r.status.clone())).collect(),
    ];
    for name in &differ {
        rows.push(std::iter::once(name.to_string()).chain((0..runs.len()).map(|i| value(i, name))).collect());
    }
    let result = |f: &dyn Fn(&Run) -> Option<String>| runs.iter().map(|(r, _)| or_dash(f(r))).collect::<Vec<_>>();
    rows.push(
        std::iter::once("test accuracy".into())
            .chain(result(&|r| r.test_accuracy.map(|a| format!("{a:.4}"))))
            .collect(),
    );
    rows.push(std::iter::once("test loss".into()).chain(result(&|r| r.test_loss.map(|a| format!("{a:.4}")))).collect());
    rows.push(
        std::iter::once("seconds".into()).chain(result(&|r| r.train_seconds.map(|a| format!("{a:.1}")))).collect(),
    );
    let widths: Vec<usize> =
        (0..=runs.len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut text = if differ.is_empty() { "the runs' settings are the same\n".to_string() } else { String::new() };
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text.push_str("curves (training loss, then accuracy, per epoch)\n");
    for (r, epochs) in runs {
        let losses: Vec<f64> = epochs.iter().map(|e| e.train_loss).collect();
        let accuracies: Vec<f64> = epochs.iter().map(|e| e.train_accuracy).collect();
        let last = |v: &[f64]| v.last().map_or("–".to_string(), |x| format!("{x:.4}"));
        text.push_str(&format!(
            "  run {:<5} loss {} {}   accuracy {} {}\n",
            r.id,
            sparkline(&losses),
            last(&losses),
            sparkline(&accuracies),
            last(&accuracies)
        ));
    }
    text
}

/// Every run as CSV: the columns of `--json` that are single values.
fn csv(runs: &[Run]) -> String {
    let header = "id,started,ended,status,arch,epochs,epochs_done,optimizer,lr,batch_size,seed,threads,augment,train_examples,test_accuracy,test_loss,train_seconds,model,message\n";
    let quote = |text: &str| {
        if text.contains([',', '"', '\n']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_string()
        }
    };
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let mut text = header.to_string();
    for r in runs {
        let cells = [
            r.id.to_string(),
            r.started.clone(),
            r.ended.clone().unwrap_or_default(),
            r.status.clone(),
            quote(&r.arch),
            r.epochs.to_string(),
            r.epochs_done.to_string(),
            r.optimizer.clone(),
            r.lr.to_string(),
            r.batch_size.to_string(),
            r.seed.to_string(),
            r.threads.to_string(),
            r.augment.to_string(),
            r.train_examples.to_string(),
            opt(r.test_accuracy),
            opt(r.test_loss),
            opt(r.train_seconds),
            quote(r.model.as_deref().unwrap_or("")),
            quote(r.message.as_deref().unwrap_or("")),
        ];
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_goes_from_the_lowest_block_to_the_highest() {
        assert_eq!(sparkline(&[3.0, 2.0, 1.0]), "█▅▁");
        assert_eq!(sparkline(&[1.0]).chars().count(), 1);
        assert_eq!((rate(0.001), rate(1e30), rate(3e-5)), ("0.001".into(), "1e30".into(), "3e-5".into()));
        assert!(date("2026-12-04").is_ok() && date("04/12/2026").is_err() && date("2026-1-4").is_err());
    }
}
