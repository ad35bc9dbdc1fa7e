//! `chiffre eval`: score a saved model on the test set.

use super::values;
use crate::data::{default_data_dir, Mnist};
use crate::loss::Loss;
use crate::metrics::ConfusionMatrix;
use crate::model::{load, QuantizedNetwork};
use crate::train::{check_compatible, evaluate, evaluate_ensemble, evaluate_quantized};
use anyhow::Context;
use std::path::PathBuf;

/// Arguments of `chiffre eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// The model file written by `chiffre train`; give several (`--model a --model b`) to evaluate their
    /// ensemble, which averages their probabilities.
    #[arg(long, value_name = "FILE", required = true)]
    model: Vec<PathBuf>,
    /// A directory in the MNIST layout (default: the bundled MNIST).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Worker threads (0: one per core).
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(0), default_value_t = 0)]
    threads: usize,
    /// Evaluate only the first N test images.
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(1), value_name = "N")]
    limit: Option<usize>,
}

/// Evaluates and prints.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    super::set_threads(args.threads)?;
    let mut models = Vec::with_capacity(args.model.len());
    // An 8-bit file (chiffre quantize) alone is evaluated as it reads: in 8 bits (in an ensemble, with its
    // weights as stored, in f32).
    let mut quantized = None;
    for path in &args.model {
        let file = load(path)?;
        if let (Some(scales), 1) = (&file.int8, args.model.len()) {
            let network = QuantizedNetwork::from_scales(&file.model, scales)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            quantized = Some(network);
        }
        models.push(file.model);
    }
    let dir = args.data.unwrap_or_else(default_data_dir);
    let mnist = Mnist::load(&dir)?;
    let test = match args.limit {
        Some(n) => mnist.test.take(n),
        None => mnist.test,
    };
    for (model, path) in models.iter().zip(&args.model) {
        check_compatible(model, &test, "test").map_err(anyhow::Error::msg).with_context(|| {
            format!(
                "{} does not fit the test set in {} (labels file t10k-labels-idx1-ubyte)",
                path.display(),
                dir.display()
            )
        })?;
        if model.num_classes() != models[0].num_classes() {
            anyhow::bail!(
                "{} has {} classes but {} has {}: an ensemble needs models of the same classes",
                path.display(),
                model.num_classes(),
                args.model[0].display(),
                models[0].num_classes()
            );
        }
    }
    let names = args.model.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    let result = match (models.as_mut_slice(), &mut quantized) {
        (_, Some(network)) => evaluate_quantized(network, &test, Loss::CrossEntropy),
        ([one], None) => evaluate(one, &test, Loss::CrossEntropy),
        (several, None) => evaluate_ensemble(several, &test),
    };
    if !result.loss.is_finite() {
        anyhow::bail!("{names}: the model's outputs are not finite (loss {}); its weights are unusable", result.loss);
    }
    let classes = models[0].num_classes();
    let confusion = ConfusionMatrix::new(&test.labels, &result.predictions, classes);
    let per_class = confusion.per_class();
    if args.json {
        let out = serde_json::json!({
            "model": if args.model.len() == 1 { serde_json::json!(names) } else { serde_json::json!(args.model) },
            "data": dir.display().to_string(),
            "accuracy": result.accuracy,
            "correct": result.correct,
            "total": test.len(),
            "loss": result.loss,
            "confusion": confusion.counts,
            "per_class": per_class,
        });
        println!("{out}");
        return Ok(());
    }
    let archs = models.iter().map(|m| m.spec().name.clone()).collect::<Vec<_>>().join(", ");
    let kind = if models.len() > 1 { format!("ensemble of {}: ", models.len()) } else { String::new() };
    println!("model: {kind}{names} ({archs})");
    println!("{}", result.summary_line());
    println!("\nconfusion matrix (rows: true digit, columns: predicted)");
    print!("      ");
    (0..classes).for_each(|c| print!("{c:>6}"));
    println!();
    for (t, row) in confusion.counts.iter().enumerate() {
        print!("{t:>6}");
        row.iter().for_each(|n| print!("{n:>6}"));
        println!();
    }
    println!("\nclass  precision  recall     f1  support");
    for s in &per_class {
        println!("{:>5}  {:>9.4}  {:>6.4}  {:>5.4}  {:>7}", s.class, s.precision, s.recall, s.f1, s.support);
    }
    Ok(())
}
