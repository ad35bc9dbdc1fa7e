//! Element-wise activations: the non-linearity that follows a weighted sum.
//!
//! Shapes: output `y` has the shape of input `x`, whatever it is.

use super::{Layer, Mode};
use crate::par::prelude::*;
use crate::tensor::Tensor;

/// Elements per parallel task.
const BLOCK: usize = 1 << 15;

/// Defines an activation layer from its forward `y = f(x)` and its derivative
/// written in terms of the output `y` (backward: `dx = dy · f'(x)`, with
/// `f'(x)` computed from `y`, so backward never reads `x`: one memory stream
/// fewer on these memory-bound passes).
macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, $kind:literal, |$x:ident| $f:expr, |$y:ident| $df:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            shape: Vec<usize>,
        }

        impl $name {
            /// The activation over per-example inputs of shape `shape`.
            pub fn new(shape: &[usize]) -> Self {
                $name { shape: shape.to_vec() }
            }
        }

        impl Layer for $name {
            fn kind(&self) -> &'static str {
                $kind
            }

            fn output_shape(&self) -> &[usize] {
                &self.shape
            }

            fn forward(&mut self, x: &Tensor, y: &mut Tensor, _mode: Mode) {
                y.resize_for_overwrite(x.shape());
                // y = f(x), element by element (in parallel blocks: this is memory-bound)
                y.data_mut().par_chunks_mut(BLOCK).zip(x.data().par_chunks(BLOCK)).for_each(|(y, x)| {
                    for (y, &$x) in y.iter_mut().zip(x) {
                        *y = $f;
                    }
                });
            }

            fn backward(&mut self, x: &Tensor, y: &Tensor, dy: &Tensor, dx: Option<&mut Tensor>) {
                let Some(dx) = dx else { return };
                dx.resize(x.shape());
                // from y = f(x):  dx = dy · f'(x)
                let blocks = dx.data_mut().par_chunks_mut(BLOCK).zip(dy.data().par_chunks(BLOCK));
                blocks.zip(y.data().par_chunks(BLOCK)).for_each(|((dx, dy), y)| {
                    for ((dx, &dy), &$y) in dx.iter_mut().zip(dy).zip(y) {
                        *dx = dy * $df;
                    }
                });
            }
        }
    };
}

activation!(
    /// ReLU: `max(0, x)`, which clears the negatives of a feature map.
    Relu, "relu",
    |x| x.max(0.0),
    |y| crate::kernels::relu_grad(y)
);

activation!(
    /// Sigmoid: `1 / (1 + e^-x)`, the tutorial's first activation, between 0 and 1.
    Sigmoid, "sigmoid",
    |x| 1.0 / (1.0 + (-x).exp()),
    |y| y * (1.0 - y)
);

activation!(
    /// Hyperbolic tangent, between -1 and 1.
    Tanh, "tanh",
    |x| x.tanh(),
    |y| 1.0 - y * y
);
