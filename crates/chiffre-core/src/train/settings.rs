//! The settings of a training run, in one place: [`TrainConfig`]. Spec files
//! (their `[training]` section), the command line's flags and library users
//! all fill it; it checks itself once ([`TrainConfig::validate`]), naming
//! the setting by its field ([`Setting`]), so that each caller can say it in
//! its own terms (the command line names its flag).

use super::schedule::Schedule;
use crate::data::Augment;
use crate::loss::Loss;
use crate::model::ModelSpec;
use crate::optim::OptimizerKind;
use serde::{Deserialize, Serialize};

/// Settings of one training run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// The update rule.
    pub optimizer: OptimizerKind,
    /// The learning rate.
    pub lr: f32,
    /// The loss.
    pub loss: Loss,
    /// Seed of the epoch shuffles and augmentation (the weights' seed is given to the model).
    pub seed: u64,
    /// How the learning rate changes over the run (constant).
    #[serde(default)]
    pub schedule: Schedule,
    /// Epochs of linear warm-up before the schedule (0).
    #[serde(default)]
    pub warmup_epochs: f32,
    /// Label smoothing ε of the cross-entropy (0).
    #[serde(default)]
    pub label_smoothing: f32,
    /// Stop when the held-out loss has not improved for this many epochs,
    /// and keep the best epoch's weights (off).
    #[serde(default)]
    pub early_stopping: Option<usize>,
    /// Random affine augmentation of the training images (off).
    #[serde(default)]
    pub augment: Option<Augment>,
    /// Digits cut out of touching neighbours, composed from the training
    /// digits, added to the training images (0): see [`with_cut_digits`].
    #[serde(default)]
    pub cut_digits: usize,
}

impl Default for TrainConfig {
    /// The tutorial's settings: 5 epochs of batch 64, RMSprop at 1e-3, cross-entropy, seed 1.
    fn default() -> Self {
        TrainConfig {
            epochs: 5,
            batch_size: 64,
            optimizer: OptimizerKind::RMSPROP,
            lr: 1e-3,
            loss: Loss::CrossEntropy,
            seed: 1,
            schedule: Schedule::Constant,
            warmup_epochs: 0.0,
            label_smoothing: 0.0,
            early_stopping: None,
            augment: None,
            cut_digits: 0,
        }
    }
}

/// The settings of a [`TrainConfig`], by field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// `epochs`.
    Epochs,
    /// `batch_size`.
    BatchSize,
    /// `optimizer` (and its hyper-parameters).
    Optimizer,
    /// `lr`.
    Lr,
    /// `schedule`.
    Schedule,
    /// `warmup_epochs`.
    WarmupEpochs,
    /// `label_smoothing`.
    LabelSmoothing,
    /// `early_stopping`.
    EarlyStopping,
    /// `augment`.
    Augment,
}

impl Setting {
    /// The field's name, as in spec files.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Epochs => "epochs",
            Setting::BatchSize => "batch_size",
            Setting::Optimizer => "optimizer",
            Setting::Lr => "lr",
            Setting::Schedule => "schedule",
            Setting::WarmupEpochs => "warmup_epochs",
            Setting::LabelSmoothing => "label_smoothing",
            Setting::EarlyStopping => "early_stopping",
            Setting::Augment => "augment",
        }
    }
}

/// A setting out of its range: which one, and what is wrong.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("training setting {}: {message}", setting.name())]
pub struct SettingError {
    /// The setting.
    pub setting: Setting,
    /// What is wrong, with the value.
    pub message: String,
}

impl TrainConfig {
    /// Checks every setting's range; the first one out of range is the error.
    pub fn validate(&self) -> Result<(), SettingError> {
        let fail = |setting: Setting, message: String| Err(SettingError { setting, message });
        if self.epochs == 0 {
            return fail(Setting::Epochs, "must be at least 1".into());
        }
        if self.batch_size == 0 {
            return fail(Setting::BatchSize, "must be at least 1".into());
        }
        if let Err(message) = self.optimizer.validate() {
            return fail(Setting::Optimizer, message);
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return fail(Setting::Lr, format!("must be a positive number, got {}", self.lr));
        }
        if let Err(message) = self.schedule.validate() {
            return fail(Setting::Schedule, message);
        }
        if !(self.warmup_epochs.is_finite() && self.warmup_epochs >= 0.0) {
            return fail(Setting::WarmupEpochs, format!("must be a number of epochs ≥ 0, got {}", self.warmup_epochs));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return fail(Setting::LabelSmoothing, format!("must be in [0, 1), got {}", self.label_smoothing));
        }
        if self.early_stopping == Some(0) {
            return fail(Setting::EarlyStopping, "must be at least 1 epoch".into());
        }
        match self.augment.as_ref().map(Augment::validate) {
            Some(Err(message)) => fail(Setting::Augment, message),
            _ => Ok(()),
        }
    }
}

