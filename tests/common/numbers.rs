//! Pictures of whole numbers as users write them, composed from MNIST *test*
//! digits (never the training ones): 2 to 8 digits, random gaps, about one
//! neighbour pair in five touching or overlapping by a few pixels, baseline
//! jitter and a slanted line (up to ±8°), dark ink on white or on
//! paper-coloured backgrounds, some JPEG, a few on two lines and a few with
//! a decimal point. Each picture comes from its own seeded generator, so a
//! set is the same on every run and can be drawn in parallel.

use chiffre::data::Dataset;
use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, ImageFormat, Rgb, RgbImage};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// One generated picture and what it holds.
pub struct NumberPicture {
    /// The image file's bytes.
    pub bytes: Vec<u8>,
    /// `png` or `jpg`.
    pub extension: &'static str,
    /// The true text: digits, `.`, lines joined by `\n`.
    pub text: String,
    /// The MNIST test indices of its digits, in reading order.
    pub digits: Vec<usize>,
    /// Some neighbours touch or overlap.
    pub touching: bool,
    /// Lines of digits (1 or 2).
    pub lines: usize,
    /// It holds a decimal point.
    pub point: bool,
}

/// The ink (0-1) of a test digit cut to its ink box, scaled to `height` rows.
fn digit_ink(test: &Dataset, index: usize, height: u32) -> Vec<Vec<f32>> {
    ink_of(&GrayImage::from_raw(28, 28, test.image(index).to_vec()).expect("28×28"), height)
}

/// The ink (0-1) of `image` (255: full ink) cut to its ink box, scaled to `height` rows.
fn ink_of(image: &GrayImage, height: u32) -> Vec<Vec<f32>> {
    let on: Vec<(u32, u32)> = image.enumerate_pixels().filter(|p| p.2 .0[0] > 0).map(|p| (p.0, p.1)).collect();
    let (x0, x1) = (on.iter().map(|p| p.0).min().unwrap_or(0), on.iter().map(|p| p.0).max().unwrap_or(27));
    let (y0, y1) = (on.iter().map(|p| p.1).min().unwrap_or(0), on.iter().map(|p| p.1).max().unwrap_or(27));
    let tight = imageops::crop_imm(image, x0, y0, x1 - x0 + 1, y1 - y0 + 1).to_image();
    let width = ((tight.width() * height) as f32 / tight.height() as f32).round().max(1.0) as u32;
    let big = imageops::resize(&tight, width, height, FilterType::CatmullRom);
    (0..height).map(|y| (0..width).map(|x| big.get_pixel(x, y).0[0] as f32 / 255.0).collect()).collect()
}

/// Ink on a canvas that grows as digits are placed.
struct Canvas {
    ink: Vec<Vec<f32>>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Self {
        Canvas { ink: vec![vec![0.0; width]; height] }
    }

    fn put(&mut self, glyph: &[Vec<f32>], x: i64, y: i64) {
        for (gy, row) in glyph.iter().enumerate() {
            for (gx, &v) in row.iter().enumerate() {
                let (cx, cy) = (x + gx as i64, y + gy as i64);
                if cx >= 0 && cy >= 0 && (cy as usize) < self.ink.len() && (cx as usize) < self.ink[0].len() {
                    let c = &mut self.ink[cy as usize][cx as usize];
                    *c = c.max(v);
                }
            }
        }
    }

    /// The least horizontal ink distance (in pixels, negative for overlap)
    /// from the ink already on the canvas to `glyph` placed at `(x, y)`:
    /// over the rows they share, glyph's leftmost ink minus the canvas's
    /// rightmost ink left of `x + glyph width`. `None` when no row has both.
    fn distance(&self, glyph: &[Vec<f32>], x: i64, y: i64) -> Option<i64> {
        let mut best: Option<i64> = None;
        for (gy, row) in glyph.iter().enumerate() {
            let cy = y + gy as i64;
            if cy < 0 || cy as usize >= self.ink.len() {
                continue;
            }
            let Some(left) = row.iter().position(|&v| v > 0.3) else { continue };
            let limit = ((x + row.len() as i64).max(0) as usize).min(self.ink[0].len());
            let Some(right) = self.ink[cy as usize][..limit].iter().rposition(|&v| v > 0.3) else { continue };
            let d = x + left as i64 - right as i64 - 1;
            best = Some(best.map_or(d, |b: i64| b.min(d)));
        }
        best
    }
}

