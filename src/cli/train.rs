//! `chiffre train`: train, evaluate on the test set, save the model and a
//! per-epoch metrics file beside it.

use super::ArchArgs;
use crate::data::{default_data_dir, Mnist};
use crate::fsutil::write_atomic;
use crate::loss::Loss;
use crate::model::save;
use crate::optim::OptimizerKind;
use crate::train::{evaluate, train, EpochStats, Observer, TrainConfig};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;

/// The optimizer names of `--optimizer`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum OptimizerName {
    /// Stochastic gradient descent (with --momentum).
    Sgd,
    /// RMSprop, Keras' defaults (rho 0.9, eps 1e-7): the tutorial's choice.
    Rmsprop,
    /// Adam (beta1 0.9, beta2 0.999, eps 1e-7).
    Adam,
}

/// Arguments of `chiffre train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    arch: ArchArgs,
    /// Passes over the training set.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Examples per step (mini-batch size).
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// The update rule.
    #[arg(long, value_enum, default_value = "rmsprop")]
    optimizer: OptimizerName,
    /// Learning rate (default: 0.01 for sgd, 0.001 otherwise).
    #[arg(long)]
    lr: Option<f32>,
    /// Momentum for sgd.
    #[arg(long, default_value_t = 0.0)]
    momentum: f32,
    /// The loss: cross-entropy (on softmax) or the tutorial's squared error.
    #[arg(long, value_enum, default_value = "cross-entropy")]
    loss: Loss,
    /// Seed of the initial weights and of the shuffles.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (0: one per core). The same seed and thread count give the same weights.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// A directory in the MNIST layout (default: the bundled MNIST).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Fraction of the training set held out to score each epoch (its tail), e.g. 0.1.
    #[arg(long, default_value_t = 0.0)]
    val_split: f64,
    /// Train on the first N training images only (quick runs).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long, value_name = "N")]
    test_limit: Option<usize>,
    /// Where to write the model (safetensors; default models/ARCH.safetensors); the metrics go beside it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub use crate::train::metrics_path;

struct Progress {
    bar: Option<ProgressBar>,
    epochs: usize,
}

impl Observer for Progress {
    fn batch(&mut self, epoch: usize, done: usize, total: usize, loss: f64, accuracy: f64, rate: f64) {
        let Some(bar) = &self.bar else { return };
        if done == total || bar.position() == 0 || done as u64 >= bar.position() + 2048 {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(format!(
                "epoch {epoch}/{}  loss {loss:.4}  acc {accuracy:.4}  {rate:.0} img/s",
                self.epochs
            ));
        }
    }

    fn epoch(&mut self, s: &EpochStats) {
        if let Some(bar) = &self.bar {
            bar.set_position(0);
        }
        let held_out = match (s.val_loss, s.val_accuracy) {
            (Some(l), Some(a)) => format!("  held-out loss {l:.4} acc {a:.4}"),
            _ => String::new(),
        };
        let line = format!(
            "epoch {}/{}  loss {:.4}  acc {:.4}{held_out}  {:.1}s  {:.0} img/s",
            s.epoch, self.epochs, s.train_loss, s.train_accuracy, s.seconds, s.images_per_sec
        );
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(line),
            _ => println!("{line}"),
        }
    }
}

/// Refuses impossible settings before any work is done.
fn validate(args: &TrainArgs) -> anyhow::Result<()> {
    if args.epochs == 0 {
        anyhow::bail!("--epochs must be at least 1");
    }
    if args.batch_size == 0 {
        anyhow::bail!("--batch-size must be at least 1");
    }
    if !(0.0..1.0).contains(&args.val_split) {
        anyhow::bail!("--val-split must be in [0, 1), got {}", args.val_split);
    }
    if !(0.0..1.0).contains(&args.momentum) {
        anyhow::bail!("--momentum must be in [0, 1), got {}", args.momentum);
    }
    if let Some(lr) = args.lr.filter(|lr| !(lr.is_finite() && *lr > 0.0)) {
        anyhow::bail!("--lr must be a positive number, got {lr}");
    }
    if args.limit == Some(0) || args.test_limit == Some(0) {
        anyhow::bail!("--limit and --test-limit must be at least 1");
    }
    if let Some(out) = args.out.as_ref().filter(|p| p.is_dir()) {
        anyhow::bail!(
            "--out {} is a directory; give a file name such as {}/cnn.safetensors",
            out.display(),
            out.display()
        );
    }
    Ok(())
}

