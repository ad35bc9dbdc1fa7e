//! `chiffre report` and `chiffre tutorial`, end to end through the CLI.

mod common;
use common::prelude::*;
use std::sync::OnceLock;

/// A small data folder and two models trained quickly on it: a CNN (with a
/// held-out split, so with curves) and a perceptron. Trained once.
fn trained() -> &'static (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    static SETUP: OnceLock<(tempfile::TempDir, PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let data = DataDir::mnist(1500, 300).write(&dir.path().join("data"));
        let cnn = dir.path().join("cnn.safetensors");
        train(&data, &cnn, &["--arch", "cnn", "--epochs", "2", "--val-split", "0.2"]).assert_ok();
        let perceptron = dir.path().join("perceptron.safetensors");
        train(&data, &perceptron, &["--arch", "perceptron", "--epochs", "1"]).assert_ok();
        (dir, data, cnn, perceptron)
    })
}

/// The values of every `attr="..."` in `html`.
fn attributes<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let key = format!("{attr}=\"");
    html.match_indices(&key).filter_map(|(i, _)| html[i + key.len()..].split('"').next()).collect()
}

fn report(args: &[&str]) -> Run {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    chiffre(all)
}

#[test]
fn a_report_has_its_sections_and_every_picture_it_references() {
    let (dir, data, cnn, perceptron) = trained();
    let out = dir.path().join("report-two");
    let run = report(&["--model", arg(perceptron), "--model", arg(cnn), "--data", arg(data), "--out", arg(&out)]);
    run.assert_ok();
    assert!(run.stdout.contains("index.html"), "{}", run.describe());
    let html = std::fs::read_to_string(out.join("index.html")).expect("index.html written");

    // Offline: nothing from the network, no script.
    let sources = attributes(&html, "src");
    assert!(sources.len() > 50, "only {} pictures", sources.len());
    for link in sources.iter().chain(attributes(&html, "href").iter()) {
        assert!(!link.contains("://") && !link.starts_with("//"), "references the network: {link}");
        if !link.starts_with('#') {
            assert!(out.join(link).is_file(), "{link} is referenced but missing");
        }
    }
    assert!(!html.contains("<script") && !html.contains("@import") && !html.contains("url("), "loads something");
    for id in attributes(&html, "href").iter().filter_map(|h| h.strip_prefix('#')) {
        assert!(html.contains(&format!("id=\"{id}\"")), "the link to #{id} leads nowhere");
    }

    // The sections.
    for part in [
        "The model",
        "Training settings stored in the model file",
        "alt=\"loss per epoch\"",
        "Results on the test set",
        "mistakes, most confident first",
        "Inside cnn, for one digit",
        "filters of layer 0 (the first convolution)",
        "What each output looks for",
        "id=\"comparison\"",
        "wrong only here",
        "id=\"tutorial\"",
        "Learning the features instead",
    ] {
        assert!(html.contains(part), "the report lacks {part:?}");
    }
    // The CNN's training curves are drawn (it trained with a held-out split); the
    // perceptron trained without one says so.
    let loss = std::fs::read_to_string(out.join("img/m1-loss.svg")).expect("loss curve");
    assert!(loss.contains("held-out") && loss.contains("epoch"));
    assert!(html.contains("No held-out split was used"));
    let confusion = std::fs::read_to_string(out.join("img/m1-confusion.svg")).expect("confusion heat map");
    assert!(confusion.contains("predicted digit") && confusion.contains("true digit"));
    // Every layer of the CNN is drawn for the first test image of each class (10 digits).
    let layers = attributes(&html, "src").iter().filter(|s| s.starts_with("img/m1-d") && s.contains("-layer")).count();
    assert_eq!(layers, 10 * 12, "12 layers × 10 digits");
    let first_conv = image::open(out.join("img/m1-d0-layer0.png")).expect("a PNG").to_rgb8();
    assert!(first_conv.width() >= 8 * 26 && first_conv.height() >= 4 * 26, "32 maps of 26×26, enlarged");
}

