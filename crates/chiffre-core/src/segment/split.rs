//! Where touching digits may be cut apart. A component too wide for one
//! digit may hold two or more: [`candidate_cuts`] gives the columns where a
//! cut is plausible, the valleys of the vertical projection (few ink pixels
//! in the column) and of the contours (the upper outline dipping down, the
//! lower one rising up), at most [`MAX_CANDIDATES`] of them. Each becomes a
//! path along the gap ([`super::separating_path`]), and the network decides
//! which cuts to keep ([`super::best_groups`]).

/// At most this many candidate cuts per piece.
pub const MAX_CANDIDATES: usize = 12;
/// A cut-out digit is at least this many line heights wide (a "1"): no cut
/// of any kind (column valleys here, path valleys in [`super::atoms`]) is
/// nearer than this to a component's ends.
pub(super) const MIN_WIDTH: f32 = 0.12;
/// Candidate cuts closer than this many line heights are one.
const MIN_SPACING: f32 = 0.08;

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
}
