//! The presets: the tutorial's three networks (in code), and the `fast` and
//! `best` recipes (spec files in `presets/`, built in).

use super::spec::{LayerSpec, ModelSpec};
use crate::layers::Padding;

/// Names accepted by `--arch`.
pub const PRESETS: &[&str] = &["perceptron", "mlp", "cnn", "fast", "best"];

/// The spec files of the recipe presets, as built in: (name, TOML).
pub const RECIPES: &[(&str, &str)] =
    &[("fast", include_str!("../../../../presets/fast.toml")), ("best", include_str!("../../../../presets/best.toml"))];

/// The same presets as JSON (made from the TOML files by build.rs), which
/// the engine reads without a TOML parser.
const RECIPES_JSON: &[(&str, &str)] = &[
    ("fast", include_str!(concat!(env!("OUT_DIR"), "/fast.json"))),
    ("best", include_str!(concat!(env!("OUT_DIR"), "/best.json"))),
];

/// Digits cut out of touching neighbours that the tutorial's CNN learns
/// besides the 60,000 training digits ([`crate::train::with_cut_digits`]):
/// the reader then reads a digit cut from its neighbour (a sliver of the
/// neighbour left on it, a stroke lost to the cut) as it reads one alone.
/// Measured on the 1,000 numbers of bench/numbers.sh (seed 2026) and on
/// three other sets of 1,000 (`CHIFFRE_SEED` 1, 7 and 11), 2026-12-06, Intel
/// Xeon, one training each with the judges refitted (a refit alone moves
/// these by about 0.3 point); the digit error apart, then touching, per set,
/// and the mean of the four:
///
/// | cut digits | apart: 2026, 1, 7, 11 (mean) | touching (mean) | MNIST test |
/// |---|---|---|---|
/// | none | 1.56, 1.52, 1.65, 1.74 % (1.62) | 5.51, 5.53, 5.45, 6.09 % (5.65) | 99.11 % |
/// | 20,000 | 1.51, 1.46, 1.45, 1.89 % (1.58) | 5.37, 5.62, 5.07, 5.17 % (5.31) | 99.19 % |
/// | 40,000 | 1.71, 1.52, 1.55, 1.74 % (1.63) | 5.51, 4.88, 4.75, 5.14 % (5.07) | 99.21 % |
/// | 60,000 | 1.66, 1.72, 1.80, 2.04 % (1.81) | 5.14, 5.16, 4.75, 4.60 % (4.91) | 99.36 % |
///
/// 40,000: the touching digits' error a tenth lower, the others' as before
/// (on the official set alone, 1.56 → 1.71 % apart and 5.51 % touching
/// either way: within the noise of one set). More of them make the reader
/// read the pieces of a wide digit cut in two as digits (an extra digit
/// where a wide one stands apart). Training takes two thirds longer (5 s →
/// 8 s an epoch on 2 cores, and about 15 s to compose them).
pub const CNN_CUT_DIGITS: usize = 40_000;

/// The tutorial's CNN, as the number reader's network, learns each training
/// image (digits and cut digits) turned, moved, zoomed and slanted a little
/// at random each epoch: the digits of people's numbers are not centred
/// and upright as MNIST's are (a slanted line, a digit scaled from its own
/// height, a cut that shifts its centre). Measured on the four sets of
/// 1,000 numbers of [`CNN_CUT_DIGITS`] (2026-12-06, Intel Xeon, one training
/// each with its judges; digit error apart, then touching, per set and the
/// mean; MNIST test):
///
/// | augmentation | training seed | apart: 2026, 1, 7, 11 (mean) | touching (mean) | MNIST test |
/// |---|---|---|---|---|
/// | none | 1 | 1.56, 1.31, 1.65, 1.48 % (1.50) | 4.97, 5.38, 4.50, 4.91 % (4.94) | 99.24 % |
/// | ±10°, ±2 px, ±10 %, shear ±5° | 1 | 1.66, 1.25, 1.10, 1.33 % (1.34) | 4.30, 4.22, 3.96, 4.60 % (4.27) | 99.38 % |
/// | ±10°, ±2 px, ±15 %, shear ±10° | 1 | 1.71, 1.20, 1.20, 1.84 % (1.49) | 3.86, 4.91, 4.05, 4.60 % (4.36) | 99.32 % |
/// | none | 2 | 1.61, 1.25, 1.55, 1.94 % (1.59) | 5.10, 4.97, 4.91, 4.95 % (4.98) | 99.10 % |
/// | ±10°, ±2 px, ±10 %, shear ±5° | 2 | 1.76, 1.41, 2.16, 1.89 % (1.81) | 4.73, 5.25, 4.62, 4.53 % (4.78) | 99.18 % |
///
/// Over the two training seeds, the touching digits' error is lower with it
/// (4.96 → 4.53 % on average) and the others' the same within the noise
/// (1.55 → 1.57 %): a training's own seed moves these means by a quarter of
/// a point. (8 epochs instead of 5, seed 1: 1.84 / 4.76 %: worse.) The
/// ranges are [`crate::data::Augment`]'s defaults (those of `--augment`);
/// the time of an epoch does not change. `--no-augment --cut-digits 0` is
/// the tutorial's own recipe.
pub const CNN_AUGMENT: crate::data::Augment =
    crate::data::Augment { rotation: 10.0, shift: 2.0, zoom: 0.1, shear: 5.0, elastic_alpha: 0.0, elastic_sigma: 4.0 };

