//! MNIST-style preprocessing: turn any picture of a digit into the 28×28
//! input the network was trained on.
//!
//! MNIST digits were made a precise way: bright ink (1.0) on a black (0.0)
//! background; the digit scaled, keeping its aspect ratio, so that its longer
//! side fits a 20-pixel box, with anti-aliasing (grey edges); then placed in a
//! 28×28 frame with its intensity-weighted centre of mass at the centre.
//! [`preprocess`] does the same to any picture, one small step at a time:
//!
//! 1. `to_grayscale` (with the feature `image`): composite transparency onto white, then luminance
//!    (decoding a file is `load_image`, which refuses huge images from their
//!    header before decoding them);
//! 2. [`shrink_to`]: very large pictures are first area-averaged down to
//!    [`WORKING_SIDE`] pixels (the digit ends up 20 pixels tall anyway);
//! 3. [`detect_polarity`] and [`to_ink`]: dark ink on a light background is
//!    inverted, bright ink on a dark background is kept;
//! 4. [`ink_levels`] and [`isolate_ink`]: a threshold from the histogram
//!    (Otsu) separates ink from background; paper texture and JPEG noise below
//!    a noise floor are removed, specks not attached to the digit too, and the
//!    ink is stretched to full brightness;
//! 5. [`ink_bounds`] and [`crop`]: cut to the ink's bounding box;
//!    [`normalise_strokes`]: strokes far thinner or thicker than MNIST's are
//!    brought to the nearest end of MNIST's usual range;
//! 6. [`scale_to_box`]: the longer side becomes 20 pixels, aspect ratio kept,
//!    with an area-averaging (anti-aliasing) filter;
//! 7. [`place_by_centre_of_mass`]: paste into 28×28 with the centre of mass at
//!    the centre.
//!
//! A picture that already looks like MNIST ([`looks_like_mnist`]) passes
//! through unchanged; [`raw_pixels`] skips preprocessing entirely.
//!
//! ```
//! use chiffre_core::preprocess::{preprocess, Gray, PIXELS, SIDE};
//!
//! // A dark "1" drawn on white paper, 60×200 pixels, touching the top.
//! let paper = Gray::from_fn(60, 200, |x, y| if (25..35).contains(&x) && y < 150 { 0.08 } else { 0.92 });
//! let pixels = preprocess(&paper).unwrap();
//! assert_eq!(pixels.len(), PIXELS);
//! // Ink is bright on black now, and the stroke is 20 pixels tall.
//! let rows_with_ink = (0..SIDE).filter(|y| pixels[y * SIDE..(y + 1) * SIDE].iter().any(|&v| v > 0.5)).count();
//! assert_eq!(rows_with_ink, 20);
//! assert_eq!(pixels[0], 0.0);
//! ```

#[cfg(feature = "image")]
mod decode;
mod fill;
mod geometry;
mod ink;
mod resample;
mod stroke;

#[cfg(feature = "image")]
pub use decode::{decode_bytes, encode_png, load_image, to_grayscale};
pub use geometry::{centre_of_mass, crop, ink_bounds, place_by_centre_of_mass, scale_to_box, shrink_to, Bounds};
pub use ink::{
    detect_polarity, ink_levels, into_ink, isolate_ink, isolate_ink_keeping, to_ink, InkLevels, Polarity,
    SPECK_FRACTION,
};
pub use resample::resample;
pub use stroke::{normalise_strokes, stroke_width, MAX_STROKE, MIN_STROKE};

pub(crate) use fill::{fill, next_seed};
use std::borrow::Cow;
use std::path::Path;

/// A picture the engine can read: anything that gives its light levels as a
/// [`Gray`] (0 black, 1 white). A [`Gray`] is one; with the feature `image`,
/// so is an `image::DynamicImage` (transparency composited onto white, see
/// `to_grayscale`).
pub trait Picture {
    /// The picture's light levels in `[0, 1]`, 0 black, 1 white.
    fn light(&self) -> Cow<'_, Gray>;
}

impl Picture for Gray {
    fn light(&self) -> Cow<'_, Gray> {
        Cow::Borrowed(self)
    }
}

#[cfg(feature = "image")]
impl Picture for image::DynamicImage {
    fn light(&self) -> Cow<'_, Gray> {
        Cow::Owned(to_grayscale(self))
    }
}

