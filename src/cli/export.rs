//! `chiffre export`: write a saved model in another format (ONNX).

use crate::export::onnx::{write_onnx, INPUT, OPSET, OUTPUT};
use crate::model::load;
use std::path::PathBuf;

/// The formats of `--format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Format {
    /// ONNX (opset 13): input `input` [N, C, H, W], output `probabilities` [N, K]; an 8-bit
    /// file (`chiffre quantize`) in QDQ form (QuantizeLinear / DequantizeLinear around each 8-bit layer).
    Onnx,
}

/// Arguments of `chiffre export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The model file written by `chiffre train`.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// The output format.
    #[arg(long, value_enum, default_value = "onnx")]
    format: Format,
    /// Where to write (default: the model's path with the format's extension).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Exports and says what was written.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let file = load(&args.model)?;
    let Format::Onnx = args.format;
    let out = args.out.unwrap_or_else(|| args.model.with_extension("onnx"));
    if out.is_dir() {
        anyhow::bail!("--out {} is a directory; give a file name such as {}/model.onnx", out.display(), out.display());
    }
    // An 8-bit file (`chiffre quantize`) is written in QDQ form: its own bytes and steps.
    let steps = file.int8.as_deref().unwrap_or(&[]);
    write_onnx(&file.model, file.training.as_ref(), steps, &out)?;
    let [h, w, c] = file.model.input_shape();
    let form = if steps.is_empty() { String::new() } else { format!(", {} layers in 8 bits (QDQ)", steps.len()) };
    println!(
        "exported {} ({}, {} parameters) to {}: ONNX opset {OPSET}{form}, input `{INPUT}` [N, {c}, {h}, {w}], output `{OUTPUT}` [N, {}]",
        args.model.display(),
        file.model.spec().name,
        file.model.num_params(),
        out.display(),
        file.model.num_classes()
    );
    Ok(())
}
