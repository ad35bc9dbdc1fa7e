//! The tests of [`super::best_grouping`] and its helpers: groupings on
//! atoms of solid ink read by made-up readers, and the cuts moved to fine ones.

use super::super::pairing::{MOST_NOT_A_PAIR, PAIR_COST};
use super::*;
use crate::reject::pairs::{best_pair, NOT_A_PAIR};

/// An atom of solid ink at `[x0, x1) × [0, h)`.
fn atom(x0: usize, x1: usize, h: usize, component: usize) -> Atom {
    Atom::solid(x0, x1, h, component)
}

/// A reader that likes the groups whose boxes span exactly one of `good`.
fn liking(good: &'static [(usize, usize)]) -> impl FnMut(&[(Bounds, Gray)]) -> Vec<f32> {
    move |groups| groups.iter().map(|(b, _)| if good.contains(&(b.x0, b.x1)) { -0.01 } else { -3.0 }).collect()
}

#[test]
fn a_wide_components_parts_are_grouped_where_they_read_best() {
    // One 40-wide component cut at 10, 20 and 30: two digits, 0-20 and 20-40.
    let atoms: Vec<Atom> = (0..4).map(|k| atom(10 * k, 10 * k + 10, 40, 0)).collect();
    let groups = best_groups(&atoms, 40.0, 0.0, &mut liking(&[(0, 20), (20, 40)]));
    assert_eq!(groups, vec![(0, 2), (2, 4)]);
}

#[test]
fn no_digit_starts_at_a_fine_cut_but_a_chosen_cut_moves_to_one() {
    // One 40-wide component: coarse cuts at 10, 20 and 30, fine ones at 18 and 24.
    let edges = [0, 10, 18, 20, 24, 30, 40];
    let atoms: Vec<Atom> =
        edges.windows(2).map(|e| Atom { fine: e[0] == 18 || e[0] == 24, ..atom(e[0], e[1], 40, 0) }).collect();
    let mut asked: Vec<(usize, usize)> = Vec::new();
    // The cuts at 20 and at 24 read well, the one at 24 best.
    let mut read = |groups: &[(Bounds, Gray)]| {
        asked.extend(groups.iter().map(|(b, _)| (b.x0, b.x1)));
        let score = |b: &Bounds| match (b.x0, b.x1) {
            (0, 20) | (20, 40) => -0.5,
            (0, 24) | (24, 40) => -0.1,
            _ => -3.0,
        };
        groups.iter().map(|(b, _)| score(b)).collect()
    };
    let groups = best_groups(&atoms, 40.0, 0.0, &mut read);
    // The grouping cut at 20 (coarse), then moved the cut to 24 (fine, reads best).
    assert_eq!(groups, vec![(0, 4), (4, 6)], "{asked:?}");
    assert!(asked.contains(&(24, 40)) && asked.contains(&(0, 24)));
    // Never a group that starts or ends at a fine cut in the grouping's one batch,
    // only beside the cut chosen.
    assert!(!asked.contains(&(18, 30)), "{asked:?}");
}

#[test]
fn a_detached_piece_joins_the_neighbour_it_completes() {
    // A body, a bar to its right (another component), then a digit apart.
    let atoms = vec![atom(0, 16, 40, 0), atom(14, 24, 6, 1), atom(40, 60, 40, 2)];
    let groups = best_groups(&atoms, 40.0, 0.0, &mut liking(&[(0, 24), (40, 60)]));
    assert_eq!(groups, vec![(0, 2), (2, 3)]);
    // Read the other way, the bar goes with the digit on its right.
    let right = vec![atom(0, 16, 40, 0), atom(30, 40, 6, 1), atom(36, 60, 40, 2)];
    assert_eq!(best_groups(&right, 40.0, 0.0, &mut liking(&[(0, 16), (30, 60)])), vec![(0, 1), (1, 3)]);
}

