//! The feature maps the page shows: the output of the first convolution
//! (after its activation, when one follows it, as Keras draws them) and of
//! the first pooling layer, from [`crate::Model::inspect`].

use crate::model::LayerOutput;
use serde::Serialize;

/// Activation kinds that belong with the convolution before them.
const ACTIVATIONS: &[&str] = &["relu", "sigmoid", "tanh"];

/// One layer's feature maps, ready to draw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureMaps {
    /// Position of the layer whose output this is.
    pub index: usize,
    /// What it shows: `"conv2d + relu"`, `"max_pool2d"`…
    pub label: String,
    /// `[height, width, channels]`.
    pub shape: [usize; 3],
    /// Smallest and largest value over all channels.
    pub range: [f32; 2],
    /// One picture per channel, row-major, each stretched to 0..255 between
    /// its own smallest and largest value (a flat channel is all 0).
    pub channels: Vec<Vec<u8>>,
}

/// The first convolution's (with its activation) and the first pooling
/// layer's maps; none for a network without them (an MLP).
pub fn feature_maps(layers: &[LayerOutput]) -> Vec<FeatureMaps> {
    let mut out = Vec::new();
    if let Some(conv) = layers.iter().position(|l| l.kind == "conv2d") {
        match layers.get(conv + 1) {
            Some(next) if ACTIVATIONS.contains(&next.kind) => {
                out.extend(maps_of(next, format!("{} + {}", layers[conv].kind, next.kind)))
            }
            _ => out.extend(maps_of(&layers[conv], layers[conv].kind.to_string())),
        }
    }
    if let Some(pool) = layers.iter().find(|l| l.kind.contains("pool")) {
        out.extend(maps_of(pool, pool.kind.to_string()));
    }
    out
}

/// One layer's channels as 8-bit pictures; `None` for a vector output.
fn maps_of(layer: &LayerOutput, label: String) -> Option<FeatureMaps> {
    let &[h, w, c] = layer.shape.as_slice() else { return None };
    let (lo, hi) = layer.range();
    let channels = (0..c).filter_map(|ch| layer.channel(ch)).map(|values| to_bytes(&values)).collect();
    Some(FeatureMaps { index: layer.index, label, shape: [h, w, c], range: [lo, hi], channels })
}

/// Stretches values to 0..255 between their smallest and largest.
fn to_bytes(values: &[f32]) -> Vec<u8> {
    let (lo, hi) = values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let span = hi - lo;
    // NaN (no values, or non-finite ones) counts as flat too.
    if span.is_nan() || span <= 1e-12 {
        return vec![0; values.len()];
    }
    values.iter().map(|&v| ((v - lo) / span * 255.0).round().clamp(0.0, 255.0) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{preset, Sequential};

    #[test]
    fn the_cnn_gives_its_first_convolution_and_pooling() {
        let mut net = Sequential::new(&preset("cnn", 10).unwrap(), 1).unwrap();
        let example: Vec<f32> = (0..784).map(|i| ((i * 7) % 13) as f32 / 12.0).collect();
        let maps = feature_maps(&net.inspect(&example));
        assert_eq!(maps.len(), 2);
        assert_eq!(maps[0].label, "conv2d + relu");
        assert_eq!(maps[0].shape, [26, 26, 32]);
        assert_eq!(maps[0].channels.len(), 32);
        assert!(maps[0].channels.iter().all(|c| c.len() == 26 * 26));
        assert_eq!(maps[1].label, "max_pool2d");
        assert_eq!(maps[1].shape, [13, 13, 32]);
        assert!(maps[0].range[0] >= 0.0, "after ReLU nothing is negative");
    }

    #[test]
    fn an_mlp_has_no_maps_and_flat_channels_are_black() {
        let mut net = Sequential::new(&preset("mlp", 10).unwrap(), 1).unwrap();
        assert!(feature_maps(&net.inspect(&[0.5; 784])).is_empty());
        assert_eq!(to_bytes(&[3.0, 3.0]), vec![0, 0]);
        assert_eq!(to_bytes(&[1.0, 2.0, 3.0]), vec![0, 128, 255]);
    }
}
