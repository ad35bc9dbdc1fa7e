//! "Not a digit, and how sure": for a model with a "not a digit" gate, the
//! reliability diagram before and after calibration, the pictures nearest
//! the gate's default threshold, and the shares of digits and of generated
//! non-digits it rejects.

use super::charts::{self, Series};
use super::html::{esc, figure, percent, table};
use super::pictures::{self, Scale};
use super::{Analysed, Out, ReportError, TestSet};
use crate::predict::{PredictError, Prediction};
use crate::preprocess::Pixels;
use crate::reject::calibrate::expected_calibration_error;
use crate::reject::{generate_many, glyphs, Category, Negative, Split};
use std::fmt::Write;

/// Equal-width confidence bins of the reliability diagram.
const BINS: usize = 15;
/// Generated test non-digits shown to each model with a gate.
const NEGATIVES: usize = 400;
/// Seed of those non-digits (the same pictures in every report).
const SEED: u64 = 2026;
/// Pictures shown on each side of the threshold.
const NEAREST: usize = 12;

/// The generated test non-digits (test fonts, test shapes and scribbles;
/// no ambiguous letters), or why there are none.
pub(super) fn test_negatives() -> Result<Vec<Negative>, String> {
    let fonts = glyphs::test_fonts()?;
    Ok(generate_many(&fonts, Split::Test, &Category::REJECTED, SEED, NEGATIVES))
}

/// The section for one model: its calibration and its gate, or a sentence
/// saying that its file has none.
pub(super) fn reject_section(
    id: &str,
    m: &mut Analysed,
    test: &TestSet,
    negatives: &Result<Vec<Negative>, String>,
    out: &mut Out,
) -> Result<String, ReportError> {
    let mut s = format!("<h3 id=\"{id}-reject\">Not a digit, and how sure</h3>\n");
    let Some(threshold) = m.model.reject_threshold() else {
        s.push_str(
            "<p class=\"warn\">This model file has no not-a-digit gate and no calibration (it was written before \
             <code>chiffre train</code> fitted them): retrain it with <code>chiffre train</code> to get them.</p>\n",
        );
        return Ok(s);
    };
    let temperature = m.model.temperature();
    let _ = writeln!(
        s,
        "<p class=\"note\">Beside the network, <code>chiffre train</code> fitted a gate that gives the probability \
         that a mark is a digit at all (below <b>{threshold}</b>, the default threshold, the mark is \
         “not a digit”), and a temperature of <b>{temperature:.3}</b> that the class scores are divided by, so \
         that the printed confidence matches how often the network is right.</p>"
    );
    s.push_str(&reliability(id, m, test, temperature, out)?);
    match negatives {
        Ok(negatives) => {
            let read = m
                .model
                .predict_batch(&negatives.iter().map(|n| n.pixels).collect::<Vec<_>>())
                .map_err(PredictError::from)?;
            s.push_str(&shares(&m.predictions, negatives, &read, threshold));
            s.push_str(&nearest(id, test, &m.predictions, negatives, &read, threshold, out)?);
        }
        Err(why) => {
            let _ = writeln!(s, "<p class=\"warn\">No generated non-digits: {}</p>", esc(why));
        }
    }
    Ok(s)
}

/// The confidence a prediction had before its calibration at `temperature`:
/// `softmax(z / t)` raised to the power `t` and renormalised is `softmax(z)`.
fn uncalibrated_confidence(p: &Prediction, temperature: f32) -> f32 {
    let t = f64::from(temperature);
    let total: f64 = p.probabilities.iter().map(|&q| f64::from(q).powf(t)).sum();
    (f64::from(p.confidence).powf(t) / total) as f32
}

/// One confidence bin: its mean confidence, its accuracy and its size.
type Bin = (f64, f64, usize);

/// The [`BINS`] bins of `predictions` (`(confidence, correct)`), as
/// [`expected_calibration_error`] makes them; `None` for an empty bin.
fn bins(predictions: &[(f32, bool)]) -> Vec<Option<Bin>> {
    let mut sums = vec![(0usize, 0.0f64, 0.0f64); BINS];
    for &(c, ok) in predictions {
        let bin = ((c.clamp(0.0, 1.0) * BINS as f32) as usize).min(BINS - 1);
        sums[bin].0 += 1;
        sums[bin].1 += f64::from(c);
        sums[bin].2 += f64::from(u8::from(ok));
    }
    sums.into_iter().map(|(n, c, ok)| (n > 0).then(|| (c / n as f64, ok / n as f64, n))).collect()
}

