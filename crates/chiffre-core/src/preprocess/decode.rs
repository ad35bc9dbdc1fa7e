//! Step 1: from a file to a grayscale picture. Decoding refuses oversized
//! pictures from their header, before any pixel is decoded.

use super::{light_of_rgba, Gray, PreprocessError};
use image::{DynamicImage, ImageBuffer, ImageReader, Limits, Pixel, Primitive};
use std::io::Cursor;
use std::path::Path;

use super::{MAX_FILE_BYTES, MAX_PIXELS, MAX_SIDE};

/// Reads and decodes the picture at `path` (any format the `image` crate
/// reads here: PNG, JPEG, BMP, GIF, TIFF, WebP, PGM/PPM; recognised by its
/// content, whatever its name). Files over
/// [`MAX_FILE_BYTES`] are refused from their size, pictures over
/// [`MAX_SIDE`] / [`MAX_PIXELS`] from their header. Every error names `path`.
pub fn load_image(path: &Path) -> Result<DynamicImage, PreprocessError> {
    let name = path.display().to_string();
    let read = |source| PreprocessError::Read { path: name.clone(), source };
    let meta = std::fs::metadata(path).map_err(read)?;
    if meta.is_dir() {
        return Err(read(std::io::Error::other("it is a folder")));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(PreprocessError::FileTooLarge { path: name, bytes: meta.len() });
    }
    let bytes = std::fs::read(path).map_err(read)?;
    decode_bytes(&bytes, &name)
}

/// Decodes a picture held in memory; `name` is used in error messages.
/// The same checks as [`load_image`].
pub fn decode_bytes(bytes: &[u8], name: &str) -> Result<DynamicImage, PreprocessError> {
    let not_image = |message: String| PreprocessError::NotAnImage { path: name.to_string(), message };
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>, PreprocessError> {
        let reader =
            ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| not_image(e.to_string()))?;
        match reader.format() {
            Some(_) => Ok(reader),
            None => Err(not_image("its first bytes are those of no image format".into())),
        }
    };
    let first = reader()?;
    let format = first.format().map_or_else(|| "unknown".to_string(), |f| format!("{f:?}").to_uppercase());
    let damaged = |e: image::ImageError| match e {
        image::ImageError::Unsupported(u) => not_image(u.to_string()),
        other => {
            PreprocessError::Damaged { path: name.to_string(), format: format.clone(), message: other.to_string() }
        }
    };
    let (width, height) = first.into_dimensions().map_err(damaged)?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PreprocessError::TooLarge { path: name.to_string(), width, height });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // Room for the largest accepted picture in 16-bit RGBA, plus the decoder's own buffers.
    limits.max_alloc = Some(MAX_PIXELS * 8 + (64 << 20));
    let mut second = reader()?;
    second.limits(limits);
    second.decode().map_err(damaged)
}

/// A channel value scaled to `[0, 1]`; NaN (possible in floating-point
/// pictures) becomes 0, so that it cannot reach the network.
fn unit(value: f32, max: f32) -> f32 {
    let v = value / max;
    if v.is_nan() {
        0.0
    } else {
        v.clamp(0.0, 1.0)
    }
}

/// Light levels of a buffer of any pixel type ([`light_of_rgba`] of each pixel).
fn gray_of<P>(buffer: &ImageBuffer<P, Vec<P::Subpixel>>) -> Gray
where
    P: Pixel,
    P::Subpixel: Into<f32>,
{
    let max: f32 = <P::Subpixel as Primitive>::DEFAULT_MAX_VALUE.into();
    let (width, height) = (buffer.width() as usize, buffer.height() as usize);
    let data = buffer.pixels().map(|p| light_of_rgba(p.to_rgba().0.map(|c| unit(c.into(), max)))).collect();
    Gray::new(width, height, data).unwrap_or_else(|| Gray::filled(0, 0, 0.0))
}

