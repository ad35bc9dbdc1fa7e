//! Reading a whole number: [`read_picture`] finds every digit of a picture
//! ([`crate::segment`]), normalises each MNIST-style and reads it with the
//! network; the result is a [`Reading`]: the text (digits, `.` and `-`,
//! lines joined by `\n`) and every digit with its box and prediction.
//!
//! ```no_run
//! // With the feature `image`: any picture file (without it, a `Gray`).
//! let mut model = chiffre_core::Model::load("models/cnn.safetensors")?;
//! # #[cfg(feature = "image")] {
//! let image = chiffre_core::preprocess::load_image("meter.jpg".as_ref())?;
//! let reading = model.read(&image)?;
//! println!("{}", reading.text());
//! for d in reading.digits() {
//!     println!("{} at {:?} ({:.2})", d.prediction.digit, d.bounds, d.prediction.confidence);
//! }
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::predict::{NotANumber, Prediction};
use crate::preprocess::{
    crop, ink_bounds, ink_picture, looks_like_mnist, normalise_digit, Bounds, Picture, Pixels, PreprocessError, PIXELS,
};
use crate::segment::{segment, segment_with_pairs, Mark, PairInputReader, Scored, SegmentError};

mod among;
mod both;
use among::accept_among_digits;
pub use among::{among_digits_threshold, AMONG_DIGITS_ODDS, ZERO_AMONG_DIGITS};
use both::{hinted_prediction, paired_prediction};
pub use both::{CUT_PAIR_WEIGHT, PAIRED_OWN_WEIGHT};

/// Pieces of ink lighter than this fraction of the heaviest are dropped
/// before segmentation: a decimal point may weigh 2–3 % of a digit, so the
/// single-digit preprocessing's 2 % would lose it (segmentation judges small
/// pieces by their size and place instead).
pub(crate) const POINT_FRACTION: f32 = 0.005;

/// One digit as JSON: `digit`, `confidence`, `probabilities`, `top` (the
/// `top` most probable digits, each with `digit` and `probability`) and
/// `digit_probability` (the probability that the mark is a digit at all);
/// for a mark that is not a digit, `digit` is null and `confidence` is its
/// digit probability.
pub fn digit_json(p: &Prediction, top: usize, is_digit: bool) -> serde_json::Value {
    let ranked: Vec<_> = p.top(top).iter().map(|(k, q)| serde_json::json!({"digit": k, "probability": q})).collect();
    serde_json::json!({
        "digit": if is_digit { Some(p.digit) } else { None },
        "confidence": if is_digit { p.confidence } else { p.digit_probability },
        "digit_probability": p.digit_probability,
        "probabilities": p.probabilities,
        "top": ranked,
    })
}

/// Errors of reading a picture.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The picture cannot be preprocessed (too small, blank).
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
    /// The picture holds too many marks to be a number.
    #[error(transparent)]
    Segment(#[from] SegmentError),
    /// The network's scores were not numbers.
    #[error(transparent)]
    NotANumber(#[from] NotANumber),
}

/// What reads the marks: one prediction per 28×28 input, in order
/// ([`crate::Model::predict_batch`], or an ensemble's mean).
pub type Predict<'a> = dyn FnMut(&[Pixels]) -> Result<Vec<Prediction>, NotANumber> + 'a;

/// A box in the original picture's pixels: `[x, y, width, height]`.
pub type PixelBox = [u32; 4];

/// One digit of a reading.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadDigit {
    /// What the network read.
    pub prediction: Prediction,
    /// False when the mark is "not a digit" at the reading's threshold (see
    /// [`Prediction::is_digit`]; among digits, at the lower threshold of
    /// [`among_digits_threshold`], and a 0 by [`ZERO_AMONG_DIGITS`]); it is
    /// then written `?` in the number.
    pub is_digit: bool,
    /// Where the digit's ink is, in the original picture's pixels.
    pub bounds: PixelBox,
    /// Its line, from 0 (top).
    pub line: usize,
    /// The 28×28 input the network saw.
    pub pixels: Box<Pixels>,
}

/// One symbol of a reading, in reading order.
#[derive(Clone, Debug, PartialEq)]
pub enum Symbol {
    /// A digit.
    Digit(ReadDigit),
    /// A decimal point (`.`) or a minus sign (`-`).
    Separator {
        /// `.` or `-`.
        symbol: char,
        /// Where, in the original picture's pixels.
        bounds: PixelBox,
        /// Its line, from 0 (top).
        line: usize,
    },
}

