//! Pooling: shrink each feature map by keeping, per window, the largest value
//! (max pooling) or the mean (the tutorial's "mean pooling").
//!
//! Shapes: input `x [B, H, W, C]` → output `y [B, OH, OW, C]` with
//! `OH = (H - size) / stride + 1` (a partial window at the edge is dropped).

use super::{resize_batch, Layer, Mode};
use crate::kernels::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, PoolGeometry};
use crate::tensor::Tensor;

fn geometry(input: [usize; 3], size: usize, stride: usize) -> Result<PoolGeometry, String> {
    let [h, w, c] = input;
    if size == 0 || stride == 0 {
        return Err(format!("pool size and stride must be at least 1 (got size {size}, stride {stride})"));
    }
    if size > h || size > w {
        return Err(format!("pool size {size}×{size} is larger than its input {h}×{w}"));
    }
    Ok(PoolGeometry { h, w, c, size, stride, oh: (h - size) / stride + 1, ow: (w - size) / stride + 1 })
}

/// Max pooling over `size × size` windows.
#[derive(Clone, Debug)]
pub struct MaxPool2d {
    geometry: PoolGeometry,
    out_shape: [usize; 3],
}

impl MaxPool2d {
    /// Max pooling over inputs `[h, w, c]`; `stride` is usually `size`.
    pub fn new(input: [usize; 3], size: usize, stride: usize) -> Result<Self, String> {
        let g = geometry(input, size, stride)?;
        Ok(MaxPool2d { out_shape: [g.oh, g.ow, g.c], geometry: g })
    }
}

impl Layer for MaxPool2d {
    fn kind(&self) -> &'static str {
        "max_pool2d"
    }

    fn output_shape(&self) -> &[usize] {
        &self.out_shape
    }

    fn forward(&mut self, x: &Tensor, y: &mut Tensor, _mode: Mode) {
        resize_batch(y, x.batch(), &self.out_shape);
        // y = max over each window
        max_pool_forward(x.data(), &self.geometry, y.data_mut());
    }

    fn backward(&mut self, x: &Tensor, y: &Tensor, dy: &Tensor, dx: Option<&mut Tensor>) {
        if let Some(dx) = dx {
            resize_batch(dx, x.batch(), x.shape().get(1..).unwrap_or_default());
            // from y = max(window): the gradient flows only to the winner (the first input equal to y)
            max_pool_backward(x.data(), y.data(), dy.data(), &self.geometry, dx.data_mut());
        }
    }
}

/// Mean (average) pooling over `size × size` windows.
#[derive(Clone, Debug)]
pub struct AvgPool2d {
    geometry: PoolGeometry,
    out_shape: [usize; 3],
}

impl AvgPool2d {
    /// Mean pooling over inputs `[h, w, c]`; `stride` is usually `size`.
    pub fn new(input: [usize; 3], size: usize, stride: usize) -> Result<Self, String> {
        let g = geometry(input, size, stride)?;
        Ok(AvgPool2d { out_shape: [g.oh, g.ow, g.c], geometry: g })
    }
}

impl Layer for AvgPool2d {
    fn kind(&self) -> &'static str {
        "avg_pool2d"
    }

    fn output_shape(&self) -> &[usize] {
        &self.out_shape
    }

    fn forward(&mut self, x: &Tensor, y: &mut Tensor, _mode: Mode) {
        resize_batch(y, x.batch(), &self.out_shape);
        // y = mean of each window
        avg_pool_forward(x.data(), &self.geometry, y.data_mut());
    }

    fn backward(&mut self, x: &Tensor, _y: &Tensor, dy: &Tensor, dx: Option<&mut Tensor>) {
        if let Some(dx) = dx {
            resize_batch(dx, x.batch(), x.shape().get(1..).unwrap_or_default());
            // from y = mean(window): each input gets dy / size²
            avg_pool_backward(dy.data(), &self.geometry, dx.data_mut());
        }
    }
}