#[test]
fn pieces_are_joined_only_when_that_reads_clearly_better() {
    let atoms = vec![atom(0, 8, 40, 0), atom(30, 38, 40, 1)];
    // Unsure of everything: the pieces stay apart.
    let mut unsure = |groups: &[(Bounds, Gray)]| vec![0.5f32.ln(); groups.len()];
    assert_eq!(best_groups(&atoms, 40.0, 0.0, &mut unsure), vec![(0, 1), (1, 2)]);
    // Two components of one piece are joined as soon as that reads better.
    let one_piece: Vec<Atom> = atoms.iter().cloned().map(|a| Atom { piece: 0, ..a }).collect();
    assert_eq!(best_groups(&one_piece, 40.0, 0.0, &mut unsure), vec![(0, 2)]);
}

#[test]
fn a_run_far_too_wide_for_one_digit_is_read_as_its_parts() {
    // One component, 4 line heights wide, cut into four parts: the parts
    // read badly one of them (-8), the whole run reads as one digit at -5.
    let atoms: Vec<Atom> = (0..4).map(|k| atom(40 * k, 40 * k + 40, 40, 0)).collect();
    let mut read = |groups: &[(Bounds, Gray)]| -> Vec<f32> {
        groups
            .iter()
            .map(|(b, _)| match (b.x0, b.x1) {
                (0, 160) => -5.0,
                (40, 80) => -8.0,
                (x0, x1) if x1 - x0 == 40 => -0.1,
                _ => -20.0,
            })
            .collect()
    };
    assert_eq!(best_groups(&atoms, 40.0, 0.0, &mut read), vec![(0, 1), (1, 2), (2, 3), (3, 4)]);
    // A component about one digit wide (1.5 line heights) cut in two stays whole when that reads best.
    let atoms: Vec<Atom> = (0..2).map(|k| atom(30 * k, 30 * k + 30, 40, 0)).collect();
    let mut read = |groups: &[(Bounds, Gray)]| -> Vec<f32> {
        groups.iter().map(|(b, _)| if b.x1 - b.x0 == 60 { -5.0 } else { -4.0 }).collect()
    };
    assert_eq!(best_groups(&atoms, 40.0, 0.0, &mut read), vec![(0, 2)]);
}

#[test]
fn the_pair_readers_doubts_weigh_on_cutting_and_on_reading_whole() {
    // One component 1.2 line heights wide, cut in two: each part reads at
    // -0.5, the whole at -1.5 (the parts win by half a nat).
    let cut = |cut_doubt: f32, whole_doubt: f32| -> Vec<Atom> {
        (0..2).map(|k| Atom { cut_doubt, whole_doubt, ..atom(24 * k, 24 * k + 24, 40, 0) }).collect()
    };
    let mut read = |groups: &[(Bounds, Gray)]| -> Vec<f32> {
        groups.iter().map(|(b, _)| if b.width() == 48 { -1.5 } else { -0.5 }).collect()
    };
    assert_eq!(best_groups(&cut(0.0, 0.0), 40.0, 0.0, &mut read), vec![(0, 1), (1, 2)]);
    // Sure it is no pair: each cut group pays 0.3, the whole wins.
    assert_eq!(best_groups(&cut(0.3, 0.0), 40.0, 0.0, &mut read), vec![(0, 2)]);
    // Sure it is a pair too: reading it whole pays 1, the cut wins again.
    assert_eq!(best_groups(&cut(0.3, 1.0), 40.0, 0.0, &mut read), vec![(0, 1), (1, 2)]);
    // Two components side by side pay neither: their doubts are about being cut.
    let apart: Vec<Atom> = (0..2).map(|k| Atom { cut_doubt: 5.0, ..atom(26 * k, 26 * k + 24, 40, k) }).collect();
    let mut each = |groups: &[(Bounds, Gray)]| -> Vec<f32> {
        groups.iter().map(|(b, _)| if b.width() == 24 { -0.5 } else { -5.0 }).collect()
    };
    assert_eq!(best_groups(&apart, 40.0, 0.0, &mut each), vec![(0, 1), (1, 2)]);
}

