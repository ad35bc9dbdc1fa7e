//! The convolution as blocked im2col + GEMM.
//!
//! Shapes: input `x [B, H, W, C]`, weight `W [OC, k, k, C]`, bias `b [OC]`,
//! output `y [B, OH, OW, OC]`; im2col matrix of one block of images
//! `col [rows, k·k·C]` (`rows` = the block's output pixels).
//!
//! The batch is cut into blocks of whole images, sized so that a block's
//! im2col rows and outputs fit in a core's L2 cache (see [`BLOCK_BYTES`]).
//! Each block is one task: its im2col, then its GEMM on the calling thread,
//! while the rows just written are still in cache. One large im2col followed
//! by one threaded GEMM streams the whole matrix (8.9 MB for the tutorial's
//! second convolution at batch 64) through memory, and keeping it for
//! backward streams it again; here no im2col matrix outlives its block.
//!
//! Backward works block by block too, rebuilding each block's im2col from
//! the input: the weight and bias gradients of a fixed group of blocks go to
//! the group's own partial sums, added in group order at the end, so the
//! result depends on the blocking (fixed by the shapes) and never on the
//! number of threads.

use super::direct;
use super::gemm::Gemm;
use super::im2col::{col2im_serial, im2col_serial, ConvGeometry};
use super::packed::{matmul_packed, PackedMatrix};
use super::pool::{max_pool_2x2_route_backward, max_pool_2x2_route_forward, relu_grad, PoolGeometry};
use super::winograd::{self, WinogradFilters};
use crate::par::prelude::*;
use std::cell::RefCell;

/// Bytes of im2col rows plus output rows one block aims at: a good part of a
/// core's L2 (1–2 MB on the machines here), leaving room for the weights
/// and the GEMM's packed panels.
pub const BLOCK_BYTES: usize = 384 << 10;

/// Images whose weight gradients backward sums into one partial.
pub const GROUP_IMAGES: usize = 8;

/// How the batch is cut: images per block, and blocks per group (backward
/// sums each group's weight gradients into one partial).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Images per block (at least 1).
    pub images: usize,
    /// Blocks per group (at least 1).
    pub blocks_per_group: usize,
}

impl Blocking {
    /// The blocking for a convolution of geometry `g` with `oc` filters:
    /// blocks of about [`BLOCK_BYTES`], groups of about [`GROUP_IMAGES`].
    pub fn for_shape(g: &ConvGeometry, oc: usize) -> Self {
        let row_bytes = (g.patch_len() + oc).max(1) * std::mem::size_of::<f32>();
        let rows = BLOCK_BYTES / row_bytes;
        let images = (rows / (g.oh * g.ow).max(1)).max(1);
        Blocking { images, blocks_per_group: GROUP_IMAGES.div_ceil(images) }
    }
}

/// What the convolution does to its output before writing it: the layers
/// that follow it in the network, run on each block while it is in cache
/// (see `model::sequential`'s fusion plan). Without an epilogue the output is
/// `z = im2col(x) · Wᵀ + b`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Epilogue {
    /// `max(0, ·)` on the output (after the pooling, with which it commutes).
    pub relu: bool,
    /// 2×2 max pooling with stride 2: the output is `[B, OH/2, OW/2, OC]`,
    /// and the winning tap of each window is kept in a route (one `u8` per
    /// output value) for backward.
    pub max_pool_2x2: bool,
}

impl Epilogue {
    /// The output shape `[h, w, c]` of a convolution whose own output is
    /// `[oh, ow, oc]`, after this epilogue.
    pub fn output_shape(self, [oh, ow, oc]: [usize; 3]) -> [usize; 3] {
        if self.max_pool_2x2 {
            [oh / 2, ow / 2, oc]
        } else {
            [oh, ow, oc]
        }
    }

    /// Route values (`u8`) one image needs: one per pooled output, or none.
    pub fn route_len(self, conv_output: [usize; 3]) -> usize {
        if self.max_pool_2x2 {
            self.output_shape(conv_output).iter().product()
        } else {
            0
        }
    }

