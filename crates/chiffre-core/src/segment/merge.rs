//! Pieces of ink that belong to one digit, put together: a 5's detached top
//! bar, a 4 drawn in two strokes, a stroke broken by a dry pen, the two loops
//! of a thin 8. Two components are one digit when they overlap horizontally
//! (by half the narrower one's width), are close vertically and, together,
//! are no taller and no wider than one digit of the picture's height. A
//! small round blob low under a digit is left alone: it may be a decimal point.

use super::components::Component;
use super::Piece;
use crate::preprocess::Bounds;

/// Together, two pieces are at most this many digit heights tall.
const MAX_HEIGHT: f32 = 1.3;
/// Together, two pieces are at most this many times as wide as the digit
/// height (or as they are tall together, when taller).
const MAX_WIDTH: f32 = 1.1;
/// The gap between two pieces of one digit is at most this many digit heights.
const MAX_GAP: f32 = 0.35;
/// They overlap horizontally by at least this fraction of the narrower one.
const MIN_OVERLAP: f32 = 0.5;

/// The smallest box holding both.
pub fn union(a: Bounds, b: Bounds) -> Bounds {
    Bounds { x0: a.x0.min(b.x0), y0: a.y0.min(b.y0), x1: a.x1.max(b.x1), y1: a.y1.max(b.y1) }
}

/// Pixels that both boxes cover horizontally (0 when apart).
pub fn horizontal_overlap(a: Bounds, b: Bounds) -> usize {
    a.x1.min(b.x1).saturating_sub(a.x0.max(b.x0))
}

/// True when `small` looks like a decimal point under `big`: small, round
/// and below the lower fifth of `big`'s height.
fn looks_like_a_point_under(small: Bounds, big: Bounds, height: f32) -> bool {
    let (w, h) = (small.width() as f32, small.height() as f32);
    let round = w <= 3.0 * h && h <= 3.0 * w;
    let centre = (small.y0 + small.y1) as f32 / 2.0;
    round && w.max(h) <= 0.3 * height && centre >= big.y0 as f32 + 0.8 * big.height() as f32
}

/// True when components `a` and `b` are pieces of one digit at this digit height.
pub fn same_digit(a: &Component, b: &Component, height: f32) -> bool {
    let (ba, bb) = (a.bounds, b.bounds);
    let narrower = ba.width().min(bb.width()) as f32;
    if (horizontal_overlap(ba, bb) as f32) < MIN_OVERLAP * narrower {
        return false;
    }
    let both = union(ba, bb);
    let (tall, wide) = (both.height() as f32, both.width() as f32);
    if tall > MAX_HEIGHT * height || wide > MAX_WIDTH * tall.max(height) {
        return false;
    }
    let gap = ba.y0.max(bb.y0).saturating_sub(ba.y1.min(bb.y1));
    if gap as f32 > MAX_GAP * height {
        return false;
    }
    let (small, big) = if a.area < b.area { (ba, bb) } else { (bb, ba) };
    !looks_like_a_point_under(small, big, height)
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Groups `components` into pieces, one per digit (or mark): components that
/// are [`same_digit`] at digit height `height` go together (transitively).
/// Pieces come in the order of their first component.
pub fn merge_pieces(components: &[Component], height: f32) -> Vec<Piece> {
    let n = components.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for i in 0..n {
        for j in i + 1..n {
            if same_digit(&components[i], &components[j], height) {
                let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
                parent[ri.max(rj)] = ri.min(rj);
            }
        }
    }
    let mut pieces: Vec<Piece> = Vec::new();
    let mut piece_of_root = vec![usize::MAX; n];
    for (i, component) in components.iter().enumerate() {
        let root = find(&mut parent, i);
        if piece_of_root[root] == usize::MAX {
            piece_of_root[root] = pieces.len();
            pieces.push(Piece::of(i, component));
        } else {
            pieces[piece_of_root[root]].add(i, component);
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(x0: usize, y0: usize, x1: usize, y1: usize) -> Component {
        Component { bounds: Bounds { x0, y0, x1, y1 }, area: (x1 - x0) * (y1 - y0), mass: 1.0 }
    }

    #[test]
    fn a_fives_top_bar_joins_its_body_and_neighbours_stay_apart() {
        // Digit height 40: a 5's bar above its body, then a 7 to the right.
        let bar = component(12, 0, 30, 5);
        let body = component(10, 8, 30, 40);
        let seven = component(36, 0, 60, 40);
        let pieces = merge_pieces(&[bar, body, seven], 40.0);
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        assert_eq!(pieces[0].components, vec![0, 1]);
        assert_eq!(pieces[0].bounds, Bounds { x0: 10, y0: 0, x1: 30, y1: 40 });
        assert_eq!(pieces[1].components, vec![2]);
    }

    #[test]
    fn two_lines_of_digits_are_not_merged() {
        let top = component(10, 0, 30, 40);
        let below = component(12, 50, 30, 90);
        assert!(!same_digit(&top, &below, 40.0));
    }

    #[test]
    fn a_decimal_point_under_a_digit_is_left_alone() {
        let digit = component(10, 0, 30, 40);
        let point = component(24, 36, 30, 42);
        assert!(!same_digit(&digit, &point, 40.0));
        // A stroke's broken lower end, elongated, is merged.
        let tail = component(12, 36, 30, 41);
        assert!(same_digit(&digit, &tail, 40.0));
    }
}
