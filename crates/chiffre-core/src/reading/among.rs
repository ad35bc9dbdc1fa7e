//! The rules for a mark among digits: a picture whose marks are mostly
//! digits is a number, and a mark in it that the judges doubt is read as a
//! digit on lower evidence ([`AMONG_DIGITS_ODDS`], [`ZERO_AMONG_DIGITS`]).

use super::{Reading, Symbol};

/// How much likelier a mark is to be a digit when most marks of its picture
/// are digits, against the even odds the judges were fitted with (as many
/// digits as non-digits): 9 to 1. A mark among digits is then kept as a digit
/// when `p / (1 - p) × 9 ≥ t / (1 - t)` for its digit probability `p` and the
/// threshold `t`: at the default 0.5, from `p ≥ 0.1`.
///
/// Why: the judges reject about 1 % of real digits (bench/reject.sh), and in a
/// number each one is a `?`. Measured on bench/numbers.sh's 1,000 numbers
/// (Intel Xeon, 2026-12-05, tutorial CNN seed 1, digit error without /
/// with touching digits): none 2.00 / 6.08 %; odds 3 (`p ≥ 0.25`): 1.80 /
/// 5.88 %; 9: 1.71 / 5.81 %; 19: 1.71 / 5.71 %; 49: 1.66 / 5.67 %; every
/// mark among digits kept: 1.51 / 5.24 % (these with "among digits" meaning
/// two thirds of the marks; half, as now, at 9 to 1: 1.71 / 5.78 %). 9 to 1
/// keeps most of the gain while a letter or a symbol among digits must still
/// look somewhat like a digit to pass (the judges give most non-digits far
/// less than 0.1: bench/reject.sh's sweep). Measured again on 2026-12-06
/// (Intel Xeon, tutorial CNN with its judges) with a letter or symbol of the
/// test fonts standing apart among 2-5 digits (600 numbers, `tests/numbers.rs`'s
/// `letters_among_digits`; letter read as a digit, digits' error): odds 1
/// 18.7 %, 1.36 %; 9 22.3 %, 1.28 %; 30 24.5 %, 1.19 % (and the four sets of
/// 1,000 numbers, apart / touching: 9 1.34 / 4.27 %, 30 1.22 / 4.18 %, 100
/// 1.21 / 4.13 %). A tenth of a point on the digits for two more letters in
/// a hundred read as digits: kept at 9.
pub const AMONG_DIGITS_ODDS: f32 = 9.0;

/// The threshold for a mark among digits (see [`AMONG_DIGITS_ODDS`]).
pub fn among_digits_threshold(threshold: f32) -> f32 {
    if threshold <= 0.0 || threshold >= 1.0 {
        return threshold;
    }
    threshold / (threshold + AMONG_DIGITS_ODDS * (1.0 - threshold))
}

/// Among digits, a mark that the reader reads as a 0 with at least this
/// confidence is a 0, whatever the judges say. Why: a round 0 is drawn as a
/// circle or a letter O is, and the judges learnt circles and Os as
/// non-digits (`reject/shapes.rs`, `reject/glyphs.rs`), so they reject the
/// roundest zeros (a clean 0 among "5098" got a digit probability of 0.0009);
/// among digits, a round mark is a zero. Measured on bench/numbers.sh's 1,000
/// numbers (Intel Xeon, 2026-12-05, tutorial CNN seed 1 with its judges;
/// digit error without / with touching digits): without 1.71 / 5.78 %; from
/// 0.99: 1.56 / 5.61 %; from 0.9 (and from 0.5, the same): 1.51 / 5.54 %; 11
/// of the 25 marks rejected in the failed numbers of equal length were 0s,
/// each read as a 0 at 0.978 or more. On two other sets of 1,000 (seeds 7
/// and 11): 1.75 → 1.65 / 5.57 → 5.48 % and 1.79 → 1.74 / 6.28 → 6.09 %.
pub const ZERO_AMONG_DIGITS: f32 = 0.9;