    /// The pooling's geometry over a convolution output `[oh, ow, oc]`.
    fn pool(self, [oh, ow, oc]: [usize; 3]) -> PoolGeometry {
        PoolGeometry { h: oh, w: ow, c: oc, size: 2, stride: 2, oh: oh / 2, ow: ow / 2 }
    }
}

/// Each thread's scratch: one im2col block, its gradient, and one block of
/// the convolution's own output `z` (or of its gradient) when an epilogue
/// stands between `z` and the layer's output.
#[derive(Default)]
struct Scratch {
    col: Vec<f32>,
    dcol: Vec<f32>,
    z: Vec<f32>,
    /// Winograd's `dU` in backward.
    du: Vec<f32>,
    /// Zeros (grown, never written): the bias of the input gradient's convolution.
    zeros: Vec<f32>,
}

thread_local! {
    /// Each thread's [`Scratch`]: about [`BLOCK_BYTES`] per buffer, grown on
    /// first use and reused after. Only the serial code of one block runs
    /// while it is borrowed (no rayon call that could run another block on
    /// this thread).
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Forward: `y = im2col(x) · Wᵀ + b`, block by block.
///
/// `x` holds whole images `[B, H, W, C]`, `y` is sized for them
/// (`B·OH·OW·OC`). The im2col matrix lives only in a per-thread, L2-sized
/// scratch: backward builds it again from `x`, which costs less than
/// writing it to memory and reading it back (8.9 MB for the tutorial's
/// second convolution at batch 64).
pub fn conv_forward(x: &[f32], g: &ConvGeometry, weight: &[f32], bias: &[f32], y: &mut [f32], blocking: Blocking) {
    conv_forward_fused(x, g, weight, bias, y, blocking, Epilogue::default(), &mut []);
}

/// [`conv_forward`] followed by `epilogue` on each block while it is in
/// cache: `y = relu?(pool?(im2col(x) · Wᵀ + b))`, sized by
/// [`Epilogue::output_shape`], with the pooling's winning taps written to
/// `route` (sized `B ·` [`Epilogue::route_len`]; empty for inference, when
/// no backward pass will need them). The convolution's own
/// output never reaches memory: for the tutorial's first layer that saves
/// writing 5.5 MB and reading it back twice (ReLU, pooling) per step.
#[allow(clippy::too_many_arguments)]
pub fn conv_forward_fused(
    x: &[f32],
    g: &ConvGeometry,
    weight: &[f32],
    bias: &[f32],
    y: &mut [f32],
    blocking: Blocking,
    epilogue: Epilogue,
    route: &mut [u8],
) {
    forward_blocks(x, g, Method::Im2col(weight, None), bias, y, blocking, epilogue, route);
}

/// [`conv_forward_fused`] for a 3×3, stride-1 convolution by Winograd's
/// F(2×2, 3×3) (`kernels/winograd/mod.rs`), from its transformed `filters`: the same
/// output within rounding, with 2.25× fewer multiplications (and, before a
/// 2×2 pooling that drops an odd last row and column, none for those).
///
/// # Panics
/// When the convolution is not 3×3 with stride 1, or `filters` are for other shapes.
#[allow(clippy::too_many_arguments)]
pub fn conv_forward_winograd(
    x: &[f32],
    g: &ConvGeometry,
    filters: &WinogradFilters,
    bias: &[f32],
    y: &mut [f32],
    blocking: Blocking,
    epilogue: Epilogue,
    route: &mut [u8],
) {
    forward_blocks(x, g, Method::Winograd(filters), bias, y, blocking, epilogue, route);
}

/// [`conv_forward_fused`] with the weights packed once
/// (`packed` = `Wᵀ [k·k·C × OC]`, [`PackedMatrix::pack_transposed`] of `W`):
/// im2col, then [`matmul_packed`] instead of the general GEMM, which packs
/// `W` again on every call (see [`packed_suits`] for when that is faster).
/// The direct first-layer kernel, when the shape has one, is used as in
/// [`conv_forward_fused`].
#[allow(clippy::too_many_arguments)]
pub fn conv_forward_packed(
    x: &[f32],
    g: &ConvGeometry,
    weight: &[f32],
    packed: &PackedMatrix,
    bias: &[f32],
    y: &mut [f32],
    blocking: Blocking,
    epilogue: Epilogue,
    route: &mut [u8],
) {
    forward_blocks(x, g, Method::Im2col(weight, Some(packed)), bias, y, blocking, epilogue, route);
}

/// Whether [`conv_forward_packed`] is the faster im2col product for a
/// forward pass of `images` images: when the product has few rows (a
/// number's digits, one image), where the general GEMM spends its time
/// packing the weights, and the layer has no direct kernel (which needs no
/// product at all). See `PACKED_MAX_ROWS` for the measurements.
pub fn packed_suits(g: &ConvGeometry, oc: usize, images: usize) -> bool {
    direct::supported(g, oc).is_none() && images * g.oh * g.ow <= PACKED_MAX_ROWS
}

/// The most rows (images × output pixels) of a forward product given to the
/// pre-packed weights rather than the general GEMM. Measured on the tutorial
/// CNN's third convolution, `chiffre`'s own forward pass on 2 threads (AMD
/// EPYC, AVX2, 2026-12-05, best of 5): GEMM / packed time 1.43 at 36 rows,
/// 1.12 at 360 (a five-digit number's tried groups), 1.07 at 576, 1.10 at
/// 1,152 and at 9,000. Bounded all the same: the general GEMM's cache
/// blocking is the safer choice for the large products not measured (other
/// shapes, AVX-512).
const PACKED_MAX_ROWS: usize = 1024;

/// How a forward block computes the convolution.
#[derive(Clone, Copy)]
enum Method<'a> {
    /// The direct kernel when there is one for the shape, else im2col and a
    /// product with `W [OC, k·k·C]`: the general GEMM, or the weights packed
    /// once when given.
    Im2col(&'a [f32], Option<&'a PackedMatrix>),
    /// Winograd F(2×2, 3×3) from the transformed filters.
    Winograd(&'a WinogradFilters),
}

/// The forward pass, block by block, by `method`, with `epilogue`.
#[allow(clippy::too_many_arguments)]
fn forward_blocks(
    x: &[f32],
    g: &ConvGeometry,
    method: Method,
    bias: &[f32],
    y: &mut [f32],
    blocking: Blocking,
    epilogue: Epilogue,
    route: &mut [u8],
) {
    let (oc, k, pixels, image) = (bias.len(), g.patch_len(), g.oh * g.ow, g.h * g.w * g.c);
    if oc == 0 || k == 0 || pixels == 0 || image == 0 {
        return;
    }
    let conv_out = [g.oh, g.ow, oc];
    let (out_image, route_image) =
        (epilogue.output_shape(conv_out).iter().product::<usize>(), epilogue.route_len(conv_out));
    let pool = epilogue.pool(conv_out);
    let images = blocking.images.max(1);
    let direct = direct::supported(g, oc);
    // z = conv(x) + b, then ReLU when asked, over the top-left `needed` of each output
    // (`col` and `dcol` are the scratch: im2col's matrix, or Winograd's V and M)
    let conv = |x: &[f32], relu: bool, needed: [usize; 2], col: &mut Vec<f32>, dcol: &mut Vec<f32>, out: &mut [f32]| {
        match method {
            Method::Im2col(weight, packed) => conv_bias(x, g, (weight, packed), bias, relu, direct, col, out),
            Method::Winograd(filters) => winograd::forward(x, g, filters, bias, relu, needed, out, (col, dcol)),
        }
    };
    let block = |y: &mut [f32], x: &[f32], route: &mut [u8]| {
        SCRATCH.with_borrow_mut(|s| {
            let rows = x.len() / image * pixels;
            let in_registers = direct.filter(|d| d.pools_in_registers() && route.is_empty());
            if let (true, Some(direct), Method::Im2col(weight, _)) = (epilogue.max_pool_2x2, in_registers, method) {
                // inference: y = relu?(max over each 2×2 window of conv(x) + b), each window's
                // sums compared in registers (no winners kept)
                direct::forward_pooled(direct, x, g, weight, bias, epilogue.relu, y);
            } else if let (true, Some(direct), Method::Im2col(weight, _)) =
                (epilogue.max_pool_2x2 && g.ow >= 2, direct, method)
            {
                // two rows of z = conv(x) + b at a time, in scratch (in L1), then pooled into one
                // row of y = relu?(max over each 2×2 window), the winners in route
                let (pw, strip) = (g.ow / 2, 2 * g.ow * oc);
                let z = grown(&mut s.z, strip);
                let strip_pool = PoolGeometry { h: 2, oh: 1, ..pool };
                direct::forward_strips(direct, x, g, weight, bias, z, &mut |b, first, z| {
                    // an odd last row is a strip of one, which the pooling drops
                    if z.len() == strip {
                        // pooled row first / 2 of image b
                        let at = b * out_image + first / 2 * pw * oc;
                        let route = if route.is_empty() { &mut [][..] } else { &mut route[at..at + pw * oc] };
                        max_pool_2x2_route_forward(z, &strip_pool, epilogue.relu, &mut y[at..at + pw * oc], route);
                    }
                });
            } else if epilogue.max_pool_2x2 {
                // z = conv(x) + b, in scratch (the rows and columns the pooling reads)
                let z = grown(&mut s.z, rows * oc);
                conv(x, false, [g.oh / 2 * 2, g.ow / 2 * 2], &mut s.col, &mut s.dcol, z);
                // y = relu?(max over each 2×2 window of z), the winners in route
                let images = z.chunks_exact(pixels * oc).zip(y.chunks_exact_mut(out_image));
                for (i, (z, y)) in images.enumerate() {
                    let route =
                        if route.is_empty() { &mut [][..] } else { &mut route[i * route_image..][..route_image] };
                    max_pool_2x2_route_forward(z, &pool, epilogue.relu, y, route);
                }
            } else {
                // y = relu?(conv(x) + b)
                conv(x, epilogue.relu, [g.oh, g.ow], &mut s.col, &mut s.dcol, y);
            }
        })
    };
    let outputs = y.par_chunks_mut(images * out_image).zip(x.par_chunks(images * image));
    if epilogue.max_pool_2x2 && !route.is_empty() {
        outputs.zip(route.par_chunks_mut(images * route_image)).for_each(|((y, x), route)| block(y, x, route));
    } else {
        outputs.for_each(|(y, x)| block(y, x, &mut []));
    }
}

/// One block's `out[rows, OC] = conv(x) + b`, then `max(0, ·)` with `relu`:
/// by the [`direct`] kernel when there is one, else as `im2col(x) · W[OC, K]ᵀ`
/// (`col` is the thread's scratch) with the bias and ReLU applied row by
/// row while the block is in cache.
#[allow(clippy::too_many_arguments)]
fn conv_bias(
    x: &[f32],
    g: &ConvGeometry,
    (weight, packed): (&[f32], Option<&PackedMatrix>),
    bias: &[f32],
    relu: bool,
    direct: Option<direct::Direct>,
    col: &mut Vec<f32>,
    out: &mut [f32],
) {
    let oc = bias.len();
    let (rows, k) = (out.len() / oc, weight.len() / oc);
    if let Some(direct) = direct {
        // out = Σ_taps x · W + b, straight from the image
        direct::forward(direct, x, g, weight, bias, out);
        if relu {
            out.iter_mut().for_each(|y| *y = y.max(0.0));
        }
        return;
    }
    let col = grown(col, rows * k);
    // col[rows, k·k·C] = the window under the kernel at each output pixel
    im2col_serial(x, g, col);
    if let Some(packed) = packed {
        // out = col · W[OC, k·k·C]ᵀ + b, W packed once
        matmul_packed(col, k, rows, packed, Some(bias), out, oc);
        if relu {
            out.iter_mut().for_each(|y| *y = y.max(0.0));
        }
        return;
    }
    // out = col · W[OC, k·k·C]ᵀ + b
    Gemm::new(rows, oc, k).b_transposed().run_serial(col, weight, out);
    for row in out.chunks_exact_mut(oc) {
        if relu {
            row.iter_mut().zip(bias).for_each(|(y, b)| *y = (*y + b).max(0.0));
        } else {
            row.iter_mut().zip(bias).for_each(|(y, b)| *y += b);
        }
    }
}

/// The first `len` values of `buffer`, grown (once) when it is shorter
/// (the kernels' per-thread scratch).
pub(super) fn grown(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    &mut buffer[..len]
}

/// Backward of [`conv_forward`], from the layer's input `x` and `dy`: writes
/// `dweight [OC, k·k·C]` and `dbias [OC]`, and, unless `dx` is `None` (the
/// first layer), `dx [B, H, W, C]` (overwritten). `partials` is reused
/// scratch for the per-group gradient sums. With the same `blocking`, the
/// result is the same for any number of threads.
#[allow(clippy::too_many_arguments)]
pub fn conv_backward(
    x: &[f32],
    dy: &[f32],
    g: &ConvGeometry,
    weight: &[f32],
    dweight: &mut [f32],
    dbias: &mut [f32],
    dx: Option<&mut [f32]>,
    partials: &mut Vec<f32>,
    blocking: Blocking,
) {
    let grads = ConvGrads { dweight, dbias, dx, partials };
    conv_backward_fused(x, &[], dy, &[], g, weight, grads, blocking, Epilogue::default());
}

/// Where [`conv_backward_fused`] writes: the parameter gradients, the input
/// gradient unless it is `None` (the first layer), and reused scratch for
/// the per-group partial sums.
pub struct ConvGrads<'a> {
    /// d(loss)/dW `[OC, k·k·C]`, overwritten.
    pub dweight: &'a mut [f32],
    /// d(loss)/db `[OC]`, overwritten.
    pub dbias: &'a mut [f32],
    /// d(loss)/dx `[B, H, W, C]`, overwritten, when asked.
    pub dx: Option<&'a mut [f32]>,
    /// Scratch for the per-group partial sums, grown once.
    pub partials: &'a mut Vec<f32>,
}

