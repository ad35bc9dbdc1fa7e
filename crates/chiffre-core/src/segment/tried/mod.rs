//! The groups that segmentation really tries, labelled by whose ink they
//! hold. Two or three MNIST *training* digits are set side by side with
//! random gaps (touching or overlapping about half the time), the picture
//! goes through the same steps as a user's ([`crate::preprocess`],
//! [`super::segment_observed`]), and every group of ink the number reader
//! would ask the network about is kept with its label: one whole digit, or a
//! wrong cut (part of a digit, two run together, a digit with a piece of its
//! neighbour). The drawn wrong cuts of [`super::garbage`] are a guess at what
//! cutting makes; these are what it makes, cut paths and all, so the "not a
//! digit" judges learn to refuse the cuts the reader actually weighs.
//! [`letters`] does the same with lines of letters.

pub mod letters;

use super::garbage::digit_ink;
use super::{segment_observed, Scored};
use crate::data::Dataset;
use crate::preprocess::{ink_picture, Bounds, Gray, Pixels, PIXELS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a tried group is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tried {
    /// One digit's ink, (nearly) all of it and (nearly) nothing else.
    Whole,
    /// Part of a digit, or parts of several.
    WrongCut,
}

/// A group is one whole digit when at least this share of its ink is that
/// digit's...
const WHOLE_SHARE: f32 = 0.95;
/// ...and it holds at least this share of the digit's ink.
const WHOLE_COVER: f32 = 0.9;
/// A group is a wrong cut when less than this share of its ink is one
/// digit's, or...
const WRONG_SHARE: f32 = 0.85;
/// ...it holds less than this share of its main digit's ink. Groups in
/// between (a whole digit with a speck of its neighbour) are not used.
const WRONG_COVER: f32 = 0.75;
/// Ink brighter than this counts (cleaned ink, 0-1).
const INK: f32 = 0.25;

/// A picture of a few marks side by side (light levels: dark ink on white)
/// and, for each pixel, which mark's ink is the darkest there (`u8::MAX`:
/// none).
struct Composed {
    light: Gray,
    owner: Vec<u8>,
    /// How many marks.
    marks: usize,
}

/// Two or three digits of `data`, `height` pixels tall give or take a
/// tenth, with random gaps (half the pairs touching or overlapping); and
/// their classes, left to right.
fn compose(data: &Dataset, rng: &mut ChaCha8Rng) -> Option<(Composed, Vec<u8>)> {
    let count = rng.random_range(2..=3usize);
    let height = rng.random_range(28.0f32..64.0);
    let mut classes = Vec::with_capacity(count);
    let glyphs: Vec<Gray> = (0..count)
        .map(|_| {
            let index = rng.random_range(0..data.len());
            classes.push(data.labels[index]);
            // MNIST digits are 20 pixels tall in their box (most of them).
            digit_ink(data, index, height * rng.random_range(0.9..1.1) / 20.0)
        })
        .collect::<Option<_>>()?;
    let margin = (height * 0.5) as usize;
    let mut places = Vec::with_capacity(count);
    let mut x = margin as f32;
    for (k, glyph) in glyphs.iter().enumerate() {
        if k > 0 {
            x += height
                * if rng.random_bool(0.5) { rng.random_range(-0.25..0.02) } else { rng.random_range(0.08..0.45) };
        }
        let drop = height * rng.random_range(-0.06..0.06);
        let top = margin as f32 + height * 1.1 - glyph.height() as f32 + drop;
        places.push((x.max(0.0) as usize, top.max(0.0) as usize));
        x = x.max(0.0) + glyph.width() as f32;
    }
    let width = x as usize + margin;
    let tall = margin * 2 + (height * 1.3) as usize;
    let mut ink = Gray::filled(width, tall, 0.0);
    let mut owner = vec![u8::MAX; width * tall];
    for (k, (glyph, &(gx, gy))) in glyphs.iter().zip(&places).enumerate() {
        for y in 0..glyph.height().min(tall.saturating_sub(gy)) {
            for (dx, &v) in glyph.row(y).iter().enumerate().take(width.saturating_sub(gx)) {
                let at = (gy + y) * width + gx + dx;
                if v > ink.data()[at] {
                    ink.data_mut()[at] = v;
                    owner[at] = k as u8;
                }
            }
        }
    }
    let light = Gray::from_fn(width, tall, |x, y| 1.0 - ink.get(x, y));
    Some((Composed { light, owner, marks: count }, classes))
}

/// Whose a group's ink (`bounds`, `ink`) mostly is, against each mark's
/// whole ink in the picture (`totals`): that mark, the share of the group's
/// ink that is its (share), and the share of its ink the group holds
/// (cover); both 0 for a group without ink.
fn owner_of(bounds: Bounds, ink: &Gray, owner: &[u8], width: usize, totals: &[usize]) -> Option<(usize, f32, f32)> {
    let mut counts = vec![0usize; totals.len()];
    let mut all = 0usize;
    for y in 0..ink.height() {
        for (x, &v) in ink.row(y).iter().enumerate() {
            if v > INK {
                all += 1;
                if let Some(c) = counts.get_mut(usize::from(owner[(bounds.y0 + y) * width + bounds.x0 + x])) {
                    *c += 1;
                }
            }
        }
    }
    let (main, &most) = counts.iter().enumerate().max_by_key(|&(_, c)| *c)?;
    Some((main, most as f32 / all.max(1) as f32, most as f32 / totals[main].max(1) as f32))
}

/// What a group is, by the share of its ink that is one digit's and the
/// share of that digit's ink it holds (see [`owner_of`]), if clear.
fn kind(share: f32, cover: f32) -> Option<Tried> {
    if share >= WHOLE_SHARE && cover >= WHOLE_COVER {
        Some(Tried::Whole)
    } else if share < WRONG_SHARE || cover < WRONG_COVER {
        Some(Tried::WrongCut)
    } else {
        None
    }
}

/// A group tried in a composed picture.
struct Observed {
    /// The mark whose ink it mostly holds (its index in the picture).
    mark: usize,
    /// The share of its ink that is that mark's.
    share: f32,
    /// The share of that mark's ink it holds.
    cover: f32,
    /// Its 28×28 input, as the number reader scores it.
    input: Pixels,
}

/// Every group segmentation tries in picture `index` of the stream `seed`
/// (two or three digits of `data` composed), with whose ink it holds, and
/// the class of each digit.
fn observed_groups(data: &Dataset, seed: u64, index: u64) -> (Vec<Observed>, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index);
    match compose(data, &mut rng) {
        Some((composed, classes)) => (observe(&composed), classes),
        None => (Vec::new(), Vec::new()),
    }
}

