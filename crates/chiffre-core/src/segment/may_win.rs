//! Which of the groups a line could be cut into need reading at all
//! ([`super::best_grouping`] with [`Trying::MayWin`]).
//!
//! Every score of a grouping is at most 0 (a log-probability, less costs),
//! so a grouping is worth at most what its first atoms are worth. Reading
//! the line left to right, once the best way to reach atom `k` is known,
//! a group that starts at `k` and could not beat a grouping already read
//! even if the network read it perfectly (its score 0, less its costs) is
//! in no best grouping: it is not read. The first groups read are the
//! whole components (a grouping that always exists), which give the first
//! grouping to beat; each atom where a component begins then offers a
//! better one (the best way there, then whole components). Pairs read whole
//! count at their highest possible score on the way ([`super::pairing`]), so
//! the grouping kept is the one every group read would give: the same
//! digits, for fewer readings. Where digits touch, the whole components are
//! a poor grouping to beat, so a grouping is first read greedily: at each
//! step the whole component when it reads well ([`READS_WELL`]), else the
//! best of the groups that begin there.
//!
//! Measured 2026-12-07 (Intel Xeon, tutorial CNN with its judges): on the
//! 32 five-digit numbers of `cargo bench --bench read`, 822 of the 1,358
//! groups are read, and the network reads 900 inputs instead of 1,436 (in
//! about eight batches a picture instead of three); the numbers read two at
//! a time went from 255–291 to 303–333 a second (three alternating runs).
//! The 2,000 numbers of two sets of bench/numbers.sh read the same.
//!
//! The choice is exact only for readers whose scores are at most 0; a
//! reader that gives more is still answered, with a grouping that may
//! differ from [`Trying::Every`]'s.

/// A whole component that reads at least this well (log-probability, less
/// its costs) is taken by the first grouping to beat without reading the
/// other groups that begin with it.
const READS_WELL: f32 = -0.7;

/// Which groups [`super::best_grouping`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trying {
    /// Every group that could be a digit, in one batch (what the judges'
    /// training learns from: [`super::tried`]).
    Every,
    /// Only the groups that may be in the best grouping, a batch per atom
    /// where groups begin (see the module documentation).
    MayWin,
}

/// How far below the grouping to beat a group's best must be to be left
/// unread: the sums here are not added in the order of the final grouping's,
/// so a group is kept when it is within rounding of the grouping to beat.
const ROUNDING: f32 = 1e-3;

/// The ways from one atom to a later one that [`read_what_may_win`] weighs.
pub(super) struct Steps<'a> {
    /// Atoms `[from, to)` that may be one digit, by `from` (then `to`).
    pub groups: &'a [(usize, usize)],
    /// What each group costs beyond its reading (nats, at least 0).
    pub costs: &'a [f32],
    /// Whether each group is exactly one whole component.
    pub whole: &'a [bool],
    /// For each atom `j`, where the stray mark that may be left out ending
    /// at `j` begins.
    pub strays: &'a [Option<usize>],
    /// What leaving a stray mark out costs.
    pub stray_cost: f32,
    /// Atoms `[from, to)` that may be two digits read whole by the pair
    /// reader, by `from` (as `groups`).
    pub pairs: &'a [(usize, usize)],
    /// The most each pair of `pairs` scores.
    pub pair_bounds: &'a [f32],
}

