//! The run history: `chiffre train` records each run (settings, every epoch,
//! the result, how it ended) and `chiffre runs` lists, shows, removes and
//! exports them; two trainings at once both record completely; a training
//! killed (SIGKILL) leaves every finished epoch, shown as `interrupted`, in a
//! database that passes SQLite's integrity check.

mod common;

use common::prelude::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `chiffre runs …` on the history `db`, one JSON value per output line.
fn runs_json(db: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["runs", "--runs-db", arg(db)];
    all.extend_from_slice(args);
    let run = chiffre(all);
    run.assert_ok();
    run.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// A perceptron trained for `epochs` on 600 images, recorded in `db`.
fn train_into(db: &Path, data: &Path, out: &Path, epochs: &str, extra: &[&str]) -> Run {
    let mut args = vec!["--arch", "perceptron", "--epochs", epochs, "--batch-size", "32", "--runs-db", arg(db)];
    args.extend_from_slice(extra);
    train(data, out, &args)
}

#[test]
fn each_training_is_recorded_and_runs_lists_shows_exports_and_removes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::mnist(600, 200).write(&tmp.path().join("data"));
    let db = tmp.path().join("history/runs.sqlite");
    train_into(&db, &data, &tmp.path().join("a.safetensors"), "2", &["--seed", "1"]).assert_ok();
    let b = train_into(
        &db,
        &data,
        &tmp.path().join("b.safetensors"),
        "1",
        &["--seed", "2", "--optimizer", "adam", "--json"],
    );
    b.assert_ok();
    let summary: Value = serde_json::from_str(b.stdout.lines().last().unwrap()).unwrap();

    let listed = runs_json(&db, &["list", "--json"]);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], summary["run"], "newest first, and train --json names its run");
    for key in [
        "id",
        "started",
        "status",
        "arch",
        "epochs",
        "optimizer",
        "lr",
        "batch_size",
        "seed",
        "test_accuracy",
        "train_seconds",
        "model",
    ] {
        assert!(listed[0].get(key).is_some(), "--json lacks {key}: {}", listed[0]);
    }
    assert_eq!((listed[0]["optimizer"].as_str(), listed[0]["seed"].as_u64()), (Some("adam"), Some(2)));
    assert_eq!((listed[1]["status"].as_str(), listed[1]["epochs_done"].as_u64()), (Some("finished"), Some(2)));
    assert_eq!(listed[1]["lr"], 0.001, "the rate as written");
    assert!((listed[0]["test_accuracy"].as_f64().unwrap() - summary["test_accuracy"].as_f64().unwrap()).abs() < 1e-12);
    assert_eq!(listed[1]["data_sha256"].as_object().unwrap().len(), 4, "the four data files' SHA-256");
    assert_eq!(listed[1]["model_sha256"].as_str().map(str::len), Some(64));
    assert_eq!(runs_json(&db, &["list", "--json", "--arch", "mlp"]).len(), 0);
    assert_eq!(runs_json(&db, &["list", "--json", "--status", "finished", "--since", "2020-01-01"]).len(), 2);
    assert_eq!(runs_json(&db, &["list", "--json", "--since", "2999-01-01"]).len(), 0);

    let first = listed[1]["id"].as_i64().unwrap().to_string();
    let shown = runs_json(&db, &["show", &first, "--json"]);
    let epochs = shown[0]["epochs_recorded"].as_array().unwrap();
    assert_eq!(epochs.len(), 2);
    assert!(epochs[1]["train_loss"].as_f64().unwrap() < epochs[0]["train_loss"].as_f64().unwrap());
    let text = chiffre(["runs", "--runs-db", arg(&db), "show", &first]);
    text.assert_ok();
    assert!(text.stdout.contains("perceptron finished") && text.stdout.contains("loss      "), "{}", text.stdout);
    let table = chiffre(["runs", "--runs-db", arg(&db)]);
    assert!(table.stdout.starts_with("id  started (UTC)") && table.stdout.lines().count() == 3, "{}", table.stdout);

    let second = listed[0]["id"].as_i64().unwrap().to_string();
    let compared = chiffre(["runs", "--runs-db", arg(&db), "compare", &first, &second]);
    compared.assert_ok();
    for part in ["optimizer.name", "rms_prop", "adam", "seed", "test accuracy", "curves"] {
        assert!(compared.stdout.contains(part), "compare lacks {part}:\n{}", compared.stdout);
    }
    assert!(!compared.stdout.contains("batch_size "), "only the settings that differ:\n{}", compared.stdout);
    let csv = chiffre(["runs", "--runs-db", arg(&db), "export", "--format", "csv"]);
    csv.assert_ok();
    assert!(csv.stdout.starts_with("id,started,") && csv.stdout.lines().count() == 3, "{}", csv.stdout);

    chiffre(["runs", "--runs-db", arg(&db), "rm", "999"]).assert_error(&["no run 999", "nothing removed"]);
    chiffre(["runs", "--runs-db", arg(&db), "rm", &first]).assert_ok();
    assert_eq!(runs_json(&db, &["list", "--json"]).len(), 1);
    chiffre(["runs", "--runs-db", arg(&tmp.path().join("none.sqlite"))]).assert_error(&["none.sqlite", "no such file"]);
}