/// [`gray_of`] for 8-bit pixels of `N` channels (gray + alpha, RGB, RGBA)
/// laid out in `raw`: the same arithmetic on the channels (`c / 255`, which
/// needs no clamp), without going through one `Rgba<f32>` per pixel (which
/// took as long as decoding the PNG).
fn gray_of_8bit<const N: usize>(width: u32, height: u32, raw: &[u8]) -> Gray {
    // The 256 values of a channel, divided once.
    let unit: [f32; 256] = std::array::from_fn(|c| c as f32 / 255.0);
    let mut data = vec![0.0f32; raw.len() / N];
    for (o, p) in data.iter_mut().zip(raw.chunks_exact(N)) {
        let c = |k: usize| unit[usize::from(p[k])];
        *o = match N {
            2 => light_of_rgba([c(0), c(0), c(0), c(1)]),
            3 => light_of_rgba([c(0), c(1), c(2), 1.0]),
            _ => light_of_rgba([c(0), c(1), c(2), c(3)]),
        };
    }
    Gray::new(width as usize, height as usize, data).unwrap_or_else(|| Gray::filled(0, 0, 0.0))
}

/// Converts a decoded picture to light levels in `[0, 1]` (0 black,
/// 1 white). Transparent pixels are composited onto white, as a transparent
/// drawing shows on a page; 8-bit values become exactly `v / 255`.
pub fn to_grayscale(image: &DynamicImage) -> Gray {
    match image {
        DynamicImage::ImageLuma8(b) => {
            let data = b.as_raw().iter().map(|&v| f32::from(v) / 255.0).collect();
            Gray::new(b.width() as usize, b.height() as usize, data).unwrap_or_else(|| Gray::filled(0, 0, 0.0))
        }
        DynamicImage::ImageLumaA8(b) => gray_of_8bit::<2>(b.width(), b.height(), b.as_raw()),
        DynamicImage::ImageRgb8(b) => gray_of_8bit::<3>(b.width(), b.height(), b.as_raw()),
        DynamicImage::ImageRgba8(b) => gray_of_8bit::<4>(b.width(), b.height(), b.as_raw()),
        DynamicImage::ImageLuma16(b) => gray_of(b),
        DynamicImage::ImageLumaA16(b) => gray_of(b),
        DynamicImage::ImageRgb16(b) => gray_of(b),
        DynamicImage::ImageRgba16(b) => gray_of(b),
        DynamicImage::ImageRgb32F(b) => gray_of(b),
        DynamicImage::ImageRgba32F(b) => gray_of(b),
        other => gray_of(&other.to_rgba32f()),
    }
}