#[test]
fn a_stray_mark_that_reads_as_no_digit_is_left_out() {
    // A digit, a short bar (a 5's top drawn apart, too far to join it), a digit.
    let atoms = vec![atom(0, 20, 40, 0), atom(30, 60, 8, 1), atom(70, 90, 40, 2)];
    let read = |bar: f32| {
        move |groups: &[(Bounds, Gray)]| -> Vec<f32> {
            groups.iter().map(|(b, _)| if b.height() == 8 { bar } else { -0.1 }).collect()
        }
    };
    assert_eq!(best_groups(&atoms, 40.0, 0.0, &mut read(-12.0)), vec![(0, 1), (2, 3)]);
    // Read as a digit well enough, it stays (and is read).
    assert_eq!(best_groups(&atoms, 40.0, 0.0, &mut read(-2.0)), vec![(0, 1), (1, 2), (2, 3)]);
    // A tall mark is never left out, however badly it reads; a short one at either end is.
    let tall = vec![atom(0, 20, 40, 0), atom(60, 66, 40, 1)];
    let mut bad = |groups: &[(Bounds, Gray)]| vec![-50.0; groups.len()];
    assert_eq!(best_groups(&tall, 40.0, 0.0, &mut bad), vec![(0, 1), (1, 2)]);
    let ends = vec![atom(0, 30, 8, 0), atom(40, 60, 40, 1), atom(80, 100, 8, 2)];
    assert_eq!(best_groups(&ends, 40.0, 0.0, &mut read(-12.0)), vec![(1, 2)]);
    // A short stroke cut into parts (it was wide) is left out whole.
    let cut = vec![atom(0, 20, 40, 0), atom(40, 60, 8, 1), atom(60, 80, 8, 1), atom(100, 120, 40, 2)];
    assert_eq!(best_groups(&cut, 40.0, 0.0, &mut read(-12.0)), vec![(0, 1), (3, 4)]);
}

#[test]
fn whole_components_stay_whole_when_nothing_reads() {
    let atoms = vec![atom(0, 10, 40, 0), atom(10, 20, 40, 0), atom(30, 50, 40, 1)];
    let mut nothing = |groups: &[(Bounds, Gray)]| vec![f32::NEG_INFINITY; groups.len()];
    assert_eq!(best_groups(&atoms, 40.0, 0.0, &mut nothing), vec![(0, 2), (2, 3)]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Whatever the atoms and the reader's scores, the groups cover every
    /// atom once, in order, but stray marks left out, and each could be a
    /// digit.
    #[test]
    fn groups_partition_the_atoms_in_order(
        spans in proptest::collection::vec((0usize..60, 1usize..40, 1usize..50, 0usize..3), 1..12),
        scores in proptest::collection::vec(-20.0f32..0.0, 400),
        cut_cost in 0.0f32..3.0,
    ) {
        let mut atoms = Vec::new();
        let (mut x, mut component) = (0, 0);
        for &(gap, w, h, same) in &spans {
            // `same` 0: a new component; otherwise a part of the last one.
            if same == 0 || atoms.is_empty() {
                component += 1;
            }
            x += gap;
            atoms.push(Atom { piece: component / 2, ..atom(x, x + w, h, component) });
            x += w;
        }
        let mut calls = 0;
        let mut read = |groups: &[(Bounds, Gray)]| {
            calls += 1;
            (0..groups.len()).map(|k| if k % 7 == 3 { f32::NEG_INFINITY } else { scores[k % scores.len()] }).collect()
        };
        let groups = best_groups(&atoms, 40.0, cut_cost, &mut read);
        proptest::prop_assert_eq!(calls, 1);
        let mut next = 0;
        for &(from, to) in groups.iter().chain([&(atoms.len(), atoms.len())]) {
            // Atoms between groups are stray marks left out.
            proptest::prop_assert!(from >= next);
            // What is left out is stray marks, one after another.
            let mut end = from;
            while end > next {
                let start = stray_ending_at(&atoms, end, 40.0);
                proptest::prop_assert!(start.is_some_and(|s| s >= next), "{next}..{from} left out");
                end = start.unwrap_or(next);
            }
            if from == atoms.len() {
                break;
            }
            proptest::prop_assert!(to > from);
            proptest::prop_assert!(could_be_a_digit(&atoms, from, to, 40.0));
            next = to;
        }
    }
}

/// A pair reader that reads the groups spanning `pair` as the pair 31
/// (probability `p`, the rest "not a pair"), and every other group as
/// surely not a pair; it records the boxes it was asked about.
fn pair_reader(
    pair: (usize, usize),
    p: f32,
    asked: &mut Vec<(usize, usize)>,
) -> impl FnMut(&[(Bounds, Gray)]) -> Vec<f32> + '_ {
    move |groups| {
        let mut rows = vec![0.0; groups.len() * PAIR_CLASSES];
        for ((b, _), row) in groups.iter().zip(rows.chunks_exact_mut(PAIR_CLASSES)) {
            asked.push((b.x0, b.x1));
            let is_it = (b.x0, b.x1) == pair;
            row[31] = if is_it { p } else { 0.0 };
            row[NOT_A_PAIR] = 1.0 - row[31];
        }
        rows
    }
}

