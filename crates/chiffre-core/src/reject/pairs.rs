//! The pair reader: a network that reads two touching digits whole.
//!
//! Where two digits overlap (a 1 drawn across a 3's curve, a 4's bar through
//! the next digit), no cut path separates them: every part that holds one
//! holds a piece of the other, and the digit reader, shown the pair, reads
//! the larger digit and loses the other ("3197" read "397"). The pair
//! reader is shown such a blob as it is and names both digits at once: 100
//! classes `10 · left + right`, and a 101st, [`NOT_A_PAIR`], for one digit,
//! three run together, or a pair cut in the wrong place. Segmentation weighs
//! its reading beside the cuts' ([`crate::segment::best_groups`]).
//!
//! Its input keeps the blob's shape ([`pair_input`]): the ink's box scaled to
//! [`PAIR_HEIGHT`] pixels tall (or narrower when too wide), centred on a
//! [`PAIR_ROWS`] × [`PAIR_COLS`] canvas. It learns from pairs composed from
//! MNIST *training* digits ([`pair_examples`]), touching or overlapping.
//!
//! Shapes (one example):
//! ```text
//! [28, 40, 1] → conv 3×3, 32 → ReLU → max 2×2 → [13, 19, 32]
//!             → conv 3×3, 64 → ReLU → max 2×2 → [5, 8, 64] → flatten [2560]
//!             → dense 128 → ReLU → dense 101 (the classes)
//! ```

use super::gate::{class_probabilities, train_classifier};
use crate::data::Dataset;
use crate::layers::{Init, Padding};
use crate::model::{LayerSpec, ModelSpec, Sequential};
use crate::preprocess::{crop, ink_bounds, resample, Gray, Pixels, SIDE};
use crate::segment::garbage::{columns, digit_ink, side_by_side};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Rows of the pair reader's input.
pub const PAIR_ROWS: usize = 28;
/// Columns of the pair reader's input.
pub const PAIR_COLS: usize = 40;
/// Values of one input.
pub const PAIR_PIXELS: usize = PAIR_ROWS * PAIR_COLS;
/// The blob's height in the input (as an MNIST digit's, 20 pixels)...
pub const PAIR_HEIGHT: usize = 20;
/// ...unless that makes it wider than this.
pub const PAIR_WIDTH: usize = 36;
/// The class of a blob that is not two whole digits.
pub const NOT_A_PAIR: usize = 100;
/// The pair reader's classes: 100 pairs and [`NOT_A_PAIR`].
pub const PAIR_CLASSES: usize = 101;

/// The pair reader's architecture (about 350,000 weights). Half as wide
/// (16 and 32 filters, 182,000 weights, trained in half the time) read the
/// touching numbers of bench/numbers.sh worse: 3.14 % of their digits wrong
/// on average over the four sets, against 2.98 % (2026-12-06, Intel Xeon).
pub fn pair_spec() -> ModelSpec {
    use LayerSpec::*;
    let conv = |filters| Conv2d { filters, kernel: 3, stride: 1, padding: Padding::Valid, init: Init::He };
    let pool = MaxPool2d { size: 2, stride: None };
    ModelSpec {
        name: "pair-reader".into(),
        input: [PAIR_ROWS, PAIR_COLS, 1],
        layers: vec![
            conv(32),
            Relu,
            pool.clone(),
            conv(64),
            Relu,
            pool,
            Flatten,
            Dense { units: 128, init: Init::He },
            Relu,
            Dense { units: PAIR_CLASSES, init: Init::Glorot },
        ],
        training: None,
    }
}

/// The pair reader's input for a blob of ink (bright on black, any size):
/// its ink's box scaled to [`PAIR_HEIGHT`] pixels tall, or [`PAIR_WIDTH`]
/// wide when that is smaller, centred. `None` when it holds no ink.
pub fn pair_input(ink: &Gray) -> Option<Vec<f32>> {
    let tight = crop(ink, ink_bounds(ink, 0.0)?);
    let (w, h) = (tight.width() as f32, tight.height() as f32);
    let scale = (PAIR_HEIGHT as f32 / h).min(PAIR_WIDTH as f32 / w);
    let (sw, sh) =
        (((w * scale).round() as usize).clamp(1, PAIR_WIDTH), ((h * scale).round() as usize).clamp(1, PAIR_HEIGHT));
    let scaled = resample(&tight, sw, sh);
    let (ox, oy) = ((PAIR_COLS - sw) / 2, (PAIR_ROWS - sh) / 2);
    let mut out = vec![0.0; PAIR_PIXELS];
    for y in 0..sh {
        for (x, &v) in scaled.row(y).iter().enumerate() {
            out[(oy + y) * PAIR_COLS + ox + x] = v.clamp(0.0, 1.0);
        }
    }
    Some(out)
}

