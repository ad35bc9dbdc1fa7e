//! Pictures that look like what users bring, rendered from MNIST digits:
//! dark ink on white paper, big, off centre, touching the borders, thick or
//! thin strokes, blurred, JPEG-compressed, transparent, on coloured cards.
//! Each [`Kind`] is drawn at a random size between 64 and 512 pixels from a
//! seeded generator and returned as the bytes of an image file.

use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::io::Cursor;

/// A kind of user picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Dark ink on white, scaled up (PNG).
    DarkOnWhite,
    /// White ink on black, scaled up (PNG).
    WhiteOnBlack,
    /// A small digit somewhere off centre on a big white page (PNG).
    OffCentre,
    /// A big digit touching the top and bottom (or left and right) edges (PNG).
    TouchingBorders,
    /// Strokes thickened by 1 to 2 MNIST pixels (PNG, either polarity).
    Thick,
    /// Strokes thinned by 0.6 to 1 MNIST pixel (PNG, either polarity).
    Thin,
    /// A light Gaussian blur, σ of 0.5 to 1 MNIST pixel (PNG, either polarity).
    Blurred,
    /// JPEG at quality 30 to 70 (either polarity).
    Jpeg,
    /// Coloured ink on a transparent background whose hidden colour is black (PNG, RGBA).
    TransparentPng,
    /// Contrasting ink on a random coloured card (PNG, RGB).
    ColouredBackground,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 10] = [
        Kind::DarkOnWhite,
        Kind::WhiteOnBlack,
        Kind::OffCentre,
        Kind::TouchingBorders,
        Kind::Thick,
        Kind::Thin,
        Kind::Blurred,
        Kind::Jpeg,
        Kind::TransparentPng,
        Kind::ColouredBackground,
    ];

    /// A short name, for tables and file names.
    pub fn name(self) -> &'static str {
        match self {
            Kind::DarkOnWhite => "dark-on-white",
            Kind::WhiteOnBlack => "white-on-black",
            Kind::OffCentre => "off-centre",
            Kind::TouchingBorders => "touching-borders",
            Kind::Thick => "thick",
            Kind::Thin => "thin",
            Kind::Blurred => "blurred",
            Kind::Jpeg => "jpeg",
            Kind::TransparentPng => "transparent",
            Kind::ColouredBackground => "coloured",
        }
    }

    /// The file extension of what [`render`] returns.
    pub fn extension(self) -> &'static str {
        if self == Kind::Jpeg {
            "jpg"
        } else {
            "png"
        }
    }
}

/// A 28×28 MNIST image (bytes, white on black) as a picture.
pub fn mnist_picture(pixels: &[u8]) -> GrayImage {
    GrayImage::from_raw(28, 28, pixels.to_vec()).expect("28×28 bytes")
}

/// The digit enlarged smoothly (Catmull-Rom) to `w`×`h`.
fn enlarge(digit: &GrayImage, w: u32, h: u32) -> GrayImage {
    imageops::resize(digit, w.max(1), h.max(1), FilterType::CatmullRom)
}

/// The digit cropped to its ink's bounding box.
fn tight(digit: &GrayImage) -> GrayImage {
    let ink: Vec<(u32, u32)> = digit.enumerate_pixels().filter(|p| p.2 .0[0] > 0).map(|p| (p.0, p.1)).collect();
    let (x0, x1) = (ink.iter().map(|p| p.0).min().unwrap_or(0), ink.iter().map(|p| p.0).max().unwrap_or(27));
    let (y0, y1) = (ink.iter().map(|p| p.1).min().unwrap_or(0), ink.iter().map(|p| p.1).max().unwrap_or(27));
    imageops::crop_imm(digit, x0, y0, x1 - x0 + 1, y1 - y0 + 1).to_image()
}

/// The size with the longer side `longer` and the aspect ratio of `w`×`h`.
fn fit(w: u32, h: u32, longer: u32) -> (u32, u32) {
    let m = w.max(h);
    ((w * longer).div_ceil(m), (h * longer).div_ceil(m))
}

fn invert(mut image: GrayImage) -> GrayImage {
    imageops::invert(&mut image);
    image
}

/// Grey-level dilation (`max`) or erosion (`min`) by a square of radius `r`, separably.
fn morph(image: &GrayImage, r: u32, pick: fn(u8, u8) -> u8) -> GrayImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let r = r as usize;
    // One pass along rows of `src` (len w·h, rows of `n` with stride `step`).
    let pass = |src: &[u8], along_rows: bool| -> Vec<u8> {
        let mut out = vec![0u8; w * h];
        let (lines, n) = if along_rows { (h, w) } else { (w, h) };
        for line in 0..lines {
            let at = |i: usize| if along_rows { line * w + i } else { i * w + line };
            for i in 0..n {
                let range = i.saturating_sub(r)..(i + r + 1).min(n);
                out[at(i)] = range.map(|j| src[at(j)]).reduce(pick).unwrap_or(0);
            }
        }
        out
    };
    let once = pass(image.as_raw(), true);
    GrayImage::from_raw(w as u32, h as u32, pass(&once, false)).expect("same size")
}

fn either_polarity(image: GrayImage, rng: &mut ChaCha8Rng) -> GrayImage {
    if rng.random_bool(0.5) {
        invert(image)
    } else {
        image
    }
}