/// Trains, evaluates, saves.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    validate(&args)?;
    let threads = super::set_threads(args.threads)?;
    let dir = args.data.clone().unwrap_or_else(default_data_dir);
    let mnist = Mnist::load(&dir)?;
    let classes = mnist.num_classes();
    let mut model = args.arch.build(classes, args.seed)?;
    let spec = model.spec().clone();
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("models/{}.safetensors", spec.name)));
    if model.num_classes() != classes {
        anyhow::bail!(
            "model {} ends with {} outputs but the data in {} has {classes} classes: make its last dense layer {classes} units",
            spec.name,
            model.num_classes(),
            dir.display()
        );
    }
    let train_set = match args.limit {
        Some(n) => mnist.train.take(n),
        None => mnist.train,
    };
    let (train_set, held_out) = train_set.split_tail(args.val_split);
    let test = match args.test_limit {
        Some(n) => mnist.test.take(n),
        None => mnist.test,
    };
    crate::train::check_compatible(&model, &test, "test").map_err(anyhow::Error::msg)?;
    let optimizer = match args.optimizer {
        OptimizerName::Sgd => OptimizerKind::Sgd { momentum: args.momentum },
        OptimizerName::Rmsprop => OptimizerKind::RMSPROP,
        OptimizerName::Adam => OptimizerKind::ADAM,
    };
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        optimizer,
        lr: args.lr.unwrap_or(optimizer.default_lr()),
        loss: args.loss,
        seed: args.seed,
    };
    println!(
        "training {} ({} parameters) on {} images from {} ({} held out), {} epochs, batch {}, {:?} lr {}, {} threads",
        spec.name,
        model.num_params(),
        train_set.len(),
        dir.display(),
        held_out.len(),
        config.epochs,
        config.batch_size,
        args.optimizer,
        config.lr,
        threads
    );
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let bar = (!args.quiet).then(|| {
        let bar = ProgressBar::new(train_set.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos:>6}/{len:6} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let mut progress = Progress { bar, epochs: config.epochs };
    let start = Instant::now();
    let held_out_ref = (!held_out.is_empty()).then_some(&held_out);
    let history = train(&mut model, &train_set, held_out_ref, &config, &mut progress)?;
    let train_seconds = start.elapsed().as_secs_f64();
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    let result = evaluate(&mut model, &test, config.loss);
    if !result.loss.is_finite() {
        anyhow::bail!(
            "after training, the test loss is {}: training diverged, no model saved; try a smaller --lr (now {})",
            result.loss,
            config.lr
        );
    }
    println!("{}", result.summary_line());

    let images_per_sec = history.iter().map(|s| s.images_per_sec).sum::<f64>() / history.len().max(1) as f64;
    let training = serde_json::json!({
        "arch": spec.name,
        "config": config,
        "threads": threads,
        "data": dir.display().to_string(),
        "train_examples": train_set.len(),
        "val_split": args.val_split,
        "test_accuracy": result.accuracy,
        "test_examples": test.len(),
        "train_seconds": train_seconds,
        "images_per_sec": images_per_sec,
        "chiffre_version": env!("CARGO_PKG_VERSION"),
    });
    save(&model, &training, &out)?;
    let metrics = metrics_path(&out);
    let lines: String = history.iter().map(|s| serde_json::to_string(s).map(|l| l + "\n")).collect::<Result<_, _>>()?;
    write_atomic(&metrics, lines.as_bytes()).with_context(|| format!("cannot write {}", metrics.display()))?;
    println!("saved {} and {}", out.display(), metrics.display());
    Ok(())
}
