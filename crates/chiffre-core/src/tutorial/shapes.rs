//! Black-and-white shapes for the tutorial: an "X" or an "O" drawn on a
//! small grid (+1 ink, −1 background), shifted, rotated, scaled or
//! thickened, so that a tiny CNN has something to learn.

use super::Grid;

/// What to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Two diagonal strokes crossing in the middle.
    X,
    /// A ring.
    O,
}

/// How a shape is drawn: the plain one is `Variant::default()`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Variant {
    /// Shift to the right, in pixels.
    pub dx: f32,
    /// Shift down, in pixels.
    pub dy: f32,
    /// Rotation, in degrees.
    pub angle: f32,
    /// Stroke width, in pixels (1 draws one-pixel diagonals).
    pub thickness: f32,
    /// Size, relative to the plain shape (arms or radius of 3 pixels).
    pub scale: f32,
}

impl Default for Variant {
    fn default() -> Self {
        Variant { dx: 0.0, dy: 0.0, angle: 0.0, thickness: 1.0, scale: 1.0 }
    }
}

/// Draws `shape` on a `side×side` grid: +1 where the stroke passes within
/// half its thickness of a pixel's centre, −1 elsewhere.
pub fn draw(shape: Shape, side: usize, v: Variant) -> Grid {
    let centre = (side as f32 - 1.0) / 2.0;
    let (sin, cos) = (-v.angle.to_radians()).sin_cos();
    let values = (0..side * side)
        .map(|i| {
            // The pixel centre in the shape's own frame: undo the shift, the rotation and the scale.
            let (x, y) = ((i % side) as f32 - centre - v.dx, (i / side) as f32 - centre - v.dy);
            let (x, y) = ((x * cos - y * sin) / v.scale, (x * sin + y * cos) / v.scale);
            let distance = match shape {
                Shape::X => segment_distance(x, y, 3.0, 3.0).min(segment_distance(x, y, 3.0, -3.0)),
                Shape::O => ((x * x + y * y).sqrt() - 3.0).abs(),
            } * v.scale;
            if distance <= v.thickness / 2.0 {
                1.0
            } else {
                -1.0
            }
        })
        .collect();
    Grid { rows: side, cols: side, values }
}

/// Distance from `(x, y)` to the segment from `(-ex, -ey)` to `(ex, ey)`.
fn segment_distance(x: f32, y: f32, ex: f32, ey: f32) -> f32 {
    let t = ((x * ex + y * ey) / (ex * ex + ey * ey)).clamp(-1.0, 1.0);
    ((x - t * ex).powi(2) + (y - t * ey).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_x_is_the_tutorial_x() {
        assert_eq!(draw(Shape::X, 9, Variant::default()), super::super::x_image());
    }

    #[test]
    fn shifts_move_the_ink_and_an_o_has_a_hole() {
        let plain = draw(Shape::O, 9, Variant::default());
        let moved = draw(Shape::O, 9, Variant { dx: 1.0, ..Variant::default() });
        for r in 0..9 {
            for c in 1..9 {
                assert_eq!(moved.at(r, c), plain.at(r, c - 1), "({r}, {c})");
            }
        }
        assert_eq!(plain.at(4, 4), -1.0);
        assert_eq!(plain.at(4, 1), 1.0);
    }
}
