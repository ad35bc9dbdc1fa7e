//! Two digits run together, read whole: which groups of a line's atoms may
//! be such a pair (a cut component's parts, of a pair's width), what the
//! pair reader's reading of one scores beside one-digit groups, and which of
//! them can win at all, so that only those are read
//! ([`super::group::best_grouping`] weighs them; [`crate::reject::pairs`]
//! is the reader).

use super::group::{Atom, MIN_HEIGHT};
use crate::reject::pairs::{best_pair, NOT_A_PAIR};

/// A group read as two digits run together is at least this many line
/// heights wide (two overlapping digits, a 1 across its neighbour)...
const PAIR_MIN_WIDTH: f32 = 0.5;
/// ...and at most this many.
const PAIR_MAX_WIDTH: f32 = 2.3;
/// What reading a group as two digits at once costs (nats), beside cutting
/// it: the pair reader reads pairs less surely than the digit reader reads
/// digits, and must read a group clearly better to win. And a group the
/// pair reader calls "not a pair" with a probability above
/// [`MOST_NOT_A_PAIR`] is not weighed as one. Measured on the 1,000 numbers
/// of bench/numbers.sh (2026-12-06, Intel Xeon, the tutorial CNN of
/// `chiffre train` with its judges, and the pair reader fitted beside them;
/// digit error without / with touching digits, digit count right without;
/// no pair reader: 1.41 / 4.70 %, 99.19 %): cost 1, every pair 1.66 / 3.19
/// %, 97.98 % (single digits read as two); cost 3 1.32 / 3.19 %, 98.99 %;
/// cost 3, "not a pair" at most 0.5: 1.27 / 3.06 %, 99.19 %; at most 0.2:
/// 1.27 / 3.26 %; **cost 2, at most 0.5: 1.27 / 2.82 %, 99.19 %**; cost 1:
/// 1.32 / 2.85 %, 98.99 %; cost 0: 1.37 / 3.26 %. On the three other sets
/// (seeds 1, 7, 11), against no pair reader: 1.25 / 3.19 % (1.20 / 4.84),
/// 1.45 / 2.91 % (1.35 / 3.64), 1.43 / 2.98 % (1.48 / 4.31).
pub const PAIR_COST: f32 = 2.0;
/// See [`PAIR_COST`].
pub const MOST_NOT_A_PAIR: f32 = 0.5;

/// True when atoms `[from, to)` may be two digits run together, for the pair
/// reader: parts of one component that was cut (whose atoms no separating
/// path divides further), of a pair's size at line height `height`.
pub(super) fn could_be_a_pair(atoms: &[Atom], from: usize, to: usize, height: f32) -> bool {
    let c = atoms[from].component;
    // A component's atoms are consecutive: it was cut when it has two.
    let cut =
        to - from > 1 || (from > 0 && atoms[from - 1].component == c) || (to < atoms.len() && atoms[to].component == c);
    if !cut || atoms[from..to].iter().any(|a| a.component != c) {
        return false;
    }
    let union = atoms[from + 1..to].iter().fold(atoms[from].bounds, |u, a| super::merge::union(u, a.bounds));
    let (w, h) = (union.width() as f32, union.height() as f32);
    (PAIR_MIN_WIDTH * height..=PAIR_MAX_WIDTH * height).contains(&w) && h >= MIN_HEIGHT * height
}

/// What reading a group as the pair of its reader's probabilities `row`
/// scores (the log of its likeliest pair's probability, less [`PAIR_COST`]
/// and `cut_cost`), or `None` when the reader calls it "not a pair" with a
/// probability above [`MOST_NOT_A_PAIR`]. At most [`most_a_pair_scores`].
pub(super) fn pair_score(row: &[f32], cut_cost: f32) -> Option<f32> {
    (row[NOT_A_PAIR] <= MOST_NOT_A_PAIR).then(|| best_pair(row).2.max(1e-30).ln() - PAIR_COST - cut_cost)
}

/// The most [`pair_score`] gives with `cut_cost`, before the group is read.
pub(super) fn most_a_pair_scores(cut_cost: f32) -> f32 {
    -PAIR_COST - cut_cost
}