/// Reads (by `read`, given the indices of the groups to read, answering
/// their scores) the groups of `steps` that may be in the best grouping of
/// atoms `[0, n)`, and answers each group's score, `None` for the groups
/// not read.
pub(super) fn read_what_may_win(
    n: usize,
    steps: &Steps<'_>,
    read: &mut dyn FnMut(&[usize]) -> Vec<f32>,
) -> Vec<Option<f32>> {
    let mut scores: Vec<Option<f32>> = vec![None; steps.groups.len()];
    let mut read_these = |chosen: &[usize], scores: &mut [Option<f32>]| {
        if !chosen.is_empty() {
            for (&g, score) in chosen.iter().zip(read(chosen)) {
                scores[g] = Some(score);
            }
        }
    };
    let whole: Vec<usize> = (0..steps.groups.len()).filter(|&g| steps.whole[g]).collect();
    read_these(&whole, &mut scores);
    let total = |g: usize, scores: &[Option<f32>]| scores[g].map(|s| s - steps.costs[g]);
    // suffix[k]: the best grouping of atoms [k, n) by whole components and
    // stray marks left out (−∞: none, k is inside a component).
    let mut suffix = vec![f32::NEG_INFINITY; n + 1];
    suffix[n] = 0.0;
    let mut backward: Vec<(usize, usize, f32)> = whole
        .iter()
        .filter_map(|&g| total(g, &scores).map(|t| (steps.groups[g].0, steps.groups[g].1, t)))
        .chain(steps.strays.iter().enumerate().filter_map(|(j, from)| from.map(|i| (i, j, -steps.stray_cost))))
        .collect();
    backward.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (i, j, s) in backward {
        suffix[i] = suffix[i].max(s + suffix[j]);
    }
    // A grouping read greedily, to beat from the start: from atom 0, the
    // whole component there when it reads well, or else the group that
    // reads best of those that start there (all read), and on.
    let starts = |k: usize| {
        let first = steps.groups.partition_point(|g| g.0 < k);
        first..first + steps.groups[first..].partition_point(|g| g.0 == k)
    };
    let (mut k, mut greedy) = (0, 0.0);
    while k < n && greedy > f32::NEG_INFINITY {
        let best_of = |scores: &[Option<f32>]| {
            let stray = steps.strays.iter().position(|from| *from == Some(k)).map(|j| (j, -steps.stray_cost));
            starts(k)
                .filter_map(|g| total(g, scores).map(|t| (steps.groups[g].1, t)))
                .chain(stray)
                .fold((n, f32::NEG_INFINITY), |best, step| if step.1 > best.1 { step } else { best })
        };
        let mut best = best_of(&scores);
        if best.1 < READS_WELL {
            let unread: Vec<usize> = starts(k).filter(|&g| scores[g].is_none()).collect();
            read_these(&unread, &mut scores);
            best = best_of(&scores);
        }
        (k, greedy) = (best.0, greedy + best.1);
    }
    // most[k]: the most a grouping of [0, k) may score (groups read at their
    // score, pairs at their bound); real[k]: the best one read (no pairs).
    let mut most = vec![f32::NEG_INFINITY; n + 1];
    let mut real = vec![f32::NEG_INFINITY; n + 1];
    (most[0], real[0]) = (0.0, 0.0);
    let mut to_beat = suffix[0].max(greedy);
    let mut next_pair = 0;
    for k in 0..n {
        if let Some(from) = steps.strays[k].filter(|_| k > 0) {
            most[k] = most[k].max(most[from] - steps.stray_cost);
            real[k] = real[k].max(real[from] - steps.stray_cost);
        }
        to_beat = to_beat.max(real[k] + suffix[k]);
        let here = starts(k);
        let chosen: Vec<usize> =
            here.clone().filter(|&g| scores[g].is_none() && most[k] - steps.costs[g] >= to_beat - ROUNDING).collect();
        read_these(&chosen, &mut scores);
        for g in here {
            if let Some(t) = total(g, &scores) {
                let to = steps.groups[g].1;
                most[to] = most[to].max(most[k] + t);
                real[to] = real[to].max(real[k] + t);
            }
        }
        while let Some(&(i, j)) = steps.pairs.get(next_pair).filter(|p| p.0 == k) {
            most[j] = most[j].max(most[i] + steps.pair_bounds[next_pair]);
            next_pair += 1;
        }
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::super::group::{best_grouping, Atom, Group};
    use super::Trying;
    use crate::preprocess::{Bounds, Gray};
    use crate::reject::pairs::{NOT_A_PAIR, PAIR_CLASSES};

    /// An atom of solid ink at `[x0, x1) × [0, h)`.
    fn atom(x0: usize, x1: usize, h: usize, component: usize, piece: usize, fine: bool) -> Atom {
        Atom { piece, fine, ..Atom::solid(x0, x1, h, component) }
    }

    /// A number in [0, 1) that depends only on a group's box and `seed`.
    fn hashed(b: &Bounds, seed: u64) -> f32 {
        let h = [b.x0, b.x1, b.y0, b.y1]
            .iter()
            .fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, &v| (h ^ v as u64).wrapping_mul(0x100_0000_01b3).rotate_left(29));
        (h >> 40) as f32 / (1u64 << 24) as f32
    }

    /// The grouping of `atoms` as `trying` reads it, with a reader and a pair
    /// reader whose answers depend only on each group's box (scores at most
    /// 0, some impossible), and every box each reader was asked about.
    fn grouping(atoms: &[Atom], seed: u64, cut_cost: f32, trying: Trying) -> (Vec<Group>, Vec<Bounds>, Vec<Bounds>) {
        let (mut asked, mut asked_pairs) = (Vec::new(), Vec::new());
        let mut read = |groups: &[(Bounds, Gray)]| {
            asked.extend(groups.iter().map(|(b, _)| *b));
            let score = |b: &Bounds| match hashed(b, seed) {
                u if u < 0.05 => f32::NEG_INFINITY,
                u if u < 0.4 => -u,
                u => -12.0 * u,
            };
            groups.iter().map(|(b, _)| score(b)).collect()
        };
        let mut read_pairs = |groups: &[(Bounds, Gray)]| {
            let mut rows = vec![0.0; groups.len() * PAIR_CLASSES];
            for ((b, _), row) in groups.iter().zip(rows.chunks_exact_mut(PAIR_CLASSES)) {
                asked_pairs.push(*b);
                let u = hashed(b, seed.wrapping_add(1));
                row[(u * 100.0) as usize % 100] = u;
                row[NOT_A_PAIR] = 1.0 - u;
            }
            rows
        };
        let groups = best_grouping(atoms, 40.0, cut_cost, &mut read, Some(&mut read_pairs), trying);
        (groups, asked, asked_pairs)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Reading only the groups that may win gives the grouping that
        /// reading every group gives, reading none that it does not, whatever
        /// cutting costs.
        #[test]
        fn the_groups_that_may_win_give_the_grouping_of_every_group(
            spans in proptest::collection::vec((0usize..30, 2usize..30, 8usize..50, 0usize..4, proptest::bool::ANY), 1..16),
            seed in 0u64..1_000_000,
            cut_cost in 0.0f32..3.0,
            doubt in 0.0f32..2.0,
        ) {
            let mut atoms: Vec<Atom> = Vec::new();
            let (mut x, mut component) = (0, 0);
            for &(gap, w, h, same, fine) in &spans {
                // `same` 0: a new component; otherwise a part of the last one
                // (touching it), which may begin at a fine cut.
                let part = same != 0 && !atoms.is_empty();
                if part {
                    x = atoms[atoms.len() - 1].bounds.x1;
                } else {
                    component += 1;
                    x += gap;
                }
                // Cutting some components costs more than others, and reading
                // them whole ([`Atom::cut_doubt`], [`Atom::whole_doubt`]).
                let (cut_doubt, whole_doubt) = (doubt * (component % 3) as f32, doubt * (component % 2) as f32);
                atoms.push(Atom { cut_doubt, whole_doubt, ..atom(x, x + w, h, component, component / 2, part && fine) });
                x += w;
            }
            let (every, asked, asked_pairs) = grouping(&atoms, seed, cut_cost, Trying::Every);
            let (may_win, asked_less, asked_pairs_less) = grouping(&atoms, seed, cut_cost, Trying::MayWin);
            proptest::prop_assert_eq!(&may_win, &every);
            proptest::prop_assert!(asked_less.iter().all(|b| asked.contains(b)));
            proptest::prop_assert!(asked_pairs_less.iter().all(|b| asked_pairs.contains(b)));
        }
    }

    #[test]
    fn groups_that_cannot_win_are_not_read() {
        // Five digits apart, each 20 wide, 10 apart: a "1"-wide neighbour could
        // join each of them, but every digit alone reads surely.
        let atoms: Vec<Atom> = (0..5).map(|k| atom(30 * k, 30 * k + 20, 40, k, k, false)).collect();
        let count = |trying: Trying| {
            let mut asked = 0;
            let mut read = |groups: &[(Bounds, Gray)]| {
                asked += groups.len();
                groups.iter().map(|(b, _)| if b.width() == 20 { -0.01 } else { -2.0 }).collect()
            };
            let groups = best_grouping(&atoms, 40.0, 0.0, &mut read, None, trying);
            (groups.iter().map(|g| (g.from, g.to)).collect::<Vec<_>>(), asked)
        };
        let (every, all) = count(Trying::Every);
        let (may_win, fewer) = count(Trying::MayWin);
        assert_eq!(every, (0..5).map(|k| (k, k + 1)).collect::<Vec<_>>());
        assert_eq!(may_win, every);
        // Two digits side by side (50 wide) could be one at line height 40:
        // every such pair is tried by Every, none by MayWin.
        assert_eq!((all, fewer), (9, 5));
    }
}
