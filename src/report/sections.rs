//! The report's per-model sections: the model, its training, its results.

use super::charts::{self, Series};
use super::html::{esc, figure, percent, table};
use super::pictures::{self, Scale};
use super::{Analysed, Out, ReportError, TestSet};
use crate::layers::Layer;
use crate::metrics::ConfusionMatrix;
use crate::model::thousands;
use std::fmt::Write;

/// Model, training and results of one model.
pub(super) fn model_section(
    id: &str,
    m: &Analysed,
    test: &TestSet,
    mistakes: usize,
    out: &mut Out,
) -> Result<String, ReportError> {
    let mut s = String::new();
    let net = m.model.network();
    let _ = write!(
        s,
        "<section id=\"{id}\">\n<h2>{}</h2>\n<p><code>{}</code> — architecture <b>{}</b>, {} parameters.</p>\n",
        esc(&m.name),
        esc(&m.path.display().to_string()),
        esc(&net.spec().name),
        thousands(net.num_params())
    );

    // 1. The model.
    s.push_str("<h3>The model</h3>\n");
    let shape = |d: &[usize]| d.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" × ");
    let mut rows = vec![vec!["input".into(), shape(&net.input_shape()), "0".into()]];
    for (i, layer) in net.layers().iter().enumerate() {
        let params: usize = layer.params().iter().map(|(_, p)| p.value.len()).sum();
        rows.push(vec![format!("{i}: {}", layer.kind()), shape(layer.output_shape()), thousands(params)]);
    }
    rows.push(vec!["<b>total</b>".into(), String::new(), format!("<b>{}</b>", thousands(net.num_params()))]);
    s.push_str(&table(&["layer", "output shape", "parameters"], &rows));
    match m.model.training() {
        Some(training) => {
            let mut settings = Vec::new();
            flatten_json("", training, &mut settings);
            let rows: Vec<Vec<String>> =
                settings.into_iter().map(|(k, v)| vec![format!("<code>{}</code>", esc(&k)), esc(&v)]).collect();
            s.push_str("<details><summary>Training settings stored in the model file</summary>\n");
            s.push_str(&table(&["setting", "value"], &rows));
            s.push_str("</details>\n");
        }
        None => s.push_str("<p class=\"warn\">The model file holds no training settings.</p>\n"),
    }

    // 2. Training.
    s.push_str("<h3>Training</h3>\n");
    match &m.history {
        Ok(history) => {
            let points = |f: &dyn Fn(&crate::train::EpochStats) -> Option<f64>| -> Vec<(f64, f64)> {
                history.iter().filter_map(|e| f(e).map(|v| (e.epoch as f64, v))).collect()
            };
            let mut loss = vec![Series { name: "train", points: points(&|e| Some(e.train_loss)) }];
            let mut acc = vec![Series { name: "train", points: points(&|e| Some(e.train_accuracy)) }];
            let val_loss = points(&|e| e.val_loss);
            if !val_loss.is_empty() {
                loss.push(Series { name: "held-out", points: val_loss });
                acc.push(Series { name: "held-out", points: points(&|e| e.val_accuracy) });
            } else {
                s.push_str(
                    "<p class=\"note\">No held-out split was used (<code>--val-split</code>): train curves only.</p>\n",
                );
            }
            let src = out.svg(&format!("{id}-loss.svg"), charts::lines("Loss per epoch", "epoch", "loss", &loss))?;
            s.push_str(&figure(&src, "loss per epoch", "Mean cross-entropy over each epoch."));
            let src =
                out.svg(&format!("{id}-accuracy.svg"), charts::lines("Accuracy per epoch", "epoch", "accuracy", &acc))?;
            s.push_str(&figure(&src, "accuracy per epoch", "Fraction of examples read right."));
            let rows: Vec<Vec<String>> = history
                .iter()
                .map(|e| {
                    vec![
                        e.epoch.to_string(),
                        format!("{:.4}", e.train_loss),
                        percent(e.train_accuracy),
                        e.val_accuracy.map_or("—".into(), percent),
                        if e.seconds < 10.0 { format!("{:.2}", e.seconds) } else { format!("{:.1}", e.seconds) },
                        format!("{:.0}", e.images_per_sec),
                    ]
                })
                .collect();
            s.push_str(&table(&["epoch", "train loss", "train acc.", "held-out acc.", "seconds", "images/s"], &rows));
        }
        Err(why) => {
            let _ = writeln!(s, "<p class=\"warn\">{}</p>", esc(why));
        }
    }

    // 3. Results.
    s.push_str(&results(id, m, test, mistakes, out)?);
    s.push_str("</section>\n");
    Ok(s)
}

