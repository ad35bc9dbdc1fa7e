//! When a component of a line is tried cut into parts (see
//! [`super::atoms`]): how wide it must be, beside other digits or alone in
//! the picture, and how surely the network must read it whole to stay whole.

use super::{PairInputReader, Scored};
use crate::preprocess::Gray;
use crate::reject::pairs::{pair_input, NOT_A_PAIR, PAIR_CLASSES};

/// A component wider than this many line heights may be several touching digits,
/// when other digit-sized marks stand beside it. Measured on 300 generated
/// numbers with the tutorial's CNN and its gate: 0.9 left 8.7 % of the digits
/// of numbers with touching digits wrong, 1.15 11.5 %. Measured again on the
/// 1,000 numbers of bench/numbers.sh once the gate had a wrong-cut class
/// (2026-12-04; digit error with touching digits / without): 1.05 12.39 % /
/// 2.73 %, 0.9 10.64 % / 2.78 %, 0.75 9.87 % / 2.73 %, 0.6 9.50 % / 2.88 %.
/// Once the network read each such component whole first and left those it
/// reads surely as one digit uncut ([`SURE_WHOLE`]), narrower ones could be
/// tried too: a 1 touching or crossing its neighbour ("41" is hardly wider
/// than a 4) was read as one digit, 34 of the 164 digit errors of the
/// official set's touching numbers, though the judges called the pair "not
/// one whole digit". Measured on the four sets of 1,000 numbers (seeds 2026,
/// 1, 7, 11; 2026-12-06, Intel Xeon, tutorial CNN with 40,000 cut digits;
/// digit error without / with touching digits, mean of the four): 0.75 1.63
/// / 5.07 %; 0.4 with the same model 1.62 / 4.72 %, 0.25 1.62 / 4.71 %;
/// 0.4 with the model retrained (its judges learn from the groups that
/// segmentation tries) 1.50 / 4.94 %. Reading costs about 6 % more
/// (`cargo bench --bench read`, two at a time: 319-335 → 301-315 numbers/s).
pub const WIDE: f32 = 0.4;
/// The same for the only digit-sized mark of a picture, most often one digit
/// (99 % of the MNIST test digits are at most 1.43 times as wide as tall),
/// whose cutting also costs [`ALONE_CUT_COST`]. Before that cost, 1.3 kept
/// every single-digit picture of tests/numbers.rs whole but left 11 % of
/// the digits of two-digit numbers wrong (a touching pair, the picture's
/// only mark, read as one "not a digit"). Measured on the 1,000 numbers of
/// bench/numbers.sh and the 1,000 single-digit pictures of tests/numbers.rs
/// (2026-12-04; digit error of two-digit numbers, single digits not read as
/// one): 1.3 and no cost 11.07 %, 0 of 1,000; 0.9 and 2 5.03 %, 1 (the wide
/// 4 read as 61 at any width below 1.2); 0.9 and 4 5.70 %, 1; 0.75 and 3
/// 4.70 %, 2.
pub const WIDE_ALONE: f32 = 0.9;
/// What each group that cuts the picture's only digit-sized mark costs (a
/// log-probability): a lone mark is most often one digit, so a cut must read
/// clearly better than the whole (a pair the gate calls "not a digit" does).
pub const ALONE_CUT_COST: f32 = 2.0;
/// The picture's only digit-sized mark, narrower than [`WIDE_ALONE`] but
/// wider than [`WIDE`] line heights, is tried cut too when the network reads
/// it whole worse than this (a log-probability, class and judges together:
/// ln 0.5; the judges' training reads every group at 0.5, so it tries the
/// same groups as before): two touching digits alone ("17", "11") are hardly
/// wider than one, and read whole they were one "not a digit" `?`. Each
/// group that cuts it still costs [`ALONE_CUT_COST`]; see [`LETTER`].
pub const ALONE_DOUBT: f32 = -std::f32::consts::LN_2;
/// A component read whole unsurely that the judges call "not a digit" at
/// least this surely is a letter or a symbol, not digits run together, and
/// is not cut (the stems of an "H" or a "K" read as 1s and 4s one by one;
/// an "n" as "17"): alone in the picture, unless the pair reader reads it as
/// two digits, "not a pair" at most [`ALONE_MOST_NOT_A_PAIR`]; beside other
/// marks, when at most [`LETTER_WIDE`] line heights wide and the pair reader
/// is sure it is no pair ([`BESIDE_MOST_NOT_A_PAIR`]). Measured on
/// 2026-12-07 (Intel Xeon; `chiffre train` seeds 1 and 2; tests/numbers.rs
/// `letters_alone`, the 432 letters and symbols of the test fonts drawn
/// alone, and `letters_among_digits`; tests/words.rs, 207 words in the test
/// fonts; the four sets of 1,000 numbers of bench/numbers_spread.sh).
///
/// Alone (with [`ALONE_DOUBT`]), before → after: letters alone read with a
/// digit 32.2 → 27.8 % and 30.1 → 21.5 % (as two marks or more 18.5 →
/// 14.6 % and 18.5 → 10.9 %); touching numbers, seed 1 3.39, 3.41, 3.10,
/// 3.08 → 3.29, 3.62, 3.10, 3.04 %, seed 2 2.75, 2.94, 2.66, 2.92 → 2.62,
/// 2.81, 2.66, 2.82 % (mean 3.03 → 3.00 %); numbers without touching digits,
/// letters among digits and the 1,000 single-digit pictures of
/// tests/numbers.rs as before. Tried on the first set with seed 1 (letters
/// alone with a digit, two-digit numbers' digit error, touching): before
/// 32.2 %, 5.03 %, 3.39 %; [`ALONE_DOUBT`] alone 48.1 %, 3.36 %, 3.22 %; with
/// the judges' say but not the pair reader's 16.9 %, 8.05 %, 3.76 % (they
/// call many a touching pair alone "not a digit"); with the pair reader's say
/// only ("not a pair" ≤ 0.5) 40.0 %, 4.03 %, 3.29 % (those tries with the
/// judges' probabilities rounded to thousandths).
///
/// Beside other marks too (seed 1's model for the letters and words; means
/// over the two seeds and four sets for the numbers, apart / touching /
/// count right apart; before: 1.22 / 3.00 / 99.12 %, a letter among digits
/// read as a digit 27.8 %, its count of marks wrong 42.2 %, words read as a
/// number without any `?` 28.0 %, digits read per letter 90.9 %): up to 1.3
/// line heights, "not a pair" above 0.9: 1.27 / 3.04 / 99.20 %, 23.5 %,
/// 31.5 %, 23.7 %, 78.1 % (on the first set with seed 1, the README's table,
/// all three better: 1.22 / 3.22 / 98.79 % against 1.27 / 3.29 / 98.59 %);
/// up to 1.0, above 0.9: 1.26 / 3.02 / 99.15 %, 23.5 %, 35.2 %, 24.6 %,
/// 82.6 %; up to 1.0, above 0.5: 1.26 / 3.05 / 99.15 %, 23.5 %, 33.0 %,
/// 24.2 %, 80.4 %; up to 1.8, "not a pair" above 0.1: touching 3.47 %.
pub const LETTER: f32 = 0.5;
/// See [`LETTER`]. With the narrow marks kept whole (no [`ALONE_DOUBT`]),
/// seed 1, first set: 0.1 18.8 %, 5.37 %, 3.49 %; 0.01 17.4 %, 6.04 %,
/// 3.56 %.
pub const ALONE_MOST_NOT_A_PAIR: f32 = 0.1;
/// See [`LETTER`]: a component beside others wider than this many line
/// heights is several digits or a word, not one letter.
pub const LETTER_WIDE: f32 = 1.3;
/// See [`LETTER`].
pub const BESIDE_MOST_NOT_A_PAIR: f32 = 0.9;
/// A component wide enough to be cut (but at most [`super::WIDE_WHOLE`] line
/// heights) that the network reads whole at least this well (the log of its
/// class probability plus that of the judges' "one whole digit": ln 0.95) is
/// one digit, and is not cut: cutting it gives dozens of groups to read, and
/// its parts would have to read better than a sure whole digit to win.
/// Measured on the 1,000 numbers of bench/numbers.sh (2026-12-06, Intel Xeon,
/// tutorial CNN with its judges; digit error without / with touching
/// digits, numbers read per second two at a time by `cargo bench --bench
/// read`): never 1.51 / 5.54 %, 262; ln 0.99, ln 0.95, ln 0.82 1.56 / 5.51 %
/// (one apart number, whose 8 had lent a sliver to its neighbour, read
/// differently), 373, 368, 377; seeds 7 and 11 the same to a digit or two.
/// Reading a component whole is what the grouping does anyway, so it is read
/// once. In the judges' training ([`super::tried`]) the reader is unsure of
/// everything, so every such component is cut there, as before.
pub const SURE_WHOLE: f32 = -0.051_293;

