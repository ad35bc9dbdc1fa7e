//! The inference kernels that do fewer or smaller multiplications, against
//! the plain references on random shapes: the product with a pre-packed
//! right operand, and Winograd's F(2×2, 3×3) convolution, forward and
//! backward (alone, fused with ReLU and 2×2 max pooling, and inside the
//! `Conv2d` layer, whose transformed filters must follow every change of its
//! weights).
//!
//! Winograd's transforms change the rounding, so its outputs are compared
//! with a bound that scales with the size of what is summed: for each
//! output, `|got − want| ≤ 1e-5 · (1 + Σ|x·w| + |b|)`. Each output is a
//! sum of the same products as the direct convolution, formed through
//! transforms that only add, subtract and halve (every value passes through
//! at most 4 additions before its product and 6 after the channel sum), so
//! the error is a small multiple of f32's 6e-8 times the sum of magnitudes;
//! 1e-5 leaves room for the up to 16 · C products of one channel sum.

use chiffre::kernels::{self, reference, ConvGeometry, PackedMatrix, PoolGeometry, WinogradFilters};
use chiffre::layers::{Conv2d, Conv2dConfig, Dense, Init, Layer, Mode, Padding};
use chiffre::tensor::Tensor;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_vec(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Checks `got` against `want` within `1e-5 · (1 + scale)`, value by value.
fn assert_within(got: &[f32], want: &[f32], scale: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, ((g, w), s)) in got.iter().zip(want).zip(scale).enumerate() {
        let bound = 1e-5 * (1.0 + s.abs());
        assert!((g - w).abs() <= bound, "{what}[{i}]: got {g}, want {w} (bound {bound})");
    }
}

/// The geometry of a 3×3, stride-1 convolution over `h × w × c`, valid or same.
fn geometry(h: usize, w: usize, c: usize, same: bool) -> ConvGeometry {
    if same {
        ConvGeometry { h, w, c, k: 3, stride: 1, pad_top: 1, pad_left: 1, oh: h, ow: w }
    } else {
        ConvGeometry { h, w, c, k: 3, stride: 1, pad_top: 0, pad_left: 0, oh: h - 2, ow: w - 2 }
    }
}

/// The convolution by the definition, and the sums of magnitudes that bound its rounding.
fn reference_and_scale(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    g: &ConvGeometry,
    batch: usize,
) -> (Vec<f32>, Vec<f32>) {
    let abs = |v: &[f32]| v.iter().map(|v| v.abs()).collect::<Vec<f32>>();
    let want = reference::conv2d(x, weight, bias, g, batch);
    let scale = reference::conv2d(&abs(x), &abs(weight), &abs(bias), g, batch);
    (want, scale)
}

