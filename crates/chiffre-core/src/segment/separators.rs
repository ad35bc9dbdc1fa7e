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

/// A point's ink averaged over its box is at least this (0-1): a pen's dot
/// is a filled blob (a disc fills π/4 of its box), while a faint speck of
/// the paper or a thin crumb of a broken stroke is not. Measured on the
/// 1,000 numbers of bench/numbers.sh (2026-12-04): of the 90 marks taken for
/// points without this test, the 8 faintest (0.18 to 0.27) were specks and
/// crumbs, then a gap, then the drawn points (0.30 to 0.84, most above 0.5;
/// small ones in JPEG pictures are the faintest).
pub const POINT_DARKNESS: f32 = 0.28;

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
    let dark = piece.mass / (w * h).max(1.0) >= POINT_DARKNESS;
    if between && round && dark && w.max(h) <= 0.3 * height && place >= 0.2 && fill >= 0.35 {
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
        Piece {
            components: vec![],
            bounds: Bounds { x0, y0, x1, y1 },
            area: (x1 - x0) * (y1 - y0),
            mass: ((x1 - x0) * (y1 - y0)) as f32,
        }
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
        // Nor faint: a speck of the paper.
        let faint = Piece { mass: 0.2 * 36.0, ..piece(50, 33, 56, 39) };
        assert_eq!(classify(&faint, &line(), true, false), None);
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
