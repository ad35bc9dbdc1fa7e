//! `chiffre download`: fetch MNIST from the public mirrors (see `crate::download`).

use crate::download::{download_mnist, Event, DEFAULT_MIRRORS};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

/// Arguments of `chiffre download`.
#[derive(clap::Args, Debug)]
pub struct DownloadArgs {
    /// The directory to write the four MNIST files into (created if needed).
    #[arg(long, value_name = "DIR", default_value = "data/mnist")]
    dir: PathBuf,
    /// For testing: a base URL to fetch from instead of the public mirrors (repeatable, tried in order).
    #[arg(long = "mirror", value_name = "URL", hide = true)]
    mirrors: Vec<String>,
}

/// Downloads, printing one line per file (and a progress bar on a terminal).
pub fn run(args: DownloadArgs) -> anyhow::Result<()> {
    let mirrors: Vec<String> =
        if args.mirrors.is_empty() { DEFAULT_MIRRORS.iter().map(|m| (*m).to_owned()).collect() } else { args.mirrors };
    let dir = args.dir.display().to_string();
    let mut bar: Option<ProgressBar> = None;
    let mut on_event = |event: Event<'_>| match event {
        Event::Skipped { file } => println!("{dir}/{file}: already present, SHA-256 verified; skipped"),
        Event::Started { file, url, total } => {
            let b = ProgressBar::new(total.unwrap_or(0));
            b.set_style(
                ProgressStyle::with_template("{bar:30} {bytes:>10}/{total_bytes:10} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.set_message(file.to_owned());
            if b.is_hidden() {
                // Not a terminal: one line instead of a bar.
                println!("{dir}/{file}: fetching {url}");
            }
            bar = Some(b);
        }
        Event::Progress { done, .. } => {
            if let Some(b) = &bar {
                b.set_position(done);
            }
        }
        Event::Failed { file, mirror, reason } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            eprintln!("warning: {file} from {mirror}: {reason}");
        }
        Event::Done { file, mirror, bytes } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            println!("{dir}/{file}: {bytes} bytes from {mirror}, SHA-256 verified");
        }
    };
    let report = download_mnist(&args.dir, &mirrors, &mut on_event)?;
    println!("MNIST in {dir}: {} downloaded, {} already present", report.downloaded.len(), report.skipped.len());
    Ok(())
}
