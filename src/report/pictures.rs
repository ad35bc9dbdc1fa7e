//! The report's raster pictures (PNG): digits, feature maps, filters and
//! vectors, enlarged with nearest-neighbour so that every pixel stays a
//! sharp square.
//!
//! Two colour scales: [`Scale::Gray`] for activations (black = the layer's
//! smallest value, white = its largest, shared by every channel of a layer)
//! and [`Scale::Signed`] for weights (blue negative, white zero, red positive,
//! symmetric around zero).

use image::{Rgb, RgbImage};
use std::io::Cursor;

/// Colour between tiles of gray maps, distinct from black and white.
const GAP: Rgb<u8> = Rgb([176, 190, 197]);
/// Colour between tiles of signed maps (white, blue and red in the tiles).
const DARK_GAP: Rgb<u8> = Rgb([64, 64, 64]);

/// How values become colours.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// `lo` → black, `hi` → white.
    Gray {
        /// Value drawn black.
        lo: f32,
        /// Value drawn white.
        hi: f32,
    },
    /// `-max` → blue, 0 → white, `+max` → red.
    Signed {
        /// Magnitude drawn at full colour.
        max: f32,
    },
}

impl Scale {
    /// A gray scale over the range of `values` (one scale shared by a layer).
    pub fn gray_of(values: &[f32]) -> Scale {
        let (lo, hi) = range(values);
        Scale::Gray { lo, hi }
    }

    /// A signed scale over the largest magnitude of `values`.
    pub fn signed_of(values: &[f32]) -> Scale {
        Scale::Signed { max: values.iter().fold(0.0f32, |m, v| m.max(v.abs())) }
    }

    /// The colour of `v`.
    pub fn colour(&self, v: f32) -> Rgb<u8> {
        match *self {
            Scale::Gray { lo, hi } => {
                let t = if hi > lo { ((v - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.0 };
                let g = (t * 255.0).round() as u8;
                Rgb([g, g, g])
            }
            Scale::Signed { max } => {
                let t = if max > 0.0 { (v / max).clamp(-1.0, 1.0) } else { 0.0 };
                let fade = |a: f32| (255.0 * (1.0 - a)).round() as u8;
                if t >= 0.0 {
                    Rgb([255, fade(t * 0.85), fade(t)])
                } else {
                    Rgb([fade(-t), fade(-t * 0.7), 255])
                }
            }
        }
    }

    /// The CSS gradient of the legend, from the low end to the high end.
    pub fn css_gradient(&self) -> &'static str {
        match self {
            Scale::Gray { .. } => "linear-gradient(to right, #000, #fff)",
            Scale::Signed { .. } => "linear-gradient(to right, #0026ff, #fff, #ff2600)",
        }
    }

    /// The values at the two ends of the legend.
    pub fn ends(&self) -> (f32, f32) {
        match *self {
            Scale::Gray { lo, hi } => (lo, hi),
            Scale::Signed { max } => (-max, max),
        }
    }
}

/// Smallest and largest of `values`; `(0, 0)` when empty.
pub fn range(values: &[f32]) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// Draws the row-major `height×width` map `values` with each value as a
/// `zoom×zoom` square.
pub fn map(values: &[f32], width: usize, height: usize, zoom: usize, scale: Scale) -> RgbImage {
    let mut img = RgbImage::new((width * zoom) as u32, (height * zoom) as u32);
    for (i, &v) in values.iter().take(width * height).enumerate() {
        paint(&mut img, (i % width) * zoom, (i / width) * zoom, zoom, zoom, scale.colour(v));
    }
    img
}

/// Draws several `height×width` maps side by side in rows of `columns`,
/// each enlarged `zoom` times, with a gap between them (2 pixels, wider for
/// large zooms; dark between weights, light between feature maps).
pub fn mosaic(maps: &[Vec<f32>], width: usize, height: usize, columns: usize, zoom: usize, scale: Scale) -> RgbImage {
    let columns = columns.clamp(1, maps.len().max(1));
    let rows = maps.len().div_ceil(columns).max(1);
    let (tw, th, gap) = (width * zoom, height * zoom, (zoom / 4).max(2));
    let background = if matches!(scale, Scale::Signed { .. }) { DARK_GAP } else { GAP };
    let mut img =
        RgbImage::from_pixel((columns * (tw + gap) - gap) as u32, (rows * (th + gap) - gap) as u32, background);
    for (i, values) in maps.iter().enumerate() {
        let (x0, y0) = ((i % columns) * (tw + gap), (i / columns) * (th + gap));
        for (j, &v) in values.iter().take(width * height).enumerate() {
            paint(&mut img, x0 + (j % width) * zoom, y0 + (j / width) * zoom, zoom, zoom, scale.colour(v));
        }
    }
    img
}

/// Draws a vector as a strip of cells, wrapped so that a row is at most
/// about 784 pixels wide.
pub fn strip(values: &[f32], scale: Scale) -> RgbImage {
    let n = values.len().max(1);
    let cell_w = (784 / n).clamp(2, 24);
    let cell_h = if cell_w >= 8 { 24 } else { 16 };
    let per_row = (784 / cell_w).min(n);
    let rows = n.div_ceil(per_row);
    let gap = 2;
    let mut img = RgbImage::from_pixel((per_row * cell_w) as u32, (rows * (cell_h + gap) - gap) as u32, GAP);
    for (i, &v) in values.iter().enumerate() {
        paint(&mut img, (i % per_row) * cell_w, (i / per_row) * (cell_h + gap), cell_w, cell_h, scale.colour(v));
    }
    img
}

/// A zoom that makes a `side`-pixel map about `target` pixels wide.
pub fn zoom_for(side: usize, target: usize) -> usize {
    (target / side.max(1)).max(1)
}

/// PNG bytes of `img`.
pub fn png(img: &RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png).expect("PNG encoding into memory cannot fail");
    bytes
}

