//! What the pair reader ([`crate::reject::pairs`]) says of each component
//! that was cut into parts, read whole once per line: how much cutting it
//! costs ([`Atom::cut_doubt`], when the reader is sure it is no pair of
//! digits) and reading it whole as one digit ([`Atom::whole_doubt`], when
//! the reader is sure it is a pair), and, for one cut in two, each part's
//! side of the pair it reads ([`hints`], which [`crate::reading`] weighs
//! beside the network's reading of that part).

use super::group::{render, whole_component, whole_components, width_of, Atom, Group};
use super::pairing::MOST_NOT_A_PAIR;
use super::PairInputReader;
use crate::reject::pairs::{digit_marginals, pair_input, NOT_A_PAIR, PAIR_CLASSES};

/// How much each group that cuts a component costs (nats), per nat of the
/// pair reader's surety that the component read whole is no pair:
/// `CUT_DOUBT · −ln(1 − P(not a pair))` (0.03 at "not a pair" 0.1, 0.17 at
/// 0.5, 1.15 at 0.99). A wide single digit (an open 4, a "G"-like 6, a
/// looped 2) was cut in two beside other digits, where cutting costs nothing
/// else: its parts read a little better than the unsure whole. Measured on
/// the four sets of 1,000 numbers of bench/numbers_spread.sh (seeds 2026, 1,
/// 7, 11; 2026-12-08, AMD EPYC; `chiffre train` seed 1, the default model,
/// and seed 2), digit error apart / touching and the count right apart,
/// means of the four sets. Seed 1: none 1.26 / 3.16 / 99.43 %; 0.1 1.24 /
/// 3.13 / 99.63 %; **0.25 1.21 / 3.10 / 99.68 %**; 0.35 1.23 / 3.12 /
/// 99.68 %; 0.5 1.24 / 3.15 / 99.68 %; 1 1.22 / 3.27 / 99.68 %; 2 1.21 /
/// 3.55 / 99.73 %. Seed 2: none 1.24 / 2.81 / 99.03 %; 0.25 1.14 / 2.82 /
/// 99.31 %; 0.5 1.14 / 2.84 / 99.36 %. On the first set (the README's
/// table), seed 1: count right apart 98.79 → 99.80 %. Letters and words
/// read as before (seed 1: letters alone read with a digit 25.0 → 24.8 %,
/// words read as a number 17.9 % both).
pub const CUT_DOUBT: f32 = 0.25;
/// And the other way round: reading a cut component whole as one digit
/// costs `WHOLE_DOUBT · −ln P(not a pair)` (0.05 at "not a pair" 0.9, 0.35
/// at 0.5, 1.15 at 0.1), so that two digits run together ("93" with the 3
/// inside the 9's tail, "71" crossed) that the network reads as one unsure
/// digit are cut or read as a pair when the pair reader sees two. Measured as
/// [`CUT_DOUBT`] (2026-12-08, with it at 0.25), touching, seed 1: none 3.19,
/// 3.34, 2.91, 2.95 %; 0.25 3.19, 3.34, 2.82, 2.95 %; **0.5 3.09, 3.28, 2.82,
/// 2.95 %**; 0.75 3.09, 3.28, 2.82, 2.98 %; 1 3.09, 3.25, 2.82, 2.98 % (one
/// more number apart with its count wrong); 2 3.09, 3.19, 2.82, 2.98 %;
/// numbers apart as before at 0.5. Seed 2 at 0.5: touching 2.75, 2.75, 2.85,
/// 2.92 → 2.59, 2.53, 2.82, 2.85 %, apart the same but one set 1.23 →
/// 1.28 %, count right apart 99.35 → 99.13 % on it. Letters alone read with a
/// digit 24.8 → 25.2 % (two letters more), words read as a number 17.9 %
/// both. Applied to blobs of any width (not only up to
/// [`CUT_DOUBT_WIDEST`]): the same to the digit.
pub const WHOLE_DOUBT: f32 = 0.5;
/// Components wider than this many line heights are several digits (or a
/// word), not one digit or a pair, whatever the pair reader says of them:
/// neither their cutting nor their reading whole costs a doubt. Measured as
/// [`CUT_DOUBT`], at 0.5, seed 1: 1.1 count right apart on the first set
/// 99.19 %, 1.3 99.39 %, 1.5 99.80 %, 2.0 99.80 % with touching 3.16 % (1.5:
/// 3.15 %). At 0.25, 1.8: touching 3.12 %.
pub const CUT_DOUBT_WIDEST: f32 = 1.5;

