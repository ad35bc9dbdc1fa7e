//! A digit read by both readers: where the pair reader has read a blob of
//! two digits whole, its reading of each digit and the digit reader's own
//! reading of that digit's part are multiplied, each raised to a weight
//! ([`PAIRED_OWN_WEIGHT`] for a digit of a pair read whole,
//! [`CUT_PAIR_WEIGHT`] for a part of a blob the grouping cut in two), and
//! normalised: two readers that err differently.

use crate::predict::{most_probable, Prediction};
use crate::segment::PairedDigit;

/// `base` times `other` raised to `power`, normalised; `None` when nothing
/// is left (the two share no class).
fn weighed_product(base: &[f32], other: &[f32], power: f32) -> Option<Vec<f32>> {
    let product: Vec<f32> = base.iter().zip(other).map(|(&b, &o)| b * o.max(0.0).powf(power)).collect();
    let total: f32 = product.iter().sum();
    (total > 0.0 && total.is_finite()).then(|| product.into_iter().map(|p| p / total).collect())
}

/// How much the network's own reading of a digit of a pair weighs beside the
/// pair reader's (an exponent: their probabilities are multiplied, the
/// network's raised to this power, and normalised). The pair reader reads
/// the blob whole; the network reads the digit's side of the path that parts
/// it, which may have lost a stroke to its neighbour or kept a piece of it,
/// so it counts for less. Measured on 2026-12-07 (AMD EPYC; `chiffre train`
/// seeds 1 and 2 with their judges; the four sets of 1,000 numbers of
/// bench/numbers_spread.sh, 2026, 1, 7, 11; digit error with touching
/// digits): the pair reader alone, seed 1 3.39, 3.94, 3.07, 3.14 %, seed 2
/// 2.75, 3.00, 2.72, 3.04 % (mean of the eight 3.13 %); weight 1 3.06, 3.69,
/// 3.01, 3.14 / 2.89, 3.03, 2.82, 3.17 % (3.10 %); **0.5 3.19, 3.62, 2.98,
/// 3.08 / 2.69, 2.91, 2.76, 2.98 % (3.03 %)**; 0.35 3.04 %; 0.25 3.05 %;
/// 2 (seed 1) 3.26, 3.84, 3.04, 3.39 %. Numbers without touching digits and
/// their count as before but for one set (seed 2's 2026, 1.12 → 1.02 %).
pub const PAIRED_OWN_WEIGHT: f32 = 0.5;

/// The prediction of a digit the pair reader read with its neighbour: its
/// probabilities, the pair reader's (summed over the other digit) times the
/// network's `own` reading of it weighed by [`PAIRED_OWN_WEIGHT`],
/// normalised; the pair's probability as the probability that it is a
/// (whole) digit.
pub(super) fn paired_prediction(paired: &PairedDigit, own: &[f32]) -> Prediction {
    // When the two readers disagree entirely, the pair reader's alone.
    let probabilities =
        weighed_product(&paired.probabilities, own, PAIRED_OWN_WEIGHT).unwrap_or_else(|| paired.probabilities.to_vec());
    let (digit, confidence) = most_probable(&probabilities);
    Prediction {
        digit,
        confidence,
        probabilities,
        digit_probability: paired.pair_probability,
        whole_probability: paired.pair_probability,
    }
}

