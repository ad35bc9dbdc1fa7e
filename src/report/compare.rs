//! The comparison of several models side by side.

use super::html::{esc, figure, percent, table};
use super::pictures::{self, Scale};
use super::{Analysed, Out, ReportError, TestSet};
use crate::model::thousands;
use std::fmt::Write;

/// Thumbnails shown per model among the digits only it gets wrong.
const SHOWN: usize = 16;

pub(super) fn comparison_section(models: &[Analysed], test: &TestSet, out: &mut Out) -> Result<String, ReportError> {
    let correct: Vec<Vec<bool>> = models.iter().map(|m| m.correct(&test.labels)).collect();
    // The test images each model alone gets wrong.
    let alone: Vec<Vec<usize>> = (0..models.len())
        .map(|j| {
            (0..test.labels.len())
                .filter(|&i| !correct[j][i] && correct.iter().enumerate().all(|(o, c)| o == j || c[i]))
                .collect()
        })
        .collect();
    let number = |m: &Analysed, key: &str, f: &dyn Fn(f64) -> String| {
        m.training_value(key).and_then(serde_json::Value::as_f64).map_or("—".to_string(), f)
    };
    let rows: Vec<Vec<String>> = models
        .iter()
        .zip(&alone)
        .zip(&correct)
        .map(|((m, alone), correct)| {
            vec![
                format!("<a href=\"#{}\">{}</a>", esc(&anchor(models, m)), esc(&m.name)),
                esc(&m.model.network().spec().name),
                thousands(m.model.network().num_params()),
                percent(correct.iter().filter(|&&c| c).count() as f64 / correct.len().max(1) as f64),
                number(m, "train_seconds", &|s| format!("{s:.1} s")),
                number(m, "images_per_sec", &|v| format!("{v:.0}")),
                alone.len().to_string(),
            ]
        })
        .collect();
    let mut s = String::from("<section id=\"comparison\">\n<h2>Comparison</h2>\n");
    s.push_str(&table(
        &[
            "model",
            "architecture",
            "parameters",
            "test accuracy",
            "training time",
            "training images/s",
            "wrong only here",
        ],
        &rows,
    ));
    s.push_str(
        "<p class=\"note\">Training time and images/s are those stored in each model file by <code>chiffre train</code>. \
         \"Wrong only here\": test images this model reads wrong while every other model reads them right.</p>\n",
    );
    let both_wrong = (0..test.labels.len()).filter(|&i| correct.iter().all(|c| !c[i])).count();
    let _ = writeln!(s, "<p>{both_wrong} test images are read wrong by every model.</p>");
    for (m, alone) in models.iter().zip(&alone) {
        let _ = writeln!(
            s,
            "<h3>What only {} gets wrong ({} images{})</h3>\n<div class=\"gallery\">",
            esc(&m.name),
            alone.len(),
            if alone.len() > SHOWN { format!(", the first {SHOWN}") } else { String::new() }
        );
        for &i in alone.iter().take(SHOWN) {
            let img = pictures::map(&test.pixels[i], 28, 28, 3, Scale::Gray { lo: 0.0, hi: 1.0 });
            let src = out.png(&format!("{}-alone-{i}.png", anchor(models, m)), &img)?;
            let p = &m.predictions[i];
            let caption =
                format!("#{i}: <b>{}</b> read as <b>{}</b> ({:.0}%)", test.labels[i], p.digit, 100.0 * p.confidence);
            s.push_str(&figure(&src, &format!("test image {i}"), &caption));
        }
        s.push_str("</div>\n");
    }
    s.push_str("</section>\n");
    Ok(s)
}

/// The section id of model `m` (its position).
fn anchor(models: &[Analysed], m: &Analysed) -> String {
    let i = models.iter().position(|x| std::ptr::eq(x, m)).unwrap_or(0);
    format!("m{i}")
}
