//! `chiffre sweep`: train every combination of the settings given, with each
//! seed, one after another (each a `chiffre train` of its own, recorded in
//! the history), then say which setting is better and whether the
//! difference is larger than the seeds' spread. Started again with the same
//! flags, it skips the runs it already finished.

use crate::runs::sweep::{differs, finished_run, grid, link, mean_sd, rank, sweep_id, verdict, Summary};
use crate::runs::{db_path, open, query};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Arguments of `chiffre sweep`.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The networks to try (presets), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "cnn", value_parser = clap::builder::PossibleValuesParser::new(crate::model::PRESETS))]
    arch: Vec<String>,
    /// Optimizers to try: sgd, rmsprop, adam, adamw [default: each network's own].
    #[arg(long, value_delimiter = ',', value_parser = ["sgd", "rmsprop", "adam", "adamw"])]
    optimizer: Vec<String>,
    /// Learning rates to try [default: the optimizer's].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true, value_parser = super::values::positive_f64)]
    lr: Vec<f64>,
    /// Batch sizes to try [default: the network's].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true, value_parser = super::values::whole_from(1))]
    batch_size: Vec<usize>,
    /// Epochs to try.
    #[arg(long, value_delimiter = ',', default_value = "5", allow_negative_numbers = true, value_parser = super::values::whole_from(1))]
    epochs: Vec<usize>,
    /// The seeds each setting is trained with: the spread over them is what a difference is judged against.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3", allow_negative_numbers = true, value_parser = super::values::seed)]
    seeds: Vec<u64>,
    /// Train on the first N training images only.
    #[arg(long, allow_negative_numbers = true, value_parser = super::values::whole_from(1), value_name = "N")]
    limit: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long, allow_negative_numbers = true, value_parser = super::values::whole_from(1), value_name = "N")]
    test_limit: Option<usize>,
    /// A directory in the MNIST layout (default: the bundled MNIST).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Worker threads of each training (0: one per core).
    #[arg(long, allow_negative_numbers = true, value_parser = super::values::whole_from(0), default_value_t = 0)]
    threads: usize,
    /// Where the models go [default: runs/sweep-ID/].
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// The run history [default: runs/history.sqlite, or $CHIFFRE_RUNS_DB].
    #[arg(long, value_name = "FILE")]
    runs_db: Option<PathBuf>,
    /// End with one JSON object per setting (JSON Lines), best first.
    #[arg(long)]
    json: bool,
}