/// Every group segmentation tries in a composed picture, as a user's picture
/// goes through it ([`ink_picture`], cleaning, [`segment_observed`]), with
/// whose ink it holds.
fn observe(composed: &Composed) -> Vec<Observed> {
    let Ok(picture) = ink_picture(&composed.light) else { return Vec::new() };
    let Ok(clean) = picture.clean_keeping(crate::reading::POINT_FRACTION) else { return Vec::new() };
    let width = clean.ink.width();
    let mut totals = vec![0usize; composed.marks];
    for (&v, &o) in clean.ink.data().iter().zip(&composed.owner) {
        if let Some(total) = totals.get_mut(usize::from(o)).filter(|_| v > INK) {
            *total += 1;
        }
    }
    let mut out = Vec::new();
    // The reader's scores choose among the groups, not which are tried.
    let mut unsure = |inputs: &[Pixels]| vec![Scored { log_whole: 0.5f32.ln(), not_a_digit: 0.0 }; inputs.len()];
    let mut observe = |groups: &[(Bounds, Gray)], inputs: &[Option<Pixels>]| {
        for ((bounds, ink), input) in groups.iter().zip(inputs) {
            if let (Some(input), Some((mark, share, cover))) =
                (input, owner_of(*bounds, ink, &composed.owner, width, &totals))
            {
                out.push(Observed { mark, share, cover, input: *input });
            }
        }
    };
    // Too many marks cannot happen with a few marks; nothing to learn if it did.
    let _ = segment_observed(&clean.ink, &mut unsure, None, &mut observe);
    out
}

