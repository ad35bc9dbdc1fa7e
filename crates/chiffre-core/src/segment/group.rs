//! Which bits of ink in a line make one digit, decided by what the network
//! reads (recognition-driven segmentation).
//!
//! A line's ink is first broken into **atoms**: each connected component,
//! and, for a component too wide for one digit, the parts between its
//! candidate cut paths ([`super::separating_path`]). Atoms come in reading
//! order: components by their centre, left to right, each followed by its
//! own parts. [`best_groups`] then splits the atoms into consecutive groups,
//! one digit each: every group that could be a digit is read by the network
//! once (one batch; or, reading a picture, only those that may win:
//! [`super::may_win`]), and a dynamic programme keeps the grouping whose digits
//! the network reads with the highest joint (log) probability. So a touching
//! pair is cut where its halves read best, a 5's top bar that stands apart
//! joins the body it completes, and two digits that overlap without touching
//! stay two. A whole component is always a possible digit, so there is
//! always an answer. A stray mark too short to be a digit (a top bar that
//! joins nothing, a stroke's end) may instead be left out, at
//! [`STRAY_COST`].
//!
//! Every digit of a grouping counts the same: a cost per digit (measured on
//! the 1,000 numbers of bench/numbers.sh, 2026-12-04: 1 or 3 nats) traded
//! errors where digits touch for fewer where they stand apart, and lost more
//! than it won. Work is bounded: groups are at most [`MAX_ATOMS`] atoms and
//! [`MAX_WIDTH`] line heights wide.

use super::may_win::{read_what_may_win, Steps, Trying};
use super::pairing::{could_be_a_pair, most_a_pair_scores, pair_score, pairs_that_may_win};
use crate::preprocess::{larger, Bounds, Gray};
use crate::reject::pairs::PAIR_CLASSES;

/// A group of atoms is at most this many of them.
pub const MAX_ATOMS: usize = 16;
/// A digit made of parts or of several components is at most this many
/// line heights wide...
pub const MAX_WIDTH: f32 = 1.25;
/// ...at least this many wide (a "1")...
const MIN_WIDTH: f32 = 0.12;
/// ...at least this many tall (shorter ones are a stroke's end)...
pub(super) const MIN_HEIGHT: f32 = 0.55;
/// ...and at most this many tall.
const MAX_HEIGHT: f32 = 1.3;

/// A whole component wider than this many line heights, which was cut into
/// parts, is several digits run together, not one...
pub const WIDE_WHOLE: f32 = 1.8;
/// ...so reading it as one digit costs this much (nats): it is taken only
/// when its parts cannot be read at all. Without it, a run of five touching
/// digits whose middle one reads badly (a cut that leaves it a bit of its
/// neighbour) was read as one "not a digit", and lost five digits instead
/// of one. Measured on the 1,000 numbers of bench/numbers.sh (2026-12-05,
/// AMD EPYC, tutorial CNN, threshold 0.4; digit error with touching digits /
/// without): none 8.03 / 1.56 %; 30 nats above 1.25 line heights 7.52 /
/// 2.58 % (wide single digits cut), above 1.6 7.22 / 1.90 %, above 1.8
/// 7.15 / 1.56 %, above 2.0 7.19 / 1.56 % (the same with 1,000 nats).
pub const WIDE_WHOLE_COST: f32 = 30.0;

/// What a digit made of several pieces costs: joining marks that their
/// shapes did not join must read that much better. Without it, a reader
/// unsure of everything would join every neighbour it can.
pub const JOIN_COST: f32 = 1.0;