/// The largest width or height of a picture file accepted (feature `image`).
pub const MAX_SIDE: u32 = 16_384;
/// The largest number of pixels accepted (a 50-megapixel photo).
pub const MAX_PIXELS: u64 = 50_000_000;
/// The largest picture file accepted, in bytes.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Side of the network's input image.
pub const SIDE: usize = 28;
/// Values in one input image (28 × 28).
pub const PIXELS: usize = SIDE * SIDE;
/// Side of the box the digit's longer side is scaled to.
pub const BOX: usize = 20;
/// Where the centre of mass goes, in pixel indices (column, row).
///
/// Measured on the MNIST files: the mean centre of mass of the test images is
/// (14.01, 13.99), every one within half a pixel of (14, 14), so MNIST placed
/// it at index 14 (the middle of pixel 14), not at 13.5.
pub const CENTRE: f32 = 14.0;
/// Pictures larger than this (either side) are area-averaged down to it first.
pub const WORKING_SIDE: usize = 1024;
/// The smallest picture that can hold a digit (either side).
pub const MIN_SIDE: usize = 8;
/// The least difference between ink and background (on a 0-1 scale) that
/// counts as a digit.
pub const MIN_CONTRAST: f32 = 0.1;

/// One network input: 28×28 values in `[0, 1]`, row-major, 0 background, 1 ink.
pub type Pixels = [f32; PIXELS];

/// Errors of preprocessing. Those about a file name it; those about the
/// picture itself do not (the caller knows where it came from: see
/// [`PreprocessError::in_file`]).
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// The file cannot be opened or read.
    #[error("{path}: cannot read the file: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("{path}: the file is {bytes} bytes; the limit for a picture is {MAX_FILE_BYTES} bytes")]
    FileTooLarge {
        /// The file.
        path: String,
        /// Its size.
        bytes: u64,
    },
    /// The bytes are not in a format we read.
    #[error("{path}: not an image chiffre can read (PNG, JPEG, BMP, GIF, TIFF, WebP, PGM/PPM): {message}")]
    NotAnImage {
        /// The file.
        path: String,
        /// What the decoder said.
        message: String,
    },
    /// A known format, but the data is damaged or truncated.
    #[error("{path}: damaged or truncated {format} image: {message}")]
    Damaged {
        /// The file.
        path: String,
        /// The format its header announced.
        format: String,
        /// What the decoder said.
        message: String,
    },
    /// The header announces more pixels than [`MAX_SIDE`] / [`MAX_PIXELS`] allow.
    #[error(
        "{path}: the image is {width}×{height} pixels, larger than the limit of {MAX_SIDE} per side and \
         {MAX_PIXELS} pixels in all; refused before decoding"
    )]
    TooLarge {
        /// The file.
        path: String,
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
    },
    /// Fewer than [`MIN_SIDE`] pixels on a side.
    #[error("the image is {width}×{height} pixels; a digit needs at least {MIN_SIDE}×{MIN_SIDE}")]
    TooSmall {
        /// Width.
        width: usize,
        /// Height.
        height: usize,
    },
    /// Nothing stands out from the background.
    #[error(
        "no ink: nothing stands out from the background (contrast {contrast:.2}, at least {MIN_CONTRAST} \
         needed on a 0-1 scale); there is no digit to read"
    )]
    NoInk {
        /// The difference between the strongest ink and the background.
        contrast: f32,
    },
    /// Something stands out, but once background noise and specks are
    /// removed no stroke is left.
    #[error(
        "no ink: what stands out from the background (contrast {contrast:.2}) is noise or specks, not a stroke; \
         there is no digit to read"
    )]
    OnlyNoise {
        /// The difference between the strongest ink and the background.
        contrast: f32,
    },
    /// Unprocessed input must already be 28×28.
    #[error("the image is {width}×{height} pixels; unprocessed (raw) input must be exactly {SIDE}×{SIDE}")]
    NotMnistSize {
        /// Width.
        width: usize,
        /// Height.
        height: usize,
    },
    /// A picture error, with the file it came from.
    #[error("{path}: {source}")]
    InFile {
        /// The file.
        path: String,
        /// The error.
        source: Box<PreprocessError>,
    },
}

impl PreprocessError {
    /// Names `path` in the message, unless the error already names a file.
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            PreprocessError::TooSmall { .. }
            | PreprocessError::NoInk { .. }
            | PreprocessError::OnlyNoise { .. }
            | PreprocessError::NotMnistSize { .. } => {
                PreprocessError::InFile { path: path.display().to_string(), source: Box::new(self) }
            }
            named => named,
        }
    }
}

