//! A line's components as atoms (see [`super::group`]): each whole, or, when
//! too wide for one digit and not surely one, cut into the parts between its
//! candidate cut paths (the column profile's valleys, and the places where a
//! narrow path slips between two strokes).

use super::group::{Atom, WIDE_WHOLE};
use super::paths::{path_valleys, separating_path, Patch, PathCosts};
use super::split::{self, candidate_cuts, Profile};
use super::Components;
use crate::preprocess::Gray;

/// How far (in line heights) a cut may stray from its candidate column to
/// follow the gap between two touching digits (see [`separating_path`]).
/// Measured on the 1,000 numbers of bench/numbers.sh (2026-12-04, digit error
/// without / with touching digits): 0 (straight cuts): 3.51 % / 10.14 %,
/// 0.12: 3.32 % / 10.91 %, 0.25: 3.32 % / 10.24 %. Once the path valleys
/// ([`PATH_STEP`]) gave cuts every few columns, narrow paths won (2026-12-05,
/// Intel Xeon, tutorial CNN, judges of the earlier cuts; path valleys every
/// 0.02 line heights): 0.05: 2.24 / 5.24 %, 0.1: 2.00 / 5.51 %, 0.12:
/// 1.90 / 5.54 %, 0.15: 1.80 / 5.78 %, 0.2: 1.85 / 5.88 %, 0.25 (before):
/// 1.95 / 6.85 %, 0.35: 1.95 / 8.03 %, 0.5: 1.76 / 10.34 % (a wide path goes
/// round a whole digit).
const PATH_RADIUS: f32 = 0.12;
/// Path valleys ([`path_valleys`]): where a narrow cut path slips between
/// two strokes leaning the same way (a 7's stem and a 1 beside it, which
/// the column profiles miss). (Taken on every other column of the fine grid
/// instead, they would share its paths and save a third of that work, but
/// the coarse cuts move by a column wherever `0.04 · line height` does not
/// round to twice `0.02 · line height`; the judges, which learn from the
/// groups these cuts make, then changed enough that the browser test's weak
/// one-epoch model called its drawn 0 "not a digit": 2026-12-05.) They are
/// looked for every this many line heights...
const PATH_STEP: f32 = 0.04;
/// ...kept when no other cut is this near (line heights)...
const PATH_SPACING: f32 = 0.08;
/// ...and when the path crosses at most this much ink (ink pixels, in line
/// heights: about three strokes' width).
const PATH_MOST_INK: f32 = 0.3;
/// Fine cuts: the same every this many line heights, kept this near other
/// cuts. The grouping does not start a digit at a fine cut (that would read
/// twice as many groups for 0.3 point), but moves each cut it chose to the
/// fine cut nearby where its two digits read best ([`best_groups`]).
/// Measured on the 1,000 numbers (2026-12-05, Intel Xeon, digit error
/// without / with touching digits, numbers read per second two at a time as
/// `serve` reads, one run each): before 1.95 / 6.85 %, 273; path valleys
/// 1.85 / 5.91 %, 200; and fine cuts 1.85 / 5.64 %, 173; every path valley a
/// cut where a digit may start 1.90 / 5.54 %, 115.
const FINE_STEP: f32 = 0.02;
/// See [`FINE_STEP`].
const FINE_SPACING: f32 = 0.02;
/// Component `index`'s own ink in its bounding box (not that of other
/// components there).
fn patch(ink: &Gray, components: &Components, index: usize) -> Patch {
    let b = components.list[index].bounds;
    let mut own = Gray::filled(b.width(), b.height(), 0.0);
    let label = index as u32 + 1;
    for y in b.y0..b.y1 {
        let labels = &components.label_row(y)[b.x0..b.x1];
        let out = &mut own.data_mut()[(y - b.y0) * b.width()..(y - b.y0 + 1) * b.width()];
        for ((o, &l), &v) in out.iter_mut().zip(labels).zip(&ink.row(y)[b.x0..b.x1]) {
            if l == label {
                *o = v;
            }
        }
    }
    Patch { bounds: b, ink: own }
}

/// A patch's ink column by column.
fn profile(patch: &Patch) -> Profile {
    let (b, w) = (patch.bounds, patch.width());
    let mut p = Profile { x0: b.x0, ink: vec![0; w], top: vec![usize::MAX; w], bottom: vec![0; w] };
    for (y, row) in patch.ink.data().chunks_exact(w.max(1)).enumerate() {
        for (i, _) in row.iter().enumerate().filter(|(_, &v)| v > 0.0) {
            p.ink[i] += 1;
            p.top[i] = p.top[i].min(b.y0 + y);
            p.bottom[i] = b.y0 + y + 1;
        }
    }
    p
}

