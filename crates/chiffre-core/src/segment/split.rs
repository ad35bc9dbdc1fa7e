//! Touching digits, cut apart by what the network reads (recognition-driven
//! segmentation). A piece too wide for one digit may hold two or more:
//!
//! 1. [`candidate_cuts`]: columns where a cut is plausible, the valleys of the
//!    vertical projection (few ink pixels in the column) and of the contours
//!    (the upper outline dipping down, the lower one rising up), at most
//!    [`MAX_CANDIDATES`] of them;
//! 2. [`best_segments`]: every run between two candidate columns that is wide
//!    enough and not too wide for a digit is read by the network once (one
//!    batch), and a dynamic programme keeps the set of cuts whose pieces the
//!    network reads with the highest joint (log) probability, less a small
//!    cost per cut. The whole piece, uncut, is always one of the choices.
//!
//! Work is bounded: at most `(MAX_CANDIDATES + 2)² / 2` readings per piece.

/// At most this many candidate cuts per piece.
pub const MAX_CANDIDATES: usize = 12;
/// A cut-out digit is at least this many line heights wide (a "1").
const MIN_WIDTH: f32 = 0.12;
/// A cut-out digit is at most this many line heights wide.
const MAX_WIDTH: f32 = 1.25;
/// Candidate cuts closer than this many line heights are one.
const MIN_SPACING: f32 = 0.08;
/// The log-probability a cut costs. Measured on generated numbers
/// (`tests/numbers.rs`), any cost above 0 lost more touching pairs than it
/// saved single digits from being cut: the network's joint reading decides alone.
pub const CUT_COST: f32 = 0.0;

/// Reads column runs `[from, to)` of a piece: for each, the log-probability
/// that it is one digit (−∞ for a run without ink).
pub type RunReader<'a> = dyn FnMut(&[(usize, usize)]) -> Vec<f32> + 'a;

/// A piece's ink seen column by column.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// The first column.
    pub x0: usize,
    /// Ink pixels in each column.
    pub ink: Vec<u32>,
    /// The first row with ink in each column (`usize::MAX` when none).
    pub top: Vec<usize>,
    /// One past the last row with ink in each column (0 when none).
    pub bottom: Vec<usize>,
}

/// The columns `i` whose `value` is the least in the window `i ± radius` and
/// less than the most there (a valley, not a flat stretch); a flat valley
/// bottom gives its middle column.
fn valleys(value: &[i64], radius: usize) -> Vec<usize> {
    let n = value.len();
    let mut marks = vec![false; n];
    for i in 0..n {
        let window = &value[i.saturating_sub(radius)..(i + radius + 1).min(n)];
        let (lo, hi) = (window.iter().min().copied(), window.iter().max().copied());
        marks[i] = Some(value[i]) == lo && lo < hi;
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if marks[i] {
            let start = i;
            while i < n && marks[i] && value[i] == value[start] {
                i += 1;
            }
            out.push((start + i - 1) / 2);
        } else {
            i += 1;
        }
    }
    out
}

/// Plausible cut columns (absolute), left to right, at line height `height`:
/// see the module documentation. None closer than a thin digit's width to
/// either end.
pub fn candidate_cuts(profile: &Profile, height: f32) -> Vec<usize> {
    let n = profile.ink.len();
    let radius = ((MIN_SPACING * height) as usize).max(1);
    let ink: Vec<i64> = profile.ink.iter().map(|&v| i64::from(v)).collect();
    // The upper outline dips down: a valley of -top. The lower one rises: a valley of bottom.
    let top: Vec<i64> = profile.top.iter().map(|&t| if t == usize::MAX { i64::MIN / 2 } else { -(t as i64) }).collect();
    let bottom: Vec<i64> = profile.bottom.iter().map(|&b| b as i64).collect();
    let margin = (MIN_WIDTH * height).ceil() as usize;
    let mut found: Vec<usize> = [valleys(&ink, radius), valleys(&top, radius), valleys(&bottom, radius)]
        .concat()
        .into_iter()
        .filter(|&i| i >= margin && i + margin <= n)
        .collect();
    // Fewest ink pixels first; drop those near one already kept.
    found.sort_by_key(|&i| (profile.ink[i], i));
    let mut kept: Vec<usize> = Vec::new();
    for i in found {
        if kept.len() < MAX_CANDIDATES && kept.iter().all(|&k| k.abs_diff(i) as f32 >= MIN_SPACING * height) {
            kept.push(i);
        }
    }
    kept.sort_unstable();
    kept.into_iter().map(|i| profile.x0 + i).collect()
}