/// The light level of one pixel, channels in `[0, 1]`: composited onto
/// white by its alpha (a transparent drawing shows on a page), then
/// luminance with the Rec. 709 weights (0.2126 R + 0.7152 G + 0.0722 B) on
/// the stored values.
pub fn light_of_rgba([r, g, b, a]: [f32; 4]) -> f32 {
    let luma = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    (luma * a + (1.0 - a)).clamp(0.0, 1.0)
}

/// A grayscale picture: one `f32` per pixel, row-major.
///
/// Before [`to_ink`] the values are light levels (0 black, 1 white); after
/// it they are ink (0 background, 1 full ink).
#[derive(Clone, Debug, PartialEq)]
pub struct Gray {
    width: usize,
    height: usize,
    data: Vec<f32>,
}

impl Gray {
    /// Wraps `data` (row-major); `None` when `data.len() != width * height`.
    pub fn new(width: usize, height: usize, data: Vec<f32>) -> Option<Self> {
        (width.checked_mul(height) == Some(data.len())).then_some(Gray { width, height, data })
    }

    /// A picture of one level.
    pub fn filled(width: usize, height: usize, value: f32) -> Self {
        Gray { width, height, data: vec![value; width * height] }
    }

    /// Builds a picture from `f(x, y)`.
    pub fn from_fn(width: usize, height: usize, f: impl Fn(usize, usize) -> f32) -> Self {
        let data = (0..height).flat_map(|y| (0..width).map(move |x| (x, y))).map(|(x, y)| f(x, y)).collect();
        Gray { width, height, data }
    }

    /// The light levels of 8-bit RGBA pixels (`width × height × 4` bytes, as
    /// a browser's `ImageData` holds them): each composited onto white by
    /// its alpha, then its Rec. 709 luminance, exactly as a decoded RGBA
    /// picture file is converted ([`light_of_rgba`]). `None` when the length
    /// is not `width × height × 4`.
    pub fn from_rgba8(width: usize, height: usize, rgba: &[u8]) -> Option<Self> {
        if width.checked_mul(height)?.checked_mul(4)? != rgba.len() {
            return None;
        }
        let data = rgba.chunks_exact(4).map(|p| light_of_rgba([0, 1, 2, 3].map(|k| f32::from(p[k]) / 255.0))).collect();
        Some(Gray { width, height, data })
    }