/// How much the pair reader's reading of a blob cut in two weighs beside the
/// network's reading of each part (an exponent, as [`PAIRED_OWN_WEIGHT`]):
/// the network reads the part the grouping chose; the pair reader, the
/// whole blob, a neighbour's sliver and all. Measured on 2026-12-07 (AMD
/// EPYC, as [`PAIRED_OWN_WEIGHT`], with it), digit error with touching
/// digits on the four sets, seed 1 / seed 2: without 3.19, 3.62, 2.98,
/// 3.08 / 2.69, 2.91, 2.76, 2.98 % (mean of the eight 3.03 %); **0.5 3.22,
/// 3.53, 2.91, 2.98 / 2.65, 2.88, 2.79, 2.92 % (2.99 %)**; 1 3.19, 3.44,
/// 2.95, 2.98 / 2.75, 2.91, 2.85, 2.95 % (3.00 %); 2 3.32, 3.59, 3.17,
/// 2.98 / 2.79, 2.97, 3.04, 2.98 % (3.11 %). Without touching digits, one
/// more digit wrong in 4,000 numbers (seed 1's set 7, 1.50 → 1.55 %); the
/// counts as before.
pub const CUT_PAIR_WEIGHT: f32 = 0.5;

/// The digit reader's prediction `own` of a digit cut from a blob, its
/// probabilities times the pair reader's reading of it in the blob (`hint`)
/// weighed by [`CUT_PAIR_WEIGHT`], normalised; its judges' probabilities as
/// they were.
pub(super) fn hinted_prediction(own: Prediction, hint: &[f32; 10]) -> Prediction {
    match weighed_product(&own.probabilities, hint, CUT_PAIR_WEIGHT) {
        Some(probabilities) => {
            let (digit, confidence) = most_probable(&probabilities);
            Prediction { digit, confidence, probabilities, ..own }
        }
        None => own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digit_cut_from_a_pair_is_read_by_both_readers() {
        // The network reads the part as a 7 (0.55) rather than a 1 (0.45);
        // the pair reader, reading the blob, is sure its side is a 1.
        let own = Prediction {
            digit: 7,
            confidence: 0.55,
            probabilities: (0..10).map(|d| [0.0, 0.45, 0.0, 0.0, 0.0, 0.0, 0.0, 0.55, 0.0, 0.0][d]).collect(),
            digit_probability: 0.8,
            whole_probability: 0.7,
        };
        let mut hint = [0.001f32; 10];
        hint[1] = 0.991;
        let read = hinted_prediction(own.clone(), &hint);
        assert_eq!(read.digit, 1, "{:?}", read.probabilities);
        assert!((read.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!((read.digit_probability, read.whole_probability), (0.8, 0.7), "the judges' say is the network's");
        // A pair reader that cannot tell changes nothing; one that shares no digit with the network is not heard.
        let same = hinted_prediction(own.clone(), &[0.1; 10]);
        assert_eq!(same.digit, 7);
        assert!(same.probabilities.iter().zip(&own.probabilities).all(|(a, b)| (a - b).abs() < 1e-5));
        let mut elsewhere = [0.0f32; 10];
        elsewhere[4] = 1.0;
        assert_eq!(hinted_prediction(own, &elsewhere).digit, 7);
    }

    #[test]
    fn a_digit_of_a_pair_is_read_by_both_readers() {
        // The pair reader leans to 3 (0.6 against 0.4 for 8); the network,
        // reading the digit's own side, is sure of 8.
        let mut pair = [0.0f32; 10];
        (pair[3], pair[8]) = (0.6, 0.4);
        let paired = PairedDigit { probabilities: pair, pair_probability: 0.9 };
        let mut own = [0.001f32; 10];
        own[8] = 0.991;
        let read = paired_prediction(&paired, &own);
        assert_eq!(read.digit, 8, "{:?}", read.probabilities);
        assert!((read.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!((read.digit_probability, read.whole_probability), (0.9, 0.9));
        // A network that cannot tell leaves the pair reader's reading as it was.
        let read = paired_prediction(&paired, &[0.1; 10]);
        assert_eq!(read.digit, 3);
        assert!(read.probabilities.iter().zip(&pair).all(|(a, b)| (a - b).abs() < 1e-5));
        // Readers that share no digit: the pair reader's.
        let mut elsewhere = [0.0f32; 10];
        elsewhere[5] = 1.0;
        assert_eq!(paired_prediction(&paired, &elsewhere).digit, 3);
    }
}
