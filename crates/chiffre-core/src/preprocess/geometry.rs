//! Steps 2, 5, 6 and 7: shrinking huge pictures, cropping to the ink,
//! scaling into the 20-pixel box and placing by the centre of mass.

use super::{resample, Gray};

/// A rectangle of pixels: columns `x0..x1`, rows `y0..y1` (ends excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// First column.
    pub x0: usize,
    /// First row.
    pub y0: usize,
    /// One past the last column.
    pub x1: usize,
    /// One past the last row.
    pub y1: usize,
}

impl Bounds {
    /// Columns covered.
    pub fn width(&self) -> usize {
        self.x1 - self.x0
    }

    /// Rows covered.
    pub fn height(&self) -> usize {
        self.y1 - self.y0
    }
}

/// The size with the longer side `side` and the aspect ratio of `w`×`h`
/// (the shorter side rounded, at least 1).
fn fit(w: usize, h: usize, side: usize) -> (usize, usize) {
    let longer = w.max(h).max(1) as f64;
    let scaled = |n: usize| ((n as f64 * side as f64 / longer).round() as usize).max(1);
    (scaled(w), scaled(h))
}

/// Shrinks (area averaging) a picture whose longer side exceeds `max_side`
/// so that it is `max_side`, keeping the aspect ratio; smaller ones are
/// returned as they are. Bounds the time and memory of the later steps on
/// large photos without changing the 20-pixel result noticeably.
pub fn shrink_to(gray: &Gray, max_side: usize) -> Gray {
    if gray.width().max(gray.height()) <= max_side {
        return gray.clone();
    }
    let (w, h) = fit(gray.width(), gray.height(), max_side);
    resample(gray, w, h)
}

/// The bounding box of the pixels brighter than `above`; `None` if there are none.
pub fn ink_bounds(ink: &Gray, above: f32) -> Option<Bounds> {
    let mut b: Option<Bounds> = None;
    for y in 0..ink.height() {
        let row = ink.row(y);
        let (Some(first), Some(last)) = (row.iter().position(|&v| v > above), row.iter().rposition(|&v| v > above))
        else {
            continue;
        };
        b = Some(match b {
            None => Bounds { x0: first, y0: y, x1: last + 1, y1: y + 1 },
            Some(b) => Bounds { x0: b.x0.min(first), y0: b.y0, x1: b.x1.max(last + 1), y1: y + 1 },
        });
    }
    b
}

/// The part of `gray` inside `bounds` (clipped to the picture).
pub fn crop(gray: &Gray, bounds: Bounds) -> Gray {
    let (x1, y1) = (bounds.x1.min(gray.width()), bounds.y1.min(gray.height()));
    let (x0, y0) = (bounds.x0.min(x1), bounds.y0.min(y1));
    let data = (y0..y1).flat_map(|y| gray.row(y)[x0..x1].iter().copied()).collect();
    Gray::new(x1 - x0, y1 - y0, data).unwrap_or_else(|| Gray::filled(0, 0, 0.0))
}

/// Scales `gray` so that its longer side is `side` pixels, keeping the aspect
/// ratio (the shorter side is rounded and at least 1 pixel), with
/// [`resample`]: area averaging when shrinking (anti-aliasing), bilinear when
/// enlarging.
pub fn scale_to_box(gray: &Gray, side: usize) -> Gray {
    let (w, h) = fit(gray.width(), gray.height(), side);
    resample(gray, w, h)
}

/// The intensity-weighted centre of mass, `(column, row)` in pixel indices
/// (pixel `i` is at `i`); `None` when the picture holds no ink.
pub fn centre_of_mass(ink: &Gray) -> Option<(f32, f32)> {
    let (mut mass, mut sx, mut sy) = (0.0f64, 0.0f64, 0.0f64);
    for y in 0..ink.height() {
        for (x, &v) in ink.row(y).iter().enumerate() {
            let v = f64::from(v);
            mass += v;
            sx += v * x as f64;
            sy += v * y as f64;
        }
    }
    (mass > 0.0).then(|| ((sx / mass) as f32, (sy / mass) as f32))
}

