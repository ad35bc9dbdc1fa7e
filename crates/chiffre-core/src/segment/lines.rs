//! Lines of writing: which pieces sit side by side, top to bottom, each line
//! left to right. A line may be slanted (up to about ±10° and more): pieces
//! are chained to their neighbours, not to one horizontal band.
//!
//! 1. *Bodies* (pieces at least half the digit height tall) are linked when
//!    they overlap vertically by half the smaller one's height and are at most
//!    [`MAX_GAP`] heights apart horizontally;
//! 2. chains that continue each other (one ends left of where the other
//!    starts, and the first one's straight line passes through the second
//!    one's first body) are joined;
//! 3. every smaller piece (a decimal point, a minus, a stray mark) goes to the
//!    line whose straight line passes nearest its centre.

use super::merge::horizontal_overlap;
use super::Piece;

/// Bodies further apart horizontally than this many digit heights are not
/// linked directly.
pub const MAX_GAP: f32 = 2.0;
/// A small piece further than this many line heights from every line's
/// centre line is not part of any.
const MAX_DISTANCE: f32 = 0.9;
/// The steepest line considered (tan 20°).
const MAX_SLOPE: f32 = 0.364;

/// One line of writing.
#[derive(Clone, Debug)]
pub struct Line {
    /// Its pieces, left to right.
    pub pieces: Vec<Piece>,
    /// The median height of its bodies.
    pub height: f32,
    /// Its centre line: `y = intercept + slope · x`, fitted to its bodies' centres.
    pub intercept: f32,
    /// See `intercept`.
    pub slope: f32,
}

impl Line {
    /// The centre line's height at column `x`.
    pub fn centre_at(&self, x: f32) -> f32 {
        self.intercept + self.slope * x
    }
}

/// The typical digit height of a picture: the median height of the pieces at
/// least half as tall as the tallest (so that points, minus signs and specks
/// do not count). 0 when there are none.
pub fn typical_height(heights: impl Iterator<Item = usize>) -> f32 {
    let mut heights: Vec<usize> = heights.collect();
    let tallest = heights.iter().copied().max().unwrap_or(0);
    heights.retain(|&h| 2 * h >= tallest);
    heights.sort_unstable();
    heights.get(heights.len() / 2).map_or(0.0, |&h| h as f32)
}

fn vertical_overlap(a: &Piece, b: &Piece) -> usize {
    a.bounds.y1.min(b.bounds.y1).saturating_sub(a.bounds.y0.max(b.bounds.y0))
}

