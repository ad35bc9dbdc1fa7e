//! The optimised kernels against their plain reference twins, on random shapes.

use chiffre::kernels::{self, reference, ConvGeometry, PoolGeometry, Transpose};
use chiffre::layers::{Conv2d, Conv2dConfig, Init, Layer, Mode, Padding, Pool2d};
use chiffre::tensor::Tensor;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_vec(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

fn assert_all_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{what}[{i}]: got {g}, want {w}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn matmul_matches_reference(m in 1usize..70, n in 1usize..70, k in 1usize..70, ta: bool, tb: bool, acc: bool, seed: u64) {
        let a = random_vec(m * k, seed);
        let b = random_vec(k * n, seed ^ 1);
        let start = random_vec(m * n, seed ^ 2);
        let mut want = reference::matmul(m, n, k, &a, &b);
        if acc {
            want.iter_mut().zip(&start).for_each(|(w, s)| *w += s);
        }
        let (a_in, ta_flag) = if ta { (transpose(&a, m, k), Transpose::Yes) } else { (a, Transpose::No) };
        let (b_in, tb_flag) = if tb { (transpose(&b, k, n), Transpose::Yes) } else { (b, Transpose::No) };
        let mut got = start;
        kernels::Gemm { m, n, k, a: ta_flag, b: tb_flag, accumulate: acc }.run(&a_in, &b_in, &mut got);
        assert_all_close(&got, &want, "matmul");
    }

    #[test]
    fn conv2d_matches_direct_convolution(
        batch in 1usize..4, h in 1usize..12, w in 1usize..12, c in 1usize..5,
        filters in 1usize..6, k in 1usize..5, stride in 1usize..4, same: bool, seed: u64,
    ) {
        let padding = if same { Padding::Same } else { Padding::Valid };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let Ok(mut conv) = Conv2d::new([h, w, c], Conv2dConfig { filters, kernel: k, stride, padding, init: Init::Glorot }, &mut rng) else {
            // Impossible shapes must be refused exactly when the kernel does not fit.
            prop_assert!(!same && (k > h || k > w));
            return Ok(());
        };
        let mut bias = Vec::new();
        let mut weight = Vec::new();
        conv.visit_params_mut(&mut |name, p| {
            if name == "bias" {
                p.value.data_mut().copy_from_slice(&random_vec(filters, seed ^ 3));
                bias = p.value.data().to_vec();
            } else {
                weight = p.value.data().to_vec();
            }
        });
        let [oh, ow, _] = <[usize; 3]>::try_from(conv.output_shape()).unwrap();
        let total_h = ((oh - 1) * stride + k).saturating_sub(h);
        let total_w = ((ow - 1) * stride + k).saturating_sub(w);
        let g = ConvGeometry { h, w, c, k, stride, pad_top: total_h / 2, pad_left: total_w / 2, oh, ow };
        let x = Tensor::from_vec(&[batch, h, w, c], random_vec(batch * h * w * c, seed ^ 4)).unwrap();
        let mut y = Tensor::default();
        conv.forward(&x, &mut y, Mode::Train);
        let want = reference::conv2d(x.data(), &weight, &bias, &g, batch);
        assert_all_close(y.data(), &want, "conv2d");
    }

    /// The blocked convolution, forward and backward, for any cut of the batch
    /// into blocks and groups, against the definition.
    #[test]
    fn blocked_convolution_matches_definition(
        batch in 1usize..7, h in 1usize..9, w in 1usize..9, c in 1usize..4, oc in 1usize..5,
        k in 1usize..4, stride in 1usize..3, images in 1usize..4, per_group in 1usize..3, seed: u64,
    ) {
        prop_assume!(k <= h && k <= w);
        let (oh, ow) = ((h - k) / stride + 1, (w - k) / stride + 1);
        let g = ConvGeometry { h, w, c, k, stride, pad_top: 0, pad_left: 0, oh, ow };
        let blocking = kernels::Blocking { images, blocks_per_group: per_group };
        let x = random_vec(batch * h * w * c, seed);
        let weight = random_vec(oc * g.patch_len(), seed ^ 1);
        let bias = random_vec(oc, seed ^ 2);
        let rows = batch * oh * ow;
        let mut y = vec![f32::NAN; rows * oc];
        kernels::conv_forward(&x, &g, &weight, &bias, &mut y, blocking);
        assert_all_close(&y, &reference::conv2d(&x, &weight, &bias, &g, batch), "forward");

        let dy = random_vec(rows * oc, seed ^ 3);
        let (want_dw, want_db, want_dx) = reference::conv2d_backward(&x, &weight, &dy, &g, batch, oc);
        let (mut dw, mut db, mut dx) = (vec![f32::NAN; weight.len()], vec![f32::NAN; oc], vec![f32::NAN; x.len()]);
        let mut partials = Vec::new();
        kernels::conv_backward(&x, &dy, &g, &weight, &mut dw, &mut db, Some(&mut dx), &mut partials, blocking);
        assert_all_close(&dw, &want_dw, "dweight");
        assert_all_close(&db, &want_db, "dbias");
        assert_all_close(&dx, &want_dx, "dx");
        // Without the input gradient (a first layer), the same parameter gradients.
        let (mut dw2, mut db2) = (vec![f32::NAN; weight.len()], vec![f32::NAN; oc]);
        kernels::conv_backward(&x, &dy, &g, &weight, &mut dw2, &mut db2, None, &mut partials, blocking);
        prop_assert_eq!(&dw2, &dw);
        prop_assert_eq!(&db2, &db);
    }

    /// The convolution fused with the ReLU and 2×2 max pooling that follow
    /// it, forward and backward, against the three layers' definitions run
    /// one after the other (ReLU first, as in the tutorial's network: the
    /// fused kernel pools first, which must not change a number).
    #[test]
    fn fused_convolution_matches_the_layers_one_by_one(
        batch in 1usize..6, h in 2usize..10, w in 2usize..10, c in 1usize..4, oc in 1usize..6,
        k in 1usize..4, images in 1usize..4, per_group in 1usize..3,
        relu: bool, pool: bool, first_layer: bool, ties: bool, seed: u64,
    ) {
        prop_assume!(k < h && k < w);
        let (oh, ow) = (h - k + 1, w - k + 1);
        prop_assume!(!pool || (oh >= 2 && ow >= 2));
        let g = ConvGeometry { h, w, c, k, stride: 1, pad_top: 0, pad_left: 0, oh, ow };
        let pg = PoolGeometry { h: oh, w: ow, c: oc, size: 2, stride: 2, oh: oh / 2, ow: ow / 2 };
        let blocking = kernels::Blocking { images, blocks_per_group: per_group };
        let epilogue = kernels::Epilogue { relu, max_pool_2x2: pool };
        // With `ties`, small whole numbers: exact sums, so equal maxima in many windows.
        let values = |n: usize, s: u64| -> Vec<f32> {
            random_vec(n, s).into_iter().map(|v| if ties { (2.0 * v).round() } else { v }).collect()
        };
        let (x, weight, bias) = (values(batch * h * w * c, seed), values(oc * g.patch_len(), seed ^ 1), values(oc, seed ^ 2));

        // The definitions, layer by layer: z = conv(x), r = relu?(z), y = pool?(r).
        let z = reference::conv2d(&x, &weight, &bias, &g, batch);
        let r: Vec<f32> = z.iter().map(|&v| if relu { v.max(0.0) } else { v }).collect();
        let want_y = if pool { reference::pool(&r, &pg, batch, true) } else { r.clone() };
        let out_len = want_y.len();
        let mut y = vec![f32::NAN; out_len];
        let mut route = vec![9u8; batch * epilogue.route_len([oh, ow, oc])];
        kernels::conv_forward_fused(&x, &g, &weight, &bias, &mut y, blocking, epilogue, &mut route);
        assert_all_close(&y, &want_y, "fused forward");
        // For inference (no route kept): the same output, to the bit.
        let mut inferred = vec![f32::NAN; out_len];
        kernels::conv_forward_fused(&x, &g, &weight, &bias, &mut inferred, blocking, epilogue, &mut []);
        prop_assert_eq!(inferred.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), y.iter().map(|v| v.to_bits()).collect::<Vec<_>>());

        let dy = random_vec(out_len, seed ^ 3);
        let dr = if pool { reference::max_pool_backward(&r, &dy, &pg, batch) } else { dy.clone() };
        let dz: Vec<f32> = dr.iter().zip(&z).map(|(&d, &v)| if relu && v <= 0.0 { 0.0 } else { d }).collect();
        let (want_dw, want_db, want_dx) = reference::conv2d_backward(&x, &weight, &dz, &g, batch, oc);
        let (mut dw, mut db, mut dx) = (vec![f32::NAN; weight.len()], vec![f32::NAN; oc], vec![f32::NAN; x.len()]);
        let mut partials = Vec::new();
        let grads = kernels::ConvGrads {
            dweight: &mut dw, dbias: &mut db, dx: (!first_layer).then_some(&mut dx[..]), partials: &mut partials,
        };
        kernels::conv_backward_fused(&x, &y, &dy, &route, &g, &weight, grads, blocking, epilogue);
        assert_all_close(&dw, &want_dw, "fused dweight");
        assert_all_close(&db, &want_db, "fused dbias");
        if !first_layer {
            assert_all_close(&dx, &want_dx, "fused dx");
        }
    }

    /// First layers (one channel, the filter counts the direct kernel takes):
    /// forward by the direct kernel (on CPUs with AVX2 and FMA; with a 2×2
    /// pooling after it, two output rows at a time), backward by im2col +
    /// GEMM, through the fused entry points, against the definitions.
    #[test]
    fn direct_first_layer_convolution_matches_definition(
        batch in 1usize..5, h in 3usize..14, w in 3usize..14, k in 1usize..6, oc_index in 0usize..4,
        images in 1usize..4, relu: bool, pool: bool, first_layer: bool, seed: u64,
    ) {
        prop_assume!(k <= h && k <= w);
        let oc = [8, 16, 24, 32][oc_index];
        let (oh, ow) = (h - k + 1, w - k + 1);
        prop_assume!(!pool || (oh >= 2 && ow >= 2));
        let g = ConvGeometry { h, w, c: 1, k, stride: 1, pad_top: 0, pad_left: 0, oh, ow };
        // On this kind of machine the direct kernel must be the one tested (3×3 and 5×5).
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            prop_assert_eq!(kernels::direct::supported(&g, oc).is_some(), k == 3 || k == 5);
        }
        let blocking = kernels::Blocking { images, blocks_per_group: 2 };
        let epilogue = kernels::Epilogue { relu, max_pool_2x2: pool };
        let pg = PoolGeometry { h: oh, w: ow, c: oc, size: 2, stride: 2, oh: oh / 2, ow: ow / 2 };
        let x = random_vec(batch * h * w, seed);
        let weight = random_vec(oc * k * k, seed ^ 1);
        let bias = random_vec(oc, seed ^ 2);
        let z = reference::conv2d(&x, &weight, &bias, &g, batch);
        let r: Vec<f32> = z.iter().map(|&v| if relu { v.max(0.0) } else { v }).collect();
        let want_y = if pool { reference::pool(&r, &pg, batch, true) } else { r.clone() };
        let mut y = vec![f32::NAN; want_y.len()];
        let mut route = vec![9u8; batch * epilogue.route_len([oh, ow, oc])];
        kernels::conv_forward_fused(&x, &g, &weight, &bias, &mut y, blocking, epilogue, &mut route);
        assert_all_close(&y, &want_y, "direct forward");
        // For inference (no route kept): the same output, to the bit.
        let mut inferred = vec![f32::NAN; y.len()];
        kernels::conv_forward_fused(&x, &g, &weight, &bias, &mut inferred, blocking, epilogue, &mut []);
        prop_assert_eq!(inferred.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), y.iter().map(|v| v.to_bits()).collect::<Vec<_>>());

        let dy = random_vec(want_y.len(), seed ^ 3);
        let dr = if pool { reference::max_pool_backward(&r, &dy, &pg, batch) } else { dy.clone() };
        let dz: Vec<f32> = dr.iter().zip(&z).map(|(&d, &v)| if relu && v <= 0.0 { 0.0 } else { d }).collect();
        let (want_dw, want_db, want_dx) = reference::conv2d_backward(&x, &weight, &dz, &g, batch, oc);
        let (mut dw, mut db, mut dx) = (vec![f32::NAN; weight.len()], vec![f32::NAN; oc], vec![f32::NAN; x.len()]);
        let mut partials = Vec::new();
        let grads = kernels::ConvGrads {
            dweight: &mut dw, dbias: &mut db, dx: (!first_layer).then_some(&mut dx[..]), partials: &mut partials,
        };
        kernels::conv_backward_fused(&x, &y, &dy, &route, &g, &weight, grads, blocking, epilogue);
        assert_all_close(&dw, &want_dw, "direct dweight");
        assert_all_close(&db, &want_db, "direct dbias");
        if !first_layer {
            assert_all_close(&dx, &want_dx, "direct dx");
        }
    }

    /// The first layer's inference kernel that pools in registers (32
    /// filters, 3×3 or 5×5), on pictures up to MNIST's size and beyond,
    /// odd sides included: the same values to the bit as the convolution
    /// written out and then pooled.
    #[test]
    fn pooling_in_registers_matches_the_written_convolution_to_the_bit(
        batch in 1usize..4, h in 5usize..34, w in 5usize..34, five: bool, relu: bool, seed: u64,
    ) {
        let (k, oc) = (if five { 5 } else { 3 }, 32);
        let (oh, ow) = (h - k + 1, w - k + 1);
        let g = ConvGeometry { h, w, c: 1, k, stride: 1, pad_top: 0, pad_left: 0, oh, ow };
        let Some(direct) = kernels::direct::supported(&g, oc) else { return Ok(()) };
        prop_assert!(direct.pools_in_registers());
        let x = random_vec(batch * h * w, seed);
        let weight = random_vec(oc * k * k, seed ^ 1);
        let bias = random_vec(oc, seed ^ 2);
        let mut z = vec![f32::NAN; batch * oh * ow * oc];
        kernels::direct::forward(direct, &x, &g, &weight, &bias, &mut z);
        let pg = PoolGeometry { h: oh, w: ow, c: oc, size: 2, stride: 2, oh: oh / 2, ow: ow / 2 };
        // max and ReLU are exact: any order of them gives the same values
        let r: Vec<f32> = z.iter().map(|&v| if relu { v.max(0.0) } else { v }).collect();
        let want = reference::pool(&r, &pg, batch, true);
        let mut got = vec![f32::NAN; want.len()];
        kernels::direct::forward_pooled(direct, &x, &g, &weight, &bias, relu, &mut got);
        prop_assert_eq!(got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    }

    #[test]
    fn pooling_matches_reference(
        batch in 1usize..4, h in 1usize..12, w in 1usize..12, c in 1usize..5, size in 1usize..4, stride in 1usize..4, seed: u64,
    ) {
        prop_assume!(size <= h && size <= w);
        let x = Tensor::from_vec(&[batch, h, w, c], random_vec(batch * h * w * c, seed)).unwrap();
        let g = PoolGeometry { h, w, c, size, stride, oh: (h - size) / stride + 1, ow: (w - size) / stride + 1 };
        let mut y = Tensor::default();
        Pool2d::max([h, w, c], size, stride).unwrap().forward(&x, &mut y, Mode::Eval);
        assert_all_close(y.data(), &reference::pool(x.data(), &g, batch, true), "max pool");
        Pool2d::mean([h, w, c], size, stride).unwrap().forward(&x, &mut y, Mode::Eval);
        assert_all_close(y.data(), &reference::pool(x.data(), &g, batch, false), "avg pool");
    }

    #[test]
    fn weight_gradient_product_matches_reference(m in 1usize..40, n in 1usize..40, k in 1usize..7000, seed: u64) {
        let a = random_vec(k * m, seed); // stored k × m
        let b = random_vec(k * n, seed ^ 5);
        let want = reference::matmul(m, n, k, &transpose(&a, k, m), &b);
        let mut got = vec![f32::NAN; m * n];
        let mut workspace = Vec::new();
        kernels::matmul_reduce_rows(m, n, k, &a, &b, &mut got, &mut workspace);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            prop_assert!((g - w).abs() <= 1e-3 * (1.0 + w.abs()), "[{i}]: got {g}, want {w}");
        }
        let mut sums = vec![f32::NAN; n];
        kernels::sum_rows(&b, &mut sums, &mut workspace);
        for (j, s) in sums.iter().enumerate() {
            let want: f32 = (0..k).map(|r| b[r * n + j]).sum();
            prop_assert!((s - want).abs() <= 1e-3 * (1.0 + want.abs()), "sum [{j}]: got {s}, want {want}");
        }
    }

    /// Max-pool backward routes each gradient to the first maximum, ties included.
    #[test]
    fn max_pool_backward_matches_reference(
        batch in 1usize..3, h in 1usize..10, w in 1usize..10, c in 1usize..70, size in 1usize..4, stride in 1usize..4,
        levels in 1u32..4, seed: u64,
    ) {
        prop_assume!(size <= h && size <= w);
        // Few distinct values, so that ties are common.
        let x: Vec<f32> = random_vec(batch * h * w * c, seed).iter().map(|v| (v * levels as f32).round()).collect();
        let g = PoolGeometry { h, w, c, size, stride, oh: (h - size) / stride + 1, ow: (w - size) / stride + 1 };
        let mut y = vec![0.0; batch * g.oh * g.ow * c];
        kernels::max_pool_forward(&x, &g, &mut y);
        let dy = random_vec(y.len(), seed ^ 7);
        let mut dx = vec![f32::NAN; x.len()];
        kernels::max_pool_backward(&x, &y, &dy, &g, &mut dx);
        assert_all_close(&dx, &reference::max_pool_backward(&x, &dy, &g, batch), "max pool backward");
    }

    /// The 2×2, stride-2 fast path (every preset's pooling), ties and odd sizes included.
    #[test]
    fn max_pool_2x2_matches_reference(
        batch in 1usize..3, h in 2usize..12, w in 2usize..12, c in 1usize..40, levels in 1u32..4, seed: u64,
    ) {
        let x: Vec<f32> = random_vec(batch * h * w * c, seed).iter().map(|v| (v * levels as f32).round()).collect();
        let g = PoolGeometry { h, w, c, size: 2, stride: 2, oh: h / 2, ow: w / 2 };
        let mut y = vec![f32::NAN; batch * g.oh * g.ow * c];
        kernels::max_pool_forward(&x, &g, &mut y);
        assert_all_close(&y, &reference::pool(&x, &g, batch, true), "max pool 2x2");
        let dy = random_vec(y.len(), seed ^ 7);
        let mut dx = vec![f32::NAN; x.len()];
        kernels::max_pool_backward(&x, &y, &dy, &g, &mut dx);
        assert_all_close(&dx, &reference::max_pool_backward(&x, &dy, &g, batch), "max pool 2x2 backward");
    }

    /// col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)>.
    #[test]
    fn col2im_is_the_adjoint_of_im2col(
        batch in 1usize..3, h in 2usize..9, w in 2usize..9, c in 1usize..4, k in 1usize..4, stride in 1usize..3, seed: u64,
    ) {
        prop_assume!(k <= h && k <= w);
        let (oh, ow) = ((h - k) / stride + 1, (w - k) / stride + 1);
        let g = ConvGeometry { h, w, c, k, stride, pad_top: 0, pad_left: 0, oh, ow };
        let x = random_vec(batch * h * w * c, seed);
        let cols = random_vec(batch * oh * ow * g.patch_len(), seed ^ 9);
        let mut im = vec![0.0; cols.len()];
        kernels::im2col(&x, &g, &mut im);
        let mut back = vec![0.0; x.len()];
        kernels::col2im(&cols, &g, &mut back);
        let lhs: f64 = im.iter().zip(&cols).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
        prop_assert!((lhs - rhs).abs() < 1e-3 * (1.0 + lhs.abs()), "{lhs} vs {rhs}");
    }
}
