//! The tensor: a shape and a contiguous `Vec<f32>`, nothing more (no autograd).
//!
//! Layout convention, said once here for the whole crate: image tensors are
//! **channels-last**, `[B, H, W, C]` (batch, height, width, channels), as in
//! Keras. A dense activation is `[B, N]`. Element `(b, y, x, c)` lives at
//! `((b * H + y) * W + x) * C + c`.

/// A dense, row-major `f32` array with a shape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Tensor {
    /// A tensor of zeros with the given shape.
    pub fn zeros(shape: &[usize]) -> Self {
        Tensor { shape: shape.to_vec(), data: vec![0.0; shape.iter().product()] }
    }

    /// Wraps `data` with `shape`; `None` when the lengths disagree.
    pub fn from_vec(shape: &[usize], data: Vec<f32>) -> Option<Self> {
        (shape.iter().product::<usize>() == data.len()).then(|| Tensor { shape: shape.to_vec(), data })
    }

    /// The shape, batch first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The elements, row-major, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the tensor and returns its elements.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Changes the shape in place, keeping the allocation when it is big
    /// enough: this is how activation buffers are "allocated once per shape".
    /// New elements (if the tensor grows) are zero; existing ones are kept.
    pub fn resize(&mut self, shape: &[usize]) {
        if self.shape != shape {
            self.shape.clear();
            self.shape.extend_from_slice(shape);
            self.data.resize(shape.iter().product(), 0.0);
        }
    }

    /// Reinterprets the shape without touching the data (same element count).
    ///
    /// # Panics
    /// When the element counts differ: a programming error, not bad input.
    pub fn reshape(&mut self, shape: &[usize]) {
        assert_eq!(shape.iter().product::<usize>(), self.data.len(), "reshape {:?} -> {:?}", self.shape, shape);
        self.shape.clear();
        self.shape.extend_from_slice(shape);
    }

    /// Sets every element to `value`.
    pub fn fill(&mut self, value: f32) {
        self.data.fill(value);
    }

    /// The batch size (first dimension), 0 for a scalar-less tensor.
    pub fn batch(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }

    /// Elements per batch item.
    pub fn item_len(&self) -> usize {
        self.shape.iter().skip(1).product()
    }
}
