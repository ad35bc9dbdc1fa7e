//! Flattening: lines a stack of feature maps up into one vector for the
//! fully-connected layers.
//!
//! Shapes: input `x [B, H, W, C]` → output `y [B, H·W·C]` (channels-last
//! order, as Keras). The data is copied unchanged; only the shape changes.

use super::{Layer, Mode};
use crate::tensor::Tensor;

/// `[B, H, W, C]` → `[B, H·W·C]`.
#[derive(Clone, Debug)]
pub struct Flatten {
    in_shape: Vec<usize>,
    out_shape: [usize; 1],
}

impl Flatten {
    /// Flattens per-example inputs of shape `input`.
    pub fn new(input: &[usize]) -> Self {
        Flatten { in_shape: input.to_vec(), out_shape: [input.iter().product()] }
    }
}

impl Layer for Flatten {
    fn kind(&self) -> &'static str {
        "flatten"
    }

    fn output_shape(&self) -> &[usize] {
        &self.out_shape
    }

    fn forward(&mut self, x: &Tensor, y: &mut Tensor, _mode: Mode) {
        y.resize_for_overwrite(&[x.batch(), self.out_shape[0]]);
        // y = x, read as vectors
        y.data_mut().copy_from_slice(x.data());
    }

    fn backward(&mut self, x: &Tensor, _y: &Tensor, dy: &Tensor, dx: Option<&mut Tensor>) {
        if let Some(dx) = dx {
            dx.resize(x.shape());
            // from y = x: dx = dy, back in the input's shape
            dx.data_mut().copy_from_slice(dy.data());
        }
        debug_assert_eq!(x.shape().get(1..), Some(&self.in_shape[..]));
    }
}