/// What leaving a stray mark out of the number costs (nats): a whole
/// component shorter than [`MIN_HEIGHT`] line heights, which joins no
/// neighbour, is dropped rather than read as a "not a digit" `?` when it
/// reads as a digit at most this well (probability e^-6 ≈ 0.25 %: a 5's top
/// bar drawn apart, a stroke's stray end). Measured on the 1,000 numbers of
/// bench/numbers.sh (2026-12-05, Intel Xeon, tutorial CNN; digit error
/// without / with touching digits, and the digit count right without, a
/// `?` counting as a digit): never 2.00 / 6.95 %, 98.8 %; 3 nats 2.00 /
/// 6.82 %, 99.0 %; 6 nats 1.95 / 6.85 %, 99.0 %; 9 nats 1.95 / 6.92 %,
/// 99.0 %. The atoms are the same either way, so the judges' training
/// (which learns from every group tried) does not change.
pub const STRAY_COST: f32 = 6.0;

/// How far (line heights) [`best_groups`] may move a cut to a fine one.
/// Measured on the 1,000 numbers of bench/numbers.sh (2026-12-05, Intel
/// Xeon): 0.15 took the touching digits' error from 5.91 to 5.64 %.
const REFINE_WINDOW: f32 = 0.15;

/// An indivisible bit of a line's ink.
#[derive(Clone, Debug, PartialEq)]
pub struct Atom {
    /// Where its ink is, in the picture's working pixels.
    pub bounds: Bounds,
    /// Its ink (0-1), `bounds`-sized.
    pub ink: Gray,
    /// The component it is (part of): atoms of one component are consecutive.
    pub component: usize,
    /// The piece (components put together by shape, [`super::merge_pieces`])
    /// its component belongs to.
    pub piece: usize,
    /// Whether it begins at a fine cut: no group of [`best_groups`]' grouping
    /// begins there, but [`best_groups`] may move a cut of its grouping there.
    pub fine: bool,
    /// What each group that cuts its component costs beside the line's cut
    /// cost (nats): how sure the pair reader is that the component is no
    /// pair of digits (0 when not asked).
    pub cut_doubt: f32,
    /// What reading its component (when cut into parts) whole as one digit
    /// costs: how sure the pair reader is that it is a pair (0 when not
    /// asked).
    pub whole_doubt: f32,
}

#[cfg(test)]
impl Atom {
    /// An atom of solid ink at `[x0, x1) × [0, h)`, the whole of `component`
    /// (its own piece), costing no doubt: for tests.
    pub(super) fn solid(x0: usize, x1: usize, h: usize, component: usize) -> Atom {
        Atom {
            bounds: Bounds { x0, y0: 0, x1, y1: h },
            ink: Gray::filled(x1 - x0, h, 1.0),
            component,
            piece: component,
            fine: false,
            cut_doubt: 0.0,
            whole_doubt: 0.0,
        }
    }
}

/// Reads groups of atoms: for each group's ink (where it is, and the ink),
/// the log-probability that it is one digit (−∞ for no digit at all).
pub type GroupReader<'a> = dyn FnMut(&[(Bounds, Gray)]) -> Vec<f32> + 'a;

/// The smallest box holding every atom, and their ink on it.
pub fn render(atoms: &[Atom]) -> (Bounds, Gray) {
    let union = atoms.iter().skip(1).fold(atoms[0].bounds, |u, a| super::merge::union(u, a.bounds));
    let mut out = Gray::filled(union.width(), union.height(), 0.0);
    let w = union.width();
    for atom in atoms {
        let (ox, oy) = (atom.bounds.x0 - union.x0, atom.bounds.y0 - union.y0);
        for y in 0..atom.ink.height() {
            let row = &mut out.data_mut()[(oy + y) * w + ox..(oy + y) * w + ox + atom.ink.width()];
            for (o, &v) in row.iter_mut().zip(atom.ink.row(y)) {
                *o = larger(*o, v);
            }
        }
    }
    (union, out)
}

/// True when atoms `[from, to)` are exactly one whole component.
pub(super) fn whole_component(atoms: &[Atom], from: usize, to: usize) -> bool {
    let c = atoms[from].component;
    atoms[from..to].iter().all(|a| a.component == c)
        && (from == 0 || atoms[from - 1].component != c)
        && (to == atoms.len() || atoms[to].component != c)
}

