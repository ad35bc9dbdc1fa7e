//! Marks that are not digits but belong in a number: a decimal point (a
//! small round blob on the baseline between two digits, written `.`) and a
//! minus sign (a short horizontal stroke at mid-height, written `-`, before
//! or between digits).

use super::lines::Line;
use super::Piece;

/// A separator's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Separator {
    /// `.`
    Point,
    /// `-`
    Minus,
}

impl Separator {
    /// How it is written in a number.
    pub fn symbol(self) -> char {
        match self {
            Separator::Point => '.',
            Separator::Minus => '-',
        }
    }
}

/// What a small piece of a line is, from its shape and place alone; `None`
/// for a piece that must be read (a digit, or a mark to judge).
/// `between` says whether digit-sized pieces stand on both sides of it in
/// the line, `leading` whether only on its right.
pub fn classify(piece: &Piece, line: &Line, between: bool, leading: bool) -> Option<Separator> {
    let (w, h) = (piece.bounds.width() as f32, piece.bounds.height() as f32);
    let height = line.height.max(1.0);
    let (x, y) = piece.centre();
    // 0 on the centre line, +0.5 on the baseline, -0.5 on the top line.
    let place = (y - line.centre_at(x)) / height;
    let fill = piece.area as f32 / (w * h).max(1.0);
    let round = w <= 2.5 * h && h <= 2.5 * w;
    if between && round && w.max(h) <= 0.3 * height && place >= 0.2 && fill >= 0.35 {
        return Some(Separator::Point);
    }
    let flat = w >= 2.0 * h && h <= 0.3 * height && (0.2 * height..=1.0 * height).contains(&w);
    if (between || leading) && flat && place.abs() <= 0.25 {
        return Some(Separator::Minus);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::Bounds;

    fn piece(x0: usize, y0: usize, x1: usize, y1: usize) -> Piece {
        Piece { components: vec![], bounds: Bounds { x0, y0, x1, y1 }, area: (x1 - x0) * (y1 - y0) }
    }

    fn line() -> Line {
        Line { pieces: vec![], height: 40.0, intercept: 20.0, slope: 0.0 }
    }

    #[test]
    fn a_low_round_blob_between_digits_is_a_point() {
        assert_eq!(classify(&piece(50, 33, 56, 39), &line(), true, false), Some(Separator::Point));
        // Not at the end of a number, nor high up, nor big.
        assert_eq!(classify(&piece(50, 33, 56, 39), &line(), false, false), None);
        assert_eq!(classify(&piece(50, 10, 56, 16), &line(), true, false), None);
        assert_eq!(classify(&piece(50, 20, 70, 40), &line(), true, false), None);
    }

    #[test]
    fn a_short_stroke_at_mid_height_is_a_minus() {
        assert_eq!(classify(&piece(50, 18, 70, 23), &line(), true, false), Some(Separator::Minus));
        assert_eq!(classify(&piece(50, 18, 70, 23), &line(), false, true), Some(Separator::Minus));
        // On the baseline it is an underline, not a minus; trailing, nothing.
        assert_eq!(classify(&piece(50, 36, 70, 40), &line(), true, false), None);
        assert_eq!(classify(&piece(50, 18, 70, 23), &line(), false, false), None);
    }
}