/// Encodes a picture in `format` (JPEG at `quality`).
fn encode(image: &DynamicImage, format: ImageFormat, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    if format == ImageFormat::Jpeg {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
        image.write_with_encoder(encoder).expect("encode JPEG");
    } else {
        image.write_to(&mut std::io::Cursor::new(&mut out), format).expect("encode");
    }
    out
}

/// Number `index` of the set made with `seed`, composed from `test` (the
/// MNIST test set): 2 to 8 digits 36 to 90 pixels tall, kinds drawn at random.
pub fn number_picture(test: &Dataset, seed: u64, index: u64) -> NumberPicture {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9).wrapping_add(index));
    let count = rng.random_range(2..=8usize);
    let height: u32 = rng.random_range(36..=90);
    compose(test, &mut rng, count, height, true, None)
}

/// A one-line number of `count` digits `height` pixels tall (the other
/// choices at random), as [`number_picture`] draws them.
pub fn number_of(test: &Dataset, seed: u64, count: usize, height: u32) -> NumberPicture {
    compose(test, &mut ChaCha8Rng::seed_from_u64(seed), count, height, false, None)
}

/// A one-line number of 3 to 6 marks in which one, not the first, is the
/// character `letter` (its glyph: width × height coverage, 255 full ink)
/// instead of a digit, standing apart from its neighbours: "12A4" as a
/// person would mistype it on a form. The text holds the character where
/// it stands; `digits` only the digits.
pub fn number_with_letter(test: &Dataset, seed: u64, index: u64, letter: (char, &GrayImage)) -> NumberPicture {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x51_7CC1).wrapping_add(index));
    let count = rng.random_range(3..=6usize);
    let height: u32 = rng.random_range(36..=90);
    let at = rng.random_range(1..count);
    compose(test, &mut rng, count, height, false, Some((at, letter.0, letter.1)))
}

/// A picture of one letter or symbol alone, drawn as [`number_with_letter`]
/// draws it among digits.
pub fn letter_alone(test: &Dataset, seed: u64, index: u64, letter: (char, &GrayImage)) -> NumberPicture {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x51_7CC1).wrapping_add(index));
    let height: u32 = rng.random_range(36..=90);
    compose(test, &mut rng, 1, height, false, Some((0, letter.0, letter.1)))
}