/// True when atoms `[from, to)` are a whole component cut into parts and
/// wider than [`WIDE_WHOLE`] line heights.
fn wide_whole(atoms: &[Atom], from: usize, to: usize, height: f32) -> bool {
    to - from >= 2 && whole_component(atoms, from, to) && width_of(&atoms[from..to]) as f32 > WIDE_WHOLE * height
}

/// How wide the ink of `atoms` is, from the leftmost to the rightmost (0: none).
pub(super) fn width_of(atoms: &[Atom]) -> usize {
    let right = atoms.iter().map(|a| a.bounds.x1).max().unwrap_or(0);
    let left = atoms.iter().map(|a| a.bounds.x0).min().unwrap_or(0);
    right.saturating_sub(left)
}

/// True when atoms `[from, to)` may be one digit at line height `height`:
/// a whole component always; otherwise a group of a digit's size.
fn could_be_a_digit(atoms: &[Atom], from: usize, to: usize, height: f32) -> bool {
    if whole_component(atoms, from, to) {
        return true;
    }
    let union = atoms[from + 1..to].iter().fold(atoms[from].bounds, |u, a| super::merge::union(u, a.bounds));
    let (w, h) = (union.width() as f32, union.height() as f32);
    to - from <= MAX_ATOMS
        && (MIN_WIDTH * height..=MAX_WIDTH * height).contains(&w)
        && (MIN_HEIGHT * height..=MAX_HEIGHT * height).contains(&h)
}

/// Reads groups of atoms as two digits run together: for each group's ink,
/// the pair reader's [`PAIR_CLASSES`] probabilities, one row after another
/// (see [`crate::reject::pairs`]).
pub type PairGroupReader<'a> = dyn FnMut(&[(Bounds, Gray)]) -> Vec<f32> + 'a;

/// One group of [`best_grouping`]: atoms `[from, to)`, one digit, or two
/// read whole by the pair reader.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Its first atom.
    pub from: usize,
    /// Past its last atom.
    pub to: usize,
    /// For two digits read whole: the pair reader's probabilities.
    pub pair: Option<Vec<f32>>,
}

/// The groups `[from, to)` of `atoms` (in reading order) that the network
/// reads best as digits at line height `height`: see the module
/// documentation. Every atom is in one group, except stray marks left out.
/// Each group that cuts a component (holds part of one) costs `cut_cost`
/// more, and the component's [`Atom::cut_doubt`] (the larger one, when it
/// cuts two); a cut component read whole costs its [`Atom::whole_doubt`].
/// `read` is called once with every group to try, then once per cut that
/// may move to a fine cut ([`Atom::fine`]), with the groups on either side.
pub fn best_groups(atoms: &[Atom], height: f32, cut_cost: f32, read: &mut GroupReader<'_>) -> Vec<(usize, usize)> {
    best_grouping(atoms, height, cut_cost, read, None, Trying::Every).into_iter().map(|g| (g.from, g.to)).collect()
}

