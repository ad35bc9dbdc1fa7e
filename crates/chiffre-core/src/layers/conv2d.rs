//! Convolution: `filters` small kernels slid over the image, each giving one
//! feature map (the tutorial's "filtre" and "carte de caractéristiques").
//!
//! Shapes: input `x [B, H, W, C]`, weight `W [OC, k, k, C]`, bias `b [OC]`,
//! output `y [B, OH, OW, OC]`; the im2col matrix `col [B·OH·OW, k·k·C]` is
//! built block by block in `kernels::conv` (again in backward, from `x`).

use super::{resize_batch, resize_batch_for_overwrite, Init, Layer, Mode, Param};
use crate::kernels::{
    conv_backward_fused, conv_forward_fused, conv_forward_packed, conv_forward_winograd, packed_suits, winograd_suits,
    Blocking, ConvGeometry, ConvGrads, Epilogue, PackedMatrix, WinogradFilters,
};
use crate::tensor::Tensor;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What happens at the border.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// No padding: the kernel stays inside the image; the output shrinks by `k - 1`.
    #[default]
    Valid,
    /// Zero padding so that the output is `ceil(H / stride)` (Keras' `same`).
    Same,
}

impl Padding {
    /// The output size and the zeros added before the first row and column,
    /// `[oh, ow, pad_top, pad_left]`, of a `kernel × kernel` convolution with
    /// `stride` over an `h × w` input (`kernel` and `stride` at least 1).
    /// `Same` pads the total evenly, the odd zero going after the last row
    /// and column (as Keras and TensorFlow); the zeros after are implied.
    pub fn output(self, h: usize, w: usize, kernel: usize, stride: usize) -> Result<[usize; 4], String> {
        match self {
            Padding::Valid => {
                if kernel > h || kernel > w {
                    return Err(format!("kernel {kernel}×{kernel} is larger than its input {h}×{w} (valid padding)"));
                }
                Ok([(h - kernel) / stride + 1, (w - kernel) / stride + 1, 0, 0])
            }
            Padding::Same => {
                let (oh, ow) = (h.div_ceil(stride), w.div_ceil(stride));
                let pad = |o: usize, i: usize| ((o - 1) * stride).saturating_add(kernel).saturating_sub(i) / 2;
                Ok([oh, ow, pad(oh, h), pad(ow, w)])
            }
        }
    }
}

/// The settings of a [`Conv2d`]: the defaults are the tutorial CNN's first
/// layer (32 filters of 3×3, stride 1, no padding), with the initialisation
/// of spec files and Keras (Glorot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// Number of filters (output channels).
    pub filters: usize,
    /// Kernel side.
    pub kernel: usize,
    /// Step of the kernel.
    pub stride: usize,
    /// Border handling.
    pub padding: Padding,
    /// Initial weights.
    pub init: Init,
}

impl Default for Conv2dConfig {
    fn default() -> Self {
        Conv2dConfig { filters: 32, kernel: 3, stride: 1, padding: Padding::Valid, init: Init::Glorot }
    }
}

/// A 2-D convolution with a square kernel.
#[derive(Clone, Debug)]
pub struct Conv2d {
    config: Conv2dConfig,
    geometry: ConvGeometry,
    /// How forward and backward cut the batch (fixed by the shapes).
    blocking: Blocking,
    out_shape: [usize; 3],
    weight: Param,
    bias: Param,
    /// Partial sums of the weight and bias gradients, one per group of blocks.
    workspace: Vec<f32>,
    /// The winning tap of each pooling window, when a fused forward pools.
    route: Vec<u8>,
    /// Whether `route` holds the last forward pass's winners (not after
    /// [`Conv2d::infer_fused`]).
    routed: bool,
    /// The filters in the Winograd domain, when forward takes that path
    /// (see [`winograd_suits`]); rebuilt after every change of the weights.
    winograd: WinogradFilters,
    /// Whether `winograd` holds the current weights: cleared whenever the
    /// parameters are lent out mutably (an optimizer step, a load).
    winograd_fresh: bool,
    /// `Wᵀ` packed for [`conv_forward_packed`], when forward takes that path
    /// (see [`packed_suits`]); rebuilt after every change of the weights.
    packed: PackedMatrix,
    /// Whether `packed` holds the current weights (cleared as `winograd_fresh` is).
    packed_fresh: bool,
}