#[test]
fn a_diverging_run_is_recorded_as_diverged_and_no_record_records_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::mnist(300, 100).write(&tmp.path().join("data"));
    let db = tmp.path().join("h.sqlite");
    let wild = ["--arch", "mlp", "--epochs", "1", "--optimizer", "sgd", "--lr", "1e30", "--runs-db", arg(&db)];
    train(&data, &tmp.path().join("x.safetensors"), &wild).assert_error(&["diverged"]);
    let listed = runs_json(&db, &["list", "--json"]);
    assert_eq!(listed[0]["status"], "diverged");
    assert!(listed[0]["message"].as_str().unwrap().contains("try a smaller learning rate"));
    let (quiet, model) = (tmp.path().join("quiet.sqlite"), tmp.path().join("y.safetensors"));
    let run = Command::new(env!("CARGO_BIN_EXE_chiffre"))
        .args(["train", "--arch", "perceptron", "--epochs", "1", "--no-record", "--quiet"])
        .args(["--data", arg(&data), "--out", arg(&model)])
        .env("CHIFFRE_RUNS_DB", &quiet)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(!quiet.exists(), "--no-record wrote {}", quiet.display());
}

/// `chiffre train` of an MLP for many epochs, recording into `db`.
fn long_training(db: &Path, data: &Path, out: &Path, epochs: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chiffre"));
    c.args(["train", "--arch", "mlp", "--epochs", epochs, "--batch-size", "32", "--threads", "1", "--quiet"])
        .args(["--data", arg(data), "--out", arg(out), "--runs-db", arg(db)])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn two_trainings_at_once_both_record_completely() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::mnist(600, 100).write(&tmp.path().join("data"));
    let db = tmp.path().join("shared.sqlite");
    let children: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| long_training(&db, &data, &tmp.path().join(format!("{name}.safetensors")), "6").spawn().unwrap())
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let listed = runs_json(&db, &["list", "--json"]);
    assert_eq!(listed.len(), 2);
    for run in &listed {
        assert_eq!((run["status"].as_str(), run["epochs_done"].as_u64()), (Some("finished"), Some(6)), "{run}");
    }
}

#[test]
fn a_killed_training_keeps_its_finished_epochs_as_interrupted_in_a_sound_database() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::mnist(2000, 100).write(&tmp.path().join("data"));
    let db = tmp.path().join("h.sqlite");
    let mut child = long_training(&db, &data, &tmp.path().join("m.safetensors"), "200").spawn().unwrap();
    // Wait until two epochs are printed (hence recorded), then kill it mid-run.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let start = Instant::now();
    let mut epochs_seen = 0;
    while epochs_seen < 2 {
        let line = lines.next().expect("the training prints its epochs").unwrap();
        epochs_seen += usize::from(line.starts_with("epoch "));
        assert!(start.elapsed() < Duration::from_secs(120), "no epoch in 2 minutes");
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let listed = runs_json(&db, &["list", "--json"]);
    assert_eq!(listed[0]["status"], "interrupted", "{}", listed[0]);
    let done = listed[0]["epochs_done"].as_u64().unwrap();
    assert!((2..200).contains(&done), "{done} epochs recorded");
    assert_eq!(runs_json(&db, &["list", "--json", "--status", "interrupted"]).len(), 1);
    let check: String =
        rusqlite::Connection::open(&db).unwrap().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn ctrl_c_is_recorded_as_stopped_with_where_to_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::mnist(2000, 100).write(&tmp.path().join("data"));
    let db = tmp.path().join("h.sqlite");
    let mut child = long_training(&db, &data, &tmp.path().join("m.safetensors"), "200").spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while !lines.next().expect("the training prints its epochs").unwrap().starts_with("epoch ") {}
    let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let listed = runs_json(&db, &["list", "--json"]);
    assert_eq!(listed[0]["status"], "stopped", "{}", listed[0]);
    assert!(listed[0]["message"].as_str().unwrap().contains("--resume"), "{}", listed[0]);
}

