//! Checkpoints and resuming: a run stopped (after an epoch, or in the middle
//! of one) and resumed from its checkpoint ends with exactly the weights of
//! the uninterrupted run; batch-norm statistics survive a save and a load.

use chiffre::data::{default_data_dir, Augment, Dataset, Mnist};
use chiffre::layers::Mode;
use chiffre::model::{load, save, ModelSpec, Sequential};
use chiffre::optim::OptimizerKind;
use chiffre::tensor::Tensor;
use chiffre::train::{
    checkpoint, evaluate, train_with, Controls, Ending, EpochStats, Observer, Quiet, Schedule, TrainConfig,
};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

fn mnist() -> &'static Mnist {
    static DATA: OnceLock<Mnist> = OnceLock::new();
    DATA.get_or_init(|| Mnist::load(&default_data_dir()).expect("the bundled MNIST loads"))
}

/// Every layer kind with state: batch norm (running statistics), dropout (its random stream).
const NET: &str = r#"
[[layers]]
type = "conv2d"
filters = 6
kernel = 3
[[layers]]
type = "batch_norm2d"
[[layers]]
type = "relu"
[[layers]]
type = "max_pool2d"
size = 2
[[layers]]
type = "flatten"
[[layers]]
type = "dropout"
rate = 0.2
[[layers]]
type = "dense"
units = 32
[[layers]]
type = "batch_norm1d"
[[layers]]
type = "relu"
[[layers]]
type = "dense"
units = 10
"#;

fn spec() -> ModelSpec {
    ModelSpec::parse(NET, "toml").unwrap()
}

fn config() -> TrainConfig {
    TrainConfig {
        epochs: 2,
        batch_size: 50,
        optimizer: OptimizerKind::AdamW { beta1: 0.8, beta2: 0.99, eps: 1e-8, weight_decay: 0.01 },
        lr: 3e-3,
        schedule: Schedule::ONE_CYCLE,
        warmup_epochs: 0.2,
        label_smoothing: 0.1,
        augment: Some(Augment::default()),
        seed: 9,
        ..TrainConfig::default()
    }
}

/// Weights and buffers, bit for bit.
fn state(model: &mut Sequential) -> Vec<u32> {
    let mut out = Vec::new();
    model.visit_params_mut(&mut |_, _, p| out.extend(p.value.data().iter().map(|v| v.to_bits())));
    model.visit_buffers_mut(&mut |_, _, t| out.extend(t.data().iter().map(|v| v.to_bits())));
    out
}

/// Raises the stop flag after `epoch` epochs or after `batches` examples of the first.
struct StopAt<'a> {
    flag: &'a AtomicBool,
    epoch: usize,
    examples: usize,
}