/// The pair reader's reading of a component cut into parts.
#[derive(Clone, Debug, PartialEq)]
pub struct CutReading {
    /// The component's atoms, `[from, to)` of the line's.
    pub atoms: (usize, usize),
    /// The pair reader's probabilities for it read whole.
    pub row: Vec<f32>,
}

/// The pair reader's reading of each component of `atoms` that was cut into
/// parts (its atoms rendered whole): one call for the line. None without a
/// pair reader, or when it answers amiss.
pub(super) fn read_cut_components(atoms: &[Atom], read_pairs: Option<&mut PairInputReader<'_>>) -> Vec<CutReading> {
    let Some(read_pairs) = read_pairs else { return Vec::new() };
    // A component was cut when it has two atoms or more.
    let asked: Vec<((usize, usize), Vec<f32>)> = whole_components(atoms)
        .into_iter()
        .filter(|&(from, to)| to - from > 1)
        .filter_map(|(from, to)| pair_input(&render(&atoms[from..to]).1).map(|input| ((from, to), input)))
        .collect();
    if asked.is_empty() {
        return Vec::new();
    }
    let inputs: Vec<&[f32]> = asked.iter().map(|(_, input)| input.as_slice()).collect();
    let answers = read_pairs(&inputs);
    if answers.len() != asked.len() * PAIR_CLASSES {
        return Vec::new();
    }
    asked
        .iter()
        .zip(answers.chunks_exact(PAIR_CLASSES))
        .map(|(&(atoms, _), row)| CutReading { atoms, row: row.to_vec() })
        .collect()
}

/// Sets the [`Atom::cut_doubt`] and [`Atom::whole_doubt`] of each component
/// read (`readings`) at most [`CUT_DOUBT_WIDEST`] line heights wide: from
/// the pair reader's surety that it is no pair ([`CUT_DOUBT`]), and that it
/// is one ([`WHOLE_DOUBT`]).
pub(super) fn doubt_cuts(atoms: &mut [Atom], readings: &[CutReading], line_height: f32) {
    for reading in readings {
        let (from, to) = reading.atoms;
        if width_of(&atoms[from..to]) as f32 > CUT_DOUBT_WIDEST * line_height {
            continue;
        }
        let not_a_pair = reading.row[NOT_A_PAIR];
        let (cut, whole) = (-CUT_DOUBT * (1.0 - not_a_pair).max(1e-6).ln(), -WHOLE_DOUBT * not_a_pair.max(1e-6).ln());
        atoms[from..to].iter_mut().for_each(|a| (a.cut_doubt, a.whole_doubt) = (cut, whole));
    }
}

