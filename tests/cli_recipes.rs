//! End-to-end tests of the recipe features of `chiffre train` (presets,
//! `--json`, checkpoints, `--resume`, Ctrl-C) and of ensembles in `eval` and
//! `predict`.

mod common;

use common::prelude::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const QUICK_MLP: &[&str] = &["--arch", "mlp", "--limit", "2000", "--test-limit", "300", "--threads", "2"];

fn last_json(run: &Run) -> Value {
    let line = run.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line is not JSON ({e}):\n{}", run.describe()))
}

#[test]
fn help_lists_the_recipe_presets_and_summary_builds_them() {
    let help = chiffre(["train", "--help"]);
    help.assert_ok();
    for word in ["fast", "best", "--resume", "--checkpoint-every", "--augment", "--json", "--schedule"] {
        assert!(help.stdout.contains(word), "train --help lacks {word}:\n{}", help.describe());
    }
    for preset in ["fast", "best"] {
        let run = chiffre(["summary", "--preset", preset]);
        run.assert_ok();
        assert!(run.stdout.contains(&format!("Model: \"{preset}\"")), "{}", run.describe());
    }
}

#[test]
fn json_ends_the_output_with_accuracy_and_training_time() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m.safetensors");
    let run = train(
        &mnist_dir(),
        &model,
        &[
            QUICK_MLP,
            &[
                "--epochs",
                "2",
                "--json",
                "--optimizer",
                "adamw",
                "--schedule",
                "cosine",
                "--warmup",
                "0.5",
                "--augment",
            ],
        ]
        .concat(),
    );
    run.assert_ok();
    let summary = last_json(&run);
    let (accuracy, correct, _) = run.test_accuracy();
    assert!((summary["test_accuracy"].as_f64().unwrap() - accuracy).abs() < 1e-4, "{}", run.describe());
    assert_eq!(summary["test_correct"].as_u64(), Some(correct));
    let seconds = summary["train_seconds"].as_f64().unwrap();
    assert!(seconds > 0.0 && seconds < 60.0, "train_seconds {seconds}");
    assert_eq!(summary["epochs"], 2);
    assert!(run.stdout.contains("AdamW(β 0.9, 0.999, λ 0.01) lr 0.001 cosine, augmented"), "{}", run.describe());
}

#[test]
fn resuming_a_checkpoint_of_another_network_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m.safetensors");
    let ckpt = tmp.path().join("m.ckpt.safetensors");
    let run = train(&mnist_dir(), &model, &[QUICK_MLP, &["--epochs", "1", "--checkpoint-every", "1"]].concat());
    run.assert_ok();
    assert!(ckpt.exists(), "no checkpoint beside the model:\n{}", run.describe());
    // A checkpoint evaluates as the model it holds.
    let scored = chiffre(["eval", "--json", "--limit", "300", "--model", arg(&ckpt)]);
    scored.assert_ok();
    let saved = chiffre(["eval", "--json", "--limit", "300", "--model", arg(&model)]);
    let accuracy = |r: &Run| serde_json::from_str::<Value>(r.stdout.trim()).unwrap()["accuracy"].clone();
    assert_eq!(accuracy(&scored), accuracy(&saved));
    let other = tmp.path().join("p.safetensors");
    let args = ["--arch", "perceptron", "--epochs", "2", "--limit", "2000", "--resume", arg(&ckpt)];
    train(&mnist_dir(), &other, &args).assert_error(&[arg(&ckpt), "\"mlp\"", "\"perceptron\""]);
    // A model file is not a checkpoint.
    let args = [QUICK_MLP, &["--epochs", "2", "--resume", arg(&model)]].concat();
    train(&mnist_dir(), &other, &args).assert_error(&[arg(&model), "not a checkpoint"]);
}

/// Ctrl-C (SIGINT) after the first epoch: a checkpoint, exit status 130; the
/// same command with `--resume` then ends as the uninterrupted run does.
#[cfg(unix)]
#[test]
fn ctrl_c_saves_a_checkpoint_and_resume_finishes_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m.safetensors");
    let ckpt = tmp.path().join("m.ckpt.safetensors");
    let data = mnist_dir();
    let mut args: Vec<&str> = vec!["train", "--data", arg(&data), "--out", arg(&model), "--quiet", "--no-record"];
    args.extend_from_slice(QUICK_MLP);
    args.extend_from_slice(&["--epochs", "400"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_chiffre"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        if line.starts_with("epoch 1/400") {
            break;
        }
    }
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr: {stderr}");
    assert!(stderr.contains("interrupted") && stderr.contains(arg(&ckpt)), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert!(ckpt.exists() && !model.exists(), "a checkpoint and no model after Ctrl-C");

    // Resume, but finish sooner: the epochs may change, nothing else.
    let resumed =
        train(&mnist_dir(), &model, &[QUICK_MLP, &["--epochs", "3", "--resume", arg(&ckpt), "--json"]].concat());
    let resumed = resumed.assert_ok();
    assert_eq!(last_json(resumed)["epochs"], 3, "{}", resumed.describe());
    let other =
        train(&mnist_dir(), &model, &[QUICK_MLP, &["--epochs", "3", "--resume", arg(&ckpt), "--lr", "0.1"]].concat());
    other.assert_error(&["other settings", "lr"]);
}

#[test]
fn eval_and_predict_average_an_ensemble() {
    let tmp = tempfile::tempdir().unwrap();
    let models: Vec<PathBuf> = (1..=3).map(|i| tmp.path().join(format!("m{i}.safetensors"))).collect();
    for (seed, model) in ["1", "2", "3"].iter().zip(&models) {
        train(&mnist_dir(), model, &[QUICK_MLP, &["--epochs", "1", "--seed", seed]].concat()).assert_ok();
    }
    let mut args = vec!["eval", "--json", "--limit", "300"];
    for m in &models {
        args.extend_from_slice(&["--model", arg(m)]);
    }
    let run = chiffre(&args);
    run.assert_ok();
    let out: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(out["model"].as_array().map(Vec::len), Some(3), "{}", run.describe());
    let ensemble = out["accuracy"].as_f64().unwrap();
    let singles: Vec<f64> = models
        .iter()
        .map(|m| {
            let r = chiffre(["eval", "--json", "--limit", "300", "--model", arg(m)]);
            serde_json::from_str::<Value>(r.stdout.trim()).unwrap()["accuracy"].as_f64().unwrap()
        })
        .collect();
    let mean = singles.iter().sum::<f64>() / 3.0;
    assert!(ensemble >= mean - 0.01, "ensemble {ensemble} vs members {singles:?}");

    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut args = vec!["predict", "--json"];
    for m in &models {
        args.extend_from_slice(&["--model", arg(m)]);
    }
    args.push(arg(&samples));
    let run = chiffre(&args);
    run.assert_ok();
    for line in run.stdout.lines() {
        let p: Value = serde_json::from_str(line).unwrap();
        let sum: f64 = p["probabilities"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4, "{line}");
    }
}

#[test]
fn no_augment_turns_off_the_augmentation_a_preset_turns_on() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m.safetensors");
    let quick = ["--epochs", "1", "--limit", "256", "--test-limit", "100", "--threads", "1"];
    let with = train(&mnist_dir(), &model, &[&["--preset", "best"][..], &quick].concat());
    with.assert_ok();
    assert!(with.stdout.contains(", augmented"), "best augments:\n{}", with.describe());
    let without = train(&mnist_dir(), &model, &[&["--preset", "best", "--no-augment"][..], &quick].concat());
    without.assert_ok();
    assert!(!without.stdout.contains("augmented"), "--no-augment:\n{}", without.describe());
}
