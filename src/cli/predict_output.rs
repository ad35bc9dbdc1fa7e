//! How `chiffre predict` prints a number: one text line, one JSON object, the
//! digits drawn in the terminal, or the picture with the digits' boxes.

use crate::preprocess::SIDE;
use crate::reading::{Reading, Symbol};
use image::{DynamicImage, Rgb, RgbImage};
use std::path::{Path, PathBuf};

/// `meter.jpg: 40713  (4 0.99, 0 0.98, 7 0.97, 1 0.99, 3 0.96)`; the lines of
/// a number on several lines are joined by ` / `; a mark that is not a digit
/// is `?` with its digit probability.
pub fn number_line(path: &Path, reading: &Reading) -> String {
    let each: Vec<String> = reading
        .digits()
        .map(|d| match d.is_digit {
            true => format!("{} {:.2}", d.prediction.digit, d.prediction.confidence),
            false => format!("? {:.2}", d.prediction.digit_probability),
        })
        .collect();
    format!("{}: {}  ({})", path.display(), reading.text().replace('\n', " / "), each.join(", "))
}

/// The JSON object of a number: `path`, then [`Reading::to_json`] (`number`,
/// `digits`, `separators`), and `preprocessed` (the files written, or null).
pub fn number_json(path: &Path, reading: &Reading, top: usize, saved: Option<&[PathBuf]>) -> serde_json::Value {
    let mut value = reading.to_json(top);
    value["path"] = path.display().to_string().into();
    value["preprocessed"] = saved.map(|files| files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>()).into();
    value
}

/// The number, then each digit's 28×28 input as the network saw it, with its reading.
pub fn shown_number(path: &Path, reading: &Reading) -> String {
    let mut out = format!("\n{}\n\nread as {}\n", path.display(), reading.text().replace('\n', " / "));
    for (k, d) in reading.digits().enumerate() {
        let text = vec![
            String::new(),
            format!("digit {} (line {})", k + 1, d.line + 1),
            String::new(),
            match d.is_digit {
                true => format!("read as {} ({:.1} %)", d.prediction.digit, 100.0 * d.prediction.confidence),
                false => format!("not a digit ({:.1} % a digit)", 100.0 * d.prediction.digit_probability),
            },
        ];
        out.push('\n');
        out.push_str(&crate::preview::beside(&crate::preview::half_blocks(&d.pixels[..], SIDE, SIDE), &text, 3));
    }
    out
}

/// Draws the outline of `[x, y, w, h]` in `colour`, `thickness` pixels wide, clipped to the picture.
fn outline(picture: &mut RgbImage, [x, y, w, h]: [u32; 4], colour: Rgb<u8>, thickness: u32) {
    let (pw, ph) = picture.dimensions();
    let (x1, y1) = ((x + w).min(pw), (y + h).min(ph));
    for py in y.saturating_sub(thickness)..(y1 + thickness).min(ph) {
        for px in x.saturating_sub(thickness)..(x1 + thickness).min(pw) {
            let inside = px >= x && px < x1 && py >= y && py < y1;
            if !inside {
                picture.put_pixel(px, py, colour);
            }
        }
    }
}

/// The picture (as RGB PNG bytes) with each digit's box in orange and each
/// separator's in blue.
pub fn boxes_png(image: &DynamicImage, reading: &Reading) -> Vec<u8> {
    let mut picture = image.to_rgb8();
    let thickness = (picture.width().max(picture.height()) / 300).max(1);
    for symbol in reading.lines.iter().flatten() {
        match symbol {
            Symbol::Digit(d) => outline(&mut picture, d.bounds, Rgb([240, 120, 0]), thickness),
            Symbol::Separator { bounds, .. } => outline(&mut picture, *bounds, Rgb([0, 90, 230]), thickness),
        }
    }
    let mut bytes = Vec::new();
    // Encoding an in-memory RGB image as PNG cannot fail but for memory.
    let _ = DynamicImage::ImageRgb8(picture).write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::Prediction;
    use crate::reading::ReadDigit;

    fn reading() -> Reading {
        let digit = |k: usize, x: u32, line: usize| {
            let mut logits = [0.0f32; 10];
            logits[k] = 8.0;
            Symbol::Digit(ReadDigit {
                prediction: Prediction::from_logits(&logits).unwrap(),
                is_digit: k != 9,
                bounds: [x, 5, 10, 20],
                line,
                pixels: Box::new([0.0; 784]),
            })
        };
        let point = Symbol::Separator { symbol: '.', bounds: [25, 22, 3, 3], line: 0 };
        Reading { lines: vec![vec![digit(4, 10, 0), point, digit(2, 30, 0)], vec![digit(7, 10, 1), digit(9, 40, 1)]] }
    }

    #[test]
    fn a_number_line_has_the_number_then_each_digit() {
        let line = number_line(Path::new("m.png"), &reading());
        assert!(line.starts_with("m.png: 4.2 / 7?  (4 1.00, 2 1.00, 7 1.00, ? 1.00)"), "{line}");
    }

    #[test]
    fn the_json_has_number_digits_boxes_and_lines() {
        let v = number_json(Path::new("m.png"), &reading(), 2, None);
        assert_eq!(v["number"], "4.2\n7?");
        assert_eq!(v["digits"].as_array().unwrap().len(), 4);
        assert!(v["digits"][3]["digit"].is_null(), "not a digit: {}", v["digits"][3]);
        assert_eq!(v["digits"][3]["confidence"], v["digits"][3]["digit_probability"]);
        assert_eq!(v["digits"][1]["box"], serde_json::json!([30, 5, 10, 20]));
        assert_eq!(v["digits"][2]["line"], 1);
        assert_eq!(v["digits"][0]["top"].as_array().unwrap().len(), 2);
        assert_eq!(v["separators"][0]["symbol"], ".");
        assert!(v["preprocessed"].is_null());
    }

    #[test]
    fn boxes_are_drawn_around_the_digits_only() {
        let white = DynamicImage::ImageRgb8(RgbImage::from_pixel(60, 40, Rgb([255, 255, 255])));
        let png = boxes_png(&white, &reading());
        let drawn = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(drawn.dimensions(), (60, 40));
        assert_eq!(drawn.get_pixel(9, 10), &Rgb([240, 120, 0]), "left edge of the first box");
        assert_eq!(drawn.get_pixel(15, 15), &Rgb([255, 255, 255]), "inside stays");
        assert_eq!(drawn.get_pixel(50, 38), &Rgb([255, 255, 255]), "away stays");
    }
}
