//! `chiffre report`: write the HTML report of one or more models.

use super::values;
use crate::data::default_data_dir;
use crate::report::{write_report, HistoryInput, ReportOptions};
use std::path::PathBuf;

/// Arguments of `chiffre report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// A model file written by `chiffre train`; repeat to compare several
    /// (for example the perceptron, the MLP and the CNN).
    #[arg(long = "model", value_name = "FILE", required_unless_present_any = ["runs", "sweep"])]
    models: Vec<PathBuf>,
    /// Runs of the history to compare: their curves on one chart and the settings that differ (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "ID,ID")]
    runs: Vec<i64>,
    /// A sweep of the history: its table, and its chart of accuracy against the setting with the spread.
    #[arg(long, value_name = "ID")]
    sweep: Option<i64>,
    /// The run history [default: runs/history.sqlite, or $CHIFFRE_RUNS_DB].
    #[arg(long, value_name = "FILE")]
    runs_db: Option<PathBuf>,
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
    let history = if args.runs.is_empty() && args.sweep.is_none() {
        None
    } else {
        let path = crate::runs::db_path(args.runs_db.as_deref());
        let db = crate::runs::open(&path, false)?;
        let mut runs = Vec::new();
        for &id in &args.runs {
            let run = crate::runs::query::get(&db, id)?
                .ok_or_else(|| anyhow::anyhow!("--runs: no run {id} in {}", path.display()))?;
            runs.push((run, crate::runs::query::epochs(&db, id)?));
        }
        let sweep = match args.sweep {
            Some(id) => Some((
                id,
                crate::runs::sweep::summaries(&db, id)?
                    .ok_or_else(|| anyhow::anyhow!("--sweep: no sweep {id} in {}", path.display()))?,
            )),
            None => None,
        };
        Some(HistoryInput { runs, sweep })
    };
    let options = ReportOptions {
        history,
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