fn compose(
    test: &Dataset,
    rng: &mut ChaCha8Rng,
    count: usize,
    height: u32,
    may_wrap: bool,
    letter: Option<(usize, char, &GrayImage)>,
) -> NumberPicture {
    let h = height as f32;
    let two_lines = may_wrap && count >= 4 && rng.random_bool(0.1);
    let split = if two_lines { rng.random_range(2..=count - 2) } else { count };
    let point_after = (letter.is_none() && count >= 3 && rng.random_bool(0.12)).then(|| rng.random_range(1..count - 1));
    let slope = (rng.random_range(-8.0f32..8.0)).to_radians().tan();
    let mut digits: Vec<usize> = (0..count).map(|_| rng.random_range(0..test.len())).collect();
    let margin = (h * rng.random_range(0.3..1.0)) as i64;
    let per_line = split.max(count - split);
    let width = margin as usize * 2 + (per_line as f32 * h * 1.6) as usize + height as usize;
    let drift = (slope.abs() * width as f32) as i64;
    let tall = (2 * margin + 2 * drift) as usize + (h * if two_lines { 2.7 } else { 1.1 }) as usize;
    let mut canvas = Canvas::new(width, tall);
    let mut text = String::new();
    let mut touching = false;
    let top = margin + drift;
    let (mut x, mut line_start) = (margin, 0usize);
    for (k, &d) in digits.iter().enumerate() {
        if k == split {
            text.push('\n');
            (x, line_start) = (margin, k);
        }
        let line_y = top + if k >= split { (h * rng.random_range(1.3..1.6)) as i64 } else { 0 };
        let is_letter = letter.is_some_and(|(at, _, _)| at == k);
        let glyph_height = (h * rng.random_range(0.9..1.1)) as u32;
        let glyph = match letter {
            Some((_, _, image)) if is_letter => ink_of(image, glyph_height),
            _ => digit_ink(test, d, glyph_height),
        };
        let baseline = line_y + (slope * (x - margin) as f32) as i64 + (h * rng.random_range(-0.06..0.06)) as i64;
        let y = baseline + height as i64 - glyph.len() as i64;
        let gx = if k == line_start {
            x
        } else {
            // Slide the digit left from well apart until its ink is at the wanted distance.
            // A digit may touch its neighbour, never a decimal point.
            let touch = rng.random_bool(0.2) && point_after != Some(k - 1) && letter.is_none();
            touching |= touch;
            let wanted = if touch { -rng.random_range(0..=3i64) } else { (h * rng.random_range(0.08..0.45)) as i64 };
            // After a decimal point, the digit's ink starts right of the point
            // and its gap (`x`): a writer puts the point between the digits,
            // not under the next one's overhang nor inside its loop (which
            // the distance, measured row by row, would allow).
            let after_point = point_after == Some(k - 1);
            let lead = glyph.iter().filter_map(|row| row.iter().position(|&v| v > 0.3)).min().unwrap_or(0) as i64;
            let mut gx = x + height as i64;
            while gx > 0
                && !(after_point && gx + lead <= x)
                && canvas.distance(&glyph, gx, y).is_none_or(|dist| dist > wanted)
            {
                gx -= 1;
            }
            gx
        };
        canvas.put(&glyph, gx, y);
        text.push(match letter {
            Some((_, c, _)) if is_letter => c,
            _ => char::from(b'0' + test.labels[d]),
        });
        x = gx + glyph[0].len() as i64;
        if point_after == Some(k) && k + 1 != split {
            let r = (h * rng.random_range(0.05..0.08)).max(2.0);
            let gap = (h * rng.random_range(0.1..0.25)) as i64;
            let (cx, cy) = (x + gap + r as i64, baseline + height as i64 - r as i64);
            let dot: Vec<Vec<f32>> = (0..=(2.0 * r) as i64)
                .map(|dy| {
                    (0..=(2.0 * r) as i64)
                        .map(|dx| {
                            let dist = (((dx as f32 - r).powi(2) + (dy as f32 - r).powi(2)).sqrt() - r).max(-1.0);
                            (-dist).clamp(0.0, 1.0)
                        })
                        .collect()
                })
                .collect();
            canvas.put(&dot, cx - r as i64, cy - r as i64);
            text.push('.');
            x = cx + r as i64 + gap;
        }
    }
    // Trim to the ink plus the margin.
    let rows: Vec<usize> = (0..canvas.ink.len()).filter(|&y| canvas.ink[y].iter().any(|&v| v > 0.0)).collect();
    let (y0, y1) = (rows.first().copied().unwrap_or(0), rows.last().copied().unwrap_or(0));
    let right = canvas.ink.iter().filter_map(|row| row.iter().rposition(|&v| v > 0.0)).max().unwrap_or(0);
    let m = margin as usize;
    let (top_px, bottom_px) = (y0.saturating_sub(m), (y1 + m + 1).min(canvas.ink.len()));
    let width = (right + m + 1).min(width) as u32;
    let height_px = (bottom_px - top_px) as u32;
    let paper = if rng.random_bool(0.5) {
        [255u8, 255, 255]
    } else {
        [rng.random_range(225..=250), rng.random_range(215..=240), rng.random_range(175..=215)]
    };
    let ink_colour = [rng.random_range(0..=60u8), rng.random_range(0..=60u8), rng.random_range(0..=110u8)];
    let noise = rng.random_range(0.0..6.0f32);
    let mut pixel_rng = ChaCha8Rng::seed_from_u64(rng.random());
    let image = RgbImage::from_fn(width, height_px, |px, py| {
        let a = canvas.ink[top_px + py as usize][px as usize];
        let n = (pixel_rng.random::<f32>() - 0.5) * 2.0 * noise;
        Rgb(std::array::from_fn(|c| {
            (paper[c] as f32 * (1.0 - a) + ink_colour[c] as f32 * a + n).round().clamp(0.0, 255.0) as u8
        }))
    });
    let jpeg = rng.random_bool(0.2);
    let (bytes, extension) = if jpeg {
        (encode(&DynamicImage::ImageRgb8(image), ImageFormat::Jpeg, rng.random_range(60..=90)), "jpg")
    } else {
        (encode(&DynamicImage::ImageRgb8(image), ImageFormat::Png, 0), "png")
    };
    if let Some((at, _, _)) = letter {
        digits.remove(at);
    }
    let point = text.contains('.');
    NumberPicture { bytes, extension, text, digits, touching, lines: if two_lines { 2 } else { 1 }, point }
}

/// Levenshtein distance between two strings (by characters).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            current[j + 1] = (previous[j] + usize::from(ca != cb)).min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}
