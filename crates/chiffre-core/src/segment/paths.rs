//! Cutting touching digits along the gap between them, not straight down.
//!
//! Two digits that touch or overlap by a few pixels rarely meet in one
//! column: the foot of a 2 runs under the next digit, a slanted 7 leans over
//! it. A straight cut at the column where they meet leaves a sliver of each
//! in the other's piece, and the network then reads neither well. Instead,
//! each candidate column gives a **separating path** ([`separating_path`]):
//! the top-to-bottom path, one column per row moving at most one column
//! between rows and staying within a window around the candidate, that
//! crosses the least ink (a dynamic programme over rows, as in seam
//! carving). It goes around a stroke where it can and through it only where
//! the digits really join. [`Patch::between`] takes the ink between two such
//! paths.

use crate::preprocess::{smaller, Bounds, Gray};

/// What a path pays for each column it strays from its candidate, per row:
/// small, so it only breaks ties between paths that cross as much ink.
const STRAY_COST: f32 = 0.002;
/// What a path pays each time it moves one column between two rows: keeps
/// it straight where the ink does not ask for a turn.
const TURN_COST: f32 = 0.02;

/// One piece's own ink (other pieces' ink left out), in its bounding box.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    /// Where the patch sits in the picture's working pixels.
    pub bounds: Bounds,
    /// Ink (0-1), `bounds`-sized.
    pub ink: Gray,
}

/// A cut through a patch: for each of its rows, top to bottom, the first
/// column (absolute) on the cut's right side. The pixel there is the one the
/// cut crosses.
pub type Path = Vec<usize>;

impl Patch {
    /// The patch's width.
    pub fn width(&self) -> usize {
        self.bounds.width()
    }

    /// The patch's height.
    pub fn height(&self) -> usize {
        self.bounds.height()
    }

    /// The straight path at absolute column `x` (the patch's edges are
    /// `bounds.x0` and `bounds.x1`).
    pub fn straight(&self, x: usize) -> Path {
        vec![x; self.height()]
    }

    /// The ink between `left` and `right` (absolute columns `left[y] ≤ x <
    /// right[y]` in each row), cut to its own ink box: where that box sits
    /// and the ink. `None` when there is no ink between them.
    pub fn between(&self, left: &[usize], right: &[usize]) -> Option<(Bounds, Gray)> {
        let (w, b) = (self.width(), self.bounds);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        for y in 0..self.height() {
            let (from, to) = (left[y].max(b.x0) - b.x0, right[y].min(b.x1).saturating_sub(b.x0));
            for x in from..to.max(from) {
                if self.ink.data()[y * w + x] > 0.0 {
                    (x0, x1, y0, y1) = (x0.min(x), x1.max(x + 1), y0.min(y), y + 1);
                }
            }
        }
        if x0 >= x1 {
            return None;
        }
        let own = Gray::from_fn(x1 - x0, y1 - y0, |x, y| {
            let (px, py) = (x0 + x, y0 + y);
            let inside = px + b.x0 >= left[py] && px + b.x0 < right[py];
            if inside {
                self.ink.data()[py * w + px]
            } else {
                0.0
            }
        });
        let bounds = Bounds { x0: b.x0 + x0, y0: b.y0 + y0, x1: b.x0 + x1, y1: b.y0 + y1 };
        Some((bounds, own))
    }
}

/// The path through `patch` near absolute column `centre` (within `radius`
/// columns of it, and never on the patch's first column) that crosses the
/// least ink, with small costs for straying and turning: see the module
/// documentation. Work: rows × (2·radius + 1) × 3.
pub fn separating_path(patch: &Patch, centre: usize, radius: usize) -> Path {
    separating_path_cost(patch, centre, radius).0
}