/// A component beside others at least this many line heights wide that the
/// network reads surely as one digit ([`SURE_WHOLE`]) is cut all the same
/// when the pair reader reads it as two digits, "not a pair" at most
/// [`SURE_PAIR`]: the network and its judges can be sure of a "96" as an 8,
/// a "93" with the 3 in the 9's tail as a 9, a "50" as a 0 (in the first set
/// of bench/numbers.sh, 3 of the 20 numbers with touching digits that lost
/// one); cut, the grouping weighs the pair reader's say
/// ([`super::WHOLE_DOUBT`]). Measured on the four sets of 1,000 numbers
/// (2026-12-08, AMD EPYC, `chiffre train` seeds 1 and 2; digit error with
/// touching digits, seed 1 / seed 2; before: 3.09, 3.28, 2.82, 2.95 / 2.59,
/// 2.53, 2.82, 2.85 %): **1.0 line heights, at most 0.1: 2.99, 3.28, 2.69,
/// 2.92 / 2.59, 2.50, 2.79, 2.85 %**, numbers apart and their count as
/// before but for one wide single digit cut with seed 2 (one set: apart
/// 1.30 → 1.35 %, count right apart 98.91 → 98.69 %); 0.9 and 0.1 the same
/// with seed 1, and one more such digit with seed 2 (count right apart
/// 99.19 → 98.99 % on the first set); 1.1 and 0.1: seed 1 touching 2.99,
/// 3.28, 2.79, 2.95 %; 0.75 and 0.1 as 0.9; 0.9 and 0.3 or 0.5: seed 1
/// 2.99, 3.28, 2.66, 2.92 %. Letters and words read as before.
pub const SURE_PAIR_WIDE: f32 = 1.0;
/// See [`SURE_PAIR_WIDE`].
pub const SURE_PAIR: f32 = 0.1;