/// The groups segmentation tries in picture `index` of the stream `seed`,
/// composed from the digits of `data` (the MNIST training set), each with its
/// label and its 28×28 input as the number reader scores it. Empty when
/// nothing was cut or joined (each digit stood alone).
pub fn tried_groups(data: &Dataset, seed: u64, index: u64) -> Vec<(Tried, Pixels)> {
    observed_groups(data, seed, index).0.into_iter().filter_map(|o| Some((kind(o.share, o.cover)?, o.input))).collect()
}

/// A digit cut out of a touching neighbour holds at least this share of
/// its own ink, and its ink is at least this share its own. Tried and left
/// out: only the digits that lost less than 3 % of their ink to the cut
/// (a sliver of the neighbour, no stroke lost), 60,000 of them: on the four
/// sets of [`crate::model::CNN_CUT_DIGITS`] (2026-12-06, Intel Xeon) 1.72 %
/// of the digits apart read wrong and 5.24 % touching, on average, against
/// 1.81 and 4.91 % with these (1.62 and 5.65 % without cut digits)...
const CUT_DIGIT_SHARE: f32 = 0.85;
/// ...but it is not the digit alone: less than this share of its ink is its
/// own, or it holds less than this share of its own ink.
const ALONE: f32 = 0.99;

/// `count` digits (fewer when `data` gives no touching ones) as the number
/// reader sees them once cut out of their touching neighbours: mostly one
/// digit's ink (its class is the label), with a sliver of its neighbour or
/// a stroke lost to the cut. From pictures `0, 1, ...` of the stream `seed`
/// composed from `data` (the MNIST training set), in parallel, the same for
/// any thread count; as a data set of 28×28 images.
pub fn cut_digits(data: &Dataset, seed: u64, count: usize) -> Dataset {
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    observe_until(
        count,
        |i| observed_groups(data, seed, i),
        |(groups, classes)| {
            for o in groups {
                if o.share.min(o.cover) >= CUT_DIGIT_SHARE && (o.share < ALONE || o.cover < ALONE) {
                    images.extend(o.input.iter().map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8));
                    labels.push(classes[o.mark]);
                }
            }
            labels.len()
        },
    );
    labels.truncate(count);
    images.truncate(labels.len() * PIXELS);
    Dataset::new(images, labels, 28, 28)
}

/// Hands what `picture` makes of pictures `0, 1, ...` to `take`, in order,
/// which answers how many of what it keeps it has; until that is `want`.
/// The pictures are made 256 at a time, in parallel (the same for any
/// thread count); at most 64 × 256 + `want` of them (a few thousand are
/// plenty: pictures that give none of what is kept stop there).
fn observe_until<T: Send>(want: usize, picture: impl Fn(u64) -> T + Sync, mut take: impl FnMut(T) -> usize) {
    use crate::par::prelude::*;
    const BATCH: u64 = 256;
    let (mut have, mut next) = (0, 0u64);
    while have < want && next < 64 * BATCH + want as u64 {
        let batch: Vec<T> = (next..next + BATCH).into_par_iter().map(&picture).collect();
        for made in batch {
            have = take(made);
        }
        next += BATCH;
    }
}

