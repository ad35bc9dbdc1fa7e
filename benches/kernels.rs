//! Criterion benchmarks of the hot kernels, on the shapes the tutorial's CNN
//! (batch 64) and MLP (batch 128) give them. `cargo bench --bench kernels`.

use chiffre::kernels::{self, ConvGeometry, PoolGeometry, Transpose};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn data(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect()
}

/// (name, m, n, k, transpose a, transpose b)
const MATMULS: &[(&str, usize, usize, usize, Transpose, Transpose)] = &[
    ("square 512", 512, 512, 512, Transpose::No, Transpose::No),
    ("conv1 fwd 43264x32x9", 43264, 32, 9, Transpose::No, Transpose::Yes),
    ("conv1 dW 32x9x43264", 32, 9, 43264, Transpose::Yes, Transpose::No),
    ("conv2 fwd 7744x64x288", 7744, 64, 288, Transpose::No, Transpose::Yes),
    ("conv2 dW 64x288x7744", 64, 288, 7744, Transpose::Yes, Transpose::No),
    ("conv2 dcol 7744x288x64", 7744, 288, 64, Transpose::No, Transpose::No),
    ("conv3 fwd 576x64x576", 576, 64, 576, Transpose::No, Transpose::Yes),
    ("mlp fwd 128x512x784", 128, 512, 784, Transpose::No, Transpose::Yes),
    ("mlp dW 512x784x128", 512, 784, 128, Transpose::Yes, Transpose::No),
];

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul");
    for &(name, m, n, k, ta, tb) in MATMULS {
        let (a, b) = (data(m * k), data(k * n));
        let mut out = vec![0.0; m * n];
        group.throughput(Throughput::Elements((2 * m * n * k) as u64));
        group.bench_function(name, |bench| {
            bench.iter(|| kernels::Gemm { m, n, k, a: ta, b: tb, accumulate: false }.run(&a, &b, &mut out));
        });
    }
    group.finish();
}

fn im2col(c: &mut Criterion) {
    let mut group = c.benchmark_group("im2col");
    for (name, g) in [
        ("conv1", ConvGeometry { h: 28, w: 28, c: 1, k: 3, stride: 1, pad_top: 0, pad_left: 0, oh: 26, ow: 26 }),
        ("conv2", ConvGeometry { h: 13, w: 13, c: 32, k: 3, stride: 1, pad_top: 0, pad_left: 0, oh: 11, ow: 11 }),
    ] {
        let batch = 64;
        let x = data(batch * g.h * g.w * g.c);
        let mut col = vec![0.0; batch * g.oh * g.ow * g.patch_len()];
        let mut back = vec![0.0; x.len()];
        group.bench_function(format!("{name} im2col"), |b| b.iter(|| kernels::im2col(&x, &g, &mut col)));
        group.bench_function(format!("{name} col2im"), |b| b.iter(|| kernels::col2im(&col, &g, &mut back)));
    }
    group.finish();
}

/// The blocked convolution (im2col + GEMM per block of images), forward and
/// backward, on the shapes of the tutorial's CNN (batch 64) and of `fast`'s
/// first convolution (batch 256).
fn convolution(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv");
    let geometry = |h: usize, c: usize, k: usize| ConvGeometry {
        h,
        w: h,
        c,
        k,
        stride: 1,
        pad_top: 0,
        pad_left: 0,
        oh: h - k + 1,
        ow: h - k + 1,
    };
    for (name, g, oc, batch) in [
        ("cnn conv1", geometry(28, 1, 3), 32, 64),
        ("cnn conv2", geometry(13, 32, 3), 64, 64),
        ("cnn conv3", geometry(5, 64, 3), 64, 64),
        ("fast conv1", geometry(28, 1, 5), 24, 256),
    ] {
        let blocking = kernels::Blocking::for_shape(&g, oc);
        let rows = batch * g.oh * g.ow;
        let (x, w, b) = (data(batch * g.h * g.w * g.c), data(oc * g.patch_len()), data(oc));
        let mut y = vec![0.0; rows * oc];
        let (mut dx, mut dw, mut db, mut partials) =
            (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; oc], Vec::new());
        group.throughput(Throughput::Elements((2 * rows * g.patch_len() * oc) as u64));
        group.bench_function(format!("{name} forward"), |bench| {
            bench.iter(|| kernels::conv_forward(&x, &g, &w, &b, &mut y, blocking))
        });
        if g.c == 1 {
            // a first layer with its ReLU and 2×2 pooling: in training (the winners kept) and in
            // inference (each window's sums compared in registers)
            let epilogue = kernels::Epilogue { relu: true, max_pool_2x2: true };
            let mut pooled = vec![0.0; batch * (g.oh / 2) * (g.ow / 2) * oc];
            let mut route = vec![0u8; batch * epilogue.route_len([g.oh, g.ow, oc])];
            group.bench_function(format!("{name} forward, relu, pool, winners kept"), |bench| {
                bench.iter(|| kernels::conv_forward_fused(&x, &g, &w, &b, &mut pooled, blocking, epilogue, &mut route))
            });
            group.bench_function(format!("{name} forward, relu, pool, inference"), |bench| {
                bench.iter(|| kernels::conv_forward_fused(&x, &g, &w, &b, &mut pooled, blocking, epilogue, &mut []))
            });
        }
        let dy = y.clone();
        group.bench_function(format!("{name} backward"), |bench| {
            bench.iter(|| {
                kernels::conv_backward(&x, &dy, &g, &w, &mut dw, &mut db, Some(&mut dx), &mut partials, blocking)
            })
        });
        group.bench_function(format!("{name} backward, weights only"), |bench| {
            bench.iter(|| kernels::conv_backward(&x, &dy, &g, &w, &mut dw, &mut db, None, &mut partials, blocking))
        });
        if kernels::winograd_suits(&g, oc, batch) {
            // the same gradients by Winograd's F(2×2, 3×3) (not yet the layer's path: kernels/winograd/backward.rs)
            let mut flipped = kernels::WinogradFilters::new();
            flipped.update_flipped(&w, g.c, oc);
            let epilogue = kernels::Epilogue::default();
            for (what, with_dx) in [("backward winograd", true), ("backward winograd, weights only", false)] {
                group.bench_function(format!("{name} {what}"), |bench| {
                    bench.iter(|| {
                        let grads = kernels::ConvGrads {
                            dweight: &mut dw,
                            dbias: &mut db,
                            dx: with_dx.then_some(&mut dx[..]),
                            partials: &mut partials,
                        };
                        kernels::conv_backward_winograd(&x, &[], &dy, &[], &g, &w, &flipped, grads, blocking, epilogue)
                    })
                });
            }
        }
    }
    group.finish();
}

