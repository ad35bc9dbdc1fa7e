//! `chiffre bench`: how fast training, inference and single-image prediction are.

use super::values;
use crate::bench::{run, BenchConfig};
use crate::data::{default_data_dir, Mnist};
use std::path::PathBuf;

/// Arguments of `chiffre bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// A preset (cnn, mlp, perceptron) or a spec file.
    #[arg(long, default_value = "cnn")]
    arch: String,
    /// Worker threads (0: one per core).
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(0), default_value_t = 0)]
    threads: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Timed training steps (default: 300 for a CNN, 1000 otherwise).
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(1))]
    train_batches: Option<usize>,
    /// A directory in the MNIST layout (default: the bundled MNIST).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Run every convolution through im2col + GEMM (or the direct first-layer kernel), never Winograd:
    /// to see in one run what Winograd's F(2×2, 3×3) brings.
    #[arg(long)]
    no_winograd: bool,
    /// Also time inference with the network in 8 bits (as `chiffre quantize` makes it, calibrated on 1,000
    /// training images): images/s and one-image latency.
    #[arg(long)]
    int8: bool,
}

/// Measures and prints.
pub fn run_cli(args: BenchArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    crate::kernels::set_winograd(!args.no_winograd);
    let mnist = Mnist::load(&args.data.clone().unwrap_or_else(default_data_dir))?;
    let spec = match crate::model::preset(&args.arch, mnist.num_classes()) {
        Some(spec) => spec,
        None => crate::model::ModelSpec::from_file(std::path::Path::new(&args.arch))?,
    };
    let convolutional = spec.layers.iter().any(|l| matches!(l, crate::model::LayerSpec::Conv2d { .. }));
    let config = BenchConfig {
        spec: spec.clone(),
        batch_size: crate::train::Recipe::of(&spec)?.batch_size.unwrap_or(if convolutional { 64 } else { 128 }),
        train_batches: args.train_batches.unwrap_or(if convolutional { 300 } else { 1000 }),
        warmup_batches: 30,
        latency_calls: 500,
        gemm_size: 2048,
        int8: args.int8,
    };
    let r = run(&config, &mnist).map_err(anyhow::Error::msg)?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    println!("{} on {} ({} threads, batch {})", r.engine, r.arch, r.threads, r.batch);
    println!(
        "  training        {:>10.0} images/s   {:>6.1} GFLOP/s ({:.1} MFLOP/image)",
        r.train_img_s, r.train_gflops, r.train_mflop_per_img
    );
    println!("  inference       {:>10.0} images/s   (batches of 1000, softmax included)", r.infer_img_s);
    println!("  latency, 1 img  {:>10.4} ms p50, {:.4} ms p99 (one thread)", r.latency_ms_p50, r.latency_ms_p99);
    if let Some(q) = &r.int8 {
        println!("  inference, int8 {:>10.0} images/s   (the same, the network in 8 bits)", q.infer_img_s);
        println!("  latency, int8   {:>10.4} ms p50, {:.4} ms p99 (one thread)", q.latency_ms_p50, q.latency_ms_p99);
    }
    println!("  matrix multiply {:>10.1} GFLOP/s (2048³)", r.gemm_gflops);
    println!("  peak memory     {:>10.1} MB training, {:.1} MB after inference", r.peak_rss_mb, r.peak_rss_mb_all);
    println!("\n  per training step                forward ms  backward ms   1 image µs");
    for l in &r.layers {
        println!("  {:<31} {:>10.3} {:>12.3} {:>12.2}", l.layer, l.forward_ms, l.backward_ms, l.one_image_us);
    }
    Ok(())
}
