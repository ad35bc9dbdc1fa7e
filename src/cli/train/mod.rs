//! `chiffre train`: train, evaluate on the test set, save the model and a
//! per-epoch metrics file beside it.

mod progress;
mod settings;

use super::values;
use super::ArchArgs;
use crate::data::{default_data_dir, Mnist};
use crate::fsutil::write_atomic;
use crate::loss::Loss;
use crate::model::save_with_reject;
use crate::optim::OptimizerKind;
use crate::reject::{fit as fit_reject, FitConfig as RejectConfig};
use crate::runs::{db_path, RunStart};
use crate::train::{evaluate, train_with, Controls, Ending, Schedule};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use progress::{start_recording, Diverged, Progress};
use std::path::{Path, PathBuf};
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
    /// AdamW: Adam with decoupled weight decay (beta1 0.9, beta2 0.999, eps 1e-8, --weight-decay 0.01).
    Adamw,
}

/// The schedule names of `--schedule`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ScheduleName {
    /// The same rate throughout.
    Constant,
    /// Multiply by --step-gamma every --step-every epochs.
    Step,
    /// Half a cosine down to 0.
    Cosine,
    /// Up from lr/25 to lr over 30 % of the steps, then down to lr/250000 (PyTorch's OneCycleLR).
    OneCycle,
}

/// The loss names of `--loss`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum LossName {
    /// Softmax + cross-entropy, fused: `L = -log p[target]`, mean over the batch.
    CrossEntropy,
    /// The tutorial's error formula on the probabilities:
    /// `L = ½ Σ_k (p_k - t_k)²` with `t` one-hot, mean over the batch.
    Mse,
}

impl From<LossName> for Loss {
    fn from(name: LossName) -> Loss {
        match name {
            LossName::CrossEntropy => Loss::CrossEntropy,
            LossName::Mse => Loss::Mse,
        }
    }
}

/// Arguments of `chiffre train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    arch: ArchArgs,
    /// Passes over the training set [default: 5, or the preset's].
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(1))]
    epochs: Option<usize>,
    /// Examples per step (mini-batch size) [default: 64, or the preset's].
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(1))]
    batch_size: Option<usize>,
    /// The update rule [default: rmsprop, or the preset's].
    #[arg(long, value_enum)]
    optimizer: Option<OptimizerName>,
    /// Learning rate, the peak of a schedule (default: 0.01 for sgd, 0.001 otherwise, or the preset's).
    #[arg(long, allow_negative_numbers = true, value_parser = values::positive)]
    lr: Option<f32>,
    /// Adam/AdamW β₁ and β₂, e.g. 0.7,0.9 [default: 0.9,0.999].
    #[arg(long, allow_negative_numbers = true, value_parser = values::betas, value_name = "B1,B2")]
    betas: Option<[f32; 2]>,
    /// AdamW's decoupled weight decay λ [default: 0.01].
    #[arg(long, allow_negative_numbers = true, value_parser = values::non_negative, value_name = "L")]
    weight_decay: Option<f32>,
    /// Learning-rate schedule [default: constant, or the preset's].
    #[arg(long, value_enum)]
    schedule: Option<ScheduleName>,
    /// Step schedule: multiply the rate by --step-gamma every N epochs [default: 1].
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(1), value_name = "N")]
    step_every: Option<usize>,
    /// Step schedule: the factor of each drop [default: 0.1].
    #[arg(long, allow_negative_numbers = true, value_parser = values::positive, value_name = "G")]
    step_gamma: Option<f32>,
    /// Epochs of linear warm-up before the schedule (may be fractional).
    #[arg(long, allow_negative_numbers = true, value_parser = values::non_negative, value_name = "EPOCHS")]
    warmup: Option<f32>,
    /// Label smoothing ε of the cross-entropy, e.g. 0.1.
    #[arg(long, allow_negative_numbers = true, value_parser = values::below_one, value_name = "E")]
    label_smoothing: Option<f32>,
    /// Stop when the held-out loss has not improved for N epochs and keep the best weights (needs --val-split).
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(1), value_name = "N")]
    early_stopping: Option<usize>,
    /// Random affine augmentation (rotation ±10°, shift ±2 px, zoom ±10 %, shear ±5°, or the spec's ranges).
    #[arg(long)]
    augment: bool,
    /// No augmentation, even when the spec or preset turns it on.
    #[arg(long, conflicts_with = "augment")]
    no_augment: bool,
    /// Add N digits cut out of touching neighbours (composed from the training digits) to the training images [default: the spec's, 40000 for cnn, else 0].
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(0), value_name = "N")]
    cut_digits: Option<usize>,
    /// Write a checkpoint (model + optimizer + position) every N epochs.
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(1), value_name = "N")]
    checkpoint_every: Option<usize>,
    /// The checkpoint file [default: beside the model, NAME.ckpt.safetensors].
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Continue a run from its checkpoint, exactly (same settings, same result as without the stop).
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
    /// End the output with one JSON line: test_accuracy, train_seconds (the training loop only), and more.
    #[arg(long)]
    json: bool,
    /// Momentum for sgd [default: 0].
    #[arg(long, allow_negative_numbers = true, value_parser = values::below_one)]
    momentum: Option<f32>,
    /// The loss: cross-entropy (on softmax) or the tutorial's squared error.
    #[arg(long, value_enum, default_value = "cross-entropy")]
    loss: LossName,
    /// Seed of the initial weights and of the shuffles.
    #[arg(long, allow_negative_numbers = true, value_parser = values::seed, default_value_t = 1)]
    seed: u64,
    /// Worker threads (0: one per core). The same seed and thread count give the same weights.
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(0), default_value_t = 0)]
    threads: usize,
    /// A directory in the MNIST layout (default: the bundled MNIST).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Fraction of the training set held out to score each epoch (its tail), e.g. 0.1.
    #[arg(long, allow_negative_numbers = true, value_parser = values::below_one_f64, default_value_t = 0.0)]
    val_split: f64,
    /// Train on the first N training images only (quick runs).
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(1), value_name = "N")]
    limit: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(1), value_name = "N")]
    test_limit: Option<usize>,
    /// Where to write the model (safetensors; default models/ARCH.safetensors); the metrics go beside it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// The run history to record this run in [default: runs/history.sqlite, or $CHIFFRE_RUNS_DB].
    #[arg(long, value_name = "FILE")]
    runs_db: Option<PathBuf>,
    /// Do not fit the "not a digit" gate and the calibration (faster; the model then reads every mark as a digit).
    #[arg(long)]
    no_gate: bool,
    /// Do not record this run in the history.
    #[arg(long, conflicts_with = "runs_db")]
    no_record: bool,
}

