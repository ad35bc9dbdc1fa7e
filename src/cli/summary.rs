//! `chiffre summary`: the Keras-style table of a network.

use super::values;
use super::ArchArgs;
use crate::model::{load, summary};
use std::path::PathBuf;

/// Arguments of `chiffre summary`.
#[derive(clap::Args, Debug)]
pub struct SummaryArgs {
    #[command(flatten)]
    arch: ArchArgs,
    /// Summarise a saved model instead.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Number of output classes for a preset.
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(2), default_value_t = 10)]
    classes: usize,
}

/// Prints the table.
pub fn run(args: SummaryArgs) -> anyhow::Result<()> {
    let model = match &args.model {
        Some(path) => load(path)?.model,
        None => args.arch.build(args.classes, 0)?,
    };
    print!("{}", summary(&model));
    Ok(())
}