#[test]
fn the_mistakes_gallery_starts_with_the_most_confident_mistake() {
    let (dir, data, _, perceptron) = trained();
    let out = dir.path().join("report-mistakes");
    report(&["--model", arg(perceptron), "--data", arg(data), "--out", arg(&out), "--mistakes", "5"]).assert_ok();
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let shown: Vec<&str> = attributes(&html, "src").into_iter().filter(|s| s.contains("-wrong-")).collect();
    assert_eq!(shown.len(), 5, "{shown:?}");
    // Their confidences, in the order shown, as the captions print them (top probabilities, first = predicted).
    let confidences: Vec<u32> = html
        .split("read as <b>")
        .skip(1)
        .take(5)
        .filter_map(|s| s.split("<br>").nth(1)?.split(": ").nth(1)?.split('%').next()?.parse().ok())
        .collect();
    assert_eq!(confidences.len(), 5, "{confidences:?}");
    assert!(confidences.windows(2).all(|w| w[0] >= w[1]), "not most confident first: {confidences:?}");
}

#[test]
fn a_model_without_metrics_and_a_picture_of_ones_own() {
    let (dir, data, cnn, _) = trained();
    let lone = dir.path().join("lone.safetensors");
    std::fs::copy(cnn, &lone).unwrap();
    let picture = dir.path().join("seven.png");
    common::render::drawn(60, 80, 255, 0, |x, y| (y < 14 && x > 8 && x < 52) || (x + y / 2 > 44 && x + y / 2 < 54))
        .save(&picture)
        .unwrap();
    let out = dir.path().join("report-lone");
    report(&["--model", arg(&lone), "--data", arg(data), "--out", arg(&out), "--image", arg(&picture)]).assert_ok();
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("no training curves") && html.contains("lone.metrics.jsonl"), "says why there are no curves");
    assert!(html.contains("your picture"));
    assert_eq!(attributes(&html, "src").iter().filter(|s| s.contains("-input.png")).count(), 1, "one digit inside");
}

/// The digit probabilities printed under the pictures named `{id}-near-{side}-…`, in the order shown.
fn near_threshold(html: &str, id: &str, side: &str) -> Vec<f32> {
    let key = format!("src=\"img/{id}-near-{side}-");
    html.split(&key)
        .skip(1)
        .map(|rest| {
            let caption = rest.split("</figcaption>").next().unwrap();
            let value = caption.rsplit("p(digit) ").next().unwrap().trim_end_matches(" %");
            value.parse::<f32>().unwrap_or_else(|e| panic!("{value:?}: {e}")) / 100.0
        })
        .collect()
}

#[test]
fn a_model_with_a_gate_shows_it_and_one_without_says_how_to_get_one() {
    let (dir, data, cnn, _) = trained();
    // An old-style file: the same network, saved without the gate and the temperature.
    let old = dir.path().join("old.safetensors");
    let file = chiffre::model::load(cnn).expect("the CNN loads");
    assert!(file.reject.is_some(), "chiffre train fits a gate");
    chiffre::model::save(&file.model, &file.training.unwrap_or_default(), &old).expect("saved without a gate");
    let threshold = chiffre::Model::load(cnn).unwrap().reject_threshold().expect("a threshold");

    let out = dir.path().join("report-reject");
    report(&["--model", arg(&old), "--model", arg(cnn), "--data", arg(data), "--out", arg(&out)]).assert_ok();
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert_eq!(html.matches("Not a digit, and how sure").count(), 2, "a section for each model");
    // The old model: one sentence, nothing drawn.
    assert!(html.contains("has no not-a-digit gate") && html.contains("retrain it with <code>chiffre train</code>"));
    assert!(!out.join("img/m0-reliability.svg").exists() && near_threshold(&html, "m0", "rejected").is_empty());

    // The CNN: the reliability diagram before and after calibration…
    let chart = std::fs::read_to_string(out.join("img/m1-reliability.svg")).expect("a reliability diagram");
    assert!(chart.contains("before (temperature 1): ECE") && chart.contains("after (temperature"), "{chart}");
    assert!(chart.contains("perfectly calibrated") && chart.contains("confidence"));
    assert!(html.contains("alt=\"reliability diagram before and after calibration\"") && html.contains("The bins"));
    // …the pictures nearest the threshold, nearest first on each side…
    let (below, above) = (near_threshold(&html, "m1", "rejected"), near_threshold(&html, "m1", "accepted"));
    assert_eq!((below.len(), above.len()), (12, 12), "{below:?} {above:?}");
    assert!(below.iter().all(|&p| p < threshold + 5e-5) && above.iter().all(|&p| p >= threshold - 5e-5));
    assert!(below.windows(2).all(|w| w[0] >= w[1]) && above.windows(2).all(|w| w[0] <= w[1]), "{below:?} {above:?}");
    let first = image::open(out.join("img/m1-near-accepted-0.png")).expect("a PNG").to_rgb8();
    assert_eq!(first.dimensions(), (84, 84), "28×28, enlarged");
    // …and the shares rejected, overall and per category.
    let table = html.split("Rejected at the default threshold").nth(1).expect("the table of shares");
    for row in ["MNIST test digits", "generated test non-digits", "letters", "symbols", "words", "shapes", "scribbles"]
    {
        assert!(table.split("</table>").next().unwrap().contains(row), "the table lacks {row:?}");
    }
}

