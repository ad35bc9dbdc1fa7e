//! Speed measurements on real MNIST batches: training and inference
//! throughput, single-image latency, the matrix multiply's rate, memory.
//!
//! The same workloads as `shared/bench/torch_reference.py` and
//! `keras_reference.py`, so the numbers can be compared side by side.

use crate::data::{shuffle_indices, Mnist};
use crate::kernels::Gemm;
use crate::layers::{Layer, Mode};
use crate::loss::{softmax_rows, Loss};
use crate::model::{ModelSpec, QuantizedNetwork, Sequential};
use crate::optim::{Optimizer, OptimizerKind};
use crate::tensor::Tensor;
use serde::Serialize;
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The network.
    pub spec: ModelSpec,
    /// Training batch size (64 for the CNN, 128 for the MLP, as the references).
    pub batch_size: usize,
    /// Timed training steps, after `warmup_batches` untimed ones.
    pub train_batches: usize,
    /// Untimed steps first (buffers, caches, thread pool).
    pub warmup_batches: usize,
    /// Single-image calls timed for the latency percentiles.
    pub latency_calls: usize,
    /// Side of the square matrix product timed for `gemm_gflops`.
    pub gemm_size: usize,
    /// Also time the network in 8 bits ([`QuantizedNetwork`], calibrated on
    /// 1,000 training images), as `chiffre quantize` makes it.
    pub int8: bool,
}

/// The 8-bit network's inference, measured as the `f32` one's.
#[derive(Clone, Debug, Serialize)]
pub struct Int8Result {
    /// Inference images/s over the test images in batches of 1000, softmax included.
    pub infer_img_s: f64,
    /// Median milliseconds to classify one image on one thread.
    pub latency_ms_p50: f64,
    /// 99th percentile of the same.
    pub latency_ms_p99: f64,
}

/// Timing of one layer (or one fused step) during training.
#[derive(Clone, Debug, Serialize)]
pub struct LayerTime {
    /// Position and kind, e.g. `"3 conv2d"`, or the kinds of a fused step,
    /// e.g. `"0 conv2d+relu+max_pool2d"`.
    pub layer: String,
    /// Milliseconds per training step in forward.
    pub forward_ms: f64,
    /// Milliseconds per training step in backward.
    pub backward_ms: f64,
    /// Microseconds of this step's forward pass for one image on one thread
    /// (mean over the profiled latency calls).
    pub one_image_us: f64,
}

/// The measurements; the keys match the reference scripts'.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    /// `"chiffre <version>"`.
    pub engine: String,
    /// The network's name.
    pub arch: String,
    /// Training batch size.
    pub batch: usize,
    /// Worker threads.
    pub threads: usize,
    /// Steady-state training images/s (forward + backward + RMSprop step).
    pub train_img_s: f64,
    /// Inference images/s over the 10,000 test images in batches of 1000, softmax included.
    pub infer_img_s: f64,
    /// Median milliseconds to classify one image on one thread.
    pub latency_ms_p50: f64,
    /// 99th percentile of the same.
    pub latency_ms_p99: f64,
    /// GFLOP/s of the engine's matrix multiply on a square product, same threads.
    pub gemm_gflops: f64,
    /// GFLOP/s that training achieves, from the per-layer FLOP count.
    pub train_gflops: f64,
    /// FLOPs of one training step per image.
    pub train_mflop_per_img: f64,
    /// Peak resident memory of the process during training (data, model,
    /// buffers), MB: measured before the inference and GEMM workloads.
    pub peak_rss_mb: f64,
    /// Peak resident memory at the end, after inference in batches of 1000, MB.
    pub peak_rss_mb_all: f64,
    /// Where training time goes, per layer.
    pub layers: Vec<LayerTime>,
    /// The same network in 8 bits (with `--int8`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub int8: Option<Int8Result>,
}

