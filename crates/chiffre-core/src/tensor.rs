//! The tensor: a shape and a contiguous `Vec<f32>`, nothing more (no autograd).
//!
//! Layout convention, said once here for the whole crate: image tensors are
//! **channels-last**, `[B, H, W, C]` (batch, height, width, channels), as in
//! Keras. A dense activation is `[B, N]`. Element `(b, y, x, c)` lives at
//! `((b * H + y) * W + x) * C + c`.

/// A dense, row-major `f32` array with a shape.
#[derive(Clone, Debug, Default)]
pub struct Tensor {
    shape: Vec<usize>,
    /// The elements, then (past `len`) what an earlier, larger shape left:
    /// the buffer never shrinks, so that a tensor whose batch goes up and
    /// down is not filled again each time it grows back.
    data: Vec<f32>,
    len: usize,
}

impl PartialEq for Tensor {
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape && self.data() == other.data()
    }
}

impl Tensor {
    /// A tensor of zeros with the given shape.
    pub fn zeros(shape: &[usize]) -> Self {
        let len = shape.iter().product();
        Tensor { shape: shape.to_vec(), data: vec![0.0; len], len }
    }

    /// Wraps `data` with `shape`; `None` when the lengths disagree.
    pub fn from_vec(shape: &[usize], data: Vec<f32>) -> Option<Self> {
        (shape.iter().product::<usize>() == data.len()).then(|| Tensor { shape: shape.to_vec(), len: data.len(), data })
    }

    /// The shape, batch first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data[..self.len]
    }

    /// The elements, row-major, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data[..self.len]
    }

    /// Consumes the tensor and returns its elements.
    pub fn into_vec(mut self) -> Vec<f32> {
        self.data.truncate(self.len);
        self.data
    }

    /// Changes the shape in place, keeping the allocation when it is big
    /// enough: this is how activation buffers are "allocated once per shape".
    /// New elements (if the tensor grows) are zero; existing ones are kept.
    pub fn resize(&mut self, shape: &[usize]) {
        let old = self.len;
        self.resize_for_overwrite(shape);
        if self.len > old {
            self.data[old..self.len].fill(0.0);
        }
    }

    /// [`Tensor::resize`] for a tensor that its caller then overwrites
    /// entirely (a layer's output): the elements past the old length are not
    /// zeroed and may hold what an earlier, larger shape left, so growing
    /// back after shrinking costs nothing.
    pub fn resize_for_overwrite(&mut self, shape: &[usize]) {
        if self.shape != shape {
            self.shape.clear();
            self.shape.extend_from_slice(shape);
            self.len = shape.iter().product();
            if self.data.len() < self.len {
                self.data.resize(self.len, 0.0);
            }
        }
    }

    /// Reinterprets the shape without touching the data (same element count).
    ///
    /// # Panics
    /// When the element counts differ: a programming error, not bad input.
    pub fn reshape(&mut self, shape: &[usize]) {
        assert_eq!(shape.iter().product::<usize>(), self.len, "reshape {:?} -> {:?}", self.shape, shape);
        self.shape.clear();
        self.shape.extend_from_slice(shape);
    }

    /// Sets every element to `value`.
    pub fn fill(&mut self, value: f32) {
        self.data_mut().fill(value);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tensor_that_shrinks_and_grows_back_keeps_its_elements_and_zeroes_new_ones() {
        let mut t = Tensor::from_vec(&[2, 3], vec![1.0; 6]).unwrap();
        t.resize(&[1, 3]);
        assert_eq!(t.data(), &[1.0; 3]);
        assert_eq!(t.len(), 3);
        // Grown back: the new elements are zero, as a fresh buffer's would be.
        t.resize(&[3, 3]);
        assert_eq!(t.data(), &[1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        // For overwriting: the old elements may come back, and the length is right.
        t.data_mut().fill(2.0);
        t.resize_for_overwrite(&[1, 3]);
        t.resize_for_overwrite(&[2, 3]);
        assert_eq!(t.data(), &[2.0; 6]);
        assert_eq!(t.clone().into_vec(), vec![2.0; 6]);
        // Equality looks at the elements only, not at what is kept past them.
        assert_eq!(t, Tensor::from_vec(&[2, 3], vec![2.0; 6]).unwrap());
        t.reshape(&[3, 2]);
        assert_eq!(t.shape(), &[3, 2]);
    }
}