fn reliability(id: &str, m: &Analysed, test: &TestSet, temperature: f32, out: &mut Out) -> Result<String, ReportError> {
    let read = m.predictions.iter().zip(&test.labels).filter(|(p, _)| p.confidence.is_finite());
    let after: Vec<(f32, bool)> = read.clone().map(|(p, &l)| (p.confidence, p.digit == l as usize)).collect();
    let before: Vec<(f32, bool)> =
        read.map(|(p, &l)| (uncalibrated_confidence(p, temperature), p.digit == l as usize)).collect();
    let (ece_before, ece_after) = (expected_calibration_error(&before, BINS), expected_calibration_error(&after, BINS));
    let names = [
        format!("before (temperature 1): ECE {}", percent(ece_before)),
        format!("after (temperature {temperature:.2}): ECE {}", percent(ece_after)),
    ];
    let (bins_before, bins_after) = (bins(&before), bins(&after));
    let points = |b: &[Option<Bin>]| b.iter().flatten().map(|&(c, a, _)| (c, a)).collect();
    let series = [
        Series { name: &names[0], points: points(&bins_before) },
        Series { name: &names[1], points: points(&bins_after) },
    ];
    let chart = charts::reliability("Reliability on the test set", &series);
    let src = out.svg(&format!("{id}-reliability.svg"), chart)?;
    let caption = format!(
        "The {} test digits in {BINS} equal-width bins of confidence (the probability of the digit read): each \
         point is a bin's accuracy against its mean confidence; on the diagonal, a confidence of 90 % is right 90 % \
         of the time. Expected calibration error (the bins' mean distance to the diagonal, weighted by their size): \
         <b>{}</b> before calibration, <b>{}</b> after. Most digits sit in the top bin; bins of a few digits \
         zigzag (their sizes are in the table below).",
        after.len(),
        percent(ece_before),
        percent(ece_after)
    );
    let mut s = figure(&src, "reliability diagram before and after calibration", &caption);
    let cells = |b: &Option<Bin>| match b {
        Some((c, a, n)) => [format!("{c:.3}"), percent(*a), n.to_string()],
        None => ["—".into(), "—".into(), "0".into()],
    };
    let rows: Vec<Vec<String>> = (0..BINS)
        .filter(|&k| bins_before[k].is_some() || bins_after[k].is_some())
        .map(|k| {
            let mut row = vec![format!("{:.3}–{:.3}", k as f64 / BINS as f64, (k + 1) as f64 / BINS as f64)];
            row.extend(cells(&bins_before[k]));
            row.extend(cells(&bins_after[k]));
            row
        })
        .collect();
    s.push_str("<details><summary>The bins</summary>\n");
    s.push_str(&table(
        &[
            "confidence",
            "mean before",
            "accuracy before",
            "digits before",
            "mean after",
            "accuracy after",
            "digits after",
        ],
        &rows,
    ));
    s.push_str("</details>\n");
    Ok(s)
}

/// Share of `predictions` that are not a digit at `threshold`.
fn rejected<'a>(predictions: impl Iterator<Item = &'a Prediction>, threshold: f32) -> (usize, f64) {
    let (n, no) = predictions.fold((0, 0), |(n, no), p| (n + 1, no + usize::from(!p.is_digit(threshold))));
    (n, no as f64 / n.max(1) as f64)
}

fn shares(digits: &[Prediction], negatives: &[Negative], read: &[Prediction], threshold: f32) -> String {
    let mut rows = Vec::new();
    let mut row = |what: String, (n, share): (usize, f64)| rows.push(vec![what, n.to_string(), percent(share)]);
    row("MNIST test digits".into(), rejected(digits.iter(), threshold));
    row("<b>generated test non-digits</b>".into(), rejected(read.iter(), threshold));
    for c in Category::REJECTED {
        let these = read.iter().zip(negatives).filter(|(_, n)| n.category == c).map(|(p, _)| p);
        row(format!("&nbsp;&nbsp;{}", c.name()), rejected(these, threshold));
    }
    let mut s = format!(
        "<h4>Rejected at the default threshold {threshold}</h4>\n<p class=\"note\">The non-digits are drawn \
         from fonts, shapes and scribbles that training never saw (seed {SEED}); letters people also write as \
         digits (O, l, Z, S, …) are left out.</p>\n"
    );
    s.push_str(&table(&["pictures", "count", "rejected"], &rows));
    s
}