/// Which of the pair groups `pairs` (each at most its score in `bounds`) may
/// be in the best grouping of atoms `[0, n)`: those for which the best
/// grouping through them, every pair counted at its bound, beats the best
/// grouping without pairs. `steps`: every other way to go from atom `from`
/// to atom `to` and its score, `(from, to, score)` (one-digit groups, stray
/// marks left out).
pub(super) fn pairs_that_may_win(
    n: usize,
    steps: &[(usize, usize, f32)],
    pairs: &[(usize, usize)],
    bounds: &[f32],
) -> Vec<bool> {
    let steps = || steps.iter().copied();
    let forward = |with_pairs: bool| {
        let mut best = vec![f32::NEG_INFINITY; n + 1];
        best[0] = 0.0;
        let mut all: Vec<(usize, usize, f32)> = steps().collect();
        if with_pairs {
            all.extend(pairs.iter().zip(bounds).map(|(&(i, j), &b)| (i, j, b)));
        }
        all.sort_by_key(|s| s.0);
        for (i, j, s) in all {
            best[j] = best[j].max(best[i] + s);
        }
        best
    };
    let without = forward(false)[n];
    let before = forward(true);
    // after[k]: the best score of a grouping of [k, n), every pair at its bound.
    let mut after = vec![f32::NEG_INFINITY; n + 1];
    after[n] = 0.0;
    let mut all: Vec<(usize, usize, f32)> =
        steps().chain(pairs.iter().zip(bounds).map(|(&(i, j), &b)| (i, j, b))).collect();
    all.sort_by_key(|s| std::cmp::Reverse(s.1));
    for (i, j, s) in all {
        after[i] = after[i].max(s + after[j]);
    }
    pairs.iter().zip(bounds).map(|(&(i, j), &b)| before[i] + b + after[j] > without).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::pairs::PAIR_CLASSES;

    /// An atom of solid ink at `[x0, x1) × [0, h)`, part of `component`.
    fn atom(x0: usize, x1: usize, h: usize, component: usize) -> Atom {
        Atom::solid(x0, x1, h, component)
    }

    #[test]
    fn only_a_cut_components_parts_of_a_pairs_width_may_be_a_pair() {
        // Line height 40: a component cut in three (0..50), one left whole (60..90).
        let atoms = [atom(0, 15, 40, 0), atom(15, 35, 40, 0), atom(35, 50, 40, 0), atom(60, 90, 40, 1)];
        assert!(could_be_a_pair(&atoms, 0, 3, 40.0), "the whole cut component, 1.25 line heights");
        assert!(could_be_a_pair(&atoms, 0, 2, 40.0), "two of its parts, 0.9 line heights");
        assert!(!could_be_a_pair(&atoms, 0, 1, 40.0), "one part, 0.4 line heights: too narrow");
        assert!(!could_be_a_pair(&atoms, 3, 4, 40.0), "a component no cut divides");
        assert!(!could_be_a_pair(&atoms, 2, 4, 40.0), "parts of two components");
        let wide = [atom(0, 50, 40, 0), atom(50, 100, 40, 0)];
        assert!(!could_be_a_pair(&wide, 0, 2, 40.0), "2.5 line heights: too wide");
        let flat = [atom(0, 20, 10, 0), atom(20, 40, 10, 0)];
        assert!(!could_be_a_pair(&flat, 0, 2, 40.0), "a quarter of the line's height: too short");
    }

    #[test]
    fn a_pair_scores_its_likeliest_pair_less_the_costs_unless_it_is_surely_not_one() {
        let mut row = vec![0.0; PAIR_CLASSES];
        (row[31], row[38], row[NOT_A_PAIR]) = (0.6, 0.1, 0.3);
        let score = pair_score(&row, 0.5).expect("weighed");
        assert!((score - (0.6f32.ln() - PAIR_COST - 0.5)).abs() < 1e-6, "{score}");
        assert!(score <= most_a_pair_scores(0.5));
        (row[31], row[NOT_A_PAIR]) = (0.3, MOST_NOT_A_PAIR + 0.1);
        assert_eq!(pair_score(&row, 0.0), None, "above the \"not a pair\" limit");
    }

    #[test]
    fn a_pair_that_cannot_beat_the_best_grouping_even_at_its_bound_is_not_read() {
        // Atoms 0..4: read as two digits 0..2 and 2..4 (each -0.1), or as
        // one unsure digit 0..4 (-5). Pairs over 0..2 (a digit read well) and
        // over 2..4, bounded at -2 each; over 0..4 at -2.
        let steps = [(0, 2, -0.1), (2, 4, -0.1), (0, 4, -5.0), (0, 1, -9.0), (1, 2, -9.0)];
        let pairs = [(0, 2), (2, 4), (0, 4)];
        let may = pairs_that_may_win(4, &steps, &pairs, &[-2.0, -2.0, -2.0]);
        // The best without pairs scores -0.2: no pair at -2 can beat it.
        assert_eq!(may, [false, false, false]);
        // A pair whose best score beats a digit it replaces may win.
        let may = pairs_that_may_win(4, &steps, &pairs, &[-0.05, -2.0, -0.15]);
        assert_eq!(may, [true, false, true]);
    }
}