fn horizontal_gap(a: &Piece, b: &Piece) -> usize {
    b.bounds.x0.saturating_sub(a.bounds.x1).max(a.bounds.x0.saturating_sub(b.bounds.x1))
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Least-squares straight line through the centres: (intercept, slope), the
/// slope clamped to ±[`MAX_SLOPE`]; a single centre gives a flat line.
fn fit(centres: &[(f32, f32)]) -> (f32, f32) {
    let n = centres.len() as f32;
    let (mx, my) = centres.iter().fold((0.0, 0.0), |(sx, sy), &(x, y)| (sx + x / n, sy + y / n));
    let (sxy, sxx) = centres.iter().fold((0.0, 0.0), |(a, b), &(x, y)| (a + (x - mx) * (y - my), b + (x - mx).powi(2)));
    let slope = if sxx > 0.0 { (sxy / sxx).clamp(-MAX_SLOPE, MAX_SLOPE) } else { 0.0 };
    (my - slope * mx, slope)
}

fn line_of(mut bodies: Vec<Piece>) -> Line {
    bodies.sort_by(|a, b| a.centre().0.total_cmp(&b.centre().0));
    let centres: Vec<(f32, f32)> = bodies.iter().map(Piece::centre).collect();
    let (intercept, slope) = fit(&centres);
    let height = typical_height(bodies.iter().map(|p| p.bounds.height()));
    Line { pieces: bodies, height, intercept, slope }
}

/// True when line `b` continues line `a` to the right: `a` ends before `b`
/// starts and `a`'s centre line passes through `b`'s first piece.
fn continues(a: &Line, b: &Line) -> bool {
    let (Some(last), Some(first)) = (a.pieces.last(), b.pieces.first()) else { return false };
    if horizontal_overlap(last.bounds, first.bounds) > 0 || first.bounds.x0 < last.bounds.x0 {
        return false;
    }
    let (x, y) = first.centre();
    (a.centre_at(x) - y).abs() <= 0.4 * a.height.max(b.height)
}

/// Sorts `pieces` into lines (top to bottom, each left to right) at digit
/// height `height`. Small pieces near no line are returned apart, as strays.
pub fn find_lines(pieces: Vec<Piece>, height: f32) -> (Vec<Line>, Vec<Piece>) {
    let (bodies, small): (Vec<Piece>, Vec<Piece>) =
        pieces.into_iter().partition(|p| 2.0 * p.bounds.height() as f32 >= height);
    let n = bodies.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (&bodies[i], &bodies[j]);
            let lower = a.bounds.height().min(b.bounds.height());
            let near = horizontal_gap(a, b) as f32 <= MAX_GAP * height;
            if near && 2 * vertical_overlap(a, b) >= lower {
                let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
                parent[ri.max(rj)] = ri.min(rj);
            }
        }
    }
    let mut groups: Vec<Vec<Piece>> = vec![Vec::new(); n];
    for (i, body) in bodies.into_iter().enumerate() {
        let root = find(&mut parent, i);
        groups[root].push(body);
    }
    let mut lines: Vec<Line> = groups.into_iter().filter(|g| !g.is_empty()).map(line_of).collect();
    // Join lines that continue each other (a slanted line with a wide gap).
    'joining: loop {
        for i in 0..lines.len() {
            for j in 0..lines.len() {
                if i != j && continues(&lines[i], &lines[j]) {
                    let b = lines.remove(j.max(i));
                    let a = lines.remove(j.min(i));
                    let pieces = a.pieces.into_iter().chain(b.pieces).collect();
                    lines.push(line_of(pieces));
                    continue 'joining;
                }
            }
        }
        break;
    }
    let mut strays = Vec::new();
    for piece in small {
        let (x, y) = piece.centre();
        let nearest = lines
            .iter()
            .enumerate()
            .map(|(k, line)| (k, (line.centre_at(x) - y).abs() / line.height.max(1.0)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match nearest {
            Some((k, distance)) if distance <= MAX_DISTANCE => lines[k].pieces.push(piece),
            _ => strays.push(piece),
        }
    }
    for line in &mut lines {
        line.pieces.sort_by(|a, b| a.centre().0.total_cmp(&b.centre().0));
    }
    let mean_y = |l: &Line| {
        let bodies: Vec<f32> =
            l.pieces.iter().filter(|p| 2.0 * p.bounds.height() as f32 >= height).map(|p| p.centre().1).collect();
        bodies.iter().sum::<f32>() / bodies.len().max(1) as f32
    };
    lines.sort_by(|a, b| mean_y(a).total_cmp(&mean_y(b)));
    (lines, strays)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::Bounds;

    fn piece(x0: usize, y0: usize, x1: usize, y1: usize) -> Piece {
        Piece {
            components: vec![],
            bounds: Bounds { x0, y0, x1, y1 },
            area: (x1 - x0) * (y1 - y0),
            mass: ((x1 - x0) * (y1 - y0)) as f32,
        }
    }

    fn xs(line: &Line) -> Vec<usize> {
        line.pieces.iter().map(|p| p.bounds.x0).collect()
    }

    #[test]
    fn two_lines_top_to_bottom_each_left_to_right() {
        let pieces = vec![piece(60, 100, 80, 140), piece(0, 0, 20, 40), piece(30, 2, 50, 42), piece(0, 98, 20, 138)];
        let (lines, strays) = find_lines(pieces, 40.0);
        assert!(strays.is_empty());
        assert_eq!(lines.len(), 2);
        assert_eq!(xs(&lines[0]), vec![0, 30]);
        assert_eq!(xs(&lines[1]), vec![0, 60]);
    }

    #[test]
    fn a_line_slanted_by_ten_degrees_is_one_line() {
        // Eight digits 40 tall, 30 apart, each 5.3 px lower than the last (tan 10° · 30).
        let pieces: Vec<Piece> = (0..8)
            .map(|i| piece(30 * i, 100 + (i as f32 * 5.3) as usize, 30 * i + 20, 140 + (i as f32 * 5.3) as usize))
            .collect();
        let (lines, _) = find_lines(pieces, 40.0);
        assert_eq!(lines.len(), 1);
        assert_eq!(xs(&lines[0]), (0..8).map(|i| 30 * i).collect::<Vec<_>>());
        assert!((lines[0].slope - 0.176).abs() < 0.02, "{}", lines[0].slope);
    }

    #[test]
    fn a_wide_gap_in_a_line_keeps_one_line_and_a_point_joins_it() {
        let pieces =
            vec![piece(0, 0, 20, 40), piece(300, 0, 320, 40), piece(25, 34, 30, 39), piece(500, 300, 505, 305)];
        let (lines, strays) = find_lines(pieces, 40.0);
        assert_eq!(lines.len(), 1);
        assert_eq!(xs(&lines[0]), vec![0, 25, 300]);
        assert_eq!(strays.len(), 1);
    }

    #[test]
    fn typical_height_ignores_small_marks() {
        assert_eq!(typical_height([40, 42, 5, 6, 38, 4].into_iter()), 40.0);
        assert_eq!(typical_height(std::iter::empty()), 0.0);
    }
}
