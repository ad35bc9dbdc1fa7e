//! The command line: one file per subcommand; parsing and printing only, no
//! learning logic.

mod bench;
mod download;
mod eval;
mod export;
mod interrupt;
mod predict;
mod predict_output;
mod quantize;
mod report;
mod runs;
mod serve;
mod site;
mod summary;
mod sweep;
mod train;
mod tutorial;
mod values;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// chiffre: a from-scratch convolutional neural network that reads handwritten digits.
#[derive(Parser, Debug)]
#[command(name = "chiffre", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a network on MNIST (or any IDX data), evaluate it on the test set, save it.
    Train(Box<train::TrainArgs>),
    /// Evaluate a saved model on the test set: accuracy, confusion matrix, per-class scores.
    Eval(eval::EvalArgs),
    /// Measure training and inference speed on real MNIST batches.
    Bench(bench::BenchArgs),
    /// Print a network's layers, output shapes and parameter counts.
    Summary(summary::SummaryArgs),
    /// Read the digit in pictures: any size, colour or polarity, preprocessed as MNIST was.
    Predict(predict::PredictArgs),
    /// Fetch MNIST from the public mirrors, checking each file's SHA-256.
    Download(download::DownloadArgs),
    /// Write an offline HTML report: the model, training curves, results and mistakes, every layer's output.
    Report(report::ReportArgs),
    /// The tutorial's worked example: an X, its features, feature maps, ReLU, pooling, flattening.
    Tutorial(tutorial::TutorialArgs),
    /// Serve a page to draw digits and watch the network read them, and a JSON API.
    Serve(serve::ServeArgs),
    /// Write a saved model as ONNX, for other runtimes.
    Export(export::ExportArgs),
    /// Write an 8-bit model: weights in 8 bits (a quarter of the file), read about twice as fast.
    Quantize(quantize::QuantizeArgs),
    /// The run history: every `chiffre train` remembered (list, show, rm, export).
    Runs(runs::RunsArgs),
    /// Train every combination of settings with several seeds, then say which is better beyond the seeds' spread.
    Sweep(sweep::SweepArgs),
    /// Write a static web site: the engine in WebAssembly reads and trains in the page, in English and French.
    Site(site::SiteArgs),
}

/// Which network: a preset or a spec file.
#[derive(clap::Args, Debug, Clone)]
pub struct ArchArgs {
    /// A preset network: perceptron, mlp, cnn (the tutorial's CNN), or the recipes fast (99 % in one short
    /// epoch) and best (batch norm, augmentation, one-cycle: 99.6 %+), spec files in presets/ that carry their
    /// training settings. Also spelt --preset.
    #[arg(long, alias = "preset", default_value = "cnn", value_parser = clap::builder::PossibleValuesParser::new(chiffre_presets()))]
    arch: String,
    /// A spec file (JSON or TOML) describing any sequential stack; overrides --arch.
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
}

fn chiffre_presets() -> &'static [&'static str] {
    crate::model::PRESETS
}

impl ArchArgs {
    /// Builds the selected network; errors in a spec file name the file.
    fn build(&self, classes: usize, seed: u64) -> anyhow::Result<crate::model::Sequential> {
        let spec = self.resolve(classes)?;
        crate::model::Sequential::new(&spec, seed).map_err(|e| match &self.spec {
            Some(path) => anyhow::anyhow!("{}: {e}", path.display()),
            None => e.into(),
        })
    }

    /// The spec this selects, for `classes` output classes.
    fn resolve(&self, classes: usize) -> anyhow::Result<crate::model::ModelSpec> {
        match &self.spec {
            Some(path) => {
                let spec = crate::model::ModelSpec::from_file(path)?;
                // The recipe is read here too, so a typo in it is found before any work.
                crate::train::Recipe::of(&spec).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                Ok(spec)
            }
            None => crate::model::preset(&self.arch, classes).ok_or_else(|| {
                anyhow::anyhow!("unknown --arch {}; choose one of {:?}", self.arch, crate::model::PRESETS)
            }),
        }
    }
}

/// Sets the number of worker threads (0: one per core).
fn set_threads(threads: usize) -> anyhow::Result<usize> {
    let n = if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads };
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| anyhow::anyhow!("cannot start {n} threads: {e}"))?;
    Ok(n)
}

/// The error and its causes, each cause added only when the message does not
/// already say it.
fn error_message(e: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message += ": ";
            }
            message += &text;
        }
    }
    message
}

/// Lets a closed output pipe (`chiffre eval --model M | head`) end the
/// process quietly, as for other Unix tools, instead of making `println!`
/// panic: Rust ignores SIGPIPE by default.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    {
        extern "C" {
            fn signal(signum: i32, handler: usize) -> usize;
        }
        const SIGPIPE: i32 = 13;
        const SIG_DFL: usize = 0;
        // SAFETY: resetting one signal to its default action at start-up, before
        // any thread exists, has no memory-safety effect.
        unsafe {
            signal(SIGPIPE, SIG_DFL);
        }
    }
}

/// Runs the command line; errors are printed as one clear message with a
/// non-zero exit status.
pub fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Eval(args) => eval::run(args),
        Command::Summary(args) => summary::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Bench(args) => bench::run_cli(args),
        Command::Download(args) => download::run(args),
        Command::Report(args) => report::run(args),
        Command::Tutorial(args) => tutorial::run(args),
        Command::Serve(args) => serve::run_cli(args),
        Command::Export(args) => export::run(args),
        Command::Quantize(args) => quantize::run(args),
        Command::Site(args) => site::run(args),
        Command::Runs(args) => runs::run(args),
        Command::Sweep(args) => sweep::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_message(&e));
            ExitCode::FAILURE
        }
    }
}