/// Runs `chiffre sweep`.
pub fn run(args: SweepArgs) -> anyhow::Result<()> {
    let path = db_path(args.runs_db.as_deref());
    let db = open(&path, true)?;
    let settings = grid(&args.arch, &args.optimizer, &args.lr, &args.batch_size, &args.epochs);
    let data = args.data.clone().unwrap_or_else(crate::data::default_data_dir);
    let grid_json = serde_json::json!({
        "arch": args.arch, "optimizer": args.optimizer, "lr": args.lr, "batch_size": args.batch_size,
        "epochs": args.epochs, "seeds": args.seeds, "limit": args.limit, "test_limit": args.test_limit,
        "data": data.display().to_string(), "threads": args.threads,
    });
    // The same flags are the same sweep: it continues where it stopped.
    let id = sweep_id(&db, &grid_json.to_string(), &grid_json)?;
    let out_dir = args.out_dir.clone().unwrap_or_else(|| path.with_file_name(format!("sweep-{id}")));
    std::fs::create_dir_all(&out_dir).map_err(|e| anyhow::anyhow!("--out-dir {}: {e}", out_dir.display()))?;
    let total = settings.len() * args.seeds.len();
    println!(
        "sweep {id}: {} settings × {} seeds = {total} runs, recorded in {}",
        settings.len(),
        args.seeds.len(),
        path.display()
    );
    let exe = std::env::current_exe()?;
    let mut failures = Vec::new();
    let mut k = 0;
    for setting in &settings {
        let label = setting.label();
        for &seed in &args.seeds {
            k += 1;
            if let Some(run) = finished_run(&db, id, &label, seed)? {
                println!("[{k}/{total}] {label} seed {seed}: done before (run {run})");
                continue;
            }
            let model = out_dir.join(format!("{}-seed{seed}.safetensors", label.replace(' ', "_")));
            let mut command = Command::new(&exe);
            command
                .arg("train")
                .args(setting.flags())
                .args(["--seed", &seed.to_string(), "--threads", &args.threads.to_string(), "--quiet", "--json"])
                // A sweep compares training settings: the "not a digit" gate is not fitted to each model.
                .arg("--no-gate")
                .args(["--data".as_ref(), data.as_os_str(), "--out".as_ref(), model.as_os_str()])
                .args(["--runs-db".as_ref(), path.as_os_str()]);
            if let Some(n) = args.limit {
                command.args(["--limit", &n.to_string()]);
            }
            if let Some(n) = args.test_limit {
                command.args(["--test-limit", &n.to_string()]);
            }
            let output = command.stdin(Stdio::null()).stderr(Stdio::inherit()).output()?;
            if output.status.code() == Some(130) {
                anyhow::bail!("sweep {id} stopped; the same command continues it, skipping the {} runs done", k - 1);
            }
            let stdout = String::from_utf8_lossy(&output.stdout);
            let summary = stdout.lines().last().and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok());
            match (output.status.success(), summary.as_ref().and_then(|s| s["run"].as_i64())) {
                (true, Some(run)) => {
                    link(&db, id, &label, seed, run)?;
                    let s = summary.unwrap_or_default();
                    println!(
                        "[{k}/{total}] {label} seed {seed}: test accuracy {:.4} in {:.1} s (run {run})",
                        s["test_accuracy"].as_f64().unwrap_or(f64::NAN),
                        s["train_seconds"].as_f64().unwrap_or(f64::NAN)
                    );
                }
                (true, None) => anyhow::bail!("the training of {label} seed {seed} was not recorded (see above)"),
                (false, _) => {
                    println!("[{k}/{total}] {label} seed {seed}: failed (see above)");
                    failures.push(format!("{label} seed {seed}"));
                }
            }
        }
    }
    let mut summaries: Vec<Summary> = Vec::new();
    for setting in &settings {
        let label = setting.label();
        let mut summary = Summary { setting: label.clone(), accuracies: Vec::new(), seconds: Vec::new() };
        for &seed in &args.seeds {
            if let Some(r) = finished_run(&db, id, &label, seed)?.and_then(|run| query::get(&db, run).ok().flatten()) {
                summary.accuracies.extend(r.test_accuracy);
                summary.seconds.extend(r.train_seconds);
            }
        }
        summaries.push(summary);
    }
    rank(&mut summaries);
    print!("{}", report(id, &summaries));
    if !failures.is_empty() {
        println!(
            "failed: {} (`chiffre runs list --status diverged` or `--status failed` says why)",
            failures.join(", ")
        );
    }
    if args.json {
        let best = summaries.first().map(|s| s.accuracies.clone()).unwrap_or_default();
        for (i, s) in summaries.iter().enumerate() {
            let ((mean, sd), (seconds, _)) = (mean_sd(&s.accuracies), mean_sd(&s.seconds));
            let versus = if i == 0 { None } else { differs(&best, &s.accuracies) };
            println!(
                "{}",
                serde_json::json!({
                    "sweep": id, "setting": s.setting, "seeds": s.accuracies.len(),
                    "test_accuracy_mean": mean, "test_accuracy_sd": sd, "train_seconds_mean": seconds,
                    "t_against_best": versus.map(|v| v.0), "beyond_seed_spread": versus.map(|v| v.1),
                })
            );
        }
    }
    Ok(())
}

/// The table of a sweep, best first, with each setting against the best.
fn report(id: i64, summaries: &[Summary]) -> String {
    let mut text = format!("sweep {id}, best first (test accuracy over seeds: mean ± standard deviation)\n");
    let width = summaries.iter().map(|s| s.setting.len()).max().unwrap_or(0);
    for s in summaries {
        let ((mean, sd), (seconds, seconds_sd)) = (mean_sd(&s.accuracies), mean_sd(&s.seconds));
        let against = verdict(&summaries[0], s);
        text.push_str(&format!(
            "  {:<width$}  {:.4} ± {:.4}  ({} seeds)  {:>7.1} ± {:.1} s  {against}\n",
            s.setting,
            mean,
            sd,
            s.accuracies.len(),
            seconds,
            seconds_sd
        ));
    }
    text
}
