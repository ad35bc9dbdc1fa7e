//! What segmentation gets wrong, drawn on purpose: the 28×28 inputs a wrong
//! cut makes. Two digits touching read as one, a digit cut in two (its left
//! or right part alone), a digit with a sliver of its neighbour. A network
//! that learns these are not one digit (the "not a digit" gate) lets
//! [`super::best_groups`] tell a good cut from a bad one. Made from MNIST
//! *training* digits only, seeded, each normalised as a cut-out run is.

use crate::data::Dataset;
use crate::preprocess::{crop, ink_bounds, normalise_digit, resample, Gray, Pixels};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a wrong cut made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Garbage {
    /// Two touching or overlapping digits taken as one.
    Pair,
    /// The left or right part of a digit, cut through its middle.
    Part,
    /// A digit with a sliver of its neighbour.
    Sliver,
}

/// Digit `index` of `data` as ink (0-1), cut to its ink box, scaled by `scale`.
pub(crate) fn digit_ink(data: &Dataset, index: usize, scale: f32) -> Option<Gray> {
    let pixels: Vec<f32> = data.image(index).iter().map(|&v| f32::from(v) / 255.0).collect();
    let gray = Gray::new(data.cols, data.rows, pixels)?;
    let tight = crop(&gray, ink_bounds(&gray, 0.0)?);
    let (w, h) = (tight.width() as f32 * scale, tight.height() as f32 * scale);
    Some(resample(&tight, (w.round() as usize).max(1), (h.round() as usize).max(1)))
}

/// `a` and `b` side by side on one canvas, `b`'s left edge at `a`'s width
/// plus `gap` (negative: overlapping), `b` lowered by `drop` pixels; ink is the
/// maximum of the two.
pub(crate) fn side_by_side(a: &Gray, b: &Gray, gap: i64, drop: i64) -> Gray {
    let bx = (a.width() as i64 + gap).max(0);
    let top = drop.min(0).unsigned_abs() as usize;
    let (ay, by) = (top, (top as i64 + drop) as usize);
    let width = (a.width()).max(bx as usize + b.width());
    let height = (ay + a.height()).max(by + b.height());
    let mut canvas = Gray::filled(width, height, 0.0);
    let mut put = |g: &Gray, ox: usize, oy: usize| {
        for y in 0..g.height() {
            for (x, &v) in g.row(y).iter().enumerate() {
                let c = &mut canvas.data_mut()[(oy + y) * width + ox + x];
                *c = c.max(v);
            }
        }
    };
    put(a, 0, ay);
    put(b, bx as usize, by);
    canvas
}

/// Columns `[from, to)` of `g`.
pub(crate) fn columns(g: &Gray, from: usize, to: usize) -> Gray {
    let to = to.min(g.width());
    Gray::from_fn(to.saturating_sub(from), g.height(), |x, y| g.get(from + x, y))
}

/// The normalised input of `g`'s ink, if it holds some.
fn normalised(g: &Gray) -> Option<Pixels> {
    normalise_digit(&crop(g, ink_bounds(g, 0.0)?))
}

/// Garbage input `index` of the stream `seed`, from the digits of `data` (the
/// MNIST training set): a [`Garbage`] of a random kind. `None` when the draw
/// left no ink (rare; draw the next index).
pub fn garbage(data: &Dataset, seed: u64, index: u64) -> Option<(Garbage, Pixels)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ index);
    let n = data.len();
    let a = digit_ink(data, rng.random_range(0..n), rng.random_range(0.9..1.1))?;
    let kind = match rng.random_range(0..10) {
        0..=4 => Garbage::Pair,
        5..=7 => Garbage::Part,
        _ => Garbage::Sliver,
    };
    let h = a.height() as f32;
    let input = match kind {
        Garbage::Pair => {
            let b = digit_ink(data, rng.random_range(0..n), rng.random_range(0.9..1.1))?;
            let gap = (h * rng.random_range(-0.25..0.05)) as i64;
            let drop = (h * rng.random_range(-0.08..0.08)) as i64;
            normalised(&side_by_side(&a, &b, gap, drop))?
        }
        Garbage::Part => {
            let cut = (a.width() as f32 * rng.random_range(0.3..0.7)) as usize;
            let part = if rng.random_bool(0.5) { columns(&a, 0, cut) } else { columns(&a, cut, a.width()) };
            normalised(&part)?
        }
        Garbage::Sliver => {
            let b = digit_ink(data, rng.random_range(0..n), rng.random_range(0.9..1.1))?;
            let sliver = columns(&b, 0, (b.width() as f32 * rng.random_range(0.15..0.4)) as usize + 1);
            let gap = (h * rng.random_range(-0.05..0.05)) as i64;
            normalised(&side_by_side(&a, &sliver, gap, 0))?
        }
    };
    Some((kind, input))
}

#[cfg(test)]
/// A tiny data set for tests: a bar ("1") and a ring ("0"), 28×28.
pub(crate) fn bar_and_ring() -> Dataset {
    let bar: Vec<u8> =
        (0..784).map(|i| if (12..16).contains(&(i % 28)) && (4..24).contains(&(i / 28)) { 255 } else { 0 }).collect();
    let ring: Vec<u8> = (0..784)
        .map(|i| {
            let (x, y) = ((i % 28) as f32 - 13.5, (i / 28) as f32 - 13.5);
            let r = (x * x / 64.0 + y * y / 100.0).sqrt();
            if (0.75..1.0).contains(&r) {
                255
            } else {
                0
            }
        })
        .collect();
    Dataset::new([bar, ring].concat(), vec![1, 0], 28, 28)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_seeded_in_range_and_of_every_kind() {
        let data = bar_and_ring();
        let mut kinds = Vec::new();
        for i in 0..60 {
            let (kind, pixels) = garbage(&data, 7, i).expect("ink");
            assert!(pixels.iter().all(|v| (0.0..=1.0).contains(v)));
            assert!(pixels.iter().filter(|&&v| v > 0.5).count() > 10, "{kind:?} has ink");
            assert_eq!(garbage(&data, 7, i).unwrap().1, pixels, "same seed, same input");
            kinds.push(kind);
        }
        for kind in [Garbage::Pair, Garbage::Part, Garbage::Sliver] {
            assert!(kinds.contains(&kind), "{kind:?} drawn");
        }
        assert_ne!(garbage(&data, 8, 0).unwrap().1, garbage(&data, 7, 0).unwrap().1);
    }

    #[test]
    fn a_pair_is_wider_than_either_digit() {
        let data = bar_and_ring();
        let a = digit_ink(&data, 1, 1.0).unwrap();
        let pair = side_by_side(&a, &a, -2, 3);
        assert_eq!(pair.width(), 2 * a.width() - 2);
        assert_eq!(pair.height(), a.height() + 3);
    }
}