/// [`separating_path`] and its cost.
pub fn separating_path_cost(patch: &Patch, centre: usize, radius: usize) -> (Path, f32) {
    let (w, h, x0) = (patch.width(), patch.height(), patch.bounds.x0);
    if h == 0 || w < 2 {
        return (vec![centre; h], 0.0);
    }
    let window = Window::new(patch, centre, radius);
    let (n, lo, c) = (window.columns(), window.lo, window.centre);
    // Each pixel pays its ink plus its stray cost (summed first: the cuts,
    // and the judges fitted on the groups they make, depend on these bits).
    let step = |y: usize, i: usize| patch.ink.data()[y * w + lo + i] + STRAY_COST * (lo + i).abs_diff(c) as f32;
    // cost[i]: the least cost of a path from the top to column lo + i of the row so far.
    let mut cost: Vec<f32> = (0..n).map(|i| step(0, i)).collect();
    let mut from = vec![0u8; h * n]; // 0: from the left, 1: straight above, 2: from the right
    let mut next = vec![0.0f32; n];
    for y in 1..h {
        for i in 0..n {
            let mut best = (cost[i], 1u8);
            if i > 0 && cost[i - 1] + TURN_COST < best.0 {
                best = (cost[i - 1] + TURN_COST, 0);
            }
            if i + 1 < n && cost[i + 1] + TURN_COST < best.0 {
                best = (cost[i + 1] + TURN_COST, 2);
            }
            next[i] = best.0 + step(y, i);
            from[y * n + i] = best.1;
        }
        std::mem::swap(&mut cost, &mut next);
    }
    let mut i = (0..n).min_by(|&a, &b| cost[a].total_cmp(&cost[b]).then(a.abs_diff(c - lo).cmp(&b.abs_diff(c - lo))));
    let total = i.map_or(0.0, |k| cost[k]);
    let mut path = vec![0; h];
    for y in (0..h).rev() {
        let k = i.unwrap_or(0);
        path[y] = x0 + lo + k;
        i = Some(match from[y * n + k] {
            0 => k - 1,
            2 => k + 1,
            _ => k,
        });
    }
    (path, total)
}

/// The cost of [`separating_path`] alone, without the path: the same
/// dynamic programme as [`separating_path_cost`], without remembering where
/// each step came from, which lets it run without branches (each row the
/// minimum of three shifted copies of the last: the compiler vectorises
/// it). The least of three numbers does not depend on which one a tie
/// picks, so the cost is the same to the bit. `buffers` are reused between
/// calls.
fn separating_cost(patch: &Patch, centre: usize, radius: usize, buffers: &mut CostBuffers) -> f32 {
    let (w, h) = (patch.width(), patch.height());
    if h == 0 || w < 2 {
        return 0.0;
    }
    let window = Window::new(patch, centre, radius);
    let (n, lo) = (window.columns(), window.lo);
    let ink = patch.ink.data();
    // Both rows padded with an impossible column on each side.
    let CostBuffers { cost, next, strays } = buffers;
    strays.clear();
    strays.extend((0..n).map(|i| STRAY_COST * (lo + i).abs_diff(window.centre) as f32));
    cost.clear();
    cost.push(f32::INFINITY);
    cost.extend(ink[lo..lo + n].iter().zip(strays.iter()).map(|(v, s)| v + s));
    cost.push(f32::INFINITY);
    next.clear();
    next.resize(n + 2, f32::INFINITY);
    for y in 1..h {
        let row = &ink[y * w + lo..y * w + lo + n];
        // Slices of exactly `n` (no bounds check in the loop) and a minimum
        // without `f32::min`'s NaN handling (costs are never NaN): the loop
        // then runs on whole vectors (it ran one column at a time: 2026-12-06,
        // Intel Xeon, perf while reading numbers two at a time, this function
        // 7.2 → 2.5 % of the time).
        let (left, (middle, right)) = (&cost[..n], (&cost[1..=n], &cost[2..n + 2]));
        let steps = row.iter().zip(&strays[..n]).map(|(v, s)| v + s);
        for ((out, ((&l, &m), &r)), step) in next[1..=n].iter_mut().zip(left.iter().zip(middle).zip(right)).zip(steps) {
            *out = smaller(m, smaller(l, r) + TURN_COST) + step;
        }
        std::mem::swap(cost, next);
    }
    cost[1..=n].iter().copied().fold(f32::INFINITY, f32::min)
}

/// What [`separating_cost`] works in, kept between calls (no allocation per
/// path): the last row's costs, the next row's, each column's stray cost.
#[derive(Default)]
struct CostBuffers {
    cost: Vec<f32>,
    next: Vec<f32>,
    strays: Vec<f32>,
}

/// The columns a separating path may take: `lo..=hi` (relative to the
/// patch), around `centre`, never the first column.
struct Window {
    centre: usize,
    lo: usize,
    hi: usize,
}