/// [`best_groups`], weighing also, when `read_pairs` is given, each group
/// that may be two digits run together (parts of one cut component, of a
/// pair's width) as the pair reader reads it: the log of its likeliest
/// pair's probability, less [`super::PAIR_COST`]. Only the pairs that could
/// win at their best possible score are read. `trying`: whether every group
/// that could be a digit is read, or only those that may win (the same
/// grouping, with fewer readings, for readers whose scores are at most 0:
/// see [`Trying`]).
pub fn best_grouping(
    atoms: &[Atom],
    height: f32,
    cut_cost: f32,
    read: &mut GroupReader<'_>,
    read_pairs: Option<&mut PairGroupReader<'_>>,
    trying: Trying,
) -> Vec<Group> {
    let n = atoms.len();
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut pair_groups: Vec<(usize, usize)> = Vec::new();
    let boundary = |k: usize| k == n || !atoms[k].fine;
    for from in (0..n).filter(|&k| boundary(k)) {
        // Past the widest a digit can be, no longer group can be one, except a
        // whole component (which is its own range). Atoms come in the order
        // of their components' centres, not of their left edges, so the scan
        // stops only at twice that width.
        for to in from + 1..=n {
            let span = atoms[to - 1].bounds.x1.max(atoms[from].bounds.x1) as f32 - atoms[from].bounds.x0 as f32;
            if boundary(to) && could_be_a_digit(atoms, from, to, height) {
                groups.push((from, to));
            } else if span > 2.0 * MAX_WIDTH * height && atoms[to - 1].component != atoms[from].component {
                break;
            }
            if read_pairs.is_some() && boundary(to) && could_be_a_pair(atoms, from, to, height) {
                pair_groups.push((from, to));
            }
        }
    }
    // What a group costs when it is a cut component read whole as one digit.
    let whole_cost_of =
        |i: usize, j: usize| if j - i > 1 && whole_component(atoms, i, j) { atoms[i].whole_doubt } else { 0.0 };
    // What a group costs for the components it cuts (none: 0).
    let cut_cost_of = |i: usize, j: usize| {
        let left = (i > 0 && atoms[i - 1].component == atoms[i].component).then(|| atoms[i].cut_doubt);
        let right = (j < n && atoms[j].component == atoms[j - 1].component).then(|| atoms[j - 1].cut_doubt);
        match (left, right) {
            (None, None) => 0.0,
            (l, r) => cut_cost + l.unwrap_or(0.0).max(r.unwrap_or(0.0)),
        }
    };
    let joins = |i: usize, j: usize| atoms[i..j].iter().any(|a| a.piece != atoms[i].piece);
    // stray_from[j]: where the stray mark that may be left out ending at j begins.
    let stray_from: Vec<Option<usize>> =
        (0..=n).map(|j| if j == 0 { None } else { stray_ending_at(atoms, j, height) }).collect();
    let mut read_groups = |chosen: &[usize]| {
        let inks: Vec<(Bounds, Gray)> = chosen.iter().map(|&g| render(&atoms[groups[g].0..groups[g].1])).collect();
        read(&inks)
    };
    let scores: Vec<Option<f32>> = match trying {
        Trying::Every => read_groups(&(0..groups.len()).collect::<Vec<_>>()).into_iter().map(Some).collect(),
        Trying::MayWin => {
            let costs: Vec<f32> = groups
                .iter()
                .map(|&(i, j)| {
                    let join = if joins(i, j) { JOIN_COST } else { 0.0 };
                    let wide = if wide_whole(atoms, i, j, height) { WIDE_WHOLE_COST } else { 0.0 };
                    join + cut_cost_of(i, j) + wide + whole_cost_of(i, j)
                })
                .collect();
            let whole: Vec<bool> = groups.iter().map(|&(i, j)| whole_component(atoms, i, j)).collect();
            let pair_bounds: Vec<f32> =
                pair_groups.iter().map(|&(i, j)| most_a_pair_scores(cut_cost_of(i, j))).collect();
            let steps = Steps {
                groups: &groups,
                costs: &costs,
                whole: &whole,
                strays: &stray_from,
                stray_cost: STRAY_COST,
                pairs: &pair_groups,
                pair_bounds: &pair_bounds,
            };
            read_what_may_win(n, &steps, &mut read_groups)
        }
    };
    // Only the groups read are weighed (and known to `refine_cuts`).
    let (groups, scores): (Vec<(usize, usize)>, Vec<f32>) =
        groups.iter().zip(&scores).filter_map(|(&g, s)| s.map(|s| (g, s))).unzip();
    // best[j]: the best score of a grouping of atoms [0, j).
    let mut best = vec![f32::NEG_INFINITY; n + 1];
    let mut start = vec![0usize; n + 1];
    best[0] = 0.0;
    // How the best grouping of [0, j) ends: atoms [start[j], j) are one
    // digit, a stray mark left out, or the pair `pair_groups[p]`.
    let mut ending = vec![Ending::Digit; n + 1];
    let leave_out = |best: &mut [f32], start: &mut [usize], ending: &mut [Ending], j: usize| {
        if let Some(from) = stray_from[j] {
            if best[from] - STRAY_COST > best[j] {
                best[j] = best[from] - STRAY_COST;
                start[j] = from;
                ending[j] = Ending::LeftOut;
            }
        }
    };
    // Each candidate, one digit or a pair, as (from, to, score, how it ends).
    let mut candidates: Vec<(usize, usize, f32, Ending)> = groups
        .iter()
        .zip(&scores)
        .map(|(&(i, j), &score)| {
            let total = score
                - if joins(i, j) { JOIN_COST } else { 0.0 }
                - cut_cost_of(i, j)
                - whole_cost_of(i, j)
                - if wide_whole(atoms, i, j, height) { WIDE_WHOLE_COST } else { 0.0 };
            (i, j, total, Ending::Digit)
        })
        .collect();
    // A pair that cannot win even at its best possible score is not read
    // (see `pairs_that_may_win`).
    if !pair_groups.is_empty() {
        let steps: Vec<(usize, usize, f32)> = candidates
            .iter()
            .map(|&(i, j, score, _)| (i, j, score))
            .chain(stray_from.iter().enumerate().filter_map(|(j, from)| from.map(|i| (i, j, -STRAY_COST))))
            .collect();
        let bounds: Vec<f32> = pair_groups.iter().map(|&(i, j)| most_a_pair_scores(cut_cost_of(i, j))).collect();
        let may_win = pairs_that_may_win(n, &steps, &pair_groups, &bounds);
        let mut kept = may_win.iter();
        pair_groups.retain(|_| kept.next().copied().unwrap_or(false));
    }
    let pair_probabilities = match read_pairs {
        Some(read_pairs) if !pair_groups.is_empty() => {
            let inks: Vec<(Bounds, Gray)> = pair_groups.iter().map(|&(i, j)| render(&atoms[i..j])).collect();
            read_pairs(&inks)
        }
        _ => Vec::new(),
    };
    // A reader that answered nothing (or not a row per group) weighs no pair.
    if pair_probabilities.len() != pair_groups.len() * PAIR_CLASSES {
        pair_groups.clear();
    }
    candidates.extend(pair_groups.iter().enumerate().filter_map(|(p, &(i, j))| {
        let row = &pair_probabilities[p * PAIR_CLASSES..(p + 1) * PAIR_CLASSES];
        pair_score(row, cut_cost_of(i, j)).map(|score| (i, j, score, Ending::Pair(p)))
    }));
    // By where they start (a stable sort: the digits' order, then the pairs').
    candidates.sort_by_key(|c| c.0);
    let mut next = candidates.iter().peekable();
    for k in 0..=n {
        // best[k] is final once the groupings ending at k with a stray mark
        // left out are weighed: every candidate ending at k starts before it.
        if k > 0 {
            leave_out(&mut best, &mut start, &mut ending, k);
        }
        while let Some(&&(i, j, score, end)) = next.peek().filter(|c| c.0 == k) {
            next.next();
            if best[i] + score > best[j] {
                best[j] = best[i] + score;
                start[j] = i;
                ending[j] = end;
            }
        }
    }
    if best[n] == f32::NEG_INFINITY {
        return whole_components(atoms).into_iter().map(|(from, to)| Group { from, to, pair: None }).collect();
    }
    let mut out = Vec::new();
    let mut j = n;
    while j > 0 {
        match ending[j] {
            Ending::Digit => out.push(Group { from: start[j], to: j, pair: None }),
            Ending::Pair(p) => out.push(Group {
                from: start[j],
                to: j,
                pair: Some(pair_probabilities[p * PAIR_CLASSES..(p + 1) * PAIR_CLASSES].to_vec()),
            }),
            Ending::LeftOut => {}
        }
        j = start[j];
    }
    out.reverse();
    refine_cuts(atoms, height, &mut out, (&groups, &scores), read);
    out
}