/// The column runs `[from, to)` that the best reading cuts the piece
/// `[x0, x1)` into, left to right, given candidate `cuts` strictly inside it
/// and the line height `height`. `read` is called once with every run to try
/// and returns for each the log-probability that it is one digit (−∞ for a
/// run without ink).
pub fn best_segments(
    x0: usize,
    x1: usize,
    cuts: &[usize],
    height: f32,
    read: &mut RunReader<'_>,
) -> Vec<(usize, usize)> {
    let points: Vec<usize> = std::iter::once(x0).chain(cuts.iter().copied()).chain(std::iter::once(x1)).collect();
    let last = points.len() - 1;
    let mut runs: Vec<(usize, usize)> = Vec::new(); // indices into points
    for i in 0..last {
        for j in i + 1..=last {
            let width = (points[j] - points[i]) as f32;
            let whole = i == 0 && j == last;
            if whole || (width >= MIN_WIDTH * height && width <= MAX_WIDTH * height) {
                runs.push((i, j));
            }
        }
    }
    let columns: Vec<(usize, usize)> = runs.iter().map(|&(i, j)| (points[i], points[j])).collect();
    let scores = read(&columns);
    // best[j]: the best score of a reading of [x0, points[j]) ending with a cut at j.
    let mut best = vec![f32::NEG_INFINITY; last + 1];
    let mut from = vec![0usize; last + 1];
    best[0] = 0.0;
    for (&(i, j), &score) in runs.iter().zip(&scores) {
        // runs are sorted by i, so best[i] is final when used.
        let cost = if j == last { 0.0 } else { CUT_COST };
        let total = best[i] + score - cost;
        if total > best[j] {
            best[j] = total;
            from[j] = i;
        }
    }
    if best[last] == f32::NEG_INFINITY {
        return vec![(x0, x1)];
    }
    let mut segments = Vec::new();
    let mut j = last;
    while j > 0 {
        segments.push((points[from[j]], points[j]));
        j = from[j];
    }
    segments.reverse();
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(ink: &[u32]) -> Profile {
        Profile { x0: 100, ink: ink.to_vec(), top: vec![0; ink.len()], bottom: vec![40; ink.len()] }
    }

    #[test]
    fn the_thin_bridge_between_two_blobs_is_a_candidate() {
        // Two 20-column blobs joined by a 2-pixel bridge at columns 20-22.
        let ink: Vec<u32> = (0..43).map(|x| if (20..23).contains(&x) { 2 } else { 30 }).collect();
        let cuts = candidate_cuts(&profile(&ink), 40.0);
        assert_eq!(cuts, vec![121]);
    }

    #[test]
    fn no_candidate_near_the_ends_or_in_flat_ink() {
        let cuts = candidate_cuts(&profile(&[1, 5, 9, 9, 9, 9, 9, 5, 1]), 40.0);
        assert!(cuts.is_empty(), "{cuts:?}");
    }

    #[test]
    fn the_programme_keeps_the_cuts_that_read_best() {
        // A reader that likes runs 0-20 and 20-40 and dislikes everything else.
        let mut read = |runs: &[(usize, usize)]| {
            runs.iter().map(|&r| if r == (0, 20) || r == (20, 40) { -0.01 } else { -3.0 }).collect::<Vec<f32>>()
        };
        assert_eq!(best_segments(0, 40, &[10, 20, 30], 40.0, &mut read), vec![(0, 20), (20, 40)]);
        // When the whole piece reads better than its halves together, it stays whole.
        let mut whole = |runs: &[(usize, usize)]| {
            runs.iter().map(|&r| if r == (0, 40) { -0.05 } else { -0.1 }).collect::<Vec<f32>>()
        };
        assert_eq!(best_segments(0, 40, &[20], 40.0, &mut whole), vec![(0, 40)]);
    }

    #[test]
    fn without_ink_anywhere_the_piece_stays_whole() {
        let mut nothing = |runs: &[(usize, usize)]| vec![f32::NEG_INFINITY; runs.len()];
        assert_eq!(best_segments(5, 45, &[25], 40.0, &mut nothing), vec![(5, 45)]);
    }
}