/// Encodes a 28×28 network input as an 8-bit grayscale PNG (what the network
/// sees: white ink on black).
pub fn encode_png(pixels: &super::Pixels) -> Vec<u8> {
    let side = super::SIDE as u32;
    let bytes = pixels.iter().map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
    let mut out = Vec::new();
    if let Some(buffer) = image::GrayImage::from_raw(side, side, bytes) {
        // Encoding a well-formed 28×28 buffer into memory cannot fail.
        let _ = DynamicImage::ImageLuma8(buffer).write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, Rgba, RgbaImage};

    fn png(image: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn transparent_pixels_become_white_and_opaque_ones_keep_their_level() {
        let img = RgbaImage::from_fn(2, 1, |x, _| if x == 0 { Rgba([0, 0, 0, 0]) } else { Rgba([0, 0, 0, 255]) });
        let gray = to_grayscale(&DynamicImage::ImageRgba8(img));
        assert_eq!(gray.data(), &[1.0, 0.0]);
    }

    #[test]
    fn colours_become_their_luminance() {
        let img =
            image::RgbImage::from_fn(3, 1, |x, _| image::Rgb([[255, 0, 0], [0, 255, 0], [0, 0, 255]][x as usize]));
        let gray = to_grayscale(&DynamicImage::ImageRgb8(img));
        for (got, want) in gray.data().iter().zip([0.2126, 0.7152, 0.0722]) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn a_browsers_rgba_bytes_give_the_levels_of_the_decoded_rgba_picture_exactly() {
        let img = image::RgbaImage::from_fn(7, 5, |x, y| {
            let v = (x * 37 + y * 91) as u8;
            Rgba([v, v.wrapping_mul(3), 255 - v, (x * 40) as u8])
        });
        let from_bytes = Gray::from_rgba8(7, 5, img.as_raw()).unwrap();
        assert_eq!(from_bytes, to_grayscale(&DynamicImage::ImageRgba8(img.clone())));
        assert_eq!(Gray::from_rgba8(7, 4, img.as_raw()), None, "a wrong length is refused");
    }

    #[test]
    fn nan_in_a_float_picture_becomes_a_level_not_nan() {
        let img = image::Rgba32FImage::from_fn(3, 1, |x, _| match x {
            0 => Rgba([f32::NAN, 0.0, 0.0, 1.0]),
            1 => Rgba([1.0, 1.0, 1.0, f32::NAN]),
            _ => Rgba([f32::INFINITY, f32::NEG_INFINITY, 0.5, 1.0]),
        });
        let gray = to_grayscale(&DynamicImage::ImageRgba32F(img));
        assert!(gray.data().iter().all(|v| (0.0..=1.0).contains(v)), "{:?}", gray.data());
    }

    #[test]
    fn eight_bit_gray_is_exactly_v_over_255_and_16_bit_agrees() {
        let img = GrayImage::from_fn(256, 1, |x, _| Luma([x as u8]));
        let gray = to_grayscale(&DynamicImage::ImageLuma8(img.clone()));
        assert!(gray.data().iter().enumerate().all(|(i, &v)| v == i as f32 / 255.0));
        let wide = to_grayscale(&DynamicImage::ImageLuma8(img).to_luma16().into());
        assert!(gray.data().iter().zip(wide.data()).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn the_8_bit_path_gives_exactly_what_the_generic_one_gives() {
        // Every channel value, in every channel, with varied alpha.
        let channel = |x: u32, k: u32| ((x * (k + 1) * 37 + k * 11) % 256) as u8;
        let rgba = RgbaImage::from_fn(256, 3, |x, y| Rgba([0, 1, 2, 3].map(|k| channel(x + 256 * y, k))));
        let rgb = DynamicImage::ImageRgba8(rgba.clone()).to_rgb8();
        let luma_a = DynamicImage::ImageRgba8(rgba.clone()).to_luma_alpha8();
        assert_eq!(to_grayscale(&DynamicImage::ImageRgba8(rgba.clone())), gray_of(&rgba));
        assert_eq!(to_grayscale(&DynamicImage::ImageRgb8(rgb.clone())), gray_of(&rgb));
        assert_eq!(to_grayscale(&DynamicImage::ImageLumaA8(luma_a.clone())), gray_of(&luma_a));
    }

    #[test]
    fn png_round_trip_and_bad_bytes() {
        let img = DynamicImage::ImageLuma8(GrayImage::from_fn(9, 7, |x, y| Luma([(x * y) as u8])));
        let bytes = png(&img);
        assert_eq!(decode_bytes(&bytes, "x.png").unwrap(), img);
        let err = decode_bytes(b"hello, not an image", "notes.txt").unwrap_err();
        assert!(matches!(err, PreprocessError::NotAnImage { .. }), "{err}");
        assert!(err.to_string().starts_with("notes.txt: not an image"), "{err}");
        let err = decode_bytes(&bytes[..bytes.len() / 2], "half.png").unwrap_err();
        assert!(matches!(err, PreprocessError::Damaged { .. }), "{err}");
        assert!(err.to_string().starts_with("half.png: damaged or truncated PNG image"), "{err}");
    }

    #[test]
    fn huge_dimensions_are_refused_from_the_header() {
        // A real PNG whose header claims 20,000 × 20,000 pixels: patch the IHDR
        // width and height (bytes 16..24) and its CRC (bytes 29..33).
        let mut bytes = png(&DynamicImage::ImageLuma8(GrayImage::new(4, 4)));
        bytes[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        let err = decode_bytes(&bytes, "huge.png").unwrap_err();
        assert!(matches!(err, PreprocessError::TooLarge { width: 20_000, height: 20_000, .. }), "{err}");
        assert!(err.to_string().contains("refused before decoding"), "{err}");
    }

    #[test]
    fn encode_png_writes_what_the_network_sees() {
        let mut pixels = [0.0; super::super::PIXELS];
        pixels[30] = 1.0;
        pixels[31] = 0.5;
        let decoded = decode_bytes(&encode_png(&pixels), "p.png").unwrap().to_luma8();
        assert_eq!((decoded.width(), decoded.height()), (28, 28));
        assert_eq!(decoded.as_raw()[30..32], [255, 128]);
    }
}