/// Whether a component `width` line heights wide (at least the width that
/// asks), read whole as `scored`, stays whole: read surely enough
/// ([`SURE_WHOLE`]; alone and narrower than [`WIDE_ALONE`], [`ALONE_DOUBT`])
/// unless beside others, at least [`SURE_PAIR_WIDE`] wide and read by
/// `reads_as_pair` as two digits ("not a pair" at most [`SURE_PAIR`]); or a
/// letter ([`LETTER`]) that `reads_as_pair` (asked then with the most "not a
/// pair" that still makes a pair) does not call two digits. `reads_as_pair`
/// is asked only in those two cases.
pub(super) fn stays_whole(scored: Scored, width: f32, alone: bool, reads_as_pair: impl FnOnce(f32) -> bool) -> bool {
    let narrow = alone && width <= WIDE_ALONE;
    if scored.log_whole >= if narrow { ALONE_DOUBT } else { SURE_WHOLE } {
        return alone || width < SURE_PAIR_WIDE || !reads_as_pair(SURE_PAIR);
    }
    let most_not_a_pair = if alone { ALONE_MOST_NOT_A_PAIR } else { BESIDE_MOST_NOT_A_PAIR };
    (alone || width <= LETTER_WIDE) && scored.not_a_digit >= LETTER && !reads_as_pair(most_not_a_pair)
}

