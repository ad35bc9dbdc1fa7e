//! `chiffre site`: the options, where the engine's `.wasm` comes from, and
//! what was written; the folder itself is [`crate::site`].

use super::predict::DEFAULT_MODEL;
use crate::site::{find_wasm, write_site, SiteConfig, BUILD_WASM, WASM};
use std::path::PathBuf;

/// Arguments of `chiffre site`.
#[derive(clap::Args, Debug)]
pub struct SiteArgs {
    /// Model files to put in the page (the first is read by default)
    /// [default: models/cnn.safetensors].
    #[arg(long, value_name = "FILE")]
    model: Vec<PathBuf>,
    /// The folder to write (created when missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The engine built for the page by crates/chiffre-web/build.sh [default: beside this program in
    /// cargo's target folder, or ./target/wasm32-unknown-unknown/release/chiffre_web.wasm].
    #[arg(long, value_name = "FILE")]
    wasm: Option<PathBuf>,
    /// The engine built with relaxed SIMD, for the browsers that have it [default: found as --wasm is,
    /// under target/wasm-relaxed/; without it, every browser gets --wasm].
    #[arg(long, value_name = "FILE")]
    wasm_relaxed: Option<PathBuf>,
    /// The MNIST folder whose files the page trains on.
    #[arg(long, value_name = "DIR", default_value = "data/mnist")]
    data: PathBuf,
    /// A page that only reads: no MNIST files, no training.
    #[arg(long)]
    no_training: bool,
}

/// Runs `chiffre site`.
pub fn run(args: SiteArgs) -> anyhow::Result<()> {
    let wasm = match args.wasm {
        Some(path) => path,
        None => find_wasm(false).ok_or_else(|| {
            anyhow::anyhow!(
                "the page's engine ({WASM}) is not built: build it with `{BUILD_WASM}`, or give --wasm FILE"
            )
        })?,
    };
    let models = if args.model.is_empty() { vec![PathBuf::from(DEFAULT_MODEL)] } else { args.model };
    if let Some(missing) = models.iter().find(|m| !m.exists()) {
        anyhow::bail!(
            "--model {}: no such file; make one with `chiffre train --out {}`",
            missing.display(),
            missing.display()
        );
    }
    let wasm_relaxed = args.wasm_relaxed.or_else(|| find_wasm(true));
    let without_relaxed = wasm_relaxed.is_none();
    let config = SiteConfig {
        models,
        wasm,
        wasm_relaxed,
        data: (!args.no_training).then_some(args.data),
        out: args.out.clone(),
    };
    let report = write_site(&config).map_err(anyhow::Error::msg)?;
    let total: u64 = report.files.iter().map(|(_, n)| n).sum();
    println!("wrote {} files ({:.1} MB) to {}", report.files.len(), total as f64 / 1e6, args.out.display());
    if without_relaxed {
        println!("(no engine with relaxed SIMD: every browser gets the SIMD128 one; `{BUILD_WASM}` builds both)");
    }
    println!("open it with: python3 -m http.server -d {} 8000   (then http://localhost:8000/)", args.out.display());
    Ok(())
}