/// Backward of [`conv_forward_fused`], from the layer's input `x`, its
/// output `y` and route (as forward left them) and `dy` = d(loss)/dy. Each
/// block first rebuilds dz = d(loss)/dz of the convolution's own output in
/// scratch (through the pooling's route and the ReLU's mask), then goes on
/// as the plain convolution. With the same `blocking`, the result is the
/// same for any number of threads.
#[allow(clippy::too_many_arguments)]
pub fn conv_backward_fused(
    x: &[f32],
    y: &[f32],
    dy: &[f32],
    route: &[u8],
    g: &ConvGeometry,
    weight: &[f32],
    grads: ConvGrads,
    blocking: Blocking,
    epilogue: Epilogue,
) {
    backward_blocks(x, y, dy, route, g, weight, None, grads, blocking, epilogue);
}

/// [`conv_backward_fused`] for a 3×3, stride-1 convolution by Winograd's
/// F(2×2, 3×3) (`kernels/winograd/backward.rs`): the weight gradient from the
/// transformed tiles of `x` and of dz, the input gradient as a convolution
/// of dz with the `flipped` filters ([`WinogradFilters::update_flipped`] of
/// `weight`). The same gradients within rounding; with the same
/// `blocking`, the same for any number of threads.
///
/// # Panics
/// When the geometry is not a 3×3, stride-1 convolution or the flipped filters do not match it.
#[allow(clippy::too_many_arguments)]
pub fn conv_backward_winograd(
    x: &[f32],
    y: &[f32],
    dy: &[f32],
    route: &[u8],
    g: &ConvGeometry,
    weight: &[f32],
    flipped: &WinogradFilters,
    grads: ConvGrads,
    blocking: Blocking,
    epilogue: Epilogue,
) {
    assert!(winograd::supported(g), "Winograd needs a 3×3 kernel with stride 1");
    let whole_groups =
        Blocking { images: blocking.images.max(1) * blocking.blocks_per_group.max(1), blocks_per_group: 1 };
    backward_blocks(x, y, dy, route, g, weight, Some(flipped), grads, whole_groups, epilogue);
}