/// The training settings a spec file may carry in its `[training]` section
/// (each one optional): the defaults of a run, which the caller's own
/// settings (the command line's flags) override.
///
/// ```toml
/// [training]
/// epochs = 1
/// batch_size = 256
/// lr = 0.01
/// optimizer = { name = "adam", beta1 = 0.7, beta2 = 0.9, eps = 1e-8 }
/// schedule = { name = "one_cycle" }
/// warmup_epochs = 0.0
/// label_smoothing = 0.0
/// augment = { rotation = 10.0, shift = 2.0, zoom = 0.1, shear = 5.0 }   # elastic_alpha, elastic_sigma: optional
/// cut_digits = 40000
/// ```
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Recipe {
    /// Passes over the training set.
    pub epochs: Option<usize>,
    /// Examples per step.
    pub batch_size: Option<usize>,
    /// The update rule with its hyper-parameters.
    pub optimizer: Option<OptimizerKind>,
    /// The (peak) learning rate.
    pub lr: Option<f32>,
    /// The learning-rate schedule.
    pub schedule: Option<Schedule>,
    /// Epochs of linear warm-up.
    pub warmup_epochs: Option<f32>,
    /// Label smoothing ε.
    pub label_smoothing: Option<f32>,
    /// Augmentation ranges; present means augmentation is on.
    pub augment: Option<Augment>,
    /// Digits cut out of touching neighbours added to the training images.
    pub cut_digits: Option<usize>,
}

/// A spec's `[training]` section that does not read as a [`Recipe`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("the spec's [training] section: {0}")]
pub struct RecipeError(pub String);

impl Recipe {
    /// The recipe a spec carries (the empty recipe when it has none).
    pub fn of(spec: &ModelSpec) -> Result<Recipe, RecipeError> {
        match &spec.training {
            None => Ok(Recipe::default()),
            Some(table) => Recipe::deserialize(table).map_err(|e| RecipeError(e.to_string())),
        }
    }

    /// The recipe over the tutorial's defaults ([`TrainConfig::default`]),
    /// with the optimizer's own default learning rate when the recipe
    /// names an optimizer but no rate: what a library user who trains a
    /// preset as it is meant to be trained starts from.
    pub fn over_defaults(&self) -> TrainConfig {
        let defaults = TrainConfig::default();
        let optimizer = self.optimizer.unwrap_or(defaults.optimizer);
        TrainConfig {
            epochs: self.epochs.unwrap_or(defaults.epochs),
            batch_size: self.batch_size.unwrap_or(defaults.batch_size),
            optimizer,
            lr: self.lr.unwrap_or(optimizer.default_lr()),
            schedule: self.schedule.unwrap_or(defaults.schedule),
            warmup_epochs: self.warmup_epochs.unwrap_or(defaults.warmup_epochs),
            label_smoothing: self.label_smoothing.unwrap_or(defaults.label_smoothing),
            augment: self.augment.or(defaults.augment),
            cut_digits: self.cut_digits.unwrap_or(defaults.cut_digits),
            ..defaults
        }
    }
}

/// Whether cut digits ([`with_cut_digits`]) can be composed from `data`:
/// 28×28 digits of 10 classes (not the tutorial's X and O, say).
pub fn takes_cut_digits(data: &crate::data::Dataset) -> bool {
    (data.rows, data.cols) == (28, 28) && data.num_classes() == 10
}

/// The images to train a digit reader on: `data`, then, when `config`
/// asks for them ([`TrainConfig::cut_digits`]) and `data` holds 28×28
/// digits of 10 classes ([`takes_cut_digits`]; otherwise `data` alone),
/// that many digits cut out of touching neighbours (at most as many as
/// `data` holds: a quick run on a few images stays quick)
/// ([`crate::segment::tried::cut_digits`], composed from `data`'s own
/// digits with the run's seed: the same set every time). A reader trained
/// on them reads a digit cut from its neighbour (with a sliver of it, or a
/// stroke lost to the cut) as it reads one alone.
pub fn with_cut_digits(mut data: crate::data::Dataset, config: &TrainConfig) -> crate::data::Dataset {
    if config.cut_digits == 0 || !takes_cut_digits(&data) {
        return data;
    }
    let count = config.cut_digits.min(data.len());
    let cut = crate::segment::tried::cut_digits(&data, config.seed ^ CUT_DIGITS_STREAM, count);
    let appended = data.append(cut);
    debug_assert!(appended.is_ok(), "cut digits are 28×28, as the digits they come from");
    data
}

