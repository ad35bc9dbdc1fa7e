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

use super::gemm::{matmul_serial, Transpose};
use super::im2col::{col2im_serial, im2col_serial, ConvGeometry};
use rayon::prelude::*;
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
    /// Whether each group sums `dWᵀ [k·k·C, OC]` rather than `dW [OC, k·k·C]`
    /// (transposed when the partials are added up): the same numbers, but
    /// the GEMM runs several times faster when its output is `OC` wide and
    /// only a few rows tall, as for a first layer (`k·k·C` = 9 or 25).
    pub transposed_weight_grad: bool,
}

impl Blocking {
    /// The blocking for a convolution of geometry `g` with `oc` filters:
    /// blocks of about [`BLOCK_BYTES`], groups of about [`GROUP_IMAGES`].
    pub fn for_shape(g: &ConvGeometry, oc: usize) -> Self {
        let row_bytes = (g.patch_len() + oc).max(1) * std::mem::size_of::<f32>();
        let rows = BLOCK_BYTES / row_bytes;
        let images = (rows / (g.oh * g.ow).max(1)).max(1);
        Blocking { images, blocks_per_group: GROUP_IMAGES.div_ceil(images), transposed_weight_grad: g.patch_len() < oc }
    }
}

thread_local! {
    /// Each thread's im2col block and its gradient (`col`, `dcol`): about
    /// [`BLOCK_BYTES`] each, grown on first use and reused after. Only the
    /// serial code of one block runs while they are borrowed (no rayon call
    /// that could run another block on this thread).
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Forward: `y = im2col(x) · Wᵀ + b`, block by block.
///
/// `x` holds whole images `[B, H, W, C]`, `y` is sized for them
/// (`B·OH·OW·OC`). The im2col matrix lives only in a per-thread, L2-sized
/// scratch: backward builds it again from `x`, which costs less than
/// writing it to memory and reading it back (8.9 MB for the tutorial's
/// second convolution at batch 64).
pub fn conv_forward(x: &[f32], g: &ConvGeometry, weight: &[f32], bias: &[f32], y: &mut [f32], blocking: Blocking) {
    let (oc, k, pixels, image) = (bias.len(), g.patch_len(), g.oh * g.ow, g.h * g.w * g.c);
    if oc == 0 || k == 0 || pixels == 0 || image == 0 {
        return;
    }
    let images = blocking.images.max(1);
    y.par_chunks_mut(images * pixels * oc).zip(x.par_chunks(images * image)).for_each(|(y, x)| {
        SCRATCH.with_borrow_mut(|(col, _)| {
            let rows = y.len() / oc;
            let col = grown(col, rows * k);
            // col[rows, k·k·C] = the window under the kernel at each output pixel
            im2col_serial(x, g, col);
            // y = col · W[OC, k·k·C]ᵀ
            matmul_serial(rows, oc, k, col, Transpose::No, weight, Transpose::Yes, y, false);
            // y += b, on every row (while the block is still in cache)
            for row in y.chunks_exact_mut(oc) {
                row.iter_mut().zip(bias).for_each(|(y, b)| *y += b);
            }
        })
    });
}

/// The first `len` values of `buffer`, grown (once) when it is shorter.
fn grown(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
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
    let (oc, k, pixels, image) = (dbias.len(), g.patch_len(), g.oh * g.ow, g.h * g.w * g.c);
    dweight.fill(0.0);
    dbias.fill(0.0);
    if oc == 0 || k == 0 || pixels == 0 || image == 0 || dy.is_empty() {
        if let Some(dx) = dx {
            dx.fill(0.0);
        }
        return;
    }
    // Groups of blocks, each summing its blocks' gradients into one partial:
    // fixed by the shapes (never by the thread count), few enough that adding
    // the partials up at the end costs little.
    let (images, per_group) = (blocking.images.max(1), blocking.blocks_per_group.max(1));
    let (x_block, dy_block) = (images * image, images * pixels * oc);
    let part = oc * k + oc;
    partials.resize(dy.len().div_ceil(dy_block * per_group) * part, 0.0);
    let groups =
        partials.par_chunks_mut(part).zip(x.par_chunks(x_block * per_group)).zip(dy.par_chunks(dy_block * per_group));
    // One block: its im2col again, its share of dW and db, and (when asked) its dx.
    let block = |part: &mut [f32], x: &[f32], dy: &[f32], dx: Option<&mut [f32]>, accumulate: bool| {
        SCRATCH.with_borrow_mut(|(col, dcol)| {
            let rows = dy.len() / oc;
            let col = grown(col, rows * k);
            // col = im2col(x), as in forward
            im2col_serial(x, g, col);
            block_param_grads(col, dy, oc, k, part, accumulate, blocking.transposed_weight_grad);
            if let Some(dx) = dx {
                let dcol = grown(dcol, rows * k);
                // from y = col·Wᵀ:  dcol[rows, k·k·C] = dy[rows, OC] · W[OC, k·k·C]
                matmul_serial(rows, k, oc, dy, Transpose::No, weight, Transpose::No, dcol, false);
                // from col = im2col(x):  dx = col2im(dcol)
                col2im_serial(dcol, g, dx);
            }
        })
    };
    match dx {
        None => groups.for_each(|((part, x), dy)| {
            for (i, (x, dy)) in x.chunks(x_block).zip(dy.chunks(dy_block)).enumerate() {
                block(part, x, dy, None, i > 0);
            }
        }),
        Some(dx) => groups.zip(dx.par_chunks_mut(x_block * per_group)).for_each(|(((part, x), dy), dx)| {
            let blocks = x.chunks(x_block).zip(dy.chunks(dy_block)).zip(dx.chunks_mut(x_block));
            for (i, ((x, dy), dx)) in blocks.enumerate() {
                block(part, x, dy, Some(dx), i > 0);
            }
        }),
    }
    // The groups' partial sums, added in group order.
    for part in partials.chunks_exact(part) {
        let (dw, db) = part.split_at(oc * k);
        if blocking.transposed_weight_grad {
            // dw holds dWᵀ [k·k·C, OC]
            for (t, row) in dw.chunks_exact(oc).enumerate() {
                row.iter().enumerate().for_each(|(o, p)| dweight[o * k + t] += p);
            }
        } else {
            dweight.iter_mut().zip(dw).for_each(|(d, p)| *d += p);
        }
        dbias.iter_mut().zip(db).for_each(|(d, p)| *d += p);
    }
}

/// One block's share of the parameter gradients, written into (or, with
/// `accumulate`, added to) its group's `part = [dW | db]`, with `dW` stored
/// `[OC, k·k·C]`, or `[k·k·C, OC]` when `transposed`.
fn block_param_grads(
    col: &[f32],
    dy: &[f32],
    oc: usize,
    k: usize,
    part: &mut [f32],
    accumulate: bool,
    transposed: bool,
) {
    let rows = dy.len() / oc;
    let (dw, db) = part.split_at_mut(oc * k);
    if transposed {
        // from y = col·Wᵀ:  dWᵀ[k·k·C, OC] (+)= col[rows, k·k·C]ᵀ · dy[rows, OC]
        matmul_serial(k, oc, rows, col, Transpose::Yes, dy, Transpose::No, dw, accumulate);
    } else {
        // from y = col·Wᵀ:  dW[OC, k·k·C] (+)= dy[rows, OC]ᵀ · col[rows, k·k·C]
        matmul_serial(oc, k, rows, dy, Transpose::Yes, col, Transpose::No, dw, accumulate);
    }
    // from y = b + …:   db[OC] (+)= Σ_rows dy
    if !accumulate {
        db.fill(0.0);
    }
    for row in dy.chunks_exact(oc) {
        db.iter_mut().zip(row).for_each(|(d, v)| *d += v);
    }
}