/// At least `wrong_cuts` wrong cuts (when `data` gives any) and the whole
/// digits tried beside them, from pictures `0, 1, ...` of the stream `seed`
/// (in parallel, the same for any thread count): (whole digits, wrong cuts),
/// each at most `wrong_cuts` long.
pub fn tried_many(data: &Dataset, seed: u64, wrong_cuts: usize) -> (Vec<Pixels>, Vec<Pixels>) {
    let (mut wholes, mut cuts) = (Vec::new(), Vec::new());
    observe_until(
        wrong_cuts,
        |i| observed_groups(data, seed, i).0,
        |groups| {
            for o in groups {
                match kind(o.share, o.cover) {
                    Some(Tried::Whole) => wholes.push(o.input),
                    Some(Tried::WrongCut) => cuts.push(o.input),
                    None => {}
                }
            }
            cuts.len()
        },
    );
    wholes.truncate(wrong_cuts);
    cuts.truncate(wrong_cuts);
    (wholes, cuts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tried_groups_are_seeded_and_of_both_kinds() {
        let data = super::super::garbage::bar_and_ring();
        let mut kinds = [0usize; 2];
        for i in 0..80 {
            let groups = tried_groups(&data, 3, i);
            for (tried, input) in &groups {
                assert!(input.iter().all(|v| (0.0..=1.0).contains(v)));
                kinds[usize::from(*tried == Tried::WrongCut)] += 1;
            }
            let again = tried_groups(&data, 3, i);
            assert_eq!(groups.len(), again.len(), "same seed, same groups");
            assert!(groups.iter().zip(&again).all(|(a, b)| a.0 == b.0 && a.1 == b.1));
        }
        assert!(kinds[0] > 0 && kinds[1] > 0, "whole digits and wrong cuts tried: {kinds:?}");
    }

    #[test]
    fn cut_digits_are_seeded_and_labelled_by_the_digit_they_hold() {
        // Bars ("1") and rings ("0") composed side by side, touching half the time.
        let data = super::super::garbage::bar_and_ring();
        let cut = cut_digits(&data, 5, 300);
        assert!(cut.len() > 50 && cut.len() <= 300, "{} cut digits", cut.len());
        assert_eq!((cut.rows, cut.cols), (28, 28));
        let again = cut_digits(&data, 5, 300);
        assert!(cut.images == again.images && cut.labels == again.labels, "same seed, same digits");
        assert_ne!(cut_digits(&data, 6, 300).images, cut.images, "another seed, other digits");
        // A bar's input has its ink in the middle columns; a ring's, around them.
        let middle = |label: u8| {
            let (mut ink, mut all) = (0.0f64, 0.0f64);
            for i in (0..cut.len()).filter(|&i| cut.labels[i] == label) {
                for (k, &v) in cut.image(i).iter().enumerate() {
                    all += f64::from(v);
                    if (11..17).contains(&(k % 28)) {
                        ink += f64::from(v);
                    }
                }
            }
            ink / all.max(1.0)
        };
        let (bars, rings) = (middle(1), middle(0));
        assert!(bars > 0.6 && rings < 0.4, "share of the ink in the middle: bars {bars:.2}, rings {rings:.2}");
        assert!(cut.labels.iter().all(|&l| l <= 1));
    }

    #[test]
    fn a_group_is_labelled_by_whose_ink_it_holds() {
        // Two digits' ink: columns 0-3 are digit 0's, 4-7 digit 1's.
        let owner: Vec<u8> = (0..32).map(|i| if i % 8 < 4 { 0 } else { 1 }).collect();
        let totals = [16, 16];
        let whole = Gray::filled(4, 4, 1.0);
        let at = |x0, x1| Bounds { x0, y0: 0, x1, y1: 4 };
        let label = |bounds, ink: &Gray, owner: &[u8], width, totals: &[usize]| {
            owner_of(bounds, ink, owner, width, totals).and_then(|(_, share, cover)| kind(share, cover))
        };
        assert_eq!(label(at(0, 4), &whole, &owner, 8, &totals), Some(Tried::Whole));
        let both = Gray::filled(8, 4, 1.0);
        assert_eq!(label(at(0, 8), &both, &owner, 8, &totals), Some(Tried::WrongCut));
        let half = Gray::filled(2, 4, 1.0);
        assert_eq!(label(at(0, 2), &half, &owner, 8, &totals), Some(Tried::WrongCut));
        // A whole digit and a sliver of the next: neither clearly.
        let sliver = Gray::from_fn(5, 4, |x, y| if x < 4 || y == 0 { 1.0 } else { 0.0 });
        assert_eq!(label(at(0, 5), &sliver, &owner, 8, &totals), None);
    }
}