/// The backward pass, block by block: by im2col and GEMM, or by Winograd
/// when the flipped filters are given.
#[allow(clippy::too_many_arguments)]
fn backward_blocks(
    x: &[f32],
    y: &[f32],
    dy: &[f32],
    route: &[u8],
    g: &ConvGeometry,
    weight: &[f32],
    flipped: Option<&WinogradFilters>,
    grads: ConvGrads,
    blocking: Blocking,
    epilogue: Epilogue,
) {
    let ConvGrads { dweight, dbias, dx, partials } = grads;
    let (oc, k, pixels, image) = (dbias.len(), g.patch_len(), g.oh * g.ow, g.h * g.w * g.c);
    dweight.fill(0.0);
    dbias.fill(0.0);
    if oc == 0 || k == 0 || pixels == 0 || image == 0 || dy.is_empty() {
        if let Some(dx) = dx {
            dx.fill(0.0);
        }
        return;
    }
    let conv_out = [g.oh, g.ow, oc];
    let (out_image, route_image) =
        (epilogue.output_shape(conv_out).iter().product::<usize>(), epilogue.route_len(conv_out));
    let pool = epilogue.pool(conv_out);
    // Groups of blocks, each summing its blocks' gradients into one partial:
    // fixed by the shapes (never by the thread count), few enough that adding
    // the partials up at the end costs little.
    let (images, per_group) = (blocking.images.max(1), blocking.blocks_per_group.max(1));
    let (x_block, dy_block, route_block) = (images * image, images * out_image, images * route_image);
    let part = oc * k + oc;
    let batch = x.len() / image;
    partials.resize(batch.div_ceil(images * per_group) * part, 0.0);
    // Block `b` of the layer's output and of the route (read only by the epilogues that need them).
    let y_block = |b: usize| &y[b * dy_block..((b + 1) * dy_block).min(y.len())];
    let route_of = |b: usize| &route[b * route_block..((b + 1) * route_block).min(route.len())];
    // One block: dz from dy, its im2col again, its share of dW and db, and (when asked) its dx.
    let block = |part: &mut [f32], b: usize, x: &[f32], dy: &[f32], dx: Option<&mut [f32]>, accumulate: bool| {
        SCRATCH.with_borrow_mut(|s| {
            let rows = x.len() / image * pixels;
            let dz: &[f32] = if epilogue.max_pool_2x2 {
                let dz = grown(&mut s.z, rows * oc);
                let (y, route) = (y_block(b), route_of(b));
                let images = dz.chunks_exact_mut(pixels * oc).zip(y.chunks_exact(out_image));
                for ((dz, y), (dy, route)) in
                    images.zip(dy.chunks_exact(out_image).zip(route.chunks_exact(route_image)))
                {
                    // from y = relu?(max over each window of z): dz at the winning taps
                    max_pool_2x2_route_backward(y, dy, route, &pool, epilogue.relu, dz);
                }
                dz
            } else if epilogue.relu {
                let dz = grown(&mut s.z, rows * oc);
                // from y = max(0, z):  dz = dy · (y > 0)
                for ((dz, dy), y) in dz.iter_mut().zip(dy).zip(y_block(b)) {
                    *dz = dy * relu_grad(*y);
                }
                dz
            } else {
                dy
            };
            if let Some(flipped) = flipped {
                // from z_t = Aᵀ (U ⊙ V_t) A:  dWᵀ (+)= Gᵀ [Σ_t (A dz_t Aᵀ) ⊙ V_t] G, over the pixels forward computed
                let needed = if epilogue.max_pool_2x2 { [g.oh / 2 * 2, g.ow / 2 * 2] } else { [g.oh, g.ow] };
                let scratch = (&mut s.col, &mut s.dcol, &mut s.du);
                winograd::weight_grad(x, dz, g, oc, needed, &mut part[..oc * k], accumulate, scratch);
                // from z = … + b:  db[OC] (+)= Σ_rows dz
                block_bias_grad(dz, &mut part[oc * k..], accumulate);
                if let Some(dx) = dx {
                    // from z = x ⋆ W:  dx = dz (padded) ⋆ flip(W)ᵀ, by Winograd as forward
                    let zeros = grown(&mut s.zeros, g.c);
                    winograd::input_grad(dz, g, flipped, zeros, dx, (&mut s.col, &mut s.dcol));
                }
                return;
            }
            let col = grown(&mut s.col, rows * k);
            // col = im2col(x), as in forward
            im2col_serial(x, g, col);
            block_weight_grad(col, dz, oc, k, &mut part[..oc * k], accumulate);
            // from z = … + b:  db[OC] (+)= Σ_rows dz
            block_bias_grad(dz, &mut part[oc * k..], accumulate);
            if let Some(dx) = dx {
                let dcol = grown(&mut s.dcol, rows * k);
                // from z = col·Wᵀ:  dcol[rows, k·k·C] = dz[rows, OC] · W[OC, k·k·C]
                Gemm::new(rows, k, oc).run_serial(dz, weight, dcol);
                // from col = im2col(x):  dx = col2im(dcol)
                col2im_serial(dcol, g, dx);
            }
        })
    };
    let groups = partials
        .par_chunks_mut(part)
        .zip(x.par_chunks(x_block * per_group))
        .zip(dy.par_chunks(dy_block * per_group))
        .enumerate();
    match dx {
        None => groups.for_each(|(gi, ((part, x), dy))| {
            for (i, (x, dy)) in x.chunks(x_block).zip(dy.chunks(dy_block)).enumerate() {
                block(part, gi * per_group + i, x, dy, None, i > 0);
            }
        }),
        Some(dx) => groups.zip(dx.par_chunks_mut(x_block * per_group)).for_each(|((gi, ((part, x), dy)), dx)| {
            let blocks = x.chunks(x_block).zip(dy.chunks(dy_block)).zip(dx.chunks_mut(x_block));
            for (i, ((x, dy), dx)) in blocks.enumerate() {
                block(part, gi * per_group + i, x, dy, Some(dx), i > 0);
            }
        }),
    }
    // The groups' partial sums, added in group order.
    for part in partials.chunks_exact(part) {
        let (dw, db) = part.split_at(oc * k);
        // dw holds dWᵀ [k·k·C, OC]
        for (t, row) in dw.chunks_exact(oc).enumerate() {
            row.iter().enumerate().for_each(|(o, p)| dweight[o * k + t] += p);
        }
        dbias.iter_mut().zip(db).for_each(|(d, p)| *d += p);
    }
}