/// The stream of composed pictures that cut digits come from (apart from
/// the judges' own, [`crate::reject::fit`]).
const CUT_DIGITS_STREAM: u64 = 0xC07;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_each_range_is_checked() {
        assert_eq!(TrainConfig::default().validate(), Ok(()));
        let bad = [
            (TrainConfig { epochs: 0, ..Default::default() }, Setting::Epochs),
            (TrainConfig { batch_size: 0, ..Default::default() }, Setting::BatchSize),
            (TrainConfig { lr: f32::NAN, ..Default::default() }, Setting::Lr),
            (TrainConfig { optimizer: OptimizerKind::Sgd { momentum: 1.0 }, ..Default::default() }, Setting::Optimizer),
            (
                TrainConfig { schedule: Schedule::Step { every: 0, gamma: 0.5 }, ..Default::default() },
                Setting::Schedule,
            ),
            (TrainConfig { warmup_epochs: -1.0, ..Default::default() }, Setting::WarmupEpochs),
            (TrainConfig { label_smoothing: 1.0, ..Default::default() }, Setting::LabelSmoothing),
            (TrainConfig { early_stopping: Some(0), ..Default::default() }, Setting::EarlyStopping),
        ];
        for (config, setting) in bad {
            let error = config.validate().unwrap_err();
            assert_eq!(error.setting, setting, "{error}");
            assert!(!error.message.contains("--"), "the library speaks of settings, not flags: {error}");
        }
    }

    #[test]
    fn cut_digits_are_added_to_digits_only_and_no_more_than_there_are() {
        // 40 digits of 10 classes (each a bar at its own place), 28×28.
        let images: Vec<u8> = (0..40usize)
            .flat_map(|n| {
                (0..784usize)
                    .map(move |i| if (4..24).contains(&(i / 28)) && i % 28 == 4 + n % 10 * 2 { 255 } else { 0 })
            })
            .collect();
        let labels: Vec<u8> = (0..40).map(|n| (n % 10) as u8).collect();
        let digits = crate::data::Dataset::new(images, labels, 28, 28);
        let asked = TrainConfig { cut_digits: 1000, ..TrainConfig::default() };
        assert!(takes_cut_digits(&digits));
        let with = with_cut_digits(digits.clone(), &asked);
        assert!(with.len() > digits.len() && with.len() <= 2 * digits.len(), "{} images", with.len());
        assert_eq!(&with.images[..digits.images.len()], &digits.images[..], "the set's own images first");
        let none = with_cut_digits(digits.clone(), &TrainConfig::default());
        assert_eq!(none.len(), digits.len());
        // Not digits (two classes, as the tutorial's X and O): nothing added, and said so.
        let xo = crate::data::Dataset::new(vec![0; 2 * 784], vec![0, 1], 28, 28);
        assert!(!takes_cut_digits(&xo));
        assert_eq!(with_cut_digits(xo, &asked).len(), 2);
    }

    #[test]
    fn a_spec_carries_its_recipe_and_a_wrong_one_is_refused() {
        let best = crate::model::preset("best", 10).unwrap();
        let recipe = Recipe::of(&best).unwrap();
        assert!(recipe.augment.is_some() && recipe.epochs.is_some(), "{recipe:?}");
        let config = recipe.over_defaults();
        assert_eq!(config.epochs, recipe.epochs.unwrap());
        assert_eq!(config.validate(), Ok(()));
        let cnn = Recipe::of(&crate::model::preset("cnn", 10).unwrap()).unwrap();
        let reader = Recipe {
            cut_digits: Some(crate::model::CNN_CUT_DIGITS),
            augment: Some(crate::model::CNN_AUGMENT),
            ..Recipe::default()
        };
        assert_eq!(cnn, reader);
        assert_eq!(Recipe::of(&crate::model::preset("mlp", 10).unwrap()), Ok(Recipe::default()));

        let typo = ModelSpec::parse("layers = []\n[training]\nepoch = 3\n", "toml").unwrap();
        let error = Recipe::of(&typo).unwrap_err().to_string();
        assert!(error.contains("[training]") && error.contains("epoch"), "{error}");
        let wrong_type = ModelSpec::parse(r#"{"layers": [], "training": {"lr": "fast"}}"#, "json").unwrap();
        assert!(Recipe::of(&wrong_type).is_err());
    }
}