/// Marks the "not a digit" marks of a picture whose other marks are mostly
/// digits (at least half of its marks) as digits when their digit
/// probability passes [`among_digits_threshold`], or when the reader reads
/// them as a 0 ([`ZERO_AMONG_DIGITS`]). A page of words, whose marks are
/// mostly rejected, is left as it is.
///
/// A two-digit number counts too: one digit beside one doubtful mark. Until
/// 2026-12-07 at least two accepted digits were needed, and a squat 6 or 7
/// beside a clean digit stayed a `?` at digit probabilities up to 0.26.
/// Measured on the four sets of 1,000 numbers of bench/numbers.sh (Intel
/// Xeon, the tutorial CNN of 2026-12-06 with its judges; digit error without touching
/// digits, seeds 2026, 1, 7, 11): 1.27 / 0.94 / 1.20 / 1.23 % with two
/// needed, 1.22 / 0.94 / 1.10 / 1.17 % with one; letters among 2-5 digits
/// (`tests/numbers.rs`'s `letters_among_digits`) the same by construction
/// (25.5 % read as digits either way).
pub(super) fn accept_among_digits(reading: &mut Reading, threshold: f32) {
    let (accepted, marks) = reading.digits().fold((0, 0), |(a, m), d| (a + usize::from(d.is_digit), m + 1));
    if accepted == 0 || 2 * accepted < marks {
        return;
    }
    let among = among_digits_threshold(threshold);
    for line in &mut reading.lines {
        for symbol in line {
            if let Symbol::Digit(d) = symbol {
                let zero = d.prediction.digit == 0 && d.prediction.confidence >= ZERO_AMONG_DIGITS;
                d.is_digit = d.is_digit || d.prediction.is_digit(among) || zero;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::Prediction;
    use crate::preprocess::PIXELS;
    use crate::reading::ReadDigit;

    /// A reading of one line whose marks have these digit probabilities, judged at 0.5.
    fn line_of(digit_probabilities: &[f32]) -> Reading {
        let symbols = digit_probabilities
            .iter()
            .map(|&p| {
                let prediction = Prediction::from_calibrated_logits(&[0.0, 1.0], 1.0, p).unwrap();
                let is_digit = prediction.is_digit(0.5);
                Symbol::Digit(ReadDigit {
                    prediction,
                    is_digit,
                    bounds: [0; 4],
                    line: 0,
                    pixels: Box::new([0.0; PIXELS]),
                })
            })
            .collect();
        Reading { lines: vec![symbols] }
    }

    #[test]
    fn a_doubtful_mark_among_digits_is_a_digit_and_a_clear_non_digit_is_not() {
        assert!((among_digits_threshold(0.5) - 0.1).abs() < 1e-6);
        assert_eq!(among_digits_threshold(0.0), 0.0);
        let mut reading = line_of(&[0.9, 0.2, 0.95, 0.03, 0.8, 0.9, 0.7]);
        assert_eq!(reading.text(), "1?1?111");
        accept_among_digits(&mut reading, 0.5);
        assert_eq!(reading.text(), "111?111", "0.2 passes among digits, 0.03 does not");
    }

    #[test]
    fn a_round_mark_read_as_a_zero_among_digits_is_a_zero() {
        // Digits, then two marks the judges reject (digit probability 0.001):
        // one read as a 0 with confidence 0.95, one as a 0 with 0.6.
        let mut reading = line_of(&[0.9, 0.9, 0.001, 0.001]);
        let zero = |confidence: f32| {
            let rest = (1.0 - confidence) / 9.0;
            let logits: Vec<f32> = (0..10).map(|c| if c == 0 { confidence.ln() } else { rest.ln() }).collect();
            Prediction::from_calibrated_logits(&logits, 1.0, 0.001).unwrap()
        };
        for (symbol, confidence) in reading.lines[0][2..].iter_mut().zip([0.95, 0.6]) {
            if let Symbol::Digit(d) = symbol {
                d.prediction = zero(confidence);
            }
        }
        assert_eq!(reading.text(), "11??");
        accept_among_digits(&mut reading, 0.5);
        assert_eq!(reading.text(), "110?", "a confident 0 among digits is kept, a doubtful one is not");
        // Alone among rejected marks, a 0 stays rejected.
        let mut words = line_of(&[0.9, 0.001, 0.001]);
        if let Symbol::Digit(d) = &mut words.lines[0][1] {
            d.prediction = zero(0.95);
        }
        accept_among_digits(&mut words, 0.5);
        assert_eq!(words.text(), "1??");
    }

    #[test]
    fn marks_mostly_rejected_stay_rejected() {
        // Words: one mark passes, the others are doubtful.
        let mut reading = line_of(&[0.9, 0.2, 0.3, 0.2]);
        accept_among_digits(&mut reading, 0.5);
        assert_eq!(reading.text(), "1???");
        // Two digits of five: fewer than half.
        let mut reading = line_of(&[0.9, 0.2, 0.3, 0.2, 0.9]);
        accept_among_digits(&mut reading, 0.5);
        assert_eq!(reading.text(), "1???1");
    }

    #[test]
    fn a_two_digit_number_with_one_doubtful_mark_is_a_number() {
        let mut reading = line_of(&[0.9, 0.2]);
        assert_eq!(reading.text(), "1?");
        accept_among_digits(&mut reading, 0.5);
        assert_eq!(reading.text(), "11", "one digit of two marks is half of them");
        let mut reading = line_of(&[0.9, 0.03]);
        accept_among_digits(&mut reading, 0.5);
        assert_eq!(reading.text(), "1?", "a clear non-digit beside a digit stays rejected");
        // Nothing accepted: nothing to go by.
        let mut reading = line_of(&[0.2, 0.3]);
        accept_among_digits(&mut reading, 0.5);
        assert_eq!(reading.text(), "??");
    }
}