impl Observer for StopAt<'_> {
    fn batch(&mut self, epoch: usize, done: usize, _: usize, _: f64, _: f64, _: f64) {
        if epoch == 1 && done == self.examples {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
    fn epoch(&mut self, stats: &EpochStats) {
        if stats.epoch == self.epoch {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

fn data() -> (Dataset, Dataset) {
    mnist().train.take(600).split_tail(0.2)
}

/// Runs `config()` stopping as `stop` says, then resumes from the checkpoint.
fn stopped_and_resumed(dir: &Path, epoch: usize, examples: usize) -> Vec<u32> {
    let (train, val) = data();
    let path = dir.join("run.ckpt.safetensors");
    let flag = AtomicBool::new(false);
    let mut model = Sequential::new(&spec(), 4).unwrap();
    let controls = Controls { checkpoint_path: Some(path.clone()), stop: Some(&flag), ..Controls::default() };
    let mut observer = StopAt { flag: &flag, epoch, examples };
    let report = train_with(&mut model, &train, Some(&val), &config(), &mut observer, controls).unwrap();
    assert_eq!(report.ending, Ending::Interrupted { checkpoint: Some(path.clone()) });
    assert_eq!(report.history.len(), epoch.min(1) * usize::from(examples == 0));

    let resume = checkpoint::load(&path).unwrap();
    let mut fresh = Sequential::new(&spec(), 77).unwrap(); // other weights: the checkpoint's replace them
    let controls = Controls { resume: Some(resume), ..Controls::default() };
    let report = train_with(&mut fresh, &train, Some(&val), &config(), &mut Quiet, controls).unwrap();
    assert_eq!(report.ending, Ending::Finished);
    assert_eq!(report.history.len(), 2, "the history of the first part is kept");
    state(&mut fresh)
}

fn uninterrupted() -> Vec<u32> {
    let (train, val) = data();
    let mut model = Sequential::new(&spec(), 4).unwrap();
    train_with(&mut model, &train, Some(&val), &config(), &mut Quiet, Controls::default()).unwrap();
    state(&mut model)
}

#[test]
fn two_epochs_equal_one_then_a_resumed_one_and_a_stop_mid_epoch_too() {
    let dir = tempfile::tempdir().unwrap();
    let whole = uninterrupted();
    let after_epoch = stopped_and_resumed(dir.path(), 1, 0);
    assert!(after_epoch == whole, "stopped after epoch 1, resumed: other weights");
    let mid_epoch = stopped_and_resumed(dir.path(), 0, 150);
    assert!(mid_epoch == whole, "stopped after 3 batches, resumed: other weights");
}

#[test]
fn resuming_with_other_settings_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (train, val) = data();
    let path = dir.path().join("c.safetensors");
    let mut model = Sequential::new(&spec(), 4).unwrap();
    let controls = Controls { checkpoint_path: Some(path.clone()), checkpoint_every: 1, ..Controls::default() };
    let cfg = TrainConfig { epochs: 1, ..config() };
    train_with(&mut model, &train, Some(&val), &cfg, &mut Quiet, controls).unwrap();
    let other = TrainConfig { batch_size: 60, ..config() };
    let controls = Controls { resume: Some(checkpoint::load(&path).unwrap()), ..Controls::default() };
    let err = train_with(&mut model, &train, Some(&val), &other, &mut Quiet, controls).unwrap_err().to_string();
    assert!(err.contains("batch_size 60 (checkpoint 50)"), "{err}");
    // A model file is not a checkpoint.
    let model_file = dir.path().join("m.safetensors");
    save(&model, &serde_json::json!({}), &model_file).unwrap();
    let err = checkpoint::load(&model_file).err().unwrap().to_string();
    assert!(err.contains("m.safetensors") && err.contains("not a checkpoint"), "{err}");
}

#[test]
fn batch_norm_statistics_are_saved_and_loaded() {
    let (train, val) = data();
    let mut model = Sequential::new(&spec(), 4).unwrap();
    let cfg = TrainConfig { epochs: 1, ..config() };
    train_with(&mut model, &train, None, &cfg, &mut Quiet, Controls::default()).unwrap();
    let names: Vec<String> = model.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["layers.1.running_mean", "layers.1.running_var", "layers.7.running_mean", "layers.7.running_var"]
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bn.safetensors");
    save(&model, &serde_json::json!({}), &path).unwrap();
    let mut loaded = load(&path).unwrap().model;
    let mut x = Tensor::zeros(&[20, 28, 28, 1]);
    val.fill_batch(&(0..20).collect::<Vec<_>>(), x.data_mut(), &mut Vec::new());
    let want = model.forward(&x, Mode::Eval).clone();
    assert_eq!(loaded.forward(&x, Mode::Eval).data(), want.data());
    // Inference does not depend on the rest of the batch.
    let one = Tensor::from_vec(&[1, 28, 28, 1], x.data()[..784].to_vec()).unwrap();
    let alone = loaded.forward(&one, Mode::Eval).clone();
    for (a, b) in alone.data().iter().zip(&want.data()[..10]) {
        assert!((a - b).abs() < 1e-5, "{a} alone vs {b} in a batch");
    }
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let (train, val) = data();
    let mut model = Sequential::new(&spec(), 4).unwrap();
    // A rate far too high: the held-out loss soon stops improving.
    let cfg = TrainConfig {
        epochs: 30,
        lr: 0.05,
        schedule: Schedule::Constant,
        early_stopping: Some(2),
        augment: None,
        ..config()
    };
    let report = train_with(&mut model, &train, Some(&val), &cfg, &mut Quiet, Controls::default()).unwrap();
    let Ending::EarlyStopped { best_epoch } = report.ending else { panic!("ran all epochs: {:?}", report.ending) };
    let best = report.history.iter().map(|s| s.val_loss.unwrap()).fold(f64::INFINITY, f64::min);
    assert_eq!(report.history[best_epoch - 1].val_loss.unwrap(), best);
    assert_eq!(report.history.len(), best_epoch + 2);
    let now = evaluate(&mut model, &val, chiffre::loss::Loss::CrossEntropy).loss;
    assert!((now - best).abs() < 1e-9, "kept weights score {now}, the best epoch {best}");
}