impl Conv2d {
    /// A convolution over inputs of shape `[h, w, c]`; `Err` says why the
    /// shapes are impossible.
    pub fn new(input: [usize; 3], config: Conv2dConfig, rng: &mut ChaCha8Rng) -> Result<Self, String> {
        let Conv2dConfig { filters, kernel, stride, padding, init } = config;
        let [h, w, c] = input;
        if filters == 0 || kernel == 0 || stride == 0 {
            return Err(format!(
                "filters, kernel and stride must be at least 1 (got filters {filters}, kernel {kernel}, stride {stride})"
            ));
        }
        let [oh, ow, pad_top, pad_left] = padding.output(h, w, kernel, stride)?;
        let geometry = ConvGeometry { h, w, c, k: kernel, stride, pad_top, pad_left, oh, ow };
        let mut weight = Tensor::zeros(&[filters, kernel, kernel, c]);
        init.fill(weight.data_mut(), kernel * kernel * c, kernel * kernel * filters, rng);
        Ok(Conv2d {
            config,
            geometry,
            blocking: Blocking::for_shape(&geometry, filters),
            out_shape: [oh, ow, filters],
            weight: Param::new(weight),
            bias: Param::new(Tensor::zeros(&[filters])),
            workspace: Vec::new(),
            route: Vec::new(),
            routed: false,
            winograd: WinogradFilters::new(),
            winograd_fresh: false,
            packed: PackedMatrix::new(),
            packed_fresh: false,
        })
    }

    /// The convolution's geometry (input, kernel, stride, padding, output).
    pub fn geometry(&self) -> ConvGeometry {
        self.geometry
    }

    fn filters(&self) -> usize {
        self.out_shape[2]
    }

    /// The settings it was built with.
    pub fn config(&self) -> Conv2dConfig {
        self.config
    }

    /// The filters `W [OC, k, k, C]`.
    pub fn weight(&self) -> &Param {
        &self.weight
    }

    /// The bias `b [OC]`.
    pub fn bias(&self) -> &Param {
        &self.bias
    }

    /// The per-example output shape after `epilogue` (`[OH/2, OW/2, OC]` when it pools).
    pub fn fused_output_shape(&self, epilogue: Epilogue) -> [usize; 3] {
        epilogue.output_shape(self.out_shape)
    }

    /// The convolution and the layers `epilogue` stands for (ReLU, 2×2 max
    /// pooling), in one pass over each block: `y = relu?(pool?(conv(x)))`,
    /// shaped by [`Conv2d::fused_output_shape`]. The same numbers as running
    /// the layers one by one; the convolution's own output is never stored.
    /// The pooling's winners are kept for [`Conv2d::backward_fused`].
    pub fn forward_fused(&mut self, x: &Tensor, y: &mut Tensor, epilogue: Epilogue) {
        // every output is written below
        resize_batch_for_overwrite(y, x.batch(), &self.fused_output_shape(epilogue));
        let mut route = std::mem::take(&mut self.route);
        route.resize(x.batch() * epilogue.route_len(self.out_shape), 0);
        self.run_fused(x.data(), x.batch(), y.data_mut(), epilogue, &mut route);
        self.route = route;
        self.routed = true;
    }

    /// [`Conv2d::forward_fused`] for inference, on whole images `x [B, H, W,
    /// C]` as they lie: the same output, but the pooling's winners (a byte
    /// per pooled output, which only training needs) are not written, and
    /// the input is not copied into a tensor first. [`Conv2d::backward_fused`]
    /// refuses to run after it.
    ///
    /// # Panics
    /// When `x` does not hold whole images.
    pub fn infer_fused(&mut self, x: &[f32], y: &mut Tensor, epilogue: Epilogue) {
        let g = self.geometry;
        let image = g.h * g.w * g.c;
        assert!(
            image > 0 && x.len().is_multiple_of(image),
            "{} values are not whole {}×{}×{} images",
            x.len(),
            g.h,
            g.w,
            g.c
        );
        let batch = x.len() / image;
        // every output is written below
        resize_batch_for_overwrite(y, batch, &self.fused_output_shape(epilogue));
        self.run_fused(x, batch, y.data_mut(), epilogue, &mut []);
        self.routed = false;
    }

    /// `y = relu?(pool?(conv(x)))` over `batch` images, by the fastest way
    /// for this shape; the pooling's winners in `route` unless it is empty.
    fn run_fused(&mut self, x: &[f32], batch: usize, y: &mut [f32], epilogue: Epilogue, route: &mut [u8]) {
        let (g, filters) = (&self.geometry, self.filters());
        let (weight, bias) = (self.weight.value.data(), self.bias.value.data());
        if winograd_suits(g, filters, batch) {
            if !self.winograd_fresh {
                // U = G W Gᵀ, once per weight update
                self.winograd.update(weight, g.c, filters);
                self.winograd_fresh = true;
            }
            // z = Aᵀ[(G W Gᵀ) ⊙ (Bᵀ x B)]A + b, tile by tile;  y = relu?(pool?(z)), the winners in route
            conv_forward_winograd(x, g, &self.winograd, bias, y, self.blocking, epilogue, route);
            return;
        }
        if packed_suits(g, filters, batch) {
            if !self.packed_fresh {
                // Wᵀ laid out in panels, once per weight update
                self.packed.pack_transposed(weight, filters, g.patch_len());
                self.packed_fresh = true;
            }
            // z = im2col(x) · (packed Wᵀ) + b;  y = relu?(pool?(z)), the pooling's winners in route
            conv_forward_packed(x, g, weight, &self.packed, bias, y, self.blocking, epilogue, route);
            return;
        }
        // z = im2col(x) · W[OC, k·k·C]ᵀ + b;  y = relu?(pool?(z)), the pooling's winners in route
        conv_forward_fused(x, g, weight, bias, y, self.blocking, epilogue, route);
    }

