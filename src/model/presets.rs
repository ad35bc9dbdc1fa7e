//! The tutorial's three networks.

use super::spec::{LayerSpec, ModelSpec};
use crate::layers::Padding;

/// Names accepted by `--arch`.
pub const PRESETS: &[&str] = &["perceptron", "mlp", "cnn"];

/// The spec of a preset for `classes` output classes, or `None` for an unknown name.
pub fn preset(name: &str, classes: usize) -> Option<ModelSpec> {
    use LayerSpec::*;
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
    Some(ModelSpec { name: name.to_string(), input: [28, 28, 1], layers })
}