/// One block's share of the weight gradient, written into (or, with
/// `accumulate`, added to) its group's `dw`, stored transposed, `[k·k·C, OC]`:
/// the orientation the GEMM runs faster for every preset's layers
/// (single-thread, one block, 2026-12-02: the second convolutions of `fast`
/// and `cnn` 42–45 against 50–60 µs and 83–85 against 99 µs, the third
/// 108–110 against 117 µs; first layers the same or several times faster,
/// their output being `OC` wide and only 9 or 25 rows tall).
fn block_weight_grad(col: &[f32], dz: &[f32], oc: usize, k: usize, dw: &mut [f32], accumulate: bool) {
    let rows = dz.len() / oc;
    // from z = col·Wᵀ:  dWᵀ[k·k·C, OC] (+)= col[rows, k·k·C]ᵀ · dz[rows, OC]
    Gemm::new(k, oc, rows).a_transposed().accumulating(accumulate).run_serial(col, dz, dw);
}

/// One block's share of the bias gradient: `db[OC] (+)= Σ_rows dz`.
fn block_bias_grad(dz: &[f32], db: &mut [f32], accumulate: bool) {
    if !accumulate {
        db.fill(0.0);
    }
    for row in dz.chunks_exact(db.len()) {
        db.iter_mut().zip(row).for_each(|(d, v)| *d += v);
    }
}