/// For each of `groups` (the grouping of `atoms`) that is one of the two
/// parts of a component cut in two (the component has no other atom): the
/// pair reader's reading of the whole component (from `readings`), this
/// part's side of it, when the pair reader calls it a pair ("not a pair" at
/// most [`MOST_NOT_A_PAIR`]).
pub(super) fn hints(atoms: &[Atom], groups: &[Group], readings: &[CutReading]) -> Vec<Option<[f32; 10]>> {
    let mut hints = vec![None; groups.len()];
    for k in 1..groups.len() {
        let (a, b) = (&groups[k - 1], &groups[k]);
        if a.pair.is_some() || b.pair.is_some() || a.to != b.from || !whole_component(atoms, a.from, b.to) {
            continue;
        }
        let Some(reading) = readings.iter().find(|r| r.atoms == (a.from, b.to)) else { continue };
        if reading.row[NOT_A_PAIR] <= MOST_NOT_A_PAIR {
            let (left, right) = digit_marginals(&reading.row);
            (hints[k - 1], hints[k]) = (Some(left), Some(right));
        }
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An atom of solid ink at `[x0, x1) × [0, 40)`, part of `component`.
    fn atom(x0: usize, x1: usize, component: usize) -> Atom {
        Atom::solid(x0, x1, 40, component)
    }

    /// A pair reader's row: "not a pair" at `not_a_pair`, the rest on "27".
    fn row(not_a_pair: f32) -> Vec<f32> {
        let mut row = vec![0.0; PAIR_CLASSES];
        row[NOT_A_PAIR] = not_a_pair;
        row[27] = 1.0 - not_a_pair;
        row
    }

    #[test]
    fn only_cut_components_are_read_whole_once_for_the_line() {
        // Component 0 cut in two, 1 whole, 2 cut in three.
        let atoms =
            [atom(0, 20, 0), atom(20, 40, 0), atom(50, 80, 1), atom(90, 100, 2), atom(100, 110, 2), atom(110, 130, 2)];
        let mut batches = Vec::new();
        let mut reader = |inputs: &[&[f32]]| {
            batches.push(inputs.len());
            inputs.iter().flat_map(|_| row(0.3)).collect()
        };
        let readings = read_cut_components(&atoms, Some(&mut reader));
        assert_eq!(batches, vec![2], "one call, with the two cut components");
        let runs: Vec<(usize, usize)> = readings.iter().map(|r| r.atoms).collect();
        assert_eq!(runs, vec![(0, 2), (3, 6)]);
        assert!(read_cut_components(&atoms, None).is_empty(), "no reader, no reading");
        let mut amiss = |_: &[&[f32]]| vec![0.5; 3];
        assert!(read_cut_components(&atoms, Some(&mut amiss)).is_empty(), "a reader answering amiss is not heard");
    }

    #[test]
    fn cutting_costs_more_the_surer_the_reader_is_of_no_pair_reading_whole_the_surer_of_a_pair() {
        let mut atoms = vec![atom(0, 20, 0), atom(20, 40, 0), atom(50, 70, 1), atom(70, 90, 1), atom(100, 200, 2)];
        atoms.push(atom(200, 260, 2));
        let readings = [
            CutReading { atoms: (0, 2), row: row(0.99) },
            CutReading { atoms: (2, 4), row: row(0.1) },
            CutReading { atoms: (4, 6), row: row(0.99) },
        ];
        doubt_cuts(&mut atoms, &readings, 40.0);
        let doubts: Vec<f32> = atoms.iter().map(|a| a.cut_doubt).collect();
        assert!((doubts[0] - CUT_DOUBT * 100f32.ln()).abs() < 1e-3, "sure of no pair: {doubts:?}");
        assert_eq!(doubts[0], doubts[1], "every atom of the component");
        assert!(doubts[2] > 0.0 && doubts[2] < doubts[0] / 10.0, "unsure: a little: {doubts:?}");
        assert_eq!(&doubts[4..], &[0.0, 0.0], "4 line heights wide: several digits whatever the reader says");
        let wholes: Vec<f32> = atoms.iter().map(|a| a.whole_doubt).collect();
        assert!(
            (wholes[2] - WHOLE_DOUBT * 10f32.ln()).abs() < 1e-3,
            "sure of a pair: reading it whole costs: {wholes:?}"
        );
        assert!(wholes[0] < 0.01 && wholes[0] > 0.0, "sure of no pair: reading it whole costs next to nothing");
        assert_eq!(&wholes[4..], &[0.0, 0.0], "too wide: no doubt either way");
    }

    #[test]
    fn a_component_cut_in_two_gets_its_sides_of_the_pair_read() {
        let atoms = [atom(0, 20, 0), atom(20, 40, 0), atom(50, 70, 1), atom(70, 80, 1), atom(80, 90, 1)];
        let group = |from, to| Group { from, to, pair: None };
        let groups = [group(0, 1), group(1, 2), group(2, 3), group(3, 4), group(4, 5)];
        let readings = [CutReading { atoms: (0, 2), row: row(0.2) }, CutReading { atoms: (2, 5), row: row(0.2) }];
        let hints = hints(&atoms, &groups, &readings);
        let (left, right) = (hints[0].expect("left part"), hints[1].expect("right part"));
        assert!((left[2] - 1.0).abs() < 1e-6 && (right[7] - 1.0).abs() < 1e-6, "27: {left:?} {right:?}");
        assert_eq!(&hints[2..], &[None, None, None], "a component cut in three groups gets none");
        let unsure = [CutReading { atoms: (0, 2), row: row(0.6) }];
        assert_eq!(super::hints(&atoms, &groups, &unsure)[..2], [None, None], "no pair, no hint");
    }
}
