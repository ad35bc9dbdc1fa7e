//! Crash safety: `chiffre train` killed (SIGKILL) at random moments, many
//! of them while it writes its model, never leaves a damaged model file:
//! the file on disk is always the old complete model or the new complete
//! one. And loading refuses sizes beyond its limits before reading or
//! allocating them.

mod common;

use common::prelude::*;
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The weights of a model file, in file order.
fn weights(path: &Path) -> Result<Vec<f32>, String> {
    let file = chiffre::model::load(path).map_err(|e| e.to_string())?;
    Ok(file.model.named_params().iter().flat_map(|(_, p)| p.value.data().to_vec()).collect())
}

/// `chiffre train` of a small MLP (a 1.6 MB model file) on `data`, writing `out`.
fn train_command(data: &Path, out: &Path, seed: u64) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chiffre"));
    c.args(["train", "--arch", "mlp", "--epochs", "1", "--limit", "256", "--test-limit", "100", "--threads", "1"])
        .args([
            "--batch-size",
            "64",
            "--quiet",
            "--no-record",
            "--seed",
            &seed.to_string(),
            "--data",
            arg(data),
            "--out",
            arg(out),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    c
}

/// Temporary files beside the model (a write that was cut short).
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp-"))
        .collect()
}

#[derive(Debug, Default)]
struct Outcomes {
    old: usize,
    new: usize,
    /// Kills that left a temporary file: the process died inside a write.
    inside_write: usize,
}

#[test]
fn killing_train_at_random_moments_leaves_the_old_or_the_new_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = DataDir::mnist(256, 100).write(&tmp.path().join("data"));
    let dir = tmp.path().join("models");
    std::fs::create_dir(&dir).unwrap();
    let out = dir.join("mlp.safetensors");
    let metrics = metrics_of(&out);

    // The old model (seed 1) and, elsewhere, what the new run (seed 2) writes when left alone.
    assert!(train_command(&data, &out, 1).status().unwrap().success());
    let (old_bytes, old_metrics) = (std::fs::read(&out).unwrap(), std::fs::read(&metrics).unwrap());
    let old = weights(&out).unwrap();
    let reference = tmp.path().join("reference.safetensors");
    let start = Instant::now();
    assert!(train_command(&data, &reference, 2).status().unwrap().success());
    let full_run = start.elapsed();
    let new = weights(&reference).unwrap();
    assert_ne!(old, new, "the two seeds must give different models");

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let mut seen = Outcomes::default();
    // Past the first 24 rounds, more until every outcome is seen, reaching
    // further past the end: a run killed while the machine is busier than
    // during the reference run may never get to its end within 1.3 times
    // the reference's time (CI failed so once, 2026-12-06: 24 kills, none
    // after the new model was written).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut round = 0;
    while round < 24 || (seen.old == 0 || seen.new == 0 || seen.inside_write == 0) && Instant::now() < deadline {
        round += 1;
        let mut child = train_command(&data, &out, 2).spawn().unwrap();
        if round % 2 == 0 {
            // Anywhere in the run, from start-up to after the end.
            let reach = if round <= 24 { 1.3 } else { 2.5 };
            std::thread::sleep(full_run.mul_f64(rng.random_range(0.0..reach)));
        } else {
            // Just after the test accuracy is printed: the model is being written.
            let stdout = child.stdout.take().unwrap();
            let mut lines = BufReader::new(stdout).lines();
            let _ = lines.find(|l| l.as_ref().map_or(true, |l| l.starts_with("test accuracy:")));
            std::thread::sleep(Duration::from_micros(rng.random_range(0..4000)));
        }
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();

        let got = weights(&out).unwrap_or_else(|e| panic!("round {round}: the model file is damaged: {e}"));
        match got {
            w if w == old => seen.old += 1,
            w if w == new => seen.new += 1,
            _ => panic!("round {round}: the model file is neither the old nor the new model"),
        }
        // The metrics file is also whole: every line is JSON.
        let text = std::fs::read_to_string(&metrics).unwrap();
        assert!(text.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()), "round {round}: damaged metrics");
        let left = leftovers(&dir);
        if !left.is_empty() {
            seen.inside_write += 1;
        }
        left.iter().for_each(|p| std::fs::remove_file(p).unwrap());
        // Back to the old model for the next round.
        std::fs::write(&out, &old_bytes).unwrap();
        std::fs::write(&metrics, &old_metrics).unwrap();
    }
    eprintln!("{round} kills: {seen:?} (a full run takes {full_run:?})");
    assert!(seen.old > 0 && seen.new > 0, "the kills did not cover the run: {seen:?}");
}

#[test]
fn oversized_files_are_refused_from_their_size_before_reading() {
    let tmp = tempfile::tempdir().unwrap();
    // Sparse files: as large as declared, without using the disk or being read.
    let sparse = |name: &str, len: u64| {
        let path = tmp.path().join(name);
        std::fs::File::create(&path).unwrap().set_len(len).unwrap();
        path
    };
    let start = Instant::now();
    let model = sparse("huge.safetensors", chiffre::model::MAX_MODEL_BYTES + 1);
    let err = chiffre::model::load(&model).err().unwrap().to_string();
    assert!(err.contains("a model file is at most 1073741824 bytes"), "{err}");
    let spec = sparse("huge.json", chiffre::model::MAX_SPEC_BYTES + 1);
    let err = chiffre::model::ModelSpec::from_file(&spec).unwrap_err().to_string();
    assert!(err.contains("a spec file is at most 1048576 bytes"), "{err}");
    let picture = sparse("huge.png", chiffre::preprocess::MAX_FILE_BYTES + 1);
    let err = chiffre::preprocess::load_image(&picture).unwrap_err().to_string();
    assert!(err.contains("the limit for a picture is"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2), "the files were read: {:?}", start.elapsed());
}

#[test]
fn declared_sizes_beyond_the_limits_are_refused_before_allocating() {
    use chiffre::model::{ModelSpec, Sequential, MAX_LAYERS, MAX_PARAMS};
    let build =
        |json: &str| Sequential::new(&serde_json::from_str::<ModelSpec>(json).unwrap(), 0).err().unwrap().to_string();
    // 10^12 × 784 weights, and a convolution of 2^40 filters: refused, not attempted.
    let err = build(r#"{"layers": [{"type": "flatten"}, {"type": "dense", "units": 1000000000000}]}"#);
    assert!(err.contains(&format!("over the limit of {MAX_PARAMS}")), "{err}");
    let err = build(r#"{"layers": [{"type": "conv2d", "filters": 1099511627776, "kernel": 3}, {"type": "flatten"}]}"#);
    assert!(err.contains("layer 0 (conv2d)"), "{err}");
    // Products that overflow usize.
    let err = build(r#"{"input": [4294967296, 4294967296, 4294967296], "layers": [{"type": "flatten"}]}"#);
    assert!(err.contains("holds more than"), "{err}");
    // Layers that add up past the limit: refused before the second one is allocated.
    let err = build(
        r#"{"layers": [{"type": "flatten"}, {"type": "dense", "units": 8192}, {"type": "dense", "units": 8192}]}"#,
    );
    assert!(err.contains("layer 2 (dense)") && err.contains(&format!("over the limit of {MAX_PARAMS}")), "{err}");
    let relu = r#"{"type": "relu"}"#;
    let err = build(&format!(r#"{{"layers": [{}]}}"#, vec![relu; MAX_LAYERS + 1].join(", ")));
    assert!(err.contains(&format!("the limit is {MAX_LAYERS}")), "{err}");
}