/// One picture of the gallery: its input, its digit probability, what it is.
struct Candidate<'a> {
    pixels: &'a Pixels,
    probability: f32,
    what: String,
}

fn nearest(
    id: &str,
    test: &TestSet,
    digits: &[Prediction],
    negatives: &[Negative],
    read: &[Prediction],
    threshold: f32,
    out: &mut Out,
) -> Result<String, ReportError> {
    let mut all: Vec<Candidate> = digits
        .iter()
        .zip(&test.pixels)
        .zip(&test.labels)
        .enumerate()
        .map(|(i, ((p, pixels), l))| Candidate {
            pixels,
            probability: p.digit_probability,
            what: format!("digit <b>{l}</b> (#{i})"),
        })
        .collect();
    all.extend(read.iter().zip(negatives).map(|(p, n)| Candidate {
        pixels: &n.pixels,
        probability: p.digit_probability,
        what: describe(n),
    }));
    all.retain(|c| c.probability.is_finite());
    // Nearest the threshold first on each side (a stable sort: digits before non-digits on a tie).
    let (mut below, mut above): (Vec<Candidate>, Vec<Candidate>) =
        all.into_iter().partition(|c| c.probability < threshold);
    below.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    above.sort_by(|a, b| a.probability.total_cmp(&b.probability));
    let mut s = format!(
        "<h4>Nearest the threshold</h4>\n<p class=\"note\">Of the MNIST test digits and the generated non-digits, \
         the {NEAREST} just below the threshold (rejected) and the {NEAREST} just above it (accepted), nearest \
         first, each with its probability of being a digit.</p>\n"
    );
    for (side, title, shown) in [("rejected", "Rejected", &below), ("accepted", "Accepted", &above)] {
        let _ = writeln!(s, "<p><b>{title}</b></p>\n<div class=\"gallery\">");
        for (k, c) in shown.iter().take(NEAREST).enumerate() {
            let img = pictures::map(c.pixels, 28, 28, 3, Scale::Gray { lo: 0.0, hi: 1.0 });
            let src = out.png(&format!("{id}-near-{side}-{k}.png"), &img)?;
            let caption = format!("{}<br>p(digit) {}", c.what, percent(f64::from(c.probability)));
            s.push_str(&figure(&src, &format!("{side} near the threshold"), &caption));
        }
        if shown.is_empty() {
            s.push_str("<p class=\"note\">None.</p>\n");
        }
        s.push_str("</div>\n");
    }
    Ok(s)
}

/// "letter: k", "shape: smiley", "scribble".
fn describe(n: &Negative) -> String {
    let kind = n.category.name().trim_end_matches('s');
    if n.label == kind {
        kind.to_string()
    } else {
        format!("{kind}: <b>{}</b>", esc(&n.label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uncalibrated_confidence_undoes_the_temperature() {
        let logits = [2.0, 0.5, -1.0];
        let calibrated = Prediction::from_calibrated_logits(&logits, 1.7, 1.0).unwrap();
        let raw = Prediction::from_logits(&logits).unwrap();
        assert!((uncalibrated_confidence(&calibrated, 1.7) - raw.confidence).abs() < 1e-5);
    }

    #[test]
    fn bins_hold_mean_confidence_and_accuracy() {
        let b = bins(&[(0.95, true), (0.97, false), (0.5, true)]);
        assert_eq!(b.len(), BINS);
        let full: Vec<Bin> = b.into_iter().flatten().collect();
        assert_eq!(full.len(), 2);
        assert!((full[0].0 - 0.5).abs() < 1e-6 && full[0].1 == 1.0 && full[0].2 == 1);
        assert!((full[1].0 - 0.96).abs() < 1e-6 && full[1].1 == 0.5 && full[1].2 == 2);
    }
}