#[test]
fn a_sweep_trains_the_grid_with_each_seed_says_which_is_better_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::mnist(600, 200).write(&tmp.path().join("data"));
    let db = tmp.path().join("h.sqlite");
    let sweep = |extra: &[&str]| {
        let mut args =
            vec!["sweep", "--arch", "perceptron", "--lr", "0.00003,0.003", "--seeds", "1,2", "--epochs", "1"];
        args.extend(["--data", arg(&data), "--runs-db", arg(&db), "--threads", "1"]);
        args.extend_from_slice(extra);
        let run = chiffre(args);
        run.assert_ok();
        run
    };
    let first = sweep(&["--json"]);
    assert!(first.stdout.starts_with("sweep 1: 2 settings × 2 seeds = 4 runs"), "{}", first.stdout);
    assert_eq!(first.stdout.matches("test accuracy 0.").count(), 4, "{}", first.stdout);
    let settings: Vec<Value> =
        first.stdout.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(settings.len(), 2);
    assert_eq!(settings[0]["setting"], "perceptron lr 0.003 epochs 1", "best first: {}", first.stdout);
    assert_eq!(settings[0]["seeds"], 2);
    assert_eq!(settings[1]["beyond_seed_spread"], true, "a rate 100 times too small is worse beyond the spread");
    assert!(settings[0]["test_accuracy_mean"].as_f64().unwrap() > settings[1]["test_accuracy_mean"].as_f64().unwrap());
    assert_eq!(runs_json(&db, &["list", "--json"]).len(), 4);
    // The same command again: nothing trained again.
    let again = sweep(&[]);
    assert_eq!(again.stdout.matches("done before").count(), 4, "{}", again.stdout);
    assert_eq!(runs_json(&db, &["list", "--json"]).len(), 4);
    assert!(again.stdout.contains("worse than the best beyond the seed spread"), "{}", again.stdout);

    // The report from the history alone: two runs' curves, and the sweep's table and chart.
    let ids: Vec<String> = runs_json(&db, &["list", "--json"]).iter().take(2).map(|r| r["id"].to_string()).collect();
    let report = tmp.path().join("report");
    let written =
        chiffre(["report", "--runs", &ids.join(","), "--sweep", "1", "--runs-db", arg(&db), "--out", arg(&report)]);
    written.assert_ok();
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    for part in ["From the run history", "Sweep 1", "beyond the seed spread", "img/history-loss.svg", "img/sweep.svg"] {
        assert!(page.contains(part), "the report lacks {part}");
    }
    assert!(report.join("img/sweep.svg").is_file());
    chiffre(["report", "--sweep", "7", "--runs-db", arg(&db), "--out", arg(&report)]).assert_error(&["no sweep 7"]);
}

#[test]
fn a_history_that_is_not_a_database_is_refused_never_overwritten_and_training_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::mnist(300, 100).write(&tmp.path().join("data"));
    let notes = tmp.path().join("notes.sqlite");
    let text = "my notes, not a database\n".repeat(100);
    std::fs::write(&notes, &text).unwrap();
    let run = train_into(&notes, &data, &tmp.path().join("m.safetensors"), "1", &[]);
    run.assert_ok();
    assert!(run.stderr.contains("warning: the run history") && run.stderr.contains("not a database"), "{}", run.stderr);
    assert!(tmp.path().join("m.safetensors").is_file(), "the training went on");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), text, "the file was not touched");
    chiffre(["runs", "--runs-db", arg(&notes)]).assert_error(&["notes.sqlite", "not a database"]);
}