impl Window {
    /// For a patch at least 2 columns wide and 1 row high.
    fn new(patch: &Patch, centre: usize, radius: usize) -> Self {
        let (w, x0) = (patch.width(), patch.bounds.x0);
        let c = centre.clamp(x0 + 1, x0 + w - 1) - x0;
        Window { centre: c, lo: c.saturating_sub(radius).max(1), hi: (c + radius).min(w - 1) }
    }

    fn columns(&self) -> usize {
        self.hi - self.lo + 1
    }
}

/// The cost of the path [`separating_path`] finds around each column of a
/// patch (within `radius` columns), each column's computed once: the coarse
/// and the fine path valleys of a component ([`path_valleys`]) share their
/// columns (every coarse column is a fine one when the fine step divides the
/// coarse step, as at every line height under 100 pixels).
pub struct PathCosts<'a> {
    patch: &'a Patch,
    radius: usize,
    /// By column from the patch's left edge; NaN: not computed yet.
    known: Vec<f32>,
    buffers: CostBuffers,
}

impl<'a> PathCosts<'a> {
    /// No cost computed yet.
    pub fn new(patch: &'a Patch, radius: usize) -> Self {
        PathCosts { patch, radius, known: vec![f32::NAN; patch.width()], buffers: CostBuffers::default() }
    }

    /// The cost of the path around absolute column `x`.
    fn at(&mut self, x: usize) -> f32 {
        let k = x - self.patch.bounds.x0;
        if self.known[k].is_nan() {
            self.known[k] = separating_cost(self.patch, x, self.radius, &mut self.buffers);
        }
        self.known[k]
    }
}