fn results(id: &str, m: &Analysed, test: &TestSet, mistakes: usize, out: &mut Out) -> Result<String, ReportError> {
    let mut s = String::from("<h3>Results on the test set</h3>\n");
    let predicted: Vec<u8> = m.predictions.iter().map(|p| p.digit as u8).collect();
    let classes = m.model.num_classes();
    let confusion = ConfusionMatrix::new(&test.labels, &predicted, classes);
    let correct = (0..classes).map(|c| confusion.counts[c][c]).sum::<u64>();
    let _ = writeln!(
        s,
        "<p>Test accuracy <b>{}</b> ({correct} of {} images read right).</p>",
        percent(confusion.accuracy()),
        test.labels.len()
    );
    let src = out.svg(&format!("{id}-confusion.svg"), charts::confusion(&confusion.counts))?;
    s.push_str(&figure(
        &src,
        "confusion matrix",
        "Rows: the true digit; columns: what the network read. The diagonal is right; every other cell is a mistake.",
    ));
    let scores = confusion.per_class();
    let lowest = scores.iter().flat_map(|c| [c.precision, c.recall]).fold(1.0f64, f64::min);
    let y0 = ((lowest - 0.02) * 50.0).floor() / 50.0;
    let bars = charts::grouped_bars(
        "Precision and recall per digit",
        "score",
        &["precision", "recall"],
        &[scores.iter().map(|c| c.precision).collect(), scores.iter().map(|c| c.recall).collect()],
        y0.clamp(0.0, 0.98),
        1.0,
    );
    let src = out.svg(&format!("{id}-per-class.svg"), bars)?;
    s.push_str(&figure(&src, "precision and recall per digit", "Precision: of the images read as this digit, the share that are. Recall: of the images of this digit, the share found."));
    let rows: Vec<Vec<String>> = scores
        .iter()
        .map(|c| {
            vec![
                c.class.to_string(),
                percent(c.precision),
                percent(c.recall),
                format!("{:.4}", c.f1),
                c.support.to_string(),
            ]
        })
        .collect();
    s.push_str("<details><summary>Per-class table</summary>\n");
    s.push_str(&table(&["digit", "precision", "recall", "F1", "images"], &rows));
    s.push_str("</details>\n");

    // The gallery: most confident mistakes first.
    let mut wrong: Vec<usize> =
        (0..test.labels.len()).filter(|&i| m.predictions[i].digit != test.labels[i] as usize).collect();
    wrong.sort_by(|&a, &b| m.predictions[b].confidence.total_cmp(&m.predictions[a].confidence).then(a.cmp(&b)));
    let _ = writeln!(
        s,
        "<h4>Its {} mistakes, most confident first</h4>\n<p class=\"note\">Showing {} of them: each with the true digit, \
         what the network read and its top probabilities.</p>\n<div class=\"gallery\">",
        wrong.len(),
        wrong.len().min(mistakes)
    );
    for &i in wrong.iter().take(mistakes) {
        let p = &m.predictions[i];
        let img = pictures::map(&test.pixels[i], 28, 28, 3, Scale::Gray { lo: 0.0, hi: 1.0 });
        let src = out.png(&format!("{id}-wrong-{i}.png"), &img)?;
        let top: Vec<String> = p.top(3).iter().map(|(d, q)| format!("{d}: {:.0}%", 100.0 * q)).collect();
        let caption = format!("#{i}: <b>{}</b> read as <b>{}</b><br>{}", test.labels[i], p.digit, top.join(", "));
        s.push_str(&figure(&src, &format!("test image {i}"), &caption));
    }
    s.push_str("</div>\n");
    Ok(s)
}

/// `{"a": {"b": 1}}` → `[("a.b", "1")]`, in the JSON's order.
fn flatten_json(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten_json(&key, v, out);
            }
        }
        serde_json::Value::Number(n) => {
            let text = n.as_f64().filter(|f| f.fract() != 0.0).map_or(n.to_string(), |f| format!("{}", f as f32));
            out.push((prefix.to_string(), text));
        }
        serde_json::Value::String(text) => out.push((prefix.to_string(), text.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_settings_are_flattened_with_short_floats() {
        let mut out = Vec::new();
        flatten_json(
            "",
            &serde_json::json!({"config": {"lr": 0.0010000000474974513, "epochs": 5}, "arch": "cnn"}),
            &mut out,
        );
        assert!(out.contains(&("config.lr".into(), "0.001".into())), "{out:?}");
        assert!(out.contains(&("config.epochs".into(), "5".into())));
        assert!(out.contains(&("arch".into(), "cnn".into())));
    }
}