/// How the best grouping of a run of atoms ends (see [`best_grouping`]).
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// With one digit.
    Digit,
    /// With two digits read whole (this pair group).
    Pair(usize),
    /// With a stray mark left out.
    LeftOut,
}

/// Moves each cut between two groups of `grouping` to the fine cut nearby
/// where the two read best together. `tried`: the groups already read and
/// their scores.
fn refine_cuts(
    atoms: &[Atom],
    height: f32,
    grouping: &mut [Group],
    tried: (&[(usize, usize)], &[f32]),
    read: &mut GroupReader<'_>,
) {
    let mut read_here: Vec<((usize, usize), f32)> = Vec::new();
    let window = REFINE_WINDOW * height;
    for k in 1..grouping.len() {
        let ((i, b), (b2, j)) = ((grouping[k - 1].from, grouping[k - 1].to), (grouping[k].from, grouping[k].to));
        let paired = grouping[k - 1].pair.is_some() || grouping[k].pair.is_some();
        if paired || b != b2 || atoms[b - 1].component != atoms[b].component {
            continue;
        }
        let c = atoms[b].component;
        let x = atoms[b].bounds.x0 as f32;
        let moves: Vec<usize> = (i + 1..j)
            .filter(|&m| {
                // Only to a fine cut: the grouping weighed every other cut already.
                m != b
                    && atoms[m].fine
                    && atoms[m - 1].component == c
                    && atoms[m].component == c
                    && (atoms[m].bounds.x0 as f32 - x).abs() <= window
                    && could_be_a_digit(atoms, i, m, height)
                    && could_be_a_digit(atoms, m, j, height)
            })
            .collect();
        if moves.is_empty() {
            continue;
        }
        let known = |g: (usize, usize)| {
            tried
                .0
                .binary_search(&g)
                .ok()
                .map(|p| tried.1[p])
                .or_else(|| read_here.iter().find(|(h, _)| *h == g).map(|&(_, score)| score))
        };
        let (Some(left), Some(right)) = (known((i, b)), known((b, j))) else { continue };
        let inks: Vec<(Bounds, Gray)> =
            moves.iter().flat_map(|&m| [render(&atoms[i..m]), render(&atoms[m..j])]).collect();
        let scores = read(&inks);
        let mut best = (left + right, b);
        for (&m, pair) in moves.iter().zip(scores.chunks_exact(2)) {
            read_here.extend([((i, m), pair[0]), ((m, j), pair[1])]);
            if pair[0] + pair[1] > best.0 {
                best = (pair[0] + pair[1], m);
            }
        }
        grouping[k - 1].to = best.1;
        grouping[k].from = best.1;
    }
}

/// Where the stray mark whose atoms end at `to` begins: a whole component
/// (all its parts, when it was cut) too short to be a digit at line height
/// `height`, which [`best_groups`] may leave out. `None`: no such mark.
fn stray_ending_at(atoms: &[Atom], to: usize, height: f32) -> Option<usize> {
    let c = atoms[to - 1].component;
    let from = atoms[..to].iter().rposition(|a| a.component != c).map_or(0, |k| k + 1);
    let top = atoms[from..to].iter().map(|a| a.bounds.y0).min()?;
    let bottom = atoms[from..to].iter().map(|a| a.bounds.y1).max()?;
    let short = (bottom.saturating_sub(top) as f32) < MIN_HEIGHT * height;
    (short && whole_component(atoms, from, to)).then_some(from)
}

/// One group per component, as the atoms came: each component's atoms
/// `[from, to)` (they are consecutive).
pub(super) fn whole_components(atoms: &[Atom]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (k, atom) in atoms.iter().enumerate() {
        match out.last_mut() {
            Some(last) if atoms[last.0].component == atom.component => last.1 = k + 1,
            _ => out.push((k, k + 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests;
