//! `chiffre report`: write the HTML report of one or more models.

use super::values;
use crate::data::default_data_dir;
use crate::report::{write_report, ReportOptions};
use std::path::PathBuf;

/// Arguments of `chiffre report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// A model file written by `chiffre train`; repeat to compare several
    /// (for example the perceptron, the MLP and the CNN).
    #[arg(long = "model", value_name = "FILE", required = true)]
    models: Vec<PathBuf>,
    /// A picture of a digit to look inside the networks with [default: the
    /// first test image of each digit].
    #[arg(long, value_name = "IMG")]
    image: Option<PathBuf>,
    /// The folder to write index.html and its pictures into.
    #[arg(long, value_name = "DIR", default_value = "report")]
    out: PathBuf,
    /// Folder with the test set (IDX files, MNIST layout) [default: the bundled MNIST].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// How many of the most confident mistakes to show per model.
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(0), value_name = "N", default_value_t = 40)]
    mistakes: usize,
}

/// Writes the report and says where it is.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let options = ReportOptions {
        models: args.models,
        image: args.image,
        out: args.out,
        data: args.data.unwrap_or_else(default_data_dir),
        mistakes: args.mistakes,
    };
    let written = write_report(&options)?;
    println!(
        "wrote {} ({} files, {:.1} s): open it in a browser",
        written.index.display(),
        written.files,
        written.seconds
    );
    Ok(())
}
