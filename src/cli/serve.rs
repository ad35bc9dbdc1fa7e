//! `chiffre serve`: parsing the options, setting up the request log, and
//! saying where the page is; the server itself is [`crate::serve`].

use super::predict::DEFAULT_MODEL;
use super::values;
use crate::serve::{run, ServeConfig};
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `chiffre serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The model file written by `chiffre train` [default: models/cnn.safetensors].
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Address to listen on; loopback unless told otherwise (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Prediction workers, each with its own copy of the model (0: one per core).
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(0), default_value_t = 0)]
    workers: usize,
    /// Requests handled at once; more are answered 503 at once.
    #[arg(long, allow_negative_numbers = true, default_value_t = 64, value_parser = values::whole_from(1))]
    max_in_flight: usize,
    /// Deadline of one request in seconds, receiving the body included (then 408).
    #[arg(long, allow_negative_numbers = true, value_parser = values::positive_f64, value_name = "SECONDS", default_value_t = 10.0)]
    timeout: f64,
    /// Largest request body in bytes (then 413).
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(1), value_name = "BYTES", default_value_t = 5 * 1024 * 1024)]
    body_limit: usize,
    /// No log line per request (errors are still reported).
    #[arg(long)]
    quiet: bool,
}

/// Runs `chiffre serve` until Ctrl-C.
pub fn run_cli(args: ServeArgs) -> anyhow::Result<()> {
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 86_400.0) {
        anyhow::bail!("--timeout must be a number of seconds between 0 and 86400, not {}", args.timeout);
    }
    let level = if args.quiet { tracing::Level::WARN } else { tracing::Level::INFO };
    // Another subscriber already set (only possible when embedded) is fine: keep it.
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
    let model = args.model.unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL));
    let config = ServeConfig {
        addr: args.addr,
        workers: args.workers,
        max_in_flight: args.max_in_flight,
        timeout: Duration::from_secs_f64(args.timeout),
        body_limit: args.body_limit,
    };
    run(&model, config, |addr, state| {
        // The first line of stdout, read by tests and scripts to find the port.
        println!("chiffre serve: http://{addr}/ ({}, {} workers); Ctrl-C stops", model.display(), state.config.workers);
        let _ = std::io::stdout().flush();
    })?;
    println!("chiffre serve: stopped");
    Ok(())
}