/// The spec of a preset for `classes` output classes, or `None` for an unknown name.
pub fn preset(name: &str, classes: usize) -> Option<ModelSpec> {
    use LayerSpec::*;
    if let Some((_, text)) = RECIPES_JSON.iter().find(|(n, _)| *n == name) {
        let mut spec = ModelSpec::parse(text, "json").expect("the built-in presets parse");
        if let Some(Dense { units, .. }) = spec.layers.last_mut() {
            *units = classes;
        }
        return Some(spec);
    }
    let dense = |units| Dense { units, init: Default::default() };
    let conv = |filters| Conv2d { filters, kernel: 3, stride: 1, padding: Padding::Valid, init: Default::default() };
    let pool = MaxPool2d { size: 2, stride: None };
    let layers = match name {
        // One layer of weighted sums: 784 inputs → one score per class.
        "perceptron" => vec![Flatten, dense(classes)],
        // One hidden layer of 512 ReLU units.
        "mlp" => vec![Flatten, dense(512), Relu, dense(classes)],
        // Chollet's CNN from the tutorial: 93,322 parameters for 10 classes.
        "cnn" => vec![
            conv(32),
            Relu,
            pool.clone(),
            conv(64),
            Relu,
            pool,
            conv(64),
            Relu,
            Flatten,
            dense(64),
            Relu,
            dense(classes),
        ],
        _ => return None,
    };
    // The tutorial's CNN is the number reader's network (`models/cnn.safetensors`):
    // it learns digits cut from touching neighbours too, as it will see them,
    // and each image moved a little ([`CNN_AUGMENT`]).
    let training = (name == "cnn").then(|| serde_json::json!({ "cut_digits": CNN_CUT_DIGITS, "augment": CNN_AUGMENT }));
    Some(ModelSpec { name: name.to_string(), input: [28, 28, 1], layers, training })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sequential;

    #[test]
    fn every_preset_builds_and_the_recipes_carry_their_training() {
        for name in PRESETS {
            let spec = preset(name, 10).unwrap();
            Sequential::new(&spec, 1).unwrap();
            assert_eq!(spec.training.is_some(), RECIPES.iter().any(|(n, _)| n == name) || *name == "cnn", "{name}");
        }
    }

    #[test]
    fn the_readers_augmentation_has_the_ranges_of_augment() {
        // (That the cnn's recipe carries it: train::settings' recipe test.)
        assert_eq!(CNN_AUGMENT, crate::data::Augment::default());
    }

    #[cfg(feature = "toml")]
    #[test]
    fn the_built_in_json_is_the_toml_file() {
        for ((name, toml), (json_name, _)) in RECIPES.iter().zip(RECIPES_JSON) {
            assert_eq!(name, json_name);
            let mut from_file = ModelSpec::parse(toml, "toml").unwrap();
            if let Some(LayerSpec::Dense { units, .. }) = from_file.layers.last_mut() {
                *units = 10;
            }
            assert_eq!(preset(name, 10), Some(from_file), "{name}");
        }
    }
}