/// The atoms of components `indices` (component, piece) (see [`super::group`]): in
/// order of their centres, each whole, or, when wider than `wide` line
/// heights, cut into the parts between its candidate cut paths. A component
/// of up to [`WIDE_WHOLE`] line heights is cut only when `sure` (asked once,
/// with all of them) does not say it is surely one digit ([`super::SURE_WHOLE`]).
pub(super) fn line_atoms(
    ink: &Gray,
    components: &Components,
    indices: &[(usize, usize)],
    line_height: f32,
    wide: f32,
    sure: &mut dyn FnMut(&[&Patch]) -> Vec<bool>,
) -> Vec<Atom> {
    // In order of centres: the sort keys are plain integers (twice the centre,
    // then the position), because a sort by a key of its own would add a sort
    // routine of several kilobytes to the WebAssembly module, which is at its
    // size limit (crates/chiffre-web/build.sh); `sort_unstable` of integers is
    // there already.
    let n = indices.len();
    let mut keys: Vec<usize> = indices
        .iter()
        .enumerate()
        .map(|(i, &(k, _))| (components.list[k].bounds.x0 + components.list[k].bounds.x1) * n + i)
        .collect();
    keys.sort_unstable();
    let order: Vec<(usize, usize)> = keys.into_iter().map(|key| indices[key % n]).collect();
    let patches: Vec<Patch> = order.iter().map(|&(k, _)| patch(ink, components, k)).collect();
    // The components wide enough to be cut, but not so wide that they must
    // be several digits, are read whole first: those read surely as one
    // digit stay whole.
    let widths: Vec<f32> = patches.iter().map(|p| p.width() as f32 / line_height).collect();
    let asked: Vec<usize> = (0..patches.len()).filter(|&i| widths[i] > wide && widths[i] <= WIDE_WHOLE).collect();
    let answers =
        if asked.is_empty() { Vec::new() } else { sure(&asked.iter().map(|&i| &patches[i]).collect::<Vec<_>>()) };
    let mut whole: Vec<bool> = widths.iter().map(|&w| w <= wide).collect();
    for (&i, &answer) in asked.iter().zip(&answers) {
        whole[i] = answer;
    }
    let radius = ((PATH_RADIUS * line_height) as usize).max(1);
    let mut out = Vec::new();
    for ((&(k, piece), patch), whole) in order.iter().zip(patches).zip(whole) {
        if whole {
            // Whole: a component's box is its ink's box already.
            out.push(Atom {
                bounds: patch.bounds,
                ink: patch.ink,
                component: k,
                piece,
                fine: false,
                cut_doubt: 0.0,
                whole_doubt: 0.0,
            });
            continue;
        }
        // Cut paths, left to right, each with whether it is a fine one: the
        // column profiles' valleys and the coarse path valleys, then the fine
        // path valleys that are not beside one of them.
        let mut cuts: Vec<(usize, bool)> =
            candidate_cuts(&profile(&patch), line_height).into_iter().map(|c| (c, false)).collect();
        let margin = (split::MIN_WIDTH * line_height).ceil() as usize;
        let most = PATH_MOST_INK * line_height;
        let mut costs = PathCosts::new(&patch, radius);
        for (step, spacing, fine) in [(PATH_STEP, PATH_SPACING, false), (FINE_STEP, FINE_SPACING, true)] {
            let step = ((step * line_height) as usize).max(1);
            for x in path_valleys(&mut costs, (step, margin), most) {
                if cuts.iter().all(|&(c, _)| c.abs_diff(x) as f32 >= spacing * line_height) {
                    cuts.push((x, fine));
                }
            }
        }
        cuts.sort_unstable();
        let mut paths = vec![(patch.straight(patch.bounds.x0), false)];
        paths.extend(cuts.iter().map(|&(c, fine)| (separating_path(&patch, c, radius), fine)));
        paths.push((patch.straight(patch.bounds.x1), false));
        // An atom starts at a fine cut only when every path since the last atom is one.
        let mut coarse = false;
        for pair in paths.windows(2) {
            coarse |= !pair[0].1;
            if let Some((bounds, ink)) = patch.between(&pair[0].0, &pair[1].0) {
                out.push(Atom { bounds, ink, component: k, piece, fine: !coarse, cut_doubt: 0.0, whole_doubt: 0.0 });
                coarse = false;
            }
        }
    }
    out
}