pub use crate::train::metrics_path;

/// `M.ckpt.safetensors` beside the model `M.safetensors`.
fn checkpoint_path(model: &Path) -> PathBuf {
    let mut name = model.file_stem().unwrap_or_default().to_os_string();
    name.push(".ckpt.safetensors");
    model.with_file_name(name)
}

/// Trains, evaluates, saves.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    settings::validate(&args)?;
    let threads = super::set_threads(args.threads)?;
    let dir = args.data.clone().unwrap_or_else(default_data_dir);
    let load_start = Instant::now();
    let mnist = Mnist::load(&dir)?;
    let load_seconds = load_start.elapsed().as_secs_f64();
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
    let config = settings::settings(&args, &spec)?;
    let resume = match &args.resume {
        Some(path) => {
            let checkpoint = crate::train::checkpoint::load(path)?;
            if checkpoint.model.spec().architecture() != spec.architecture() {
                anyhow::bail!(
                    "{}: this checkpoint is of the network {:?}, not of {:?} asked here (give the same --arch or --spec)",
                    path.display(),
                    checkpoint.model.spec().name,
                    spec.name
                );
            }
            Some(checkpoint)
        }
        None => None,
    };
    let train_set = match args.limit {
        Some(n) => mnist.train.take(n),
        None => mnist.train,
    };
    let (train_set, held_out) = train_set.split_tail(args.val_split);
    let own = train_set.len();
    if args.cut_digits.is_some_and(|n| n > 0) && !crate::train::takes_cut_digits(&train_set) {
        anyhow::bail!(
            "--cut-digits adds digits cut from touching neighbours: it needs 28×28 digits of 10 classes, and {} holds other images",
            dir.display()
        );
    }
    let train_set = crate::train::with_cut_digits(train_set, &config);
    let test = match args.test_limit {
        Some(n) => mnist.test.take(n),
        None => mnist.test,
    };
    crate::train::check_compatible(&model, &test, "test").map_err(anyhow::Error::msg)?;
    println!(
        "training {} ({} parameters) on {} images from {}{} ({} held out), {} epochs, batch {}, {} lr {}{}{}, {} threads",
        spec.name,
        model.num_params(),
        own,
        dir.display(),
        match train_set.len() - own {
            0 => String::new(),
            cut => format!(" and {cut} digits cut from touching ones"),
        },
        held_out.len(),
        config.epochs,
        config.batch_size,
        optimizer_label(&config.optimizer),
        config.lr,
        schedule_label(&config.schedule),
        if config.augment.is_some() { ", augmented" } else { "" },
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
    let recorder = (!args.no_record).then(|| {
        let run =
            RunStart { arch: &spec.name, spec: &spec, config: &config, threads, train_examples: own, data_dir: &dir };
        start_recording(&db_path(args.runs_db.as_deref()), &run)
    });
    let mut progress = Progress { bar, epochs: config.epochs, recorder: recorder.flatten() };
    let held_out_ref = (!held_out.is_empty()).then_some(&held_out);
    let controls = Controls {
        checkpoint_path: Some(args.checkpoint.clone().unwrap_or_else(|| checkpoint_path(&out))),
        checkpoint_every: args.checkpoint_every.unwrap_or(0),
        resume,
        stop: Some(super::interrupt::install()),
    };
    let cut_digits = train_set.len() - own;
    let run =
        Run { args: &args, model: &mut model, train_set: &train_set, cut_digits, test: &test, out: &out, data: &dir };
    match train_and_save(run, held_out_ref, &config, threads, load_seconds, &mut progress, controls) {
        Ok(Some(stopped)) => {
            progress.stopped(&stopped);
            eprintln!("{stopped}");
            std::process::exit(130);
        }
        Ok(None) => Ok(()),
        Err(e) => {
            progress.failed(&e);
            Err(e)
        }
    }
}

