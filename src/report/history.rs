//! The report's section from the run history (`chiffre report --runs ID…`,
//! `--sweep ID`): several runs' curves on one chart with the settings that
//! set them apart, and a sweep's table with its chart of test accuracy
//! against the setting, mean and spread over the seeds.

use super::charts::{self, Series};
use super::html::{esc, figure, table};
use super::{Out, ReportError};
use crate::runs::query::{Epoch, Run};
use crate::runs::sweep::{mean_sd, verdict, Summary};

/// What the history gives the report.
#[derive(Clone, Debug)]
pub struct HistoryInput {
    /// Runs to compare, with their epochs.
    pub runs: Vec<(Run, Vec<Epoch>)>,
    /// A sweep: its number and its settings' results, best first.
    pub sweep: Option<(i64, Vec<Summary>)>,
}

/// The settings of each run that are not the same in all of them, as text.
fn differing(runs: &[(Run, Vec<Epoch>)]) -> Vec<String> {
    let flat: Vec<Vec<(String, String)>> = runs.iter().map(|(r, _)| r.flat_settings()).collect();
    let value = |i: usize, k: &str| flat[i].iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    (0..runs.len())
        .map(|i| {
            flat[i]
                .iter()
                .filter(|(k, _)| (0..runs.len()).any(|j| value(j, k) != value(i, k)))
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

/// The section.
pub(super) fn history_section(input: &HistoryInput, out: &mut Out) -> Result<String, ReportError> {
    let mut s = String::from("<section id=\"history\">\n<h2>From the run history</h2>\n");
    if !input.runs.is_empty() {
        let labels = differing(&input.runs);
        let rows: Vec<Vec<String>> = input
            .runs
            .iter()
            .zip(&labels)
            .map(|((r, _), label)| {
                vec![
                    r.id.to_string(),
                    esc(&r.arch),
                    esc(&r.status),
                    esc(if label.is_empty() { "(the same settings)" } else { label }),
                    r.test_accuracy.map_or("—".into(), |a| format!("{:.2} %", 100.0 * a)),
                    r.train_seconds.map_or("—".into(), |t| format!("{t:.1} s")),
                ]
            })
            .collect();
        s.push_str(&table(
            &["run", "network", "status", "settings that differ", "test accuracy", "training time"],
            &rows,
        ));
        let names: Vec<String> = input.runs.iter().map(|(r, _)| format!("run {}", r.id)).collect();
        for (key, title, file) in [
            (0, "Training loss per epoch", "history-loss.svg"),
            (1, "Training accuracy per epoch", "history-accuracy.svg"),
        ] {
            let series: Vec<Series> = input
                .runs
                .iter()
                .zip(&names)
                .map(|((_, epochs), name)| Series {
                    name,
                    points: epochs
                        .iter()
                        .map(|e| (e.epoch as f64, if key == 0 { e.train_loss } else { e.train_accuracy }))
                        .collect(),
                })
                .collect();
            if series.iter().any(|x| !x.points.is_empty()) {
                let src =
                    out.svg(file, charts::lines(title, "epoch", if key == 0 { "loss" } else { "accuracy" }, &series))?;
                s.push_str(&figure(&src, title, title));
            }
        }
    }
    if let Some((id, summaries)) = &input.sweep {
        s.push_str(&format!("<h3>Sweep {id}</h3>\n"));
        let rows: Vec<Vec<String>> = summaries
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let ((mean, sd), (seconds, _)) = (mean_sd(&x.accuracies), mean_sd(&x.seconds));
                vec![
                    (i + 1).to_string(),
                    esc(&x.setting),
                    x.accuracies.len().to_string(),
                    format!("{:.2} ± {:.2} %", 100.0 * mean, 100.0 * sd),
                    format!("{seconds:.1} s"),
                    esc(&verdict(&summaries[0], x)),
                ]
            })
            .collect();
        s.push_str(&table(
            &["#", "setting", "seeds", "test accuracy (mean ± sd)", "training time", "against the best"],
            &rows,
        ));
        let point = |f: &dyn Fn(f64, f64) -> f64| -> Vec<(f64, f64)> {
            summaries
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let (m, sd) = mean_sd(&x.accuracies);
                    ((i + 1) as f64, 100.0 * f(m, sd))
                })
                .collect()
        };
        let series = [
            Series { name: "mean", points: point(&|m, _| m) },
            Series { name: "mean + sd", points: point(&|m, sd| m + sd) },
            Series { name: "mean − sd", points: point(&|m, sd| m - sd) },
        ];
        let title = "Test accuracy of each setting over its seeds";
        let src = out.svg(
            "sweep.svg",
            charts::lines(title, "setting (# in the table, best first)", "test accuracy (%)", &series),
        )?;
        s.push_str(&figure(
            &src,
            title,
            "Mean and mean ± one standard deviation over the seeds; the settings in the table's order.",
        ));
        s.push_str(
            "<p class=\"note\">\"Beyond the seed spread\": Welch's t-test between the setting's and the best setting's \
             test accuracies over their seeds, two-sided at 95 %.</p>\n",
        );
    }
    s.push_str("</section>\n");
    Ok(s)
}
