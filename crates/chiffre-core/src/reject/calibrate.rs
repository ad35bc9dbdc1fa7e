//! Calibration: a temperature that divides the class scores before the
//! softmax, fitted to minimise the negative log-likelihood of held-out
//! examples, and the expected calibration error that says whether the
//! printed probabilities mean what they say.

use crate::loss::softmax_rows;

/// The range searched for the temperature.
pub const TEMPERATURE_RANGE: (f32, f32) = (0.25, 8.0);

/// Mean negative log-likelihood of `labels` under `softmax(logits / t)`
/// (`logits` is `labels.len()` rows of `classes` scores).
pub fn nll(logits: &[f32], classes: usize, labels: &[u8], t: f32) -> f64 {
    let mut scaled = vec![0.0f32; classes];
    let mut sum = 0.0f64;
    for (row, &label) in logits.chunks_exact(classes).zip(labels) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        scaled.iter_mut().zip(row).for_each(|(s, &v)| *s = (v - max) / t);
        let log_norm = scaled.iter().map(|&s| f64::from(s).exp()).sum::<f64>().ln();
        sum += log_norm - f64::from(scaled[label as usize]);
    }
    sum / labels.len().max(1) as f64
}

/// The temperature in [`TEMPERATURE_RANGE`] with the least [`nll`] (golden-
/// section search on its logarithm; the likelihood is convex in `1/t`).
/// 1 when there are no examples.
pub fn fit_temperature(logits: &[f32], classes: usize, labels: &[u8]) -> f32 {
    if labels.is_empty() || classes == 0 {
        return 1.0;
    }
    let f = |log_t: f64| nll(logits, classes, labels, log_t.exp() as f32);
    let (mut a, mut b) = (f64::from(TEMPERATURE_RANGE.0).ln(), f64::from(TEMPERATURE_RANGE.1).ln());
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut c, mut d) = (b - ratio * (b - a), a + ratio * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..40 {
        if fc < fd {
            (b, d, fd) = (d, c, fc);
            c = b - ratio * (b - a);
            fc = f(c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + ratio * (b - a);
            fd = f(d);
        }
    }
    ((a + b) / 2.0).exp() as f32
}

/// `softmax(logits / t)` of one row.
pub fn calibrated(logits: &[f32], t: f32) -> Vec<f32> {
    let scaled: Vec<f32> = logits.iter().map(|v| v / t).collect();
    let mut out = vec![0.0; logits.len()];
    if !logits.is_empty() {
        softmax_rows(&scaled, logits.len(), &mut out);
    }
    out
}

/// Expected calibration error with `bins` equal-width bins of confidence:
/// the mean over examples of |accuracy − confidence| within each bin,
/// weighted by the bin's share. `predictions` are `(confidence, correct)`.
pub fn expected_calibration_error(predictions: &[(f32, bool)], bins: usize) -> f64 {
    if predictions.is_empty() || bins == 0 {
        return 0.0;
    }
    let mut count = vec![0usize; bins];
    let mut confidence = vec![0.0f64; bins];
    let mut correct = vec![0.0f64; bins];
    for &(c, ok) in predictions {
        let bin = ((c.clamp(0.0, 1.0) * bins as f32) as usize).min(bins - 1);
        count[bin] += 1;
        confidence[bin] += f64::from(c);
        correct[bin] += f64::from(u8::from(ok));
    }
    let n = predictions.len() as f64;
    (0..bins).filter(|&b| count[b] > 0).map(|b| (correct[b] - confidence[b]).abs() / n).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overconfident_model_gets_a_temperature_above_one() {
        // Scores 4 apart (softmax 0.98) but right only 3 times in 4: too sure.
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        for i in 0..400 {
            logits.extend_from_slice(&[4.0, 0.0]);
            labels.push(u8::from(i % 4 == 0));
        }
        let t = fit_temperature(&logits, 2, &labels);
        // The best softmax(4/t) is 0.75: t = 4 / ln 3.
        assert!((t - 4.0 / 3f32.ln()).abs() < 0.01, "t = {t}");
        assert!(nll(&logits, 2, &labels, t) < nll(&logits, 2, &labels, 1.0));
        assert!((calibrated(&[4.0, 0.0], t)[0] - 0.75).abs() < 1e-3);
    }

    #[test]
    fn ece_is_zero_when_confidence_matches_accuracy() {
        let fair: Vec<(f32, bool)> = (0..100).map(|i| (0.75, i % 4 != 0)).collect();
        assert!(expected_calibration_error(&fair, 15) < 1e-9);
        let sure_and_wrong: Vec<(f32, bool)> = (0..10).map(|_| (1.0, false)).collect();
        assert!((expected_calibration_error(&sure_and_wrong, 15) - 1.0).abs() < 1e-9);
        assert_eq!(expected_calibration_error(&[], 15), 0.0);
    }
}