/// What was read in a picture: lines top to bottom, each a list of symbols
/// left to right.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    /// The lines.
    pub lines: Vec<Vec<Symbol>>,
}

impl Reading {
    /// The number as text: each line's digits, `.` and `-`, lines joined by
    /// `\n`; a mark that is not a digit is `?`.
    pub fn text(&self) -> String {
        let line_text = |line: &Vec<Symbol>| -> String {
            line.iter()
                .map(|s| match s {
                    Symbol::Digit(d) if d.is_digit => char::from_digit(d.prediction.digit as u32, 10).unwrap_or('?'),
                    Symbol::Digit(_) => '?',
                    Symbol::Separator { symbol, .. } => *symbol,
                })
                .collect()
        };
        self.lines.iter().map(line_text).collect::<Vec<_>>().join("\n")
    }

    /// The digits, in reading order.
    pub fn digits(&self) -> impl Iterator<Item = &ReadDigit> {
        self.lines.iter().flatten().filter_map(|s| match s {
            Symbol::Digit(d) => Some(d),
            Symbol::Separator { .. } => None,
        })
    }

    /// The digit, when the picture holds exactly one and nothing else.
    pub fn single(&self) -> Option<&ReadDigit> {
        match self.lines.as_slice() {
            [line] => match line.as_slice() {
                [Symbol::Digit(d)] => Some(d),
                _ => None,
            },
            _ => None,
        }
    }

    /// The reading as the JSON object of `chiffre predict --json` (without
    /// the `path` and `preprocessed` of a file): `number` (lines joined by
    /// `\n`), `digits` (each as [`digit_json`] with `box` = `[x, y, width,
    /// height]` in the picture's pixels and `line`) and `separators` (each
    /// with `symbol`, `box`, `line`); when the picture holds one digit and
    /// nothing else, also that digit's fields at the top level, as for a
    /// single-digit picture. `top` is how many ranked digits each gets.
    pub fn to_json(&self, top: usize) -> serde_json::Value {
        let digits: Vec<serde_json::Value> = self
            .digits()
            .map(|d| {
                let mut value = digit_json(&d.prediction, top, d.is_digit);
                value["box"] = serde_json::json!(d.bounds);
                value["line"] = d.line.into();
                value
            })
            .collect();
        let separators: Vec<serde_json::Value> = self
            .lines
            .iter()
            .flatten()
            .filter_map(|s| match s {
                Symbol::Separator { symbol, bounds, line } => {
                    Some(serde_json::json!({"symbol": symbol.to_string(), "box": bounds, "line": line}))
                }
                Symbol::Digit(_) => None,
            })
            .collect();
        let mut value = match self.single() {
            Some(d) => digit_json(&d.prediction, top, d.is_digit),
            None => serde_json::json!({}),
        };
        value["number"] = self.text().into();
        value["digits"] = digits.into();
        value["separators"] = separators.into();
        value
    }
}

fn scaled(b: Bounds, scale: f32) -> PixelBox {
    let s = |v: usize| (v as f32 * scale).round() as u32;
    let (x0, y0) = (s(b.x0), s(b.y0));
    [x0, y0, s(b.x1).saturating_sub(x0).max(1), s(b.y1).saturating_sub(y0).max(1)]
}

/// Reads every digit of a decoded picture. `predict` is the network (one
/// model or an ensemble): a prediction for each 28×28 input, in order; a mark
/// whose [`Prediction::digit_probability`] is below `threshold` is "not a
/// digit" (0 accepts every mark).
///
/// Touching digits are cut where the network reads the pieces best: each
/// piece scores the log of its class probability plus the log of its
/// [`Prediction::whole_probability`], so a model with a "not a digit" gate
/// (which has seen halves of digits and squeezed pairs) tells a good cut from
/// a bad one.
///
/// A picture that is one digit and nothing else is read exactly as
/// [`crate::preprocess::preprocess`] reads it, so single digits give the same
/// answer as before numbers were read. Errors: those of preprocessing (too
/// small, no ink), [`SegmentError::TooManyMarks`], and `predict`'s own.
pub fn read_picture(
    image: &(impl Picture + ?Sized),
    predict: &mut Predict<'_>,
    threshold: f32,
) -> Result<Reading, ReadError> {
    read_picture_with_pairs(image, predict, None, threshold)
}