/// The definition's output `z` (and its rounding scale) after `epilogue`:
/// ReLU, then the 2×2 max pooling, whose geometry is returned too.
fn after_epilogue(
    z: &[f32],
    scale: &[f32],
    epilogue: kernels::Epilogue,
    g: &ConvGeometry,
    oc: usize,
    batch: usize,
) -> (Vec<f32>, Vec<f32>, PoolGeometry) {
    let r: Vec<f32> = z.iter().map(|&v| if epilogue.relu { v.max(0.0) } else { v }).collect();
    let pg = PoolGeometry { h: g.oh, w: g.ow, c: oc, size: 2, stride: 2, oh: g.oh / 2, ow: g.ow / 2 };
    if epilogue.max_pool_2x2 {
        (reference::pool(&r, &pg, batch, true), reference::pool(scale, &pg, batch, true), pg)
    } else {
        (r, scale.to_vec(), pg)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// `c = a · B + bias` with `B` packed once, any shape and row strides.
    #[test]
    fn packed_product_matches_reference(
        m in 1usize..40, n in 1usize..90, k in 1usize..80, pad_a in 0usize..3, pad_c in 0usize..3,
        transposed: bool, with_bias: bool, seed: u64,
    ) {
        let (lda, ldc) = (k + pad_a, n + pad_c);
        let a = random_vec(m * lda, seed);
        let b = random_vec(k * n, seed ^ 1);
        let bias = random_vec(n, seed ^ 2);
        let mut packed = PackedMatrix::new();
        if transposed {
            // B given as W = Bᵀ [n × k], as a layer stores its weights
            let w: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            packed.pack_transposed(&w, n, k);
        } else {
            packed.pack_rows(&b, k, n);
        }
        prop_assert_eq!((packed.k(), packed.n()), (k, n));
        let mut c = vec![f32::NAN; m * ldc];
        kernels::matmul_packed(&a, lda, m, &packed, with_bias.then_some(&bias[..]), &mut c, ldc);
        let dense_a: Vec<f32> = (0..m * k).map(|i| a[i / k * lda + i % k]).collect();
        let want = reference::matmul(m, n, k, &dense_a, &b);
        for i in 0..m {
            for j in 0..n {
                let want = want[i * n + j] + if with_bias { bias[j] } else { 0.0 };
                let got = c[i * ldc + j];
                prop_assert!((got - want).abs() <= 1e-5 * (1.0 + k as f32), "c[{i}][{j}] = {got}, want {want}");
            }
            // the padding between rows of c is never written
            prop_assert!(c[i * ldc + n..(i + 1) * ldc].iter().all(|v| v.is_nan()));
        }
    }

    /// Winograd against the definition, with and without the fused ReLU and
    /// 2×2 max pooling, valid and same padding, any cut of the batch.
    #[test]
    fn winograd_convolution_matches_definition(
        batch in 1usize..5, h in 3usize..14, w in 3usize..14, c in 1usize..20, oc in 1usize..40,
        same: bool, relu: bool, pool: bool, images in 1usize..4, seed: u64,
    ) {
        let g = geometry(h, w, c, same);
        prop_assume!(!pool || (g.oh >= 2 && g.ow >= 2));
        let (x, weight, bias) = (random_vec(batch * h * w * c, seed), random_vec(oc * 9 * c, seed ^ 1), random_vec(oc, seed ^ 2));
        let mut filters = WinogradFilters::new();
        filters.update(&weight, c, oc);
        prop_assert_eq!((filters.channels(), filters.filters()), (c, oc));
        let (z, scale) = reference_and_scale(&x, &weight, &bias, &g, batch);
        let epilogue = kernels::Epilogue { relu, max_pool_2x2: pool };
        let (want, scale, pg) = after_epilogue(&z, &scale, epilogue, &g, oc, batch);
        let blocking = kernels::Blocking { images, blocks_per_group: 1 };
        let mut y = vec![f32::NAN; want.len()];
        let mut route = vec![9u8; batch * epilogue.route_len([g.oh, g.ow, oc])];
        kernels::conv_forward_winograd(&x, &g, &filters, &bias, &mut y, blocking, epilogue, &mut route);
        assert_within(&y, &want, &scale, "winograd");
        // For inference (no route kept): the same output, to the bit.
        let mut inferred = vec![f32::NAN; want.len()];
        kernels::conv_forward_winograd(&x, &g, &filters, &bias, &mut inferred, blocking, epilogue, &mut []);
        prop_assert_eq!(inferred.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), y.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        if pool {
            // each route names a tap whose value (by the definition) is the window's maximum
            for (i, &tap) in route.iter().enumerate() {
                prop_assert!(tap < 4);
                let (b, rest) = (i / (pg.oh * pg.ow * oc), i % (pg.oh * pg.ow * oc));
                let (py, px, o) = (rest / (pg.ow * oc), rest / oc % pg.ow, rest % oc);
                let (zy, zx) = (2 * py + tap as usize / 2, 2 * px + tap as usize % 2);
                let at = ((b * g.oh + zy) * g.ow + zx) * oc + o;
                let winner = if relu { z[at].max(0.0) } else { z[at] };
                let bound = 2e-5 * (1.0 + scale[i]);
                prop_assert!((winner - want[i]).abs() <= bound, "route[{}] = {} names {}, the maximum is {}", i, tap, winner, want[i]);
            }
        }
    }

    /// Winograd's backward against the definition's gradients, with and
    /// without the fused ReLU and 2×2 max pooling (whose dropped odd row and
    /// column forward never computes), valid and same padding, any cut of
    /// the batch. The bound is the forward one, on the sums of magnitudes of
    /// each gradient's own products (`Σ|dz·x|` for dW, `Σ|dz·w|` for dx): the
    /// transforms of `x` and `dz` add at most 4 and 2 values, `Gᵀ dU G` at most 9
    /// halved ones, so the error stays a small multiple of f32's rounding of
    /// those sums.
    #[test]
    fn winograd_backward_matches_definition(
        batch in 1usize..5, h in 3usize..14, w in 3usize..14, c in 1usize..20, oc in 1usize..40,
        same: bool, relu: bool, pool: bool, images in 1usize..4, per_group in 1usize..3, first_layer: bool, seed: u64,
    ) {
        let g = geometry(h, w, c, same);
        prop_assume!(!pool || (g.oh >= 2 && g.ow >= 2));
        let (x, weight, bias) = (random_vec(batch * h * w * c, seed), random_vec(oc * 9 * c, seed ^ 1), random_vec(oc, seed ^ 2));
        let epilogue = kernels::Epilogue { relu, max_pool_2x2: pool };
        let blocking = kernels::Blocking { images, blocks_per_group: per_group };
        // forward (the im2col path: the route it leaves is what backward reads)
        let z = reference::conv2d(&x, &weight, &bias, &g, batch);
        let pg = PoolGeometry { h: g.oh, w: g.ow, c: oc, size: 2, stride: 2, oh: g.oh / 2, ow: g.ow / 2 };
        let r: Vec<f32> = z.iter().map(|&v| if relu { v.max(0.0) } else { v }).collect();
        let out_len = if pool { batch * pg.oh * pg.ow * oc } else { z.len() };
        let mut y = vec![f32::NAN; out_len];
        let mut route = vec![9u8; batch * epilogue.route_len([g.oh, g.ow, oc])];
        kernels::conv_forward_fused(&x, &g, &weight, &bias, &mut y, blocking, epilogue, &mut route);
        let dy = random_vec(out_len, seed ^ 3);
        // the definition's dz, and the gradients from it
        let dr = if pool { reference::max_pool_backward(&r, &dy, &pg, batch) } else { dy.clone() };
        let dz: Vec<f32> = dr.iter().zip(&z).map(|(&d, &v)| if relu && v <= 0.0 { 0.0 } else { d }).collect();
        let (want_dw, want_db, want_dx) = reference::conv2d_backward(&x, &weight, &dz, &g, batch, oc);
        let abs = |v: &[f32]| v.iter().map(|v| v.abs()).collect::<Vec<f32>>();
        let (dw_scale, db_scale, dx_scale) = reference::conv2d_backward(&abs(&x), &abs(&weight), &abs(&dz), &g, batch, oc);

        let mut flipped = WinogradFilters::new();
        flipped.update_flipped(&weight, c, oc);
        prop_assert_eq!((flipped.channels(), flipped.filters()), (oc, c));
        let (mut dw, mut db, mut dx) = (vec![f32::NAN; weight.len()], vec![f32::NAN; oc], vec![f32::NAN; x.len()]);
        let mut partials = Vec::new();
        let grads = kernels::ConvGrads {
            dweight: &mut dw, dbias: &mut db, dx: (!first_layer).then_some(&mut dx[..]), partials: &mut partials,
        };
        kernels::conv_backward_winograd(&x, &y, &dy, &route, &g, &weight, &flipped, grads, blocking, epilogue);
        assert_within(&dw, &want_dw, &dw_scale, "winograd dweight");
        assert_within(&db, &want_db, &db_scale, "winograd dbias");
        if !first_layer {
            assert_within(&dx, &want_dx, &dx_scale, "winograd dx");
        }
    }

    /// The layer takes the Winograd path where the rule says so, gives the
    /// definition's output (and gradients, by im2col: see
    /// `kernels/winograd/backward.rs` for why), and follows a change of its
    /// weights (an optimizer step, a load) on the next forward and backward.
    #[test]
    fn conv2d_layer_follows_its_weights_on_the_winograd_path(
        batch in 1usize..4, h in 4usize..12, c in 8usize..20, filters in 8usize..20, same: bool, seed: u64,
    ) {
        let padding = if same { Padding::Same } else { Padding::Valid };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let config = Conv2dConfig { filters, kernel: 3, stride: 1, padding, init: Init::Glorot };
        let mut conv = Conv2d::new([h, h, c], config, &mut rng).unwrap();
        let g = geometry(h, h, c, same);
        prop_assert!(kernels::winograd_suits(&g, filters, 1));
        let x = Tensor::from_vec(&[batch, h, h, c], random_vec(batch * h * h * c, seed ^ 4)).unwrap();
        let mut y = Tensor::default();
        for round in 0..2u64 {
            // new weights and biases, through the same door as an optimizer
            conv.visit_params_mut(&mut |_, p| {
                let n = p.value.len();
                p.value.data_mut().copy_from_slice(&random_vec(n, seed ^ (10 + round * 7 + n as u64)));
            });
            let (weight, bias) = (conv.weight().value.data().to_vec(), conv.bias().value.data().to_vec());
            conv.forward(&x, &mut y, Mode::Eval);
            let (want, scale) = reference_and_scale(x.data(), &weight, &bias, &g, batch);
            assert_within(y.data(), &want, &scale, "layer");
            // and backward, from the new weights
            let dy = Tensor::from_vec(y.shape(), random_vec(y.len(), seed ^ (20 + round))).unwrap();
            let mut dx = Tensor::default();
            conv.backward(&x, &y, &dy, Some(&mut dx));
            let (want_dw, want_db, want_dx) = reference::conv2d_backward(x.data(), &weight, dy.data(), &g, batch, filters);
            let abs = |v: &[f32]| v.iter().map(|v| v.abs()).collect::<Vec<f32>>();
            let (dw_scale, db_scale, dx_scale) =
                reference::conv2d_backward(&abs(x.data()), &abs(&weight), &abs(dy.data()), &g, batch, filters);
            assert_within(conv.weight().grad.data(), &want_dw, &dw_scale, "layer dweight");
            assert_within(conv.bias().grad.data(), &want_db, &db_scale, "layer dbias");
            assert_within(dx.data(), &want_dx, &dx_scale, "layer dx");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// im2col with the weights packed once against the definition, any
    /// kernel, stride, padding and cut of the batch, with and without the
    /// fused ReLU and pooling.
    #[test]
    fn packed_convolution_matches_definition(
        batch in 1usize..5, h in 3usize..12, c in 1usize..12, oc in 1usize..40, kernel in 1usize..5,
        stride in 1usize..3, relu: bool, pool: bool, images in 1usize..4, seed: u64,
    ) {
        prop_assume!(kernel <= h);
        let o = (h - kernel) / stride + 1;
        let g = ConvGeometry { h, w: h, c, k: kernel, stride, pad_top: 0, pad_left: 0, oh: o, ow: o };
        prop_assume!(!pool || o >= 2);
        let k = kernel * kernel * c;
        let (x, weight, bias) = (random_vec(batch * h * h * c, seed), random_vec(oc * k, seed ^ 1), random_vec(oc, seed ^ 2));
        let mut packed = PackedMatrix::new();
        packed.pack_transposed(&weight, oc, k);
        let (z, scale) = reference_and_scale(&x, &weight, &bias, &g, batch);
        let epilogue = kernels::Epilogue { relu, max_pool_2x2: pool };
        let (want, scale, _) = after_epilogue(&z, &scale, epilogue, &g, oc, batch);
        let blocking = kernels::Blocking { images, blocks_per_group: 1 };
        let mut y = vec![f32::NAN; want.len()];
        let mut route = vec![9u8; batch * epilogue.route_len([o, o, oc])];
        kernels::conv_forward_packed(&x, &g, &weight, &packed, &bias, &mut y, blocking, epilogue, &mut route);
        assert_within(&y, &want, &scale, "packed");
    }

    /// A dense layer infers a few rows by its packed weights, a batch by the
    /// GEMM: the same numbers within rounding, and a change of its weights
    /// (through the optimizer's door) is followed on the next forward.
    #[test]
    fn dense_layer_follows_its_weights_on_the_packed_path(
        inputs in 1usize..100, units in 1usize..40, batch in 1usize..80, seed: u64,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut dense = Dense::new(inputs, units, Init::Glorot, &mut rng);
        let x = Tensor::from_vec(&[batch, inputs], random_vec(batch * inputs, seed ^ 3)).unwrap();
        let (mut y, mut trained) = (Tensor::default(), Tensor::default());
        for round in 0..2u64 {
            dense.visit_params_mut(&mut |_, p| {
                let n = p.value.len();
                p.value.data_mut().copy_from_slice(&random_vec(n, seed ^ (20 + round * 5 + n as u64)));
            });
            let (weight, bias) = (dense.weight().value.data().to_vec(), dense.bias().value.data().to_vec());
            dense.forward(&x, &mut y, Mode::Eval);
            dense.forward(&x, &mut trained, Mode::Train);
            let want = reference::matmul(batch, units, inputs, x.data(), &transpose(&weight, units, inputs));
            for (i, (&got, &also)) in y.data().iter().zip(trained.data()).enumerate() {
                let want = want[i] + bias[i % units];
                let bound = 1e-5 * (1.0 + inputs as f32);
                prop_assert!((got - want).abs() <= bound && (also - want).abs() <= bound, "y[{}] = {} / {}, want {}", i, got, also, want);
            }
        }
    }
}

/// `w [rows × cols]` row-major, transposed.
fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..rows * cols).map(|i| w[(i % rows) * cols + i / rows]).collect()
}

/// The packed product is taken for few rows of a convolution without a
/// direct kernel: the third convolution of a number's tried digits, not a
/// first layer, not a large batch.
#[test]
fn the_packed_rule_picks_the_measured_paths() {
    let third = geometry(5, 5, 64, false);
    assert!(kernels::packed_suits(&third, 64, 40) && !kernels::packed_suits(&third, 64, 1000));
    assert!(!kernels::packed_suits(&geometry(28, 28, 1, false), 32, 1));
}

/// The rule takes the tutorial's second convolution (13×13×32 → 64) at any
/// batch and its third (5×5×64 → 64) only for one or two images.
#[test]
fn the_rule_picks_the_measured_paths() {
    let second = geometry(13, 13, 32, false);
    let third = geometry(5, 5, 64, false);
    assert!(kernels::winograd_suits(&second, 64, 1) && kernels::winograd_suits(&second, 64, 64));
    assert!(kernels::winograd_suits(&third, 64, 1) && !kernels::winograd_suits(&third, 64, 64));
    // a first layer (one channel) keeps its direct kernel; a 5×5 kernel is not for F(2×2, 3×3)
    assert!(!kernels::winograd_suits(&geometry(28, 28, 1, false), 32, 1));
    let five = ConvGeometry { h: 12, w: 12, c: 32, k: 5, stride: 1, pad_top: 0, pad_left: 0, oh: 8, ow: 8 };
    assert!(!kernels::winograd_suits(&five, 64, 1));
}