/// Columns (absolute), left to right, where a separating path within
/// `costs`' radius crosses less ink than those of its neighbours on a grid
/// of `step` columns, and at most `most` ink: where a narrow path slips
/// between two strokes that lean the same way (a 7's stem and a 1 beside
/// it), which the column profiles of [`super::candidate_cuts`] do not see.
/// None within `margin` columns of either end. Work: (width / step) paths
/// of rows × (2·radius + 1) × 3 steps, costs only (`separating_cost`), none
/// of them computed twice.
pub fn path_valleys(costs: &mut PathCosts<'_>, (step, margin): (usize, usize), most: f32) -> Vec<usize> {
    let bounds = costs.patch.bounds;
    let (x0, x1) = (bounds.x0 + margin, bounds.x1.saturating_sub(margin));
    let xs: Vec<usize> = (x0..x1).step_by(step.max(1)).collect();
    let costs: Vec<f32> = xs.iter().map(|&x| costs.at(x)).collect();
    (0..xs.len())
        .filter(|&i| {
            let left = if i > 0 { costs[i - 1] } else { f32::INFINITY };
            let right = costs.get(i + 1).copied().unwrap_or(f32::INFINITY);
            costs[i] <= left && costs[i] < right && costs[i] <= most
        })
        .map(|i| xs[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(rows: &[&str]) -> Patch {
        let (w, h) = (rows[0].len(), rows.len());
        let ink = rows.iter().flat_map(|r| r.bytes().map(|b| if b == b'#' { 1.0 } else { 0.0 })).collect();
        Patch { bounds: Bounds { x0: 10, y0: 20, x1: 10 + w, y1: 20 + h }, ink: Gray::new(w, h, ink).unwrap() }
    }

    #[test]
    fn the_path_goes_around_an_overhang_and_through_the_joint_only() {
        // Two digits leaning into each other, apart along a diagonal except
        // where they join in the middle row: every straight cut crosses ink in
        // four rows or more, the path only at the joint.
        let p = patch(&[
            "##.######", //
            "###.#####", //
            "#########", //
            "#####.###", //
            "######.##", //
        ]);
        let ink = |y: usize, x: usize| p.ink.get(x - 10, y) > 0.0;
        let straight_best = (11..19).map(|x| (0..5).filter(|&y| ink(y, x)).count()).min();
        assert_eq!(straight_best, Some(4));
        let path = separating_path(&p, 14, 3);
        let crossed = path.iter().enumerate().filter(|&(y, &x)| ink(y, x)).count();
        assert_eq!(crossed, 1, "{path:?}");
        assert_eq!((path[0], path[1], path[3], path[4]), (12, 13, 15, 16), "{path:?}");
    }

    #[test]
    fn between_two_paths_is_the_ink_of_that_region_only() {
        let p = patch(&["##..##", "##..##"]);
        let left = p.straight(10);
        let cut = separating_path(&p, 13, 1);
        assert!(cut.iter().all(|&x| x == 12 || x == 13), "{cut:?}");
        let (bounds, ink) = p.between(&left, &cut).expect("ink on the left");
        assert_eq!(bounds, Bounds { x0: 10, y0: 20, x1: 12, y1: 22 });
        assert!(ink.data().iter().all(|&v| v == 1.0));
        let right = p.straight(16);
        let (bounds, _) = p.between(&cut, &right).expect("ink on the right");
        assert_eq!((bounds.x0, bounds.x1), (14, 16));
        assert!(p.between(&left, &left).is_none());
    }

    #[test]
    fn a_path_valley_slips_between_two_strokes_leaning_the_same_way() {
        // A 7-like stroke and a 1 leaning right beside it, joined by a bar on
        // top: every column holds ink (no column profile valley), but a
        // slanted path crosses only the bar.
        let rows: Vec<String> = (0..12)
            .map(|y| {
                let mut r = vec![b'.'; 16];
                if y == 0 {
                    r[..12].fill(b'#');
                }
                let lean = (11 - y) / 3;
                r[2 + lean] = b'#';
                r[3 + lean] = b'#';
                r[8 + lean] = b'#';
                r[9 + lean] = b'#';
                String::from_utf8(r).unwrap()
            })
            .collect();
        let p = patch(&rows.iter().map(String::as_str).collect::<Vec<_>>());
        // Every column from 2 to 12 holds ink: no straight cut between the strokes.
        assert!((12..23).all(|x| (0..12).any(|y| p.ink.get(x - 10, y) > 0.0)));
        let between = |path: &Path| {
            path.iter().enumerate().all(|(y, &c)| {
                let lean = (11 - y) / 3;
                c > 10 + 3 + lean && c <= 10 + 8 + lean
            })
        };
        let found = path_valleys(&mut PathCosts::new(&p, 3), (1, 2), 2.0);
        let inside: Vec<usize> = found.iter().copied().filter(|&x| between(&separating_path(&p, x, 3))).collect();
        assert!(!inside.is_empty(), "{found:?}");
        // It crosses the bar only.
        assert!(inside.iter().all(|&x| separating_path_cost(&p, x, 3).1 < 2.0));
        // A path crossing more ink than allowed is no valley.
        let strict = path_valleys(&mut PathCosts::new(&p, 3), (1, 2), 0.5);
        assert!(strict.iter().all(|&x| !between(&separating_path(&p, x, 3))), "{strict:?}");
    }

    #[test]
    fn the_cost_alone_is_the_cost_of_the_path_to_the_bit() {
        // Random grey patches (a small xorshift: no dependency), every centre and a few radii.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut buffers = CostBuffers::default();
        for _ in 0..40 {
            let (w, h) = (1 + (next() % 30) as usize, 1 + (next() % 30) as usize);
            let ink = (0..w * h).map(|_| if next() % 3 == 0 { (next() % 256) as f32 / 255.0 } else { 0.0 }).collect();
            let p = Patch { bounds: Bounds { x0: 7, y0: 3, x1: 7 + w, y1: 3 + h }, ink: Gray::new(w, h, ink).unwrap() };
            for centre in 5..w + 10 {
                for radius in [0, 1, 3, 8] {
                    let (path, cost) = separating_path_cost(&p, centre, radius);
                    assert_eq!(path.len(), h);
                    let alone = separating_cost(&p, centre, radius, &mut buffers);
                    assert_eq!(alone.to_bits(), cost.to_bits(), "{w}×{h}, centre {centre}, radius {radius}");
                }
            }
        }
    }

    #[test]
    fn a_tiny_patch_gives_a_path_without_panicking() {
        for rows in [&["#"][..], &["##"], &["#", "#"]] {
            let p = patch(rows);
            let path = separating_path(&p, 10, 4);
            assert_eq!(path.len(), rows.len());
            assert!(path.iter().all(|&x| x >= 10 && x <= 10 + rows[0].len()));
        }
    }
}