/// What one training run works on.
struct Run<'a> {
    args: &'a TrainArgs,
    model: &'a mut crate::model::Sequential,
    train_set: &'a crate::data::Dataset,
    /// How many of `train_set`'s images are digits cut from touching ones (at its end).
    cut_digits: usize,
    test: &'a crate::data::Dataset,
    out: &'a Path,
    data: &'a Path,
}

/// Trains, evaluates, fits the gate, saves; `Some(message)` when stopped by Ctrl-C.
fn train_and_save(
    run: Run<'_>,
    held_out: Option<&crate::data::Dataset>,
    config: &crate::train::TrainConfig,
    threads: usize,
    load_seconds: f64,
    progress: &mut Progress,
    controls: Controls<'_>,
) -> anyhow::Result<Option<String>> {
    let Run { args, model, train_set, cut_digits, test, out, data: dir } = run;
    let spec = model.spec().clone();
    let classes = model.num_classes();
    let report = train_with(model, train_set, held_out, config, progress, controls)?;
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    match &report.ending {
        Ending::Interrupted { checkpoint } => {
            let at = checkpoint.as_ref().map_or(String::new(), |c| format!("; saved {}", c.display()));
            let how = checkpoint
                .as_ref()
                .map_or(String::new(), |c| format!(", continue with the same command and --resume {}", c.display()));
            return Ok(Some(format!("interrupted{at}{how}")));
        }
        Ending::EarlyStopped { best_epoch } => {
            println!("early stopping: the held-out loss stopped improving; kept the weights of epoch {best_epoch}")
        }
        Ending::Finished => {}
    }
    let history = report.history;
    let result = evaluate(model, test, config.loss);
    if !result.loss.is_finite() {
        return Err(Diverged(format!(
            "after training, the test loss is {}: training diverged, no model saved; try a smaller --lr (now {})",
            result.loss, config.lr
        ))
        .into());
    }
    println!("{}", result.summary_line());
    // The "not a digit" gate and the calibration, beside the network (digit readers only).
    let reject = if classes == 10 && model.input_shape() == [28, 28, 1] && !args.no_gate {
        // The pair reader sets whole digits side by side: MNIST's, not the cut ones appended.
        let config =
            RejectConfig { seed: args.seed, pair_digits: train_set.len() - cut_digits, ..RejectConfig::default() };
        // A spinner on a terminal (hidden otherwise, as the epochs' bar is):
        // on the full training set the fit takes two to three minutes.
        let spinner = (!args.quiet).then(|| {
            let spinner = ProgressBar::new_spinner();
            spinner.set_message(
                "fitting the not-a-digit judges and the pair reader beside the network (--no-gate skips them)",
            );
            spinner.enable_steady_tick(std::time::Duration::from_millis(200));
            spinner
        });
        // Fitted on the digits cut from touching ones too: fitted on the training digits alone
        // (2026-12-06, Intel Xeon, the four sets of 1,000 numbers of `CNN_CUT_DIGITS`), 1.68 % of
        // the digits apart read wrong and 5.19 % touching on average, against 1.63 and 5.07 %.
        let fitted = fit_reject(model, train_set, &config).map_err(anyhow::Error::msg);
        if let Some(spinner) = spinner {
            spinner.finish_and_clear();
        }
        let (reject, fitted) = fitted?;
        println!(
            "not-a-digit gate and verifier: {} digits against {} generated non-digits and {} wrong cuts, temperature {:.3}; \
             pair reader {:.1}s; {:.1}s in all",
            fitted.digits, fitted.negatives, fitted.pieces, fitted.temperature, fitted.seconds_pairs, fitted.seconds
        );
        Some((reject, fitted))
    } else {
        None
    };

    let images_per_sec = history.iter().map(|s| s.images_per_sec).sum::<f64>() / history.len().max(1) as f64;
    let training = serde_json::json!({
        "arch": spec.name,
        "config": config,
        "threads": threads,
        "data": dir.display().to_string(),
        "train_examples": train_set.len() - cut_digits,
        "cut_digits_added": cut_digits,
        "val_split": args.val_split,
        "test_accuracy": result.accuracy,
        "test_examples": test.len(),
        "train_seconds": report.train_seconds,
        "images_per_sec": images_per_sec,
        "chiffre_version": env!("CARGO_PKG_VERSION"),
        "reject": reject.as_ref().map(|r| &r.1),
    });
    save_with_reject(model, &training, reject.as_ref().map(|r| &r.0), out)?;
    let metrics = metrics_path(out);
    let lines: String = history.iter().map(|s| serde_json::to_string(s).map(|l| l + "\n")).collect::<Result<_, _>>()?;
    write_atomic(&metrics, lines.as_bytes()).with_context(|| format!("cannot write {}", metrics.display()))?;
    progress.finished(result.accuracy, result.loss, report.train_seconds, out);
    let recorded = progress.recorder.as_ref().map(|r| format!("; run {} in {}", r.id(), r.path().display()));
    println!("saved {} and {}{}", out.display(), metrics.display(), recorded.unwrap_or_default());
    if args.json {
        let summary = serde_json::json!({
            "arch": spec.name,
            "seed": args.seed,
            "threads": threads,
            "epochs": history.len(),
            "test_accuracy": result.accuracy,
            "test_correct": result.correct,
            "test_examples": test.len(),
            "test_loss": result.loss,
            "train_seconds": report.train_seconds,
            "reject_seconds": reject.as_ref().map(|r| r.1.seconds),
            "load_seconds": load_seconds,
            "images_per_sec": images_per_sec,
            "model": out.display().to_string(),
            "run": progress.recorder.as_ref().map(|r| r.id()),
        });
        println!("{summary}");
    }
    Ok(None)
}

/// `Adam(β 0.7, 0.9)`-style label of an optimizer for the first line.
fn optimizer_label(kind: &OptimizerKind) -> String {
    match *kind {
        OptimizerKind::Sgd { momentum } if momentum > 0.0 => format!("Sgd(momentum {momentum})"),
        OptimizerKind::Sgd { .. } => "Sgd".into(),
        OptimizerKind::RmsProp { .. } => "Rmsprop".into(),
        OptimizerKind::Adam { beta1, beta2, .. } if (beta1, beta2) == (0.9, 0.999) => "Adam".into(),
        OptimizerKind::Adam { beta1, beta2, .. } => format!("Adam(β {beta1}, {beta2})"),
        OptimizerKind::AdamW { beta1, beta2, weight_decay, .. } => {
            format!("AdamW(β {beta1}, {beta2}, λ {weight_decay})")
        }
    }
}

fn schedule_label(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Constant => String::new(),
        Schedule::Step { every, gamma } => format!(" ×{gamma} every {every} epochs"),
        Schedule::Cosine { .. } => " cosine".into(),
        Schedule::OneCycle { .. } => " one-cycle".into(),
    }
}
