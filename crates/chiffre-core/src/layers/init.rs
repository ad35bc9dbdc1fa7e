//! Initial weights: small random values so that the signal neither dies nor
//! explodes through the layers (the tutorial's "random initial weights").

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How to draw a layer's initial weights; biases always start at zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// Glorot (Xavier) uniform: `U(-a, a)`, `a = sqrt(6 / (fan_in + fan_out))`.
    /// Keras' default, suited to sigmoid/tanh and fine for ReLU.
    #[default]
    Glorot,
    /// He (Kaiming) uniform: `U(-a, a)`, `a = sqrt(6 / fan_in)`, made for ReLU.
    He,
}

impl Init {
    /// Fills `weights` for a layer with the given fan-in and fan-out.
    pub fn fill(self, weights: &mut [f32], fan_in: usize, fan_out: usize, rng: &mut ChaCha8Rng) {
        let limit = match self {
            Init::Glorot => (6.0 / (fan_in + fan_out).max(1) as f64).sqrt(),
            Init::He => (6.0 / fan_in.max(1) as f64).sqrt(),
        } as f32;
        for w in weights {
            *w = rng.random_range(-limit..=limit);
        }
    }
}