fn paint(img: &mut RgbImage, x0: usize, y0: usize, w: usize, h: usize, colour: Rgb<u8>) {
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            img.put_pixel(x as u32, y as u32, colour);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_scale_spans_black_to_white() {
        let s = Scale::gray_of(&[-2.0, 0.0, 2.0]);
        assert_eq!(s.colour(-2.0), Rgb([0, 0, 0]));
        assert_eq!(s.colour(2.0), Rgb([255, 255, 255]));
        assert_eq!(s.colour(0.0), Rgb([128, 128, 128]));
        assert_eq!(Scale::gray_of(&[1.0, 1.0]).colour(1.0), Rgb([0, 0, 0]), "a flat layer is drawn black");
    }

    #[test]
    fn signed_scale_is_white_at_zero_and_blue_or_red_at_the_ends() {
        let s = Scale::signed_of(&[-0.5, 0.25]);
        assert_eq!(s.colour(0.0), Rgb([255, 255, 255]));
        let (neg, pos) = (s.colour(-0.5), s.colour(0.5));
        assert!(neg[2] == 255 && neg[0] < 10, "{neg:?}");
        assert!(pos[0] == 255 && pos[2] < 10, "{pos:?}");
    }

    #[test]
    fn enlarged_pixels_stay_sharp_squares() {
        let img = map(&[0.0, 1.0, 1.0, 0.0], 2, 2, 4, Scale::Gray { lo: 0.0, hi: 1.0 });
        assert_eq!(img.dimensions(), (8, 8));
        assert_eq!(img.get_pixel(3, 3), &Rgb([0, 0, 0]));
        assert_eq!(img.get_pixel(4, 3), &Rgb([255, 255, 255]));
        assert_eq!(img.get_pixel(4, 4), &Rgb([0, 0, 0]));
    }

    #[test]
    fn mosaic_places_tiles_in_rows_with_gaps() {
        let maps = vec![vec![1.0; 4]; 5];
        let img = mosaic(&maps, 2, 2, 3, 1, Scale::Gray { lo: 0.0, hi: 1.0 });
        assert_eq!(img.dimensions(), (3 * 2 + 2 * 2, 2 * 2 + 2));
        assert_eq!(img.get_pixel(2, 0), &GAP);
        assert_eq!(img.get_pixel(4, 4), &Rgb([255, 255, 255]), "fifth tile: second row, second column");
        assert_eq!(img.get_pixel(5, 5), &Rgb([255, 255, 255]));
        assert_eq!(img.get_pixel(8, 4), &GAP, "no sixth tile");
        assert!(png(&img).starts_with(b"\x89PNG"));
    }

    #[test]
    fn strips_wrap_long_vectors() {
        let img = strip(&vec![0.5; 1000], Scale::Gray { lo: 0.0, hi: 1.0 });
        assert!(img.width() <= 784 && img.height() > 16, "{:?}", img.dimensions());
        assert_eq!(strip(&[1.0; 10], Scale::Gray { lo: 0.0, hi: 1.0 }).width(), 240);
    }
}
