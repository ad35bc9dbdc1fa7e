//! `chiffre train`'s flags made into the library's settings: each flag over
//! the spec's `[training]` over the tutorial's defaults, flags that do not
//! apply refused, and the library's checks said with the flags' names.

use super::{OptimizerName, ScheduleName, TrainArgs};
use crate::data::Augment;
use crate::model::ModelSpec;
use crate::optim::OptimizerKind;
use crate::train::{Recipe, Schedule, Setting, SettingError, TrainConfig};

/// Refuses what the flags' parsers and [`TrainConfig::validate`] cannot see,
/// before any work is done.
pub(super) fn validate(args: &TrainArgs) -> anyhow::Result<()> {
    if args.early_stopping.is_some() && args.val_split == 0.0 {
        anyhow::bail!("--early-stopping watches the held-out loss: give --val-split too");
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

/// The flags that set `setting`, for messages.
fn flags_of(setting: Setting) -> &'static str {
    match setting {
        Setting::Epochs => "--epochs",
        Setting::BatchSize => "--batch-size",
        Setting::Optimizer => "--optimizer, --momentum, --betas, --weight-decay",
        Setting::Lr => "--lr",
        Setting::Schedule => "--schedule, --step-every, --step-gamma",
        Setting::WarmupEpochs => "--warmup",
        Setting::LabelSmoothing => "--label-smoothing",
        Setting::EarlyStopping => "--early-stopping",
        Setting::Augment => "--augment",
    }
}

/// A setting out of range, said with the flags that set it (or the spec's `[training]`).
fn setting_error(e: &SettingError) -> anyhow::Error {
    anyhow::anyhow!("{} (or {} in the spec's [training]): {}", flags_of(e.setting), e.setting.name(), e.message)
}

/// The training settings: the flags, then the spec's `[training]`, then the tutorial's defaults.
pub(super) fn settings(args: &TrainArgs, spec: &ModelSpec) -> anyhow::Result<TrainConfig> {
    let recipe = Recipe::of(spec)?;
    let defaults = TrainConfig::default();
    let [beta1, beta2] = match args.betas {
        Some([b1, b2]) => [Some(b1), Some(b2)],
        None => [None, None],
    };
    let optimizer = match (args.optimizer, recipe.optimizer) {
        (Some(OptimizerName::Sgd), _) => OptimizerKind::Sgd { momentum: args.momentum.unwrap_or(0.0) },
        (Some(OptimizerName::Rmsprop), _) => OptimizerKind::RMSPROP,
        (Some(OptimizerName::Adam), _) => OptimizerKind::ADAM,
        (Some(OptimizerName::Adamw), _) => OptimizerKind::ADAMW,
        (None, Some(kind)) => kind,
        (None, None) => defaults.optimizer,
    };
    let optimizer = match optimizer {
        OptimizerKind::Adam { beta1: b1, beta2: b2, eps } => {
            OptimizerKind::Adam { beta1: beta1.unwrap_or(b1), beta2: beta2.unwrap_or(b2), eps }
        }
        OptimizerKind::AdamW { beta1: b1, beta2: b2, eps, weight_decay } => OptimizerKind::AdamW {
            beta1: beta1.unwrap_or(b1),
            beta2: beta2.unwrap_or(b2),
            eps,
            weight_decay: args.weight_decay.unwrap_or(weight_decay),
        },
        OptimizerKind::Sgd { momentum } => OptimizerKind::Sgd { momentum: args.momentum.unwrap_or(momentum) },
        other => other,
    };
    // A flag that does not apply to the chosen rule is refused, not ignored.
    let refuse = |flag: &str, applies_to: &str, chosen: &str| {
        anyhow::anyhow!("{flag} applies to {applies_to} only; this run uses {chosen}")
    };
    let name = optimizer.name();
    if args.momentum.is_some() && !matches!(optimizer, OptimizerKind::Sgd { .. }) {
        return Err(refuse("--momentum", "--optimizer sgd", &format!("--optimizer {name}")));
    }
    if args.betas.is_some() && !matches!(optimizer, OptimizerKind::Adam { .. } | OptimizerKind::AdamW { .. }) {
        return Err(refuse("--betas", "--optimizer adam and adamw", &format!("--optimizer {name}")));
    }
    if args.weight_decay.is_some() && !matches!(optimizer, OptimizerKind::AdamW { .. }) {
        return Err(refuse("--weight-decay", "--optimizer adamw", &format!("--optimizer {name}")));
    }
    let schedule = match args.schedule {
        Some(ScheduleName::Constant) => Schedule::Constant,
        Some(ScheduleName::Step) => {
            Schedule::Step { every: args.step_every.unwrap_or(1), gamma: args.step_gamma.unwrap_or(0.1) }
        }
        Some(ScheduleName::Cosine) => Schedule::Cosine { final_fraction: 0.0 },
        Some(ScheduleName::OneCycle) => Schedule::ONE_CYCLE,
        None => recipe.schedule.unwrap_or_default(),
    };
    if (args.step_every.is_some() || args.step_gamma.is_some()) && !matches!(schedule, Schedule::Step { .. }) {
        return Err(anyhow::anyhow!(
            "--step-every and --step-gamma apply to --schedule step only; this run uses another schedule"
        ));
    }
    let config = TrainConfig {
        epochs: args.epochs.or(recipe.epochs).unwrap_or(defaults.epochs),
        batch_size: args.batch_size.or(recipe.batch_size).unwrap_or(defaults.batch_size),
        optimizer,
        lr: args.lr.or(recipe.lr).unwrap_or(optimizer.default_lr()),
        loss: args.loss.into(),
        seed: args.seed,
        schedule,
        warmup_epochs: args.warmup.or(recipe.warmup_epochs).unwrap_or(0.0),
        label_smoothing: args.label_smoothing.or(recipe.label_smoothing).unwrap_or(0.0),
        early_stopping: args.early_stopping,
        augment: match (args.no_augment, args.augment, recipe.augment) {
            (true, _, _) => None,
            (false, _, Some(ranges)) => Some(ranges),
            (false, true, None) => Some(Augment::default()),
            (false, false, None) => None,
        },
        cut_digits: args.cut_digits.or(recipe.cut_digits).unwrap_or(defaults.cut_digits),
    };
    config.validate().map_err(|e| setting_error(&e))?;
    Ok(config)
}
