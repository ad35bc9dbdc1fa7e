//! Drawing on an ink canvas ([`Gray`], 0 background, 1 ink) for the
//! generated non-digits: anti-aliased thick strokes, and glyph bitmaps
//! pasted through a random slant, rotation and scale.

use crate::preprocess::Gray;

/// A point `(x, y)` in canvas pixels (x right, y down).
pub type Point = (f32, f32);

/// Draws the segment `a`–`b` with a round pen of `radius` pixels,
/// anti-aliased, keeping the darker of old and new ink.
pub fn segment(canvas: &mut Gray, a: Point, b: Point, radius: f32) {
    let (w, h) = (canvas.width(), canvas.height());
    let reach = radius + 1.0;
    let x0 = (a.0.min(b.0) - reach).floor().max(0.0) as usize;
    let y0 = (a.1.min(b.1) - reach).floor().max(0.0) as usize;
    let x1 = ((a.0.max(b.0) + reach).ceil().max(0.0) as usize).min(w);
    let y1 = ((a.1.max(b.1) + reach).ceil().max(0.0) as usize).min(h);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let data = canvas.data_mut();
    for y in y0..y1 {
        for x in x0..x1 {
            let (px, py) = (x as f32 - a.0, y as f32 - a.1);
            let t = if len2 > 0.0 { ((px * dx + py * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
            let d = ((px - t * dx).powi(2) + (py - t * dy).powi(2)).sqrt();
            let ink = (radius + 0.5 - d).clamp(0.0, 1.0);
            let v = &mut data[y * w + x];
            *v = v.max(ink);
        }
    }
}

/// Draws the polyline through `points`.
pub fn polyline(canvas: &mut Gray, points: &[Point], radius: f32) {
    for pair in points.windows(2) {
        segment(canvas, pair[0], pair[1], radius);
    }
}

/// A smooth curve through `points` (Catmull-Rom), as a polyline of `per`
/// points per span.
pub fn smooth(points: &[Point], per: usize) -> Vec<Point> {
    if points.len() < 3 {
        return points.to_vec();
    }
    let at = |i: isize| points[i.clamp(0, points.len() as isize - 1) as usize];
    let mut out = Vec::with_capacity(points.len() * per);
    for i in 0..points.len() as isize - 1 {
        let (p0, p1, p2, p3) = (at(i - 1), at(i), at(i + 1), at(i + 2));
        for s in 0..per {
            let t = s as f32 / per as f32;
            let (t2, t3) = (t * t, t * t * t);
            let f = |a: f32, b: f32, c: f32, d: f32| {
                0.5 * (2.0 * b
                    + (c - a) * t
                    + (2.0 * a - 5.0 * b + 4.0 * c - d) * t2
                    + (3.0 * b - a - 3.0 * c + d) * t3)
            };
            out.push((f(p0.0, p1.0, p2.0, p3.0), f(p0.1, p1.1, p2.1, p3.1)));
        }
    }
    out.push(points[points.len() - 1]);
    out
}

/// A 2×2 linear map and a translation: canvas point = `m · glyph point + t`.
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    /// Row-major `[a, b, c, d]`: `x' = a x + b y`, `y' = c x + d y`.
    pub m: [f32; 4],
    /// Translation.
    pub t: Point,
}

impl Placement {
    /// Scale `(sx, sy)`, then slant (horizontal shear, degrees, leaning
    /// right for positive), then rotation (degrees, clockwise on screen).
    pub fn new(sx: f32, sy: f32, slant: f32, rotation: f32, t: Point) -> Self {
        let k = -slant.to_radians().tan();
        let (sin, cos) = rotation.to_radians().sin_cos();
        // R · K · S with K = [[1, k], [0, 1]].
        let (a, b, c, d) = (sx, k * sy, 0.0, sy);
        Placement { m: [cos * a - sin * c, cos * b - sin * d, sin * a + cos * c, sin * b + cos * d], t }
    }

    /// Where glyph point `p` lands.
    pub fn apply(&self, p: Point) -> Point {
        (self.m[0] * p.0 + self.m[1] * p.1 + self.t.0, self.m[2] * p.0 + self.m[3] * p.1 + self.t.1)
    }
}

/// Pastes `coverage` (`width × height` bytes, 255 full ink) onto `canvas`
/// through `place` (bilinear sampling of the inverse map), keeping the
/// darker ink.
pub fn paste(canvas: &mut Gray, coverage: &[u8], width: usize, height: usize, place: &Placement) {
    let [a, b, c, d] = place.m;
    let det = a * d - b * c;
    if det.abs() < 1e-6 || width == 0 || height == 0 {
        return;
    }
    let inv = [d / det, -b / det, -c / det, a / det];
    let corners =
        [(0.0, 0.0), (width as f32, 0.0), (0.0, height as f32), (width as f32, height as f32)].map(|p| place.apply(p));
    let (cw, ch) = (canvas.width(), canvas.height());
    let lo = |v: f32| (v.floor() - 1.0).max(0.0) as usize;
    let x0 = lo(corners.iter().map(|p| p.0).fold(f32::INFINITY, f32::min));
    let y0 = lo(corners.iter().map(|p| p.1).fold(f32::INFINITY, f32::min));
    let x1 = ((corners.iter().map(|p| p.0).fold(f32::NEG_INFINITY, f32::max).ceil() + 1.0).max(0.0) as usize).min(cw);
    let y1 = ((corners.iter().map(|p| p.1).fold(f32::NEG_INFINITY, f32::max).ceil() + 1.0).max(0.0) as usize).min(ch);
    let sample = |x: isize, y: isize| -> f32 {
        if x < 0 || y < 0 || x >= width as isize || y >= height as isize {
            0.0
        } else {
            f32::from(coverage[y as usize * width + x as usize]) / 255.0
        }
    };
    let data = canvas.data_mut();
    for y in y0..y1 {
        for x in x0..x1 {
            let (px, py) = (x as f32 + 0.5 - place.t.0, y as f32 + 0.5 - place.t.1);
            let (u, v) = (inv[0] * px + inv[1] * py - 0.5, inv[2] * px + inv[3] * py - 0.5);
            let (fu, fv) = (u.floor(), v.floor());
            let (du, dv) = (u - fu, v - fv);
            let (iu, iv) = (fu as isize, fv as isize);
            let ink = sample(iu, iv) * (1.0 - du) * (1.0 - dv)
                + sample(iu + 1, iv) * du * (1.0 - dv)
                + sample(iu, iv + 1) * (1.0 - du) * dv
                + sample(iu + 1, iv + 1) * du * dv;
            let out = &mut data[y * cw + x];
            *out = out.max(ink);
        }
    }
}

/// Grey dilation (`grow`) or erosion by a square of `radius` pixels: strokes
/// thicker or thinner.
pub fn morph(canvas: &Gray, radius: usize, grow: bool) -> Gray {
    if radius == 0 {
        return canvas.clone();
    }
    let (w, h) = (canvas.width(), canvas.height());
    let pick = |a: f32, b: f32| if grow { a.max(b) } else { a.min(b) };
    let rows = Gray::from_fn(w, h, |x, y| {
        (x.saturating_sub(radius)..(x + radius + 1).min(w)).map(|i| canvas.get(i, y)).fold(canvas.get(x, y), pick)
    });
    Gray::from_fn(w, h, |x, y| {
        (y.saturating_sub(radius)..(y + radius + 1).min(h)).map(|j| rows.get(x, j)).fold(rows.get(x, y), pick)
    })
}

/// A 3×3 box blur (edges repeat the border).
pub fn blur(canvas: &Gray) -> Gray {
    let (w, h) = (canvas.width(), canvas.height());
    let data = canvas.data();
    Gray::from_fn(w, h, |x, y| {
        let mut sum = 0.0;
        for ny in [y.saturating_sub(1), y, (y + 1).min(h - 1)] {
            for nx in [x.saturating_sub(1), x, (x + 1).min(w - 1)] {
                sum += data[ny * w + nx];
            }
        }
        sum / 9.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_is_inked_along_its_length_only() {
        let mut c = Gray::filled(20, 20, 0.0);
        segment(&mut c, (2.0, 10.0), (17.0, 10.0), 1.5);
        assert_eq!(c.get(10, 10), 1.0);
        assert_eq!(c.get(10, 2), 0.0);
        assert_eq!(c.get(0, 10), 0.0);
    }

    #[test]
    fn a_pasted_bitmap_lands_where_placed_and_dilation_thickens() {
        let mut c = Gray::filled(30, 30, 0.0);
        let place = Placement::new(2.0, 2.0, 0.0, 0.0, (10.0, 10.0));
        paste(&mut c, &[255; 4], 2, 2, &place);
        assert!(c.get(12, 12) > 0.9 && c.get(4, 4) == 0.0 && c.get(20, 20) == 0.0);
        let ink = |g: &Gray| g.data().iter().sum::<f32>();
        assert!(ink(&morph(&c, 1, true)) > ink(&c) && ink(&morph(&c, 1, false)) < ink(&c));
    }
}