/// What a drawn example is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairKind {
    /// Two digits touching or overlapping: their pair class.
    Pair,
    /// One digit alone.
    One,
    /// Two touching digits, one of them cut short (a wrong cut).
    Cut,
    /// Three digits run together.
    Three,
    /// A letter, symbol, word, shape or scribble (one of the judges'
    /// generated non-digits), drawn at a random width.
    NotDigits,
}

/// Example `index` of the stream `seed`, from the digits of `data` (MNIST
/// *training* digits) and the non-digit pictures `others` (28×28, as the
/// judges learn from: [`super::generate_many`]; none: no such examples): its
/// kind, its input ([`pair_input`]) and its class. `None` when the draw left
/// no ink (rare: draw the next index).
pub fn pair_example(data: &Dataset, others: &[Pixels], seed: u64, index: u64) -> Option<(PairKind, Vec<f32>, u8)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index);
    let n = data.len();
    let digit = |rng: &mut ChaCha8Rng| {
        let k = rng.random_range(0..n);
        digit_ink(data, k, rng.random_range(0.85..1.15)).map(|g| (g, data.labels[k]))
    };
    let kind = match rng.random_range(0..20) {
        0..=10 => PairKind::Pair,
        11..=14 => PairKind::One,
        15..=16 => PairKind::Cut,
        17 => PairKind::Three,
        _ if others.is_empty() => PairKind::One,
        _ => PairKind::NotDigits,
    };
    let (a, la) = digit(&mut rng)?;
    let h = a.height() as f32;
    // Touching or overlapping, as the pairs segmentation cannot cut. Tried
    // on 2026-12-07 (AMD EPYC, seeds 1 / 2, judges refitted, the four sets
    // of bench/numbers_spread.sh) and left out: overlaps up to half the
    // height (a 1 drawn inside a 0, which this pair reader calls "not a
    // pair"): touching 3.22, 3.53, 2.91, 2.98 → 2.85, 3.38, 2.85, 3.04 % and
    // 2.65, 2.88, 2.79, 2.92 → 2.62, 2.91, 2.85, 2.98 %, but digits apart
    // read worse with seed 1 (count right apart 98.79, 100, 99.56, 99.35 →
    // 98.59, 99.55, 99.13, 98.91 %) and words read as a number without `?`
    // 17.9 → 23.7 % and 17.4 → 22.2 %: a reader readier to call a blob a
    // pair calls more letters pairs too.
    let join = |left: &Gray, right: &Gray, rng: &mut ChaCha8Rng| {
        let gap = (h * rng.random_range(-0.35..0.04)) as i64;
        let drop = (h * rng.random_range(-0.08..0.08)) as i64;
        side_by_side(left, right, gap, drop)
    };
    let (blob, class) = match kind {
        PairKind::NotDigits => {
            let other = &others[rng.random_range(0..others.len())];
            let gray = Gray::new(SIDE, SIDE, other.to_vec())?;
            let tight = crop(&gray, ink_bounds(&gray, 0.0)?);
            let stretch = rng.random_range(0.7..2.0);
            let width = ((tight.width() as f32 * stretch) as usize).max(1);
            (resample(&tight, width, tight.height()), NOT_A_PAIR as u8)
        }
        // Some drawn wide: a wide 0 or 6 is no pair either.
        PairKind::One if rng.random_bool(0.5) => {
            let stretch = rng.random_range(1.0..1.6);
            let wide = resample(&a, ((a.width() as f32 * stretch) as usize).max(1), a.height());
            (wide, NOT_A_PAIR as u8)
        }
        PairKind::One => (a, NOT_A_PAIR as u8),
        PairKind::Pair => {
            let (b, lb) = digit(&mut rng)?;
            (join(&a, &b, &mut rng), la * 10 + lb)
        }
        PairKind::Cut => {
            let (b, _) = digit(&mut rng)?;
            // A third to two thirds of one digit kept.
            let keep = rng.random_range(0.3..0.7);
            if rng.random_bool(0.5) {
                let b = columns(&b, 0, (b.width() as f32 * keep) as usize + 1);
                (join(&a, &b, &mut rng), NOT_A_PAIR as u8)
            } else {
                let a = columns(&a, (a.width() as f32 * (1.0 - keep)) as usize, a.width());
                (join(&a, &b, &mut rng), NOT_A_PAIR as u8)
            }
        }
        PairKind::Three => {
            let (b, _) = digit(&mut rng)?;
            let (c, _) = digit(&mut rng)?;
            let ab = join(&a, &b, &mut rng);
            (join(&ab, &c, &mut rng), NOT_A_PAIR as u8)
        }
    };
    Some((kind, pair_input(&blob)?, class))
}