/// Runs every measurement of `config` on `mnist`, on the current rayon pool.
pub fn run(config: &BenchConfig, mnist: &Mnist) -> Result<BenchResult, String> {
    let mut model = Sequential::new(&config.spec, 1).map_err(|e| e.to_string())?;
    crate::train::check_compatible(&model, &mnist.train, "training")?;
    let threads = rayon::current_num_threads();

    // Training: shuffled real batches, RMSprop, as in `chiffre train`.
    let mut optimizer = Optimizer::new(OptimizerKind::RMSPROP, 1e-3);
    let mut order = Vec::new();
    shuffle_indices(&mut order, mnist.train.len(), 1, 1);
    let mut labels = Vec::with_capacity(config.batch_size);
    let batches = order.len() / config.batch_size;
    let mut step = |model: &mut Sequential, i: usize| {
        let start = (i % batches) * config.batch_size;
        let indices = &order[start..start + config.batch_size];
        mnist.train.fill_batch(indices, model.input_mut(indices.len()).data_mut(), &mut labels);
        model.forward_loaded(Mode::Train);
        model.backward(Loss::CrossEntropy, &labels);
        optimizer.step(model);
    };
    (0..config.warmup_batches).for_each(|i| step(&mut model, i));
    model.set_profiling(true);
    let start = Instant::now();
    (0..config.train_batches).for_each(|i| step(&mut model, config.warmup_batches + i));
    let train_seconds = start.elapsed().as_secs_f64();
    let train_img_s = (config.train_batches * config.batch_size) as f64 / train_seconds;
    let steps = config.train_batches.max(1) as f64;
    let train_times = model.layer_times().map(<[(f64, f64)]>::to_vec).unwrap_or_default();
    model.set_profiling(false);
    let train_peak_rss_mb = peak_rss_mb();
    let train_flops = model.train_flops_per_example() as f64;

    // Inference: the test set in batches of 1000, softmax included; median of 3 passes.
    let test = &mnist.test;
    let classes = model.num_classes();
    let mut probs = vec![0.0; 1000 * classes];
    let infer_img_s = images_per_second(test.len(), |chunk| {
        test.fill_batch(chunk, model.input_mut(chunk.len()).data_mut(), &mut labels);
        let logits = model.infer_loaded();
        softmax_rows(logits.data(), classes, &mut probs[..logits.len()]);
    });

    // Latency: one image at a time, on one thread.
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().map_err(|e| e.to_string())?;
    let latencies = one_image_seconds(&one, config.latency_calls, |i| {
        test.fill_batch(&[i % test.len()], model.input_mut(1).data_mut(), &mut labels);
        let logits = model.forward_loaded(Mode::Eval);
        softmax_rows(logits.data(), classes, &mut probs[..classes]);
    });
    // Where one image's time goes: the same calls again, each step timed.
    model.set_profiling(true);
    let profiled = config.latency_calls.max(1);
    one.install(|| {
        for i in 0..profiled {
            test.fill_batch(&[i % test.len()], model.input_mut(1).data_mut(), &mut labels);
            model.forward_loaded(Mode::Eval);
        }
    });
    let one_times = model.layer_times().map(<[(f64, f64)]>::to_vec).unwrap_or_default();
    model.set_profiling(false);
    // One row per step: a fused convolution's row names the layers it runs.
    let layers = model
        .steps()
        .into_iter()
        .map(|step| {
            let (f, b) = train_times.get(*step.start()).copied().unwrap_or_default();
            let one = one_times.get(*step.start()).map_or(0.0, |t| t.0);
            let kinds: Vec<&str> = model.layers()[step.clone()].iter().map(|l| l.kind()).collect();
            LayerTime {
                layer: format!("{} {}", step.start(), kinds.join("+")),
                forward_ms: 1e3 * f / steps,
                backward_ms: 1e3 * b / steps,
                one_image_us: 1e6 * one / profiled as f64,
            }
        })
        .collect();
    let percentile = |p: f64| percentile(&latencies, p);
    // Before the 8-bit network's calibration, which runs 1,000 images through the f32 one at once.
    let peak_rss_mb_all = peak_rss_mb();
    let int8 = if config.int8 { Some(time_int8(&mut model, mnist, config.latency_calls, &one)?) } else { None };

    Ok(BenchResult {
        engine: format!("chiffre {}", env!("CARGO_PKG_VERSION")),
        arch: config.spec.name.clone(),
        batch: config.batch_size,
        threads,
        train_img_s,
        infer_img_s,
        latency_ms_p50: percentile(0.5),
        latency_ms_p99: percentile(0.99),
        gemm_gflops: gemm_gflops(config.gemm_size),
        train_gflops: train_img_s * train_flops / 1e9,
        train_mflop_per_img: train_flops / 1e6,
        peak_rss_mb: train_peak_rss_mb,
        peak_rss_mb_all,
        layers,
        int8,
    })
}