#[test]
fn two_digits_no_cut_parts_are_read_whole_by_the_pair_reader() {
    // One component 36 wide (a 3 with a 1 across it), cut at 18 and 27:
    // its parts read badly as digits, the whole reads as one digit at -3.
    let atoms = vec![atom(0, 18, 40, 0), atom(18, 27, 40, 0), atom(27, 36, 40, 0), atom(60, 80, 40, 1)];
    let mut read = |groups: &[(Bounds, Gray)]| -> Vec<f32> {
        groups
            .iter()
            .map(|(b, _)| match (b.x0, b.x1) {
                (0, 36) => -3.0,
                (60, 80) => -0.1,
                _ => -6.0,
            })
            .collect()
    };
    let mut asked = Vec::new();
    let grouping =
        best_grouping(&atoms, 40.0, 0.0, &mut read, Some(&mut pair_reader((0, 36), 0.9, &mut asked)), Trying::Every);
    assert_eq!(grouping.iter().map(|g| (g.from, g.to)).collect::<Vec<_>>(), vec![(0, 3), (3, 4)]);
    let row = grouping[0].pair.as_ref().expect("read as a pair");
    assert_eq!(best_pair(row), (3, 1, 0.9));
    assert!(grouping[1].pair.is_none());
    // Only parts of the cut component are asked, never the whole component apart.
    assert!(asked.contains(&(0, 36)) && !asked.iter().any(|&(x0, _)| x0 >= 60), "{asked:?}");
    // A pair read less surely than the whole as one digit, by more than PAIR_COST: one digit.
    let surely = (-3.0 + PAIR_COST - 0.1).exp();
    let grouping =
        best_grouping(&atoms, 40.0, 0.0, &mut read, Some(&mut pair_reader((0, 36), surely, &mut asked)), Trying::Every);
    assert!(grouping.iter().all(|g| g.pair.is_none()), "{grouping:?}");
    assert_eq!(grouping.len(), 2);
    // Sure of the pair, but "not a pair" above MOST_NOT_A_PAIR: not weighed.
    let mut unsure = |groups: &[(Bounds, Gray)]| -> Vec<f32> {
        let mut rows = vec![0.0; groups.len() * PAIR_CLASSES];
        for row in rows.chunks_exact_mut(PAIR_CLASSES) {
            row[31] = 1.0 - MOST_NOT_A_PAIR - 0.05;
            row[NOT_A_PAIR] = MOST_NOT_A_PAIR + 0.05;
        }
        rows
    };
    let grouping = best_grouping(&atoms, 40.0, 0.0, &mut read, Some(&mut unsure), Trying::Every);
    assert!(grouping.iter().all(|g| g.pair.is_none()), "{grouping:?}");
    // Without a pair reader, the grouping is best_groups'.
    let plain = best_groups(&atoms, 40.0, 0.0, &mut read);
    let without = best_grouping(&atoms, 40.0, 0.0, &mut read, None, Trying::Every);
    assert_eq!(without.iter().map(|g| (g.from, g.to)).collect::<Vec<_>>(), plain);
}

#[test]
fn render_puts_each_atom_where_it_is() {
    let (bounds, ink) = render(&[atom(2, 4, 3, 0), atom(6, 7, 5, 1)]);
    assert_eq!(bounds, Bounds { x0: 2, y0: 0, x1: 7, y1: 5 });
    assert_eq!(ink.get(0, 0), 1.0);
    assert_eq!(ink.get(2, 0), 0.0);
    assert_eq!(ink.get(4, 4), 1.0);
    assert_eq!(ink.get(1, 4), 0.0);
}