/// [`read_picture`], with the pair reader of the model, if it has one
/// (`read_pairs`: [`crate::reject::PairReader::probabilities`]): two
/// digits run together that read better whole than cut are read whole.
pub fn read_picture_with_pairs(
    image: &(impl Picture + ?Sized),
    predict: &mut Predict<'_>,
    read_pairs: Option<&mut PairInputReader<'_>>,
    threshold: f32,
) -> Result<Reading, ReadError> {
    let picture = ink_picture(image)?;
    let scale = picture.scale;
    if looks_like_mnist(&picture.ink) {
        let pixels: Pixels = std::array::from_fn(|i| picture.ink.data()[i].clamp(0.0, 1.0));
        // An MNIST picture is one digit: its box is the whole picture, as with `--single`.
        let bounds = Bounds { x0: 0, y0: 0, x1: picture.ink.width(), y1: picture.ink.height() };
        return read_marks(
            vec![vec![Mark::Digit { bounds, pixels: Box::new(pixels), paired: None, hint: None }]],
            scale,
            predict,
            threshold,
        );
    }
    let clean = picture.clean_keeping(POINT_FRACTION)?;
    let only_noise = || PreprocessError::OnlyNoise { contrast: clean.levels.contrast };
    // The segmenter's scores cannot fail: a failed read scores every piece
    // impossible, and the first failure is the answer once segmenting ends.
    let mut failure = None;
    let mut seen = Seen::default();
    let mut log_confidence = |inputs: &[Pixels]| match seen.read(inputs, predict) {
        Ok(read) => read
            .iter()
            .map(|p| Scored {
                log_whole: p.confidence.max(1e-30).ln() + p.whole_probability.max(1e-30).ln(),
                not_a_digit: p.not_a_digit_probability(),
            })
            .collect(),
        Err(e) => {
            failure.get_or_insert(e);
            vec![Scored { log_whole: f32::NEG_INFINITY, not_a_digit: 1.0 }; inputs.len()]
        }
    };
    let lines = match read_pairs {
        Some(read_pairs) => segment_with_pairs(&clean.ink, &mut log_confidence, read_pairs),
        None => segment(&clean.ink, &mut log_confidence),
    };
    if let Some(e) = failure {
        return Err(e.into());
    }
    let mut lines = lines?;
    if lines.is_empty() {
        return Err(only_noise().into());
    }
    if let [line] = lines.as_mut_slice() {
        if let [Mark::Digit { bounds, pixels, paired: None, .. }] = line.as_mut_slice() {
            // One digit alone: the whole picture's ink, as `preprocess` reads it.
            let clean = picture.clean()?;
            let all = ink_bounds(&clean.ink, 0.0).ok_or_else(only_noise)?;
            **pixels = normalise_digit(&crop(&clean.ink, all)).ok_or_else(only_noise)?;
            *bounds = all;
        }
    }
    // The digits kept were read while segmenting: only the others are read again.
    read_marks(lines, scale, &mut |inputs| seen.read(inputs, predict), threshold)
}

/// The predictions made while segmenting, found again by their input, so
/// that the network does not read the same input twice: a component that
/// segmentation reads whole to decide whether to cut it, and again among
/// its groups; the digits kept, in the final reading (a tenth of the inputs
/// of a five-digit number).
#[derive(Default)]
struct Seen {
    /// Each input's prediction, in the order they were read.
    read: Vec<Prediction>,
    /// Where in `read` the inputs of each hash are (one, but for collisions).
    by_hash: std::collections::HashMap<u64, Vec<usize>>,
    /// The inputs, one after another ([`PIXELS`] values each, in `read`'s
    /// order): one growing buffer, not an allocation per input.
    pixels: Vec<f32>,
}

impl Seen {
    /// A hash of an input's exact values (FNV-1a over their bits).
    fn hash(pixels: &Pixels) -> u64 {
        pixels.iter().fold(0xcbf2_9ce4_8422_2325, |h, v| (h ^ u64::from(v.to_bits())).wrapping_mul(0x100_0000_01b3))
    }

    fn remember(&mut self, inputs: &[Pixels], predictions: Vec<Prediction>) {
        for (pixels, prediction) in inputs.iter().zip(predictions) {
            self.by_hash.entry(Self::hash(pixels)).or_default().push(self.read.len());
            self.read.push(prediction);
            self.pixels.extend_from_slice(pixels);
        }
    }

