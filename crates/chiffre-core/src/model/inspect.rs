//! The inspection hook: what every layer of a [`Sequential`] makes of one
//! example, taken from the very forward pass that training and prediction
//! run (no copy of it), for the report and the web page.

use super::Sequential;
use crate::layers::Layer;
use crate::layers::Mode;

/// One layer's output for one example.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerOutput {
    /// Position of the layer, from 0.
    pub index: usize,
    /// The layer's kind, as in spec files (`"conv2d"`, `"relu"`…).
    pub kind: &'static str,
    /// The per-example output shape: `[H, W, C]` for feature maps, `[N]` for vectors.
    pub shape: Vec<usize>,
    /// The values, channels-last (`(y·W + x)·C + c` for a feature map).
    pub values: Vec<f32>,
}

impl LayerOutput {
    /// Channel `c` of a feature map `[H, W, C]` as a row-major `H×W` image;
    /// `None` for a vector output or a channel out of range.
    pub fn channel(&self, c: usize) -> Option<Vec<f32>> {
        let &[h, w, channels] = self.shape.as_slice() else { return None };
        (c < channels).then(|| (0..h * w).map(|p| self.values[p * channels + c]).collect())
    }

    /// Number of channels of a feature map, or 0 for a vector.
    pub fn channels(&self) -> usize {
        match self.shape.as_slice() {
            &[_, _, c] => c,
            _ => 0,
        }
    }

    /// Smallest and largest value (0, 0 when empty).
    pub fn range(&self) -> (f32, f32) {
        if self.values.is_empty() {
            return (0.0, 0.0);
        }
        self.values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
    }
}

impl Sequential {
    /// Runs one example (`H·W·C` values, channels-last) through the network
    /// in inference mode and returns every layer's output, in order; the last
    /// one holds the class scores (before softmax).
    ///
    /// # Panics
    /// When `example` does not hold exactly one input of the model's shape.
    pub fn inspect(&mut self, example: &[f32]) -> Vec<LayerOutput> {
        let per = self.input_shape().iter().product::<usize>();
        assert_eq!(example.len(), per, "inspect takes one example of {per} values");
        self.input_mut(1).data_mut().copy_from_slice(example);
        self.forward_each_layer(Mode::Eval);
        self.layers()
            .iter()
            .zip(&self.activations()[1..])
            .enumerate()
            .map(|(index, (layer, act))| LayerOutput {
                index,
                kind: layer.kind(),
                shape: layer.output_shape().to_vec(),
                values: act.data().to_vec(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{preset, Sequential};
    use crate::tensor::Tensor;

    #[test]
    fn inspect_gives_every_layer_and_the_forward_scores() {
        let mut net = Sequential::new(&preset("cnn", 10).unwrap(), 3).unwrap();
        let example: Vec<f32> = (0..784).map(|i| ((i * 13) % 17) as f32 / 16.0).collect();
        let outputs = net.inspect(&example);
        assert_eq!(outputs.len(), net.layers().len());
        assert_eq!(outputs[0].shape, vec![26, 26, 32]);
        assert_eq!(outputs[0].kind, "conv2d");
        let relu = &outputs[1];
        assert!(relu.values.iter().all(|&v| v >= 0.0), "ReLU output has negatives");
        assert_eq!(relu.channel(5).unwrap().len(), 26 * 26);
        assert_eq!(relu.channel(5).unwrap()[27], relu.values[27 * 32 + 5]);
        assert!(relu.channel(32).is_none());
        let scores = outputs.last().unwrap().values.clone();
        let batch = net.forward(&Tensor::from_vec(&[1, 28, 28, 1], example).unwrap(), crate::layers::Mode::Eval);
        assert_eq!(scores, batch.data());
    }
}