/// `count` examples of the stream `seed` (see [`pair_example`]), as one
/// buffer of inputs and their classes.
pub fn pair_examples(data: &Dataset, others: &[Pixels], seed: u64, count: usize) -> (Vec<f32>, Vec<u8>) {
    let (mut pixels, mut labels) = (Vec::with_capacity(count * PAIR_PIXELS), Vec::with_capacity(count));
    let mut index = 0u64;
    while labels.len() < count && !data.is_empty() {
        if let Some((_, input, class)) = pair_example(data, others, seed, index) {
            pixels.extend_from_slice(&input);
            labels.push(class);
        }
        index += 1;
    }
    (pixels, labels)
}

/// A trained pair reader.
pub struct PairReader {
    /// `[PAIR_ROWS, PAIR_COLS, 1]` → [`PAIR_CLASSES`] scores.
    pub network: Sequential,
}

impl PairReader {
    /// Trains a pair reader on `count` examples drawn from `data` (MNIST
    /// training digits) and `others` (non-digits, see [`pair_example`]),
    /// `epochs` epochs of Adam, batch 128, seeded.
    pub fn train(
        data: &Dataset,
        others: &[Pixels],
        count: usize,
        epochs: usize,
        seed: u64,
    ) -> Result<PairReader, String> {
        let (pixels, labels) = pair_examples(data, others, seed ^ 0x9A12, count);
        if labels.is_empty() {
            return Err("the pair reader needs digits to learn from".into());
        }
        let mut network = Sequential::new(&pair_spec(), seed ^ 0x9A12).map_err(|e| e.to_string())?;
        let rows: Vec<&[f32]> = pixels.chunks_exact(PAIR_PIXELS).collect();
        train_classifier(&mut network, &rows, &labels, epochs, seed ^ 0x9A12)
            .map_err(|e| format!("training the pair reader {e}"))?;
        Ok(PairReader { network })
    }

    /// Checks that `network` can be a pair reader: [`PAIR_ROWS`] ×
    /// [`PAIR_COLS`] × 1 in, [`PAIR_CLASSES`] out.
    pub fn from_network(network: Sequential) -> Result<PairReader, String> {
        if network.spec().input != [PAIR_ROWS, PAIR_COLS, 1] || network.num_classes() != PAIR_CLASSES {
            return Err(format!(
                "the pair reader must read {PAIR_ROWS}×{PAIR_COLS}×1 inputs and give {PAIR_CLASSES} scores; \
                 this one reads {:?} and gives {}",
                network.spec().input,
                network.num_classes()
            ));
        }
        Ok(PairReader { network })
    }

    /// The class probabilities, one row of [`PAIR_CLASSES`] per input
    /// ([`pair_input`]).
    pub fn probabilities(&mut self, inputs: &[&[f32]]) -> Vec<f32> {
        class_probabilities(&mut self.network, inputs)
    }
}

/// What a row of the pair reader's probabilities says: the likeliest pair
/// (left digit, right digit) and its probability.
pub fn best_pair(probabilities: &[f32]) -> (u8, u8, f32) {
    let (class, p) = probabilities[..NOT_A_PAIR]
        .iter()
        .copied()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (c, p)| if p > best.1 { (c, p) } else { best });
    ((class / 10) as u8, (class % 10) as u8, p)
}

