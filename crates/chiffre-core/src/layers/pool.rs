//! Pooling: shrink each feature map by keeping, per window, the largest value
//! (max pooling) or the mean (the tutorial's "mean pooling").
//!
//! Shapes: input `x [B, H, W, C]` → output `y [B, OH, OW, C]` with
//! `OH = (H - size) / stride + 1` (a partial window at the edge is dropped).

use super::{resize_batch, resize_batch_for_overwrite, Layer, Mode};
use crate::kernels::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, PoolGeometry};
use crate::tensor::Tensor;

/// What a window keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// The largest value (max pooling).
    Max,
    /// The mean (average pooling).
    Mean,
}

/// Pooling over `size × size` windows moved by `stride`.
#[derive(Clone, Debug)]
pub struct Pool2d {
    kind: PoolKind,
    geometry: PoolGeometry,
    out_shape: [usize; 3],
}

impl Pool2d {
    /// Pooling of `kind` over inputs `[h, w, c]`; `stride` is usually `size`.
    /// `Err` says why the shapes are impossible.
    pub fn new(kind: PoolKind, input: [usize; 3], size: usize, stride: usize) -> Result<Self, String> {
        let [h, w, c] = input;
        if size == 0 || stride == 0 {
            return Err(format!("pool size and stride must be at least 1 (got size {size}, stride {stride})"));
        }
        if size > h || size > w {
            return Err(format!("pool size {size}×{size} is larger than its input {h}×{w}"));
        }
        let geometry = PoolGeometry { h, w, c, size, stride, oh: (h - size) / stride + 1, ow: (w - size) / stride + 1 };
        Ok(Pool2d { kind, out_shape: [geometry.oh, geometry.ow, c], geometry })
    }

    /// Max pooling (see [`Pool2d::new`]).
    pub fn max(input: [usize; 3], size: usize, stride: usize) -> Result<Self, String> {
        Self::new(PoolKind::Max, input, size, stride)
    }

    /// Mean pooling (see [`Pool2d::new`]).
    pub fn mean(input: [usize; 3], size: usize, stride: usize) -> Result<Self, String> {
        Self::new(PoolKind::Mean, input, size, stride)
    }

    /// The pooling's geometry (input, window, stride, output).
    pub fn geometry(&self) -> PoolGeometry {
        self.geometry
    }

    /// What a window keeps.
    pub fn pool_kind(&self) -> PoolKind {
        self.kind
    }

    /// The window's side.
    pub fn size(&self) -> usize {
        self.geometry.size
    }

    /// How far the window moves.
    pub fn stride(&self) -> usize {
        self.geometry.stride
    }
}

impl Layer for Pool2d {
    fn kind(&self) -> &'static str {
        match self.kind {
            PoolKind::Max => "max_pool2d",
            PoolKind::Mean => "avg_pool2d",
        }
    }

    fn output_shape(&self) -> &[usize] {
        &self.out_shape
    }

    fn forward(&mut self, x: &Tensor, y: &mut Tensor, _mode: Mode) {
        // every output is written below
        resize_batch_for_overwrite(y, x.batch(), &self.out_shape);
        match self.kind {
            // y = max over each window
            PoolKind::Max => max_pool_forward(x.data(), &self.geometry, y.data_mut()),
            // y = mean of each window
            PoolKind::Mean => avg_pool_forward(x.data(), &self.geometry, y.data_mut()),
        }
    }

    fn backward(&mut self, x: &Tensor, y: &Tensor, dy: &Tensor, dx: Option<&mut Tensor>) {
        let Some(dx) = dx else { return };
        resize_batch(dx, x.batch(), x.shape().get(1..).unwrap_or_default());
        match self.kind {
            // from y = max(window): the gradient flows only to the winner (the first input equal to y)
            PoolKind::Max => max_pool_backward(x.data(), y.data(), dy.data(), &self.geometry, dx.data_mut()),
            // from y = mean(window): each input gets dy / size²
            PoolKind::Mean => avg_pool_backward(dy.data(), &self.geometry, dx.data_mut()),
        }
    }
}