/// Milliseconds at quantile `p` of sorted `seconds`.
fn percentile(seconds: &[f64], p: f64) -> f64 {
    1e3 * seconds[((p * seconds.len() as f64) as usize).min(seconds.len().saturating_sub(1))]
}

/// `model` quantized to 8 bits (calibrated on the first 1,000 training
/// images), timed as [`run`] times it in `f32`: the test set in batches of
/// 1000 (median of 3 passes), then `calls` single images on the one-thread
/// pool `one`.
fn time_int8(
    model: &mut Sequential,
    mnist: &Mnist,
    calls: usize,
    one: &rayon::ThreadPool,
) -> Result<Int8Result, String> {
    let per_image = mnist.test.rows * mnist.test.cols;
    let classes = model.num_classes();
    let mut labels = Vec::new();
    let calibration: Vec<usize> = (0..mnist.train.len().min(1000)).collect();
    let mut images = vec![0.0; calibration.len() * per_image];
    mnist.train.fill_batch(&calibration, &mut images, &mut labels);
    let mut quantized = QuantizedNetwork::new(model, &images)?;
    let test = &mnist.test;
    let mut x = vec![0.0; 1000 * per_image];
    let mut probs = vec![0.0; 1000 * classes];
    let infer_img_s = images_per_second(test.len(), |chunk| {
        let x = &mut x[..chunk.len() * per_image];
        test.fill_batch(chunk, x, &mut labels);
        let scores = quantized.forward(x);
        softmax_rows(scores, classes, &mut probs[..scores.len()]);
    });
    let latencies = one_image_seconds(one, calls, |i| {
        let x = &mut x[..per_image];
        test.fill_batch(&[i % test.len()], x, &mut labels);
        let scores = quantized.forward(x);
        softmax_rows(scores, classes, &mut probs[..classes]);
    });
    Ok(Int8Result {
        infer_img_s,
        latency_ms_p50: percentile(&latencies, 0.5),
        latency_ms_p99: percentile(&latencies, 0.99),
    })
}

/// Images per second of `classify` over `count` test images in batches of
/// 1000 (it is given each batch's indices): the median of 3 passes after
/// one to warm up.
fn images_per_second(count: usize, mut classify: impl FnMut(&[usize])) -> f64 {
    let all: Vec<usize> = (0..count).collect();
    let mut pass = || {
        let start = Instant::now();
        all.chunks(1000).for_each(&mut classify);
        start.elapsed().as_secs_f64()
    };
    pass();
    let mut passes: Vec<f64> = (0..3).map(|_| pass()).collect();
    passes.sort_by(f64::total_cmp);
    count as f64 / passes[1]
}

/// The seconds of `calls` (at least one) single images, sorted, each read
/// by `classify` (given the call's number) on the one-thread pool `one`,
/// after 50 calls to warm up.
fn one_image_seconds(one: &rayon::ThreadPool, calls: usize, mut classify: impl FnMut(usize) + Send) -> Vec<f64> {
    one.install(|| {
        let mut timed = |i: usize| {
            let start = Instant::now();
            classify(i);
            start.elapsed().as_secs_f64()
        };
        (0..50).for_each(|i| {
            timed(i);
        });
        let mut seconds: Vec<f64> = (0..calls.max(1)).map(timed).collect();
        seconds.sort_by(f64::total_cmp);
        seconds
    })
}

/// GFLOP/s of the engine's matrix multiply ([`Gemm`]) on an `n × n × n` product (best of 5 after a warm-up).
pub fn gemm_gflops(n: usize) -> f64 {
    let a = Tensor::from_vec(&[n, n], (0..n * n).map(|i| (i % 7) as f32 * 0.1).collect()).unwrap_or_default();
    let mut c = vec![0.0; n * n];
    let mut run = || {
        let start = Instant::now();
        Gemm::new(n, n, n).run(a.data(), a.data(), &mut c);
        start.elapsed().as_secs_f64()
    };
    run();
    let best = (0..5).map(|_| run()).fold(f64::INFINITY, f64::min);
    2.0 * (n as f64).powi(3) / best / 1e9
}

/// Peak resident set size of this process in MB (`VmHWM` on Linux; 0 elsewhere).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
