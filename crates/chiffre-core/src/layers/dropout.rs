//! Dropout: during training, zero each value with probability `rate` and scale
//! the survivors by `1 / (1 - rate)`, so that inference needs no change.
//!
//! Shapes: output `y` has the shape of input `x`.

use super::{Layer, Mode};
use crate::tensor::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Inverted dropout with its own seeded random stream.
#[derive(Clone, Debug)]
pub struct Dropout {
    shape: Vec<usize>,
    rate: f32,
    rng: ChaCha8Rng,
    seed: u64,
    /// The scale applied to each value in the last training pass (0 or 1/(1-rate)).
    mask: Vec<f32>,
}

impl Dropout {
    /// Dropout with probability `rate` in `[0, 1)`, seeded.
    pub fn new(shape: &[usize], rate: f32, seed: u64) -> Result<Self, String> {
        if !(0.0..1.0).contains(&rate) {
            return Err(format!("dropout rate must be in [0, 1), got {rate}"));
        }
        Ok(Dropout { shape: shape.to_vec(), rate, rng: ChaCha8Rng::seed_from_u64(seed), seed, mask: Vec::new() })
    }
}

impl Layer for Dropout {
    fn kind(&self) -> &'static str {
        "dropout"
    }

    fn output_shape(&self) -> &[usize] {
        &self.shape
    }

    fn forward(&mut self, x: &Tensor, y: &mut Tensor, mode: Mode) {
        y.resize(x.shape());
        if mode == Mode::Eval || self.rate == 0.0 {
            y.data_mut().copy_from_slice(x.data());
            self.mask.clear();
            self.mask.resize(x.len(), 1.0);
            return;
        }
        let keep = 1.0 / (1.0 - self.rate);
        self.mask.resize(x.len(), 0.0);
        for m in self.mask.iter_mut() {
            *m = if self.rng.random::<f32>() < self.rate { 0.0 } else { keep };
        }
        // y = x · mask
        for ((y, x), m) in y.data_mut().iter_mut().zip(x.data()).zip(&self.mask) {
            *y = x * m;
        }
    }

    fn backward(&mut self, x: &Tensor, _y: &Tensor, dy: &Tensor, dx: Option<&mut Tensor>) {
        if let Some(dx) = dx {
            dx.resize(x.shape());
            // from y = x · mask:  dx = dy · mask
            for ((dx, dy), m) in dx.data_mut().iter_mut().zip(dy.data()).zip(&self.mask) {
                *dx = dy * m;
            }
        }
    }

    fn rng_state(&self) -> Option<(u64, u128)> {
        Some((self.seed, self.rng.get_word_pos()))
    }

    fn set_rng_state(&mut self, (seed, position): (u64, u128)) {
        self.seed = seed;
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        self.rng.set_word_pos(position);
    }
}
