//! `chiffre quantize`: an 8-bit model file from a trained one (issue 19's
//! int8 path): weights in 8 bits with a scale per row, each 8-bit layer's
//! input step calibrated on training images; `eval`, `predict`, `serve` and
//! the library then read with the 8-bit network.

use super::values;
use crate::data::{default_data_dir, Mnist};
use crate::loss::Loss;
use crate::model::{load, to_bytes_int8, QuantizedNetwork};
use crate::train::{check_compatible, evaluate, evaluate_quantized};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Test images read in both forms to say how much quantizing changed.
const COMPARED: usize = 2000;

/// Arguments of `chiffre quantize`.
#[derive(clap::Args, Debug)]
pub struct QuantizeArgs {
    /// The model file written by `chiffre train`.
    #[arg(long, value_name = "FILE", default_value = "models/cnn.safetensors")]
    model: PathBuf,
    /// Where to write the 8-bit model (default: the model's path with `.int8` before its extension).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Training images that calibrate each layer's input step (the largest input it sees, over 127).
    #[arg(long, value_name = "N", default_value_t = 1000, allow_negative_numbers = true, value_parser = values::whole_from(1))]
    calibration: usize,
    /// A directory in the MNIST layout, for the calibration images (default: the bundled MNIST).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

/// Quantizes, writes, and says what changed.
pub fn run(args: QuantizeArgs) -> anyhow::Result<()> {
    let mut file = load(&args.model)?;
    if file.int8.is_some() {
        anyhow::bail!("{} is an 8-bit model already (made by chiffre quantize)", args.model.display());
    }
    let out = args.out.clone().unwrap_or_else(|| int8_path(&args.model));
    if out.is_dir() {
        anyhow::bail!(
            "--out {} is a directory; give a file name such as {}/model.int8.safetensors",
            out.display(),
            out.display()
        );
    }
    if out == args.model {
        anyhow::bail!("--out {} is the model itself; give another file name", out.display());
    }
    let dir = args.data.clone().unwrap_or_else(default_data_dir);
    let mnist = Mnist::load(&dir)?;
    for (set, name) in [(&mnist.train, "train"), (&mnist.test, "test")] {
        check_compatible(&file.model, set, name)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("{} does not fit the data in {}", args.model.display(), dir.display()))?;
    }
    let calibration = mnist.train.take(args.calibration);
    let mut images = vec![0.0; calibration.len() * calibration.pixels_per_image()];
    let indices: Vec<usize> = (0..calibration.len()).collect();
    calibration.fill_batch(&indices, &mut images, &mut Vec::new());
    let quantized = QuantizedNetwork::new(&mut file.model, &images)
        .map_err(|e| anyhow::anyhow!("{}: cannot be read in 8 bits: {e}", args.model.display()))?;
    // The verifier (one of the judges) in 8 bits too, calibrated on the same images.
    let verifier = match file.reject.as_mut().and_then(|r| r.verifier.as_mut()) {
        Some(verifier) => Some(
            QuantizedNetwork::new(&mut verifier.network, &images)
                .map_err(|e| anyhow::anyhow!("{}: its verifier cannot be read in 8 bits: {e}", args.model.display()))?
                .input_scales(),
        ),
        None => None,
    };
    let training = file.training.clone().unwrap_or(serde_json::Value::Null);
    let steps = (quantized.input_scales(), verifier);
    let bytes = to_bytes_int8(&file.model, (&steps.0, steps.1.as_deref()), &training, file.reject.as_ref())
        .map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    crate::fsutil::write_atomic(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    // Read back as every command will read it, and compared with the f32 model.
    let written = load(&out)?;
    let scales = written.int8.clone().context("the written file has no 8-bit section")?;
    let mut reread = QuantizedNetwork::from_scales(&written.model, &scales).map_err(anyhow::Error::msg)?;
    let test = mnist.test.take(COMPARED);
    let before = evaluate(&mut file.model, &test, Loss::CrossEntropy);
    let after = evaluate_quantized(&mut reread, &test, Loss::CrossEntropy);
    let same = before.predictions.iter().zip(&after.predictions).filter(|(a, b)| a == b).count();
    let f32_size = std::fs::metadata(&args.model).map(|m| m.len()).unwrap_or(0);
    let layers: Vec<String> = scales.iter().map(|(l, _)| (l + 1).to_string()).collect();
    println!(
        "wrote {}: {} bytes, {:.0} % of {} ({} bytes); layers {} compute in 8 bits, calibrated on {} training images",
        out.display(),
        bytes.len(),
        100.0 * bytes.len() as f64 / f32_size.max(1) as f64,
        args.model.display(),
        f32_size,
        layers.join(", "),
        calibration.len()
    );
    println!(
        "the first {} test images: {:.2} % in 8 bits, {:.2} % in f32, the same digit for {:.2} %",
        test.len(),
        100.0 * after.accuracy,
        100.0 * before.accuracy,
        100.0 * same as f64 / test.len().max(1) as f64
    );
    Ok(())
}

/// `models/cnn.safetensors` → `models/cnn.int8.safetensors`.
fn int8_path(model: &Path) -> PathBuf {
    let stem = model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let extension = model.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_else(|| "safetensors".into());
    model.with_file_name(format!("{stem}.int8.{extension}"))
}