#[test]
fn bad_inputs_get_one_clear_error_and_no_page() {
    let (dir, data, cnn, _) = trained();
    // An output folder that cannot be made: a file stands in the way.
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let out = blocker.join("report");
    report(&["--model", arg(cnn), "--data", arg(data), "--out", arg(&out)])
        .assert_error(&["cannot write the report to", "a-file"]);
    // A picture that is not a picture.
    let fake = dir.path().join("fake.png");
    std::fs::write(&fake, b"this is text").unwrap();
    let out = dir.path().join("report-fake");
    report(&["--model", arg(cnn), "--data", arg(data), "--out", arg(&out), "--image", arg(&fake)])
        .assert_error(&["fake.png"]);
    assert_absent(&[&out.join("index.html"), &out]);
    // A model file that is not one.
    report(&["--model", arg(&fake), "--data", arg(data), "--out", arg(&out)]).assert_error(&["fake.png"]);
    assert_absent(&[&out]);
}

/// The matrices printed after `title` in the tutorial's output, until the next blank line.
fn matrices_after(text: &str, title: &str) -> Vec<Vec<Vec<f32>>> {
    text.split(title)
        .skip(1)
        .map(|rest| {
            rest.lines()
                .skip(1)
                .take_while(|l| !l.trim().is_empty())
                .map(|l| l.split_whitespace().map(|v| v.parse().expect("a number")).collect())
                .collect()
        })
        .collect()
}

#[test]
fn the_tutorial_prints_the_worked_example_and_pooling_is_the_max_of_the_printed_maps() {
    let run = chiffre(["tutorial"]);
    run.assert_ok();
    let maps =
        matrices_after(&run.stdout, "Feature map (mean of the products under the window; 1.00 = perfect match):");
    let relu = matrices_after(&run.stdout, "After ReLU (negatives become 0):");
    let pooled = matrices_after(&run.stdout, "After 2×2 max-pooling:");
    assert_eq!((maps.len(), relu.len(), pooled.len()), (3, 3, 3));
    // The diagonal feature, cut at rows and columns 1–3, matches itself perfectly there.
    assert_eq!(maps[0][1][1], 1.0);
    assert!(maps.iter().flatten().flatten().all(|v| (-1.0..=1.0).contains(v)));
    for f in 0..3 {
        assert_eq!(relu[f].len(), 7);
        for (r, row) in relu[f].iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                assert_eq!(v, maps[f][r][c].max(0.0), "ReLU of map {f} at ({r}, {c})");
            }
        }
        // 2×2 windows with stride 2; those sticking out at the border keep what they cover.
        assert_eq!(pooled[f].len(), 4);
        for (r, row) in pooled[f].iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let window = (2 * r..(2 * r + 2).min(7)).flat_map(|y| (2 * c..(2 * c + 2).min(7)).map(move |x| (y, x)));
                let max = window.map(|(y, x)| relu[f][y][x]).fold(f32::MIN, f32::max);
                assert_eq!(v, max, "pooled map {f} at ({r}, {c})");
            }
        }
    }
    assert!(run.stdout.contains("Flattened (48 values"));
    assert!(run.stdout.contains("Its learned filters"));
}