    fn find(&self, pixels: &Pixels) -> Option<&Prediction> {
        let same = |i: &&usize| self.pixels[*i * PIXELS..(*i + 1) * PIXELS] == pixels[..];
        let at = self.by_hash.get(&Self::hash(pixels))?.iter().find(same)?;
        self.read.get(*at)
    }

    /// Each input's prediction: the one seen, or `predict`'s (one call for
    /// all the unseen, which are then remembered).
    fn read(&mut self, inputs: &[Pixels], predict: &mut Predict<'_>) -> Result<Vec<Prediction>, NotANumber> {
        let found: Vec<Option<Prediction>> = inputs.iter().map(|p| self.find(p).cloned()).collect();
        let unseen: Vec<Pixels> = inputs.iter().zip(&found).filter(|(_, f)| f.is_none()).map(|(p, _)| *p).collect();
        let fresh = if unseen.is_empty() { Vec::new() } else { predict(&unseen)? };
        if fresh.len() != unseen.len() {
            return Err(NotANumber);
        }
        self.remember(&unseen, fresh.clone());
        let mut fresh = fresh.into_iter();
        found.into_iter().map(|f| f.or_else(|| fresh.next()).ok_or(NotANumber)).collect()
    }
}

/// Reads the digit marks (one batch) and turns marks into symbols.
fn read_marks(
    lines: Vec<Vec<Mark>>,
    scale: f32,
    predict: &mut Predict<'_>,
    threshold: f32,
) -> Result<Reading, ReadError> {
    let inputs: Vec<Pixels> = lines
        .iter()
        .flatten()
        .filter_map(|m| match m {
            // A digit of a pair too: its reading joins the pair reader's.
            Mark::Digit { pixels, .. } => Some(**pixels),
            Mark::Separator { .. } => None,
        })
        .collect();
    debug_assert!(inputs.iter().all(|p| p.len() == PIXELS));
    let mut predictions = predict(&inputs)?.into_iter();
    let lines = lines
        .into_iter()
        .enumerate()
        .map(|(line, marks)| {
            marks
                .into_iter()
                .filter_map(|m| match m {
                    Mark::Digit { bounds, pixels, paired, hint } => {
                        let read = predictions.next().map(|own| match (paired, hint) {
                            (Some(paired), _) => paired_prediction(&paired, &own.probabilities),
                            (None, Some(hint)) => hinted_prediction(own, &hint),
                            (None, None) => own,
                        });
                        read.map(|prediction| {
                            let is_digit = prediction.is_digit(threshold);
                            Symbol::Digit(ReadDigit {
                                prediction,
                                is_digit,
                                bounds: scaled(bounds, scale),
                                line,
                                pixels,
                            })
                        })
                    }
                    Mark::Separator { separator, bounds } => {
                        Some(Symbol::Separator { symbol: separator.symbol(), bounds: scaled(bounds, scale), line })
                    }
                })
                .collect()
        })
        .collect();
    let mut reading = Reading { lines };
    accept_among_digits(&mut reading, threshold);
    Ok(reading)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_inputs_are_not_read_again_and_the_order_is_kept() {
        // A "network" that reads an input as the digit of its first value, and counts its inputs.
        let asked = std::cell::Cell::new(0);
        let mut predict = |inputs: &[Pixels]| {
            asked.set(asked.get() + inputs.len());
            inputs.iter().map(|p| Prediction::from_logits(&[0.0, p[0]])).collect::<Result<Vec<_>, _>>()
        };
        let input = |v: f32| {
            let mut p = [0.0; PIXELS];
            p[0] = v;
            p
        };
        let (a, b, c) = (input(1.0), input(-1.0), input(2.0));
        let mut seen = Seen::default();
        seen.remember(&[a, b], predict(&[a, b]).unwrap());
        assert_eq!(asked.get(), 2);
        let read = seen.read(&[c, b, a], &mut predict).unwrap();
        assert_eq!(asked.get(), 3, "only the unseen input is read");
        let digits: Vec<usize> = read.iter().map(|p| p.digit).collect();
        assert_eq!(digits, vec![1, 0, 1]);
        assert_eq!(read[0], Prediction::from_logits(&[0.0, 2.0]).unwrap());
        assert!(seen.read(&[a, b], &mut predict).is_ok());
        assert_eq!(asked.get(), 3, "nothing new: the network is not called");
    }
}
