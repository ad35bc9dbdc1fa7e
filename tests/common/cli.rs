//! Helpers shared by the CLI test files: running train/eval, reading and rewriting model files.

use super::{arg, assert_absent, chiffre, DataDir, Run};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The metrics file `chiffre train` writes beside model `M.safetensors`.
pub fn metrics_of(model: &Path) -> PathBuf {
    let stem = model.file_stem().and_then(|s| s.to_str()).expect("model file has a stem");
    model.with_file_name(format!("{stem}.metrics.jsonl"))
}

/// Runs `chiffre train` with `extra` arguments, writing `out`; always quiet.
pub fn train(data: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["train", "--data", arg(data), "--out", arg(out), "--quiet"];
    args.extend_from_slice(extra);
    chiffre(args)
}

/// Runs a training that must fail with `parts` in its message, and checks it
/// left neither the model file nor its metrics file behind.
pub fn train_fails(data: &Path, out: &Path, extra: &[&str], parts: &[&str]) -> Run {
    let run = train(data, out, extra);
    run.assert_error(parts);
    assert!(!run.stdout.contains("saved"), "a failed run claims to have saved:\n{}", run.describe());
    assert_absent(&[out, &metrics_of(out)]);
    run
}

/// The usual quick settings for runs that are expected to fail on the data.
pub const QUICK: &[&str] = &["--arch", "perceptron", "--epochs", "1", "--threads", "1"];

/// `chiffre eval --json`, parsed.
pub fn eval_json(model: &Path, data: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["eval", "--model", arg(model), "--data", arg(data), "--json"];
    args.extend_from_slice(extra);
    let run = chiffre(args);
    run.assert_ok();
    serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("eval --json is not JSON ({e}):\n{}", run.describe()))
}

/// The lines of a metrics file, parsed.
pub fn metrics_lines(model: &Path) -> Vec<Value> {
    let path = metrics_of(model);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad metrics line {l:?}: {e}"))).collect()
}

/// A small MNIST-layout directory (100 training, 100 test images) in `root/data`.
pub fn small_data(root: &Path) -> PathBuf {
    DataDir::mnist(100, 100).write(&root.join("data"))
}

/// Trains a 10-class perceptron for one epoch on a small data directory in
/// `root`; returns (data dir, model file).
pub fn trained_perceptron(root: &Path) -> (PathBuf, PathBuf) {
    let data = small_data(root);
    let model = root.join("perceptron.safetensors");
    train(&data, &model, QUICK).assert_ok();
    assert!(model.is_file(), "train did not write {}", model.display());
    (data, model)
}

/// The tensors of a safetensors file, owned: (name, dtype, shape, bytes),
/// sorted by name, and the file's metadata.
pub struct Tensors {
    pub metadata: Option<HashMap<String, String>>,
    pub tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
}

pub fn read_tensors(path: &Path) -> Tensors {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, header) = SafeTensors::read_metadata(&bytes).expect("a safetensors file");
    let metadata = header.metadata().clone();
    let st = SafeTensors::deserialize(&bytes).expect("a safetensors file");
    let mut tensors: Vec<_> =
        st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Tensors { metadata, tensors }
}

pub fn write_tensors(path: &Path, t: &Tensors) {
    let views = t.tensors.iter().map(|(name, dtype, shape, bytes)| {
        (name.clone(), TensorView::new(*dtype, shape.clone(), bytes).expect("consistent tensor"))
    });
    let data = safetensors::serialize(views, &t.metadata).expect("serialize");
    std::fs::write(path, data).expect("write the model file");
}

/// Copies model `src` to `dst`, letting `f` change its tensors (metadata kept).
pub fn rewrite_model(src: &Path, dst: &Path, f: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>)) {
    let mut t = read_tensors(src);
    f(&mut t.tensors);
    write_tensors(dst, &t);
}

/// `chiffre eval` of a bad model file must fail naming it and `parts`.
pub fn eval_fails(model: &Path, data: &Path, parts: &[&str]) -> Run {
    let run = chiffre(["eval", "--model", arg(model), "--data", arg(data), "--json"]);
    run.assert_error(&[&[arg(model)][..], parts].concat());
    assert!(run.stdout.trim().is_empty(), "a failed eval printed results:\n{}", run.describe());
    run
}

/// Writes a spec file `name` with `text` in `dir`.
pub fn spec_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the spec");
    path
}

pub const SMALL_CONV_TOML: &str = r#"
[[layers]]
type = "conv2d"
filters = 8
kernel = 3
padding = "same"

[[layers]]
type = "relu"

[[layers]]
type = "avg_pool2d"
size = 2

[[layers]]
type = "flatten"

[[layers]]
type = "dense"
units = 10
"#;

pub const SMALL_CONV_JSON: &str = r#"{
  "layers": [
    {"type": "conv2d", "filters": 8, "kernel": 3, "padding": "same"},
    {"type": "relu"},
    {"type": "avg_pool2d", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 10}
  ]
}"#;
