//! The presets: the tutorial's three networks (in code), and the `fast` and
//! `best` recipes (spec files in `presets/`, built in).

use super::spec::{LayerSpec, ModelSpec};
use crate::layers::Padding;

/// Names accepted by `--arch`.
pub const PRESETS: &[&str] = &["perceptron", "mlp", "cnn", "fast", "best"];

/// The spec files of the recipe presets, as built in: (name, TOML).
pub const RECIPES: &[(&str, &str)] =
    &[("fast", include_str!("../../../../presets/fast.toml")), ("best", include_str!("../../../../presets/best.toml"))];

/// The spec of a preset for `classes` output classes, or `None` for an unknown name.
pub fn preset(name: &str, classes: usize) -> Option<ModelSpec> {
    use LayerSpec::*;
    if let Some((_, text)) = RECIPES.iter().find(|(n, _)| *n == name) {
        let mut spec = ModelSpec::parse(text, "toml").expect("the built-in presets parse");
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
    Some(ModelSpec { name: name.to_string(), input: [28, 28, 1], layers, training: None })
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
            assert_eq!(spec.training.is_some(), RECIPES.iter().any(|(n, _)| n == name), "{name}");
        }
    }
}