/// Pastes `digit` into a black `side`×`side` frame, shifted by whole pixels so
/// that its centre of mass lands on pixel `side / 2` (14 for MNIST's 28, see
/// [`super::CENTRE`]) on both axes, as MNIST did; the shift is clamped so the
/// digit stays whole inside the frame. `None` when the digit holds no ink or
/// is larger than the frame.
pub fn place_by_centre_of_mass(digit: &Gray, side: usize) -> Option<Gray> {
    let (w, h) = (digit.width(), digit.height());
    if w > side || h > side {
        return None;
    }
    let (cx, cy) = centre_of_mass(digit)?;
    let centre = side as f32 / 2.0;
    let offset = |c: f32, n: usize| ((centre - c).round().max(0.0) as usize).min(side - n);
    let (ox, oy) = (offset(cx, w), offset(cy, h));
    let mut frame = Gray::filled(side, side, 0.0);
    for y in 0..h {
        let start = (oy + y) * side + ox;
        frame.data_mut()[start..start + w].copy_from_slice(digit.row(y));
    }
    Some(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_crop_find_the_ink() {
        let g = Gray::from_fn(10, 8, |x, y| if (3..7).contains(&x) && (2..5).contains(&y) { 0.5 } else { 0.0 });
        let b = ink_bounds(&g, 0.0).unwrap();
        assert_eq!(b, Bounds { x0: 3, y0: 2, x1: 7, y1: 5 });
        let c = crop(&g, b);
        assert_eq!((c.width(), c.height()), (4, 3));
        assert!(c.data().iter().all(|&v| v == 0.5));
        assert_eq!(ink_bounds(&g, 0.5), None);
    }

    #[test]
    fn a_1_by_200_line_becomes_20_pixels_long() {
        let line = Gray::filled(1, 200, 1.0);
        let scaled = scale_to_box(&line, 20);
        assert_eq!((scaled.width(), scaled.height()), (1, 20));
        assert!(scaled.data().iter().all(|&v| (v - 1.0).abs() < 1e-6), "{:?}", scaled.data());
        let across = scale_to_box(&Gray::filled(200, 1, 1.0), 20);
        assert_eq!((across.width(), across.height()), (20, 1));
    }

    #[test]
    fn scaling_keeps_the_aspect_ratio() {
        let s = scale_to_box(&Gray::filled(300, 120, 1.0), 20);
        assert_eq!((s.width(), s.height()), (20, 8));
        let s = scale_to_box(&Gray::filled(5, 7, 1.0), 20);
        assert_eq!((s.width(), s.height()), (14, 20));
    }

    #[test]
    fn a_centred_square_stays_centred() {
        for side in [5, 6] {
            let framed = place_by_centre_of_mass(&Gray::filled(side, side, 1.0), 28).unwrap();
            let (cx, cy) = centre_of_mass(&framed).unwrap();
            assert!((cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5, "side {side}: ({cx}, {cy})");
            let b = ink_bounds(&framed, 0.0).unwrap();
            assert_eq!((b.width(), b.height()), (side, side));
            // Centred on pixel 14: the margins differ by at most a pixel more than the parity of the side.
            let margins = |lo: usize, hi: usize| (lo as i64 - (28 - hi) as i64).abs();
            assert!(margins(b.x0, b.x1) <= 2 && margins(b.y0, b.y1) <= 2, "{b:?}");
        }
    }

    #[test]
    fn the_centre_of_mass_not_the_box_goes_to_the_centre() {
        // An "L": heavy at the bottom left; its box is off centre but its mass is centred.
        let l = Gray::from_fn(10, 20, |x, y| if x < 3 || y >= 17 { 1.0 } else { 0.0 });
        let framed = place_by_centre_of_mass(&l, 28).unwrap();
        let (cx, cy) = centre_of_mass(&framed).unwrap();
        assert!((cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5, "({cx}, {cy})");
        let b = ink_bounds(&framed, 0.0).unwrap();
        assert!(b.x0 + b.width() / 2 > 14, "the box moved right of centre: {b:?}");
    }

    #[test]
    fn placement_keeps_the_digit_inside_the_frame() {
        // All the mass in the first column of a 20-wide digit: the shift is clamped.
        let edge = Gray::from_fn(20, 20, |x, _| if x == 0 { 1.0 } else { 0.0 });
        let framed = place_by_centre_of_mass(&edge, 28).unwrap();
        assert_eq!(ink_bounds(&framed, 0.0).unwrap().x0, 8);
        assert!(place_by_centre_of_mass(&Gray::filled(29, 3, 1.0), 28).is_none(), "too wide");
        assert!(place_by_centre_of_mass(&Gray::filled(5, 5, 0.0), 28).is_none(), "no ink");
    }

    #[test]
    fn shrink_to_limits_the_longer_side_only_when_needed() {
        let g = Gray::filled(3000, 1500, 0.5);
        let s = shrink_to(&g, 1024);
        assert_eq!((s.width(), s.height()), (1024, 512));
        assert!(s.data().iter().all(|&v| (v - 0.5).abs() < 1e-5));
        assert_eq!(shrink_to(&Gray::filled(100, 40, 0.5), 1024), Gray::filled(100, 40, 0.5));
    }
}