/// Each digit's own probabilities in a row of the pair reader's: the left
/// digit's (summed over the right one) and the right one's, each out of the
/// pair classes alone (the row's [`NOT_A_PAIR`] share left out).
pub fn digit_marginals(probabilities: &[f32]) -> ([f32; 10], [f32; 10]) {
    let (mut left, mut right) = ([0.0f32; 10], [0.0f32; 10]);
    for (class, &p) in probabilities[..NOT_A_PAIR].iter().enumerate() {
        left[class / 10] += p;
        right[class % 10] += p;
    }
    let total: f32 = left.iter().sum();
    if total > 0.0 {
        left.iter_mut().chain(right.iter_mut()).for_each(|p| *p /= total);
    }
    (left, right)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::garbage::bar_and_ring;

    #[test]
    fn a_blob_is_scaled_to_the_height_and_centred() {
        // A 10×40 (wide) bar of ink and a 30×10 (tall) one.
        let wide = Gray::from_fn(60, 30, |x, y| if (10..50).contains(&x) && (10..20).contains(&y) { 1.0 } else { 0.0 });
        let input = pair_input(&wide).unwrap();
        let cols: Vec<usize> =
            (0..PAIR_COLS).filter(|&x| (0..PAIR_ROWS).any(|y| input[y * PAIR_COLS + x] > 0.5)).collect();
        let rows: Vec<usize> =
            (0..PAIR_ROWS).filter(|&y| (0..PAIR_COLS).any(|x| input[y * PAIR_COLS + x] > 0.5)).collect();
        assert_eq!(cols.len(), PAIR_WIDTH, "4:1 is too wide for 20 tall: fitted to the width");
        assert_eq!(rows.len(), 9);
        assert!(
            (cols[0] + cols[cols.len() - 1]) / 2 == PAIR_COLS / 2 - 1
                || (cols[0] + cols[cols.len() - 1]) / 2 == PAIR_COLS / 2
        );
        let tall = Gray::from_fn(20, 40, |x, y| if (5..15).contains(&x) && (5..35).contains(&y) { 1.0 } else { 0.0 });
        let input = pair_input(&tall).unwrap();
        let rows = (0..PAIR_ROWS).filter(|&y| (0..PAIR_COLS).any(|x| input[y * PAIR_COLS + x] > 0.5)).count();
        assert_eq!(rows, PAIR_HEIGHT);
        assert!(pair_input(&Gray::filled(10, 10, 0.0)).is_none());
    }

    #[test]
    fn examples_are_seeded_and_labelled_by_kind() {
        let data = bar_and_ring();
        let mut kinds = Vec::new();
        // A "not a digit": a horizontal bar.
        let mut bar = [0.0; crate::preprocess::PIXELS];
        bar[12 * 28 + 4..12 * 28 + 24].iter_mut().for_each(|v| *v = 1.0);
        for i in 0..120 {
            let (kind, input, class) = pair_example(&data, &[bar], 3, i).expect("ink");
            assert_eq!(input.len(), PAIR_PIXELS);
            assert_eq!(pair_example(&data, &[bar], 3, i).unwrap().1, input, "same seed, same input");
            match kind {
                // bar_and_ring: digit 1 is a bar, digit 0 a ring.
                PairKind::Pair => assert!([0, 1, 10, 11].contains(&class), "{class}"),
                _ => assert_eq!(usize::from(class), NOT_A_PAIR),
            }
            kinds.push(kind);
        }
        for kind in [PairKind::Pair, PairKind::One, PairKind::Cut, PairKind::Three, PairKind::NotDigits] {
            assert!(kinds.contains(&kind), "{kind:?} drawn");
        }
        // Without non-digits, none is drawn.
        assert!((0..120).all(|i| pair_example(&data, &[], 3, i).unwrap().0 != PairKind::NotDigits));
    }

    #[test]
    fn marginals_split_the_pair_classes() {
        let mut p = vec![0.0; PAIR_CLASSES];
        p[31] = 0.6;
        p[38] = 0.2;
        p[NOT_A_PAIR] = 0.2;
        assert_eq!(best_pair(&p), (3, 1, 0.6));
        let (left, right) = digit_marginals(&p);
        assert!((left[3] - 1.0).abs() < 1e-6);
        assert!((right[1] - 0.75).abs() < 1e-6 && (right[8] - 0.25).abs() < 1e-6);
    }

    #[test]
    fn only_a_pair_shaped_network_is_a_pair_reader() {
        assert!(PairReader::from_network(Sequential::new(&pair_spec(), 1).unwrap()).is_ok());
        let mut spec = pair_spec();
        spec.input = [28, 28, 1];
        let error = PairReader::from_network(Sequential::new(&spec, 1).unwrap()).err().expect("28×28 is refused");
        assert!(error.contains("28×40"), "{error}");
    }
}