    /// Backward of [`Conv2d::forward_fused`] with the same `epilogue`: `y`
    /// is its output and `dy` = d(loss)/dy; writes the parameter gradients
    /// and, when asked, `dx`.
    ///
    /// # Panics
    /// When `epilogue` pools and the last forward pass was
    /// [`Conv2d::infer_fused`], which kept no winners to route `dy` to.
    pub fn backward_fused(&mut self, x: &Tensor, y: &Tensor, dy: &Tensor, dx: Option<&mut Tensor>, epilogue: Epilogue) {
        assert!(
            self.routed || !epilogue.max_pool_2x2,
            "backward after an inference pass, which keeps no pooling winners"
        );
        let g = self.geometry;
        // from y = relu?(pool?(z)):  dz = dy routed to each window's winner, times relu'(y);
        // from z = col·Wᵀ + b:  dW = dzᵀ · col,  db = Σ_rows dz;  and, unless this is the
        // first layer, dcol = dz · W and dx = col2im(dcol)   (block by block, col rebuilt from x)
        let dx = dx.map(|dx| {
            resize_batch(dx, x.batch(), &[g.h, g.w, g.c]);
            dx.data_mut()
        });
        let (weight, bias) = (&mut self.weight, &mut self.bias);
        let grads = ConvGrads {
            dweight: weight.grad.data_mut(),
            dbias: bias.grad.data_mut(),
            dx,
            partials: &mut self.workspace,
        };
        let (y, dy) = (y.data(), dy.data());
        conv_backward_fused(x.data(), y, dy, &self.route, &g, weight.value.data(), grads, self.blocking, epilogue);
    }
}

impl Layer for Conv2d {
    fn kind(&self) -> &'static str {
        "conv2d"
    }

    fn output_shape(&self) -> &[usize] {
        &self.out_shape
    }

    fn forward(&mut self, x: &Tensor, y: &mut Tensor, _mode: Mode) {
        // col = im2col(x);  y[B·OH·OW, OC] = col · W[OC, k·k·C]ᵀ + b   (block by block, see kernels::conv)
        self.forward_fused(x, y, Epilogue::default());
    }

    fn backward(&mut self, x: &Tensor, y: &Tensor, dy: &Tensor, dx: Option<&mut Tensor>) {
        // from y = col·Wᵀ + b:  dW = dyᵀ · col,  db = Σ_rows dy;  and, unless this is the
        // first layer, dcol = dy · W and dx = col2im(dcol)   (block by block, col rebuilt from x)
        self.backward_fused(x, y, dy, dx, Epilogue::default());
    }

    fn params(&self) -> Vec<(&'static str, &Param)> {
        vec![("weight", &self.weight), ("bias", &self.bias)]
    }

    fn visit_params_mut(&mut self, f: &mut dyn FnMut(&'static str, &mut Param)) {
        self.winograd_fresh = false;
        self.packed_fresh = false;
        f("weight", &mut self.weight);
        f("bias", &mut self.bias);
    }

    fn forward_macs(&self) -> usize {
        let g = &self.geometry;
        g.oh * g.ow * g.patch_len() * self.filters()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn layer() -> (Conv2d, Tensor, Epilogue) {
        let config = Conv2dConfig { filters: 8, ..Conv2dConfig::default() };
        let conv = Conv2d::new([8, 8, 1], config, &mut ChaCha8Rng::seed_from_u64(3)).expect("a valid layer");
        let x = Tensor::from_vec(&[2, 8, 8, 1], (0..128).map(|i| ((i * 37 % 19) as f32 - 9.0) / 9.0).collect())
            .expect("two images");
        (conv, x, Epilogue { relu: true, max_pool_2x2: true })
    }

    #[test]
    fn inference_gives_the_training_pass_output_to_the_bit() {
        let (mut conv, x, epilogue) = layer();
        let (mut trained, mut inferred) = (Tensor::zeros(&[0]), Tensor::zeros(&[0]));
        conv.forward_fused(&x, &mut trained, epilogue);
        conv.infer_fused(x.data(), &mut inferred, epilogue);
        assert_eq!(inferred.shape(), trained.shape());
        let bits = |t: &Tensor| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&inferred), bits(&trained));
    }

    #[test]
    #[should_panic(expected = "backward after an inference pass")]
    fn backward_after_an_inference_pass_is_refused() {
        let (mut conv, x, epilogue) = layer();
        let mut y = Tensor::zeros(&[0]);
        conv.infer_fused(x.data(), &mut y, epilogue);
        let dy = y.clone();
        conv.backward_fused(&x, &y, &dy, None, epilogue);
    }
}