fn pooling(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool");
    let g = PoolGeometry { h: 26, w: 26, c: 32, size: 2, stride: 2, oh: 13, ow: 13 };
    let batch = 64;
    let x = data(batch * g.h * g.w * g.c);
    let mut y = vec![0.0; batch * g.oh * g.ow * g.c];
    let mut dx = vec![0.0; x.len()];
    kernels::max_pool_forward(&x, &g, &mut y);
    let dy = y.clone();
    group.bench_function("max fwd 64x26x26x32", |b| b.iter(|| kernels::max_pool_forward(&x, &g, &mut y)));
    group.bench_function("max bwd 64x26x26x32", |b| b.iter(|| kernels::max_pool_backward(&x, &y, &dy, &g, &mut dx)));
    group.bench_function("avg fwd 64x26x26x32", |b| b.iter(|| kernels::avg_pool_forward(&x, &g, &mut y)));
    group.finish();
}

/// The product with pre-packed weights in `f32` beside the same product in
/// 8 bits (`kernels::int8`, on this CPU's best instructions), on one thread:
/// the tutorial CNN's second and third convolutions for one image and for
/// 16, and its first dense layer. The int8 one's inputs are already
/// quantized (quantizing and dequantizing are not counted).
fn int8(c: &mut Criterion) {
    use kernels::int8::{matmul_i8, padded, quantize_activations, quantize_weights};
    let mut group = c.benchmark_group("int8");
    for (name, m, n, k) in [
        ("conv2 1 image 121x64x288", 121, 64, 288),
        ("conv2 16 images 1936x64x288", 1936, 64, 288),
        ("conv3 1 image 9x64x576", 9, 64, 576),
        ("dense1 64 images 64x64x576", 64, 64, 576),
    ] {
        let (a, w) = (data(m * k).iter().map(|v| v + 0.5).collect::<Vec<f32>>(), data(n * k));
        let mut packed = kernels::PackedMatrix::new();
        packed.pack_transposed(&w, n, k);
        let mut out = vec![0.0; m * n];
        group.throughput(Throughput::Elements((2 * m * n * k) as u64));
        group.bench_function(format!("{name} f32"), |bench| {
            bench.iter(|| kernels::matmul_packed(&a, k, m, &packed, None, &mut out, n));
        });
        let q = quantize_weights(&w, n, k).expect("finite weights");
        let mut qa = Vec::with_capacity(m * padded(k));
        quantize_activations(&a, k, 1.0 / 127.0, &mut qa);
        let mut sums = vec![0; m * n];
        group.bench_function(format!("{name} int8"), |bench| bench.iter(|| matmul_i8(&qa, &q.packed, &mut sums)));
        // The AVX2 kernel too where the best is VNNI: what a CPU without VNNI gets.
        let isas = kernels::int8::Int8Isa::available();
        if isas.len() > 2 {
            let avx2 = isas[1];
            group.bench_function(format!("{name} int8 {avx2:?}"), |bench| {
                bench.iter(|| kernels::int8::matmul_i8_with(avx2, &qa, &q.packed, &mut sums))
            });
        }
    }
    group.finish();
}

/// The tutorial's CNN end to end (untrained: the time does not depend on the
/// weights), in `f32` and in 8 bits ([`chiffre::model::QuantizedNetwork`],
/// scales calibrated on the same images), on one thread, for one image, a
/// reading's batch of candidate digits (32) and a batch of 256.
fn network(c: &mut Criterion) {
    use chiffre::layers::Mode;
    use chiffre::model::{preset, QuantizedNetwork, Sequential};
    let mut group = c.benchmark_group("network");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a one-thread pool");
    let mut f32_net = Sequential::new(&preset("cnn", 10).expect("cnn"), 1).expect("builds");
    let images: Vec<f32> = (0..256 * 784).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let mut int8_net = QuantizedNetwork::new(&mut f32_net, &images).expect("quantizes");
    for batch in [1, 32, 256] {
        let x = &images[..batch * 784];
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("cnn {batch} f32"), |b| {
            pool.install(|| {
                b.iter(|| {
                    f32_net.input_mut(batch).data_mut().copy_from_slice(x);
                    std::hint::black_box(f32_net.forward_loaded(Mode::Eval).data()[0])
                })
            })
        });
        group.bench_function(format!("cnn {batch} int8"), |b| {
            pool.install(|| b.iter(|| std::hint::black_box(int8_net.forward(x)[0])))
        });
    }
    group.finish();
}

criterion_group!(benches, matmul, im2col, convolution, pooling, int8, network);
criterion_main!(benches);