    /// The values, row-major, given back (to reuse the buffer).
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The value at column `x`, row `y`.
    ///
    /// # Panics
    /// Outside the picture (a programming error).
    pub fn get(&self, x: usize, y: usize) -> f32 {
        assert!(x < self.width && y < self.height, "pixel ({x}, {y}) outside {}×{}", self.width, self.height);
        self.data[y * self.width + x]
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values, row-major, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// One row.
    ///
    /// # Panics
    /// When `y` is outside the picture (a programming error).
    pub fn row(&self, y: usize) -> &[f32] {
        &self.data[y * self.width..(y + 1) * self.width]
    }
}

/// True when `ink` (bright ink on black, 0-1) is already an MNIST digit:
/// 28×28, a background of exact zeros (at least half the pixels), the
/// bounding box of non-zero pixels 19 or 20 pixels on its longer side, and the
/// centre of mass within one pixel of [`CENTRE`]. Every MNIST image passes
/// (their boxes are 19–20 pixels, their centres within half a pixel).
pub fn looks_like_mnist(ink: &Gray) -> bool {
    if ink.width() != SIDE || ink.height() != SIDE {
        return false;
    }
    let zeros = ink.data().iter().filter(|&&v| v == 0.0).count();
    if zeros * 2 < PIXELS {
        return false;
    }
    let (Some(bounds), Some((cx, cy))) = (ink_bounds(ink, 0.0), centre_of_mass(ink)) else { return false };
    let longer = bounds.width().max(bounds.height());
    (BOX - 1..=BOX).contains(&longer) && (cx - CENTRE).abs() <= 1.0 && (cy - CENTRE).abs() <= 1.0
}

/// The larger of two numbers that are never NaN (ink levels, path costs):
/// one compare and select, which the compiler vectorises; `f32::max` also
/// handles a NaN, which kept the loops over a row that use it running one
/// pixel at a time.
#[inline]
pub(crate) fn larger(a: f32, b: f32) -> f32 {
    if b > a {
        b
    } else {
        a
    }
}

/// The smaller of two numbers that are never NaN (see [`larger`]).
#[inline]
pub(crate) fn smaller(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

/// Copies a 28×28 ink picture into a network input, clamped to `[0, 1]`
/// (area averaging can round a full pixel to 1.0000001, which a caller
/// checking the range, such as `chiffre serve`'s JSON input, would refuse).
pub(crate) fn to_pixels(ink: &Gray) -> Pixels {
    let mut out = [0.0; PIXELS];
    out.iter_mut().zip(ink.data()).for_each(|(o, &v)| *o = v.clamp(0.0, 1.0));
    out
}

/// The whole MNIST-style preprocessing of a decoded picture (see the module
/// documentation for the steps). Errors: [`PreprocessError::TooSmall`],
/// [`PreprocessError::NoInk`].
pub fn preprocess(image: &(impl Picture + ?Sized)) -> Result<Pixels, PreprocessError> {
    let ink = ink_picture(image)?;
    if looks_like_mnist(&ink.ink) {
        return Ok(to_pixels(&ink.ink));
    }
    let clean = ink.clean()?;
    let only_noise = || PreprocessError::OnlyNoise { contrast: clean.levels.contrast };
    let bounds = ink_bounds(&clean.ink, 0.0).ok_or_else(only_noise)?;
    normalise_digit(&crop(&clean.ink, bounds)).ok_or_else(only_noise)
}

/// A picture as ink (steps 1 to 3): bright ink on black, at most
/// [`WORKING_SIDE`] pixels a side.
#[derive(Clone, Debug)]
pub struct InkPicture {
    /// Ink levels, 0 background, larger is more ink (not yet cleaned).
    pub ink: Gray,
    /// Original pixels per working pixel (1.0 unless the picture was shrunk):
    /// multiply a working coordinate by it to find the original pixel.
    pub scale: f32,
}

/// Ink separated from the background (step 4): every kept pixel in `(0, 1]`,
/// the background exactly 0.
#[derive(Clone, Debug)]
pub struct CleanInk {
    /// The cleaned ink, the size of the [`InkPicture`] it came from.
    pub ink: Gray,
    /// The levels used to separate it.
    pub levels: InkLevels,
}

impl InkPicture {
    /// Step 4: separates ink from background ([`ink_levels`], [`isolate_ink`]).
    /// Errors: [`PreprocessError::NoInk`].
    pub fn clean(&self) -> Result<CleanInk, PreprocessError> {
        self.clean_keeping(SPECK_FRACTION)
    }

    /// [`InkPicture::clean`], dropping only pieces lighter than
    /// `speck_fraction` of the heaviest (see [`isolate_ink_keeping`]).
    pub fn clean_keeping(&self, speck_fraction: f32) -> Result<CleanInk, PreprocessError> {
        let levels = ink_levels(&self.ink)?;
        Ok(CleanInk { ink: isolate_ink_keeping(&self.ink, &levels, speck_fraction), levels })
    }
}

/// Steps 1 to 3 of [`preprocess`]: grayscale, shrunk to [`WORKING_SIDE`],
/// ink made bright on black. Errors: [`PreprocessError::TooSmall`].
pub fn ink_picture(image: &(impl Picture + ?Sized)) -> Result<InkPicture, PreprocessError> {
    let gray = image.light();
    if gray.width() < MIN_SIDE || gray.height() < MIN_SIDE {
        return Err(PreprocessError::TooSmall { width: gray.width(), height: gray.height() });
    }
    let original = gray.width().max(gray.height());
    // A picture small enough is worked on as it is (no copy when it was decoded for this).
    let gray = if original <= WORKING_SIDE { gray.into_owned() } else { shrink_to(&gray, WORKING_SIDE) };
    let scale = original as f32 / gray.width().max(gray.height()) as f32;
    let polarity = detect_polarity(&gray);
    Ok(InkPicture { ink: into_ink(gray, polarity), scale })
}

/// Steps 5 to 7 of [`preprocess`] on one digit's cleaned ink, cut to its
/// bounding box: strokes normalised, longer side scaled to [`BOX`], placed in
/// 28×28 by its centre of mass. `None` when it holds no ink.
pub fn normalise_digit(digit: &Gray) -> Option<Pixels> {
    let scaled = match stroke::corrected_strokes(digit) {
        Some(corrected) => scale_to_box(&corrected, BOX),
        None => scale_to_box(digit, BOX),
    };
    place_by_centre_of_mass(&scaled, SIDE).map(|framed| to_pixels(&framed))
}

/// No preprocessing: the picture must already be 28×28; it is only converted
/// to grayscale (transparency onto white) and scaled to `[0, 1]`, polarity
/// kept. Errors: [`PreprocessError::NotMnistSize`].
pub fn raw_pixels(image: &(impl Picture + ?Sized)) -> Result<Pixels, PreprocessError> {
    let gray = image.light();
    if gray.width() != SIDE || gray.height() != SIDE {
        return Err(PreprocessError::NotMnistSize { width: gray.width(), height: gray.height() });
    }
    Ok(to_pixels(&gray))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_file_names_the_file_once() {
        let e = PreprocessError::TooSmall { width: 1, height: 1 }.in_file(Path::new("a.png"));
        assert_eq!(e.to_string(), "a.png: the image is 1×1 pixels; a digit needs at least 8×8");
        let e = PreprocessError::FileTooLarge { path: "b.png".into(), bytes: 1 << 40 }.in_file(Path::new("b.png"));
        assert_eq!(e.to_string().matches("b.png").count(), 1, "{e}");
    }

    #[test]
    fn gray_checks_its_length_and_indexes_row_major() {
        assert!(Gray::new(3, 2, vec![0.0; 5]).is_none());
        // width × height wraps to 0: refused, not taken for an empty picture.
        assert!(Gray::new(usize::MAX / 2 + 1, 2, Vec::new()).is_none());
        let g = Gray::from_fn(3, 2, |x, y| (10 * y + x) as f32);
        assert_eq!(g.get(2, 1), 12.0);
        assert_eq!(g.row(1), &[10.0, 11.0, 12.0]);
    }

    #[test]
    fn an_mnist_like_picture_is_recognised_and_an_off_centre_one_is_not() {
        // A 20-tall, 6-wide bar centred on (14, 14): pixel columns 11..17, rows 4..24.
        let bar = |dx: usize| {
            Gray::from_fn(SIDE, SIDE, move |x, y| {
                f32::from(u8::from((11 + dx..17 + dx).contains(&x) && (4..24).contains(&y)))
            })
        };
        assert!(looks_like_mnist(&bar(0)));
        assert!(!looks_like_mnist(&bar(5)), "off centre");
        assert!(!looks_like_mnist(&Gray::filled(SIDE, SIDE, 0.0)), "empty");
        assert!(!looks_like_mnist(&Gray::filled(SIDE + 1, SIDE, 0.0)), "wrong size");
    }

    #[test]
    fn too_small_and_blank_pictures_are_refused() {
        let tiny = Gray::filled(1, 1, 0.0);
        assert!(matches!(preprocess(&tiny), Err(PreprocessError::TooSmall { width: 1, height: 1 })));
        let empty = Gray::filled(0, 0, 0.0);
        assert!(matches!(preprocess(&empty), Err(PreprocessError::TooSmall { width: 0, height: 0 })));
        for level in [0u8, 128, 255] {
            let blank = Gray::filled(40, 30, f32::from(level) / 255.0);
            assert!(matches!(preprocess(&blank), Err(PreprocessError::NoInk { .. })), "level {level}");
        }
    }

    #[test]
    fn a_smooth_gradient_is_not_a_digit() {
        // Contrast from one side to the other, but no stroke anywhere.
        let gradient = Gray::from_fn(200, 200, |x, _| f32::from((x * 255 / 199) as u8) / 255.0);
        let result = preprocess(&gradient);
        let Err(e) = result else { panic!("a gradient was read as a digit: {result:?}") };
        assert!(matches!(e, PreprocessError::OnlyNoise { .. } | PreprocessError::NoInk { .. }), "{e:?}");
        assert!(e.to_string().starts_with("no ink"), "{e}");
    }

    #[test]
    fn raw_pixels_needs_28_by_28_and_keeps_polarity() {
        let white = Gray::filled(28, 28, 1.0);
        assert!(raw_pixels(&white).unwrap().iter().all(|&v| v == 1.0));
        let big = Gray::filled(64, 64, 0.0);
        assert!(matches!(raw_pixels(&big), Err(PreprocessError::NotMnistSize { width: 64, height: 64 })));
    }
}