/// Encodes a picture in `format` (JPEG at `quality`).
pub fn encode(image: &DynamicImage, format: ImageFormat, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    if format == ImageFormat::Jpeg {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
        image.write_with_encoder(encoder).expect("encode JPEG");
    } else {
        image.write_to(&mut Cursor::new(&mut out), format).expect("encode");
    }
    out
}

fn png(image: impl Into<DynamicImage>) -> Vec<u8> {
    encode(&image.into(), ImageFormat::Png, 0)
}

/// Relative luminance (Rec. 709 weights on the stored values), 0-1.
fn luminance(c: [u8; 3]) -> f32 {
    (0.2126 * c[0] as f32 + 0.7152 * c[1] as f32 + 0.0722 * c[2] as f32) / 255.0
}

/// A random colour whose luminance is in `range`.
fn colour(rng: &mut ChaCha8Rng, range: std::ops::Range<f32>) -> [u8; 3] {
    loop {
        let c = [rng.random(), rng.random(), rng.random()];
        if range.contains(&luminance(c)) {
            return c;
        }
    }
}

/// Renders MNIST digit `pixels` (28×28 bytes) as a picture of `kind`; returns
/// the bytes of its file (see [`Kind::extension`]).
pub fn render(kind: Kind, pixels: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let digit = mnist_picture(pixels);
    let size: u32 = rng.random_range(64..=512);
    let scale = size as f32 / 28.0;
    match kind {
        Kind::DarkOnWhite => png(invert(enlarge(&digit, size, size))),
        Kind::WhiteOnBlack => png(enlarge(&digit, size, size)),
        Kind::OffCentre => {
            let page = rng.random_range(256..=512u32);
            let t = tight(&digit);
            let longer = rng.random_range(page / 6..=page / 3);
            let (width, height) = fit(t.width(), t.height(), longer);
            let small = enlarge(&t, width, height);
            // Somewhere in a random quarter of the page, away from the middle.
            let (qx, qy) = (rng.random_bool(0.5), rng.random_bool(0.5));
            let span = |q: bool, n: u32| if q { page / 2..=page - n } else { 0..=page / 2 - n.min(page / 2) };
            let (x, y) = (rng.random_range(span(qx, width)), rng.random_range(span(qy, height)));
            let mut canvas = GrayImage::new(page, page);
            imageops::overlay(&mut canvas, &small, x.into(), y.into());
            png(invert(canvas))
        }
        Kind::TouchingBorders => {
            let t = tight(&digit);
            let (w, h) = fit(t.width(), t.height(), size);
            let mut canvas = GrayImage::new(size, size);
            imageops::overlay(&mut canvas, &enlarge(&t, w, h), ((size - w) / 2).into(), ((size - h) / 2).into());
            png(invert(canvas))
        }
        Kind::Thick => {
            let big = enlarge(&digit, size, size);
            let r = (scale * rng.random_range(0.5..1.0)).round() as u32;
            png(either_polarity(morph(&big, r, u8::max), rng))
        }
        Kind::Thin => {
            let big = enlarge(&digit, size, size);
            let r = (scale * rng.random_range(0.3..0.5)).round() as u32;
            png(either_polarity(morph(&big, r, u8::min), rng))
        }
        Kind::Blurred => {
            let big = enlarge(&digit, size, size);
            let blurred = imageops::blur(&big, scale * rng.random_range(0.5..1.0));
            png(either_polarity(blurred, rng))
        }
        Kind::Jpeg => {
            let big = either_polarity(enlarge(&digit, size, size), rng);
            encode(&big.into(), ImageFormat::Jpeg, rng.random_range(30..=70))
        }
        Kind::TransparentPng => {
            let big = enlarge(&digit, size, size);
            let ink = colour(rng, 0.0..0.3);
            png(RgbaImage::from_fn(size, size, |x, y| {
                let a = big.get_pixel(x, y).0[0];
                if a == 0 {
                    Rgba([0, 0, 0, 0])
                } else {
                    Rgba([ink[0], ink[1], ink[2], a])
                }
            }))
        }
        Kind::ColouredBackground => {
            let big = enlarge(&digit, size, size);
            let (card, ink) = if rng.random_bool(0.5) {
                let card = colour(rng, 0.55..1.0);
                (card, colour(rng, 0.0..luminance(card) - 0.45))
            } else {
                let card = colour(rng, 0.0..0.45);
                (card, colour(rng, luminance(card) + 0.45..1.0))
            };
            png(RgbImage::from_fn(size, size, |x, y| {
                let a = big.get_pixel(x, y).0[0] as f32 / 255.0;
                Rgb(std::array::from_fn(|c| (card[c] as f32 * (1.0 - a) + ink[c] as f32 * a).round() as u8))
            }))
        }
    }
}

/// What a program without preprocessing does with a picture: grayscale
/// (ignoring transparency) and the whole picture resized to 28×28.
pub fn naive_pixels(image: &DynamicImage) -> [f32; 784] {
    let small = imageops::resize(&image.to_luma8(), 28, 28, FilterType::Triangle);
    std::array::from_fn(|i| small.as_raw()[i] as f32 / 255.0)
}

/// A `w`×`h` grayscale picture of `background` with `draw(x, y)` pixels of `ink`.
pub fn drawn(w: u32, h: u32, background: u8, ink: u8, draw: impl Fn(u32, u32) -> bool) -> DynamicImage {
    GrayImage::from_fn(w, h, |x, y| Luma([if draw(x, y) { ink } else { background }])).into()
}