/// Whether the pair reader (none: no) reads `ink` as two digits, "not a pair"
/// at most `most`.
pub(super) fn read_as_pair(read_pairs: Option<&mut PairInputReader<'_>>, ink: &Gray, most: f32) -> bool {
    let (Some(read_pairs), Some(input)) = (read_pairs, pair_input(ink)) else { return false };
    let answer = read_pairs(&[input.as_slice()]);
    answer.len() == PAIR_CLASSES && answer[NOT_A_PAIR] <= most
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: f32, not_a_digit: f32) -> Scored {
        Scored { log_whole: p.ln(), not_a_digit }
    }

    fn never(_: f32) -> bool {
        panic!("the pair reader is asked only of a letter or of a wide sure digit")
    }

    #[test]
    fn beside_other_marks_a_sure_whole_or_a_narrow_letter_stays_whole() {
        assert!(stays_whole(read(0.99, 0.0), 0.6, false, never));
        assert!(!stays_whole(read(0.9, 0.0), 0.6, false, never), "unsure, a digit: cut");
        assert!(stays_whole(read(0.5, 0.9), 1.0, false, |most| most < BESIDE_MOST_NOT_A_PAIR), "a letter");
        assert!(!stays_whole(read(0.5, 0.9), 1.0, false, |_| true), "unless it reads as a pair");
        assert!(!stays_whole(read(0.5, 0.9), LETTER_WIDE + 0.1, false, never), "wider: digits or a word, cut");
    }

    #[test]
    fn a_wide_sure_digit_beside_others_is_cut_when_the_pair_reader_is_sure_of_two() {
        let wide = SURE_PAIR_WIDE + 0.1;
        assert!(stays_whole(read(0.99, 0.0), wide, false, |most| most < SURE_PAIR), "not a pair: whole");
        assert!(!stays_whole(read(0.99, 0.0), wide, false, |most| most >= SURE_PAIR), "two digits: cut");
        assert!(stays_whole(read(0.99, 0.0), SURE_PAIR_WIDE - 0.1, false, never), "narrower: the reader is not asked");
        assert!(stays_whole(read(0.99, 0.0), wide, true, never), "alone: one digit, not asked");
    }

    #[test]
    fn alone_a_narrow_mark_is_cut_only_when_doubtful_and_no_letter() {
        assert!(stays_whole(read(0.6, 0.0), WIDE_ALONE - 0.1, true, never), "read well enough: one digit");
        assert!(!stays_whole(read(0.6, 0.0), WIDE_ALONE + 0.1, true, never), "wider: only a sure read stays");
        assert!(!stays_whole(read(0.3, 0.1), WIDE_ALONE - 0.1, true, never), "doubtful, a digit: cut");
        let strict = |most: f32| most > ALONE_MOST_NOT_A_PAIR;
        assert!(stays_whole(read(0.3, 0.8), WIDE_ALONE - 0.1, true, strict), "a letter alone stays whole");
        assert!(stays_whole(read(0.3, 0.8), 1.5, true, strict), "however wide");
        assert!(!stays_whole(read(0.3, 0.8), WIDE_ALONE - 0.1, true, |_| true), "unless it reads as a pair");
    }

    #[test]
    fn without_a_pair_reader_nothing_reads_as_a_pair() {
        let ink = Gray::filled(20, 20, 1.0);
        assert!(!read_as_pair(None, &ink, 1.0));
        // Every input read as the pair "00" (class 0), "not a pair" 0.
        let mut says_pair = |inputs: &[&[f32]]| {
            let mut out = vec![0.0; inputs.len() * PAIR_CLASSES];
            out.iter_mut().step_by(PAIR_CLASSES).for_each(|v| *v = 1.0);
            out
        };
        assert_ne!(NOT_A_PAIR, 0);
        assert!(read_as_pair(Some(&mut says_pair), &ink, 0.0));
    }
}
