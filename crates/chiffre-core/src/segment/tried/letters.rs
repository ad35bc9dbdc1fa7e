//! The groups segmentation tries in a line of *letters*. A word read as
//! digits was, most often, a letter wide enough to be cut (an "n", an "m",
//! a "u") that the judges took for two digits run together rather than for
//! no digit, and that the pair reader vouched for as a pair ("non" was read
//! "17017"): neither had seen a letter as segmentation finds it in a line.
//! Here strings of letters of the *training* fonts (never those that
//! measure, never the letters people also write as digits) go through the
//! same steps as a user's picture, and the groups the number reader would
//! ask about that hold a whole letter are kept, for the pair reader to learn
//! as "not a pair" ([`crate::reject::FitConfig::letter_lines`], where it is
//! said why the other judges do not learn from them). A piece of one letter
//! is left out: a stroke of an "n" is drawn like a 1, and nothing tells them
//! apart.

use super::{observe, observe_until, Composed};
use crate::preprocess::{Gray, Pixels};
use crate::reject::draw::{paste, Placement};
use crate::reject::glyphs::{is_ambiguous, FontGlyphs, LETTERS};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A group holding at least this share of one letter's ink holds that
/// letter whole (with, perhaps, some of its neighbours').
const WHOLE_LETTER: f32 = 0.9;
/// The atlas' capital letters are about this many pixels tall.
const ATLAS_CAPITAL: f32 = 24.0;

/// A string of two to six letters (none of them [`is_ambiguous`]) in one of
/// `fonts`, lower case, capitalised or upper case; capitals 29 to 62 pixels
/// tall, a little slanted; the letters at the font's own spacing or, for a
/// third of them, pushed against their left neighbour (touching).
fn compose_letters(fonts: &[FontGlyphs], rng: &mut ChaCha8Rng) -> Option<Composed> {
    let font = fonts.choose(rng)?;
    let pool = |upper: bool| -> Vec<char> {
        LETTERS.chars().filter(|&c| c.is_ascii_uppercase() == upper && !is_ambiguous(c)).collect()
    };
    let (lower, upper) = (pool(false), pool(true));
    let count = rng.random_range(2..=6usize);
    let case = rng.random_range(0..5u8);
    let glyphs: Vec<_> = (0..count)
        .filter_map(|k| {
            let capital = case == 4 || (case == 3 && k == 0);
            let c = *(if capital { &upper } else { &lower }).choose(rng)?;
            font.glyph(c).filter(|g| g.width > 0 && g.height > 0)
        })
        .collect();
    if glyphs.len() < 2 {
        return None;
    }
    let scale = rng.random_range(1.2f32..2.6);
    let slant = rng.random_range(-12.0f32..12.0);
    let capital = ATLAS_CAPITAL * scale;
    let margin = capital * 0.5;
    let mut pens = Vec::with_capacity(glyphs.len());
    let mut pen = margin;
    for (k, g) in glyphs.iter().enumerate() {
        if k > 0 && rng.random_bool(0.3) {
            pen -= capital * rng.random_range(0.0..0.2);
        }
        pens.push(pen);
        pen += g.advance.max(g.width) as f32 * scale;
    }
    let top = glyphs.iter().map(|g| g.ymin + g.height as i32).max()? as f32;
    let bottom = glyphs.iter().map(|g| g.ymin).min()? as f32;
    let width = (pen + margin + capital) as usize;
    let height = ((top - bottom) * scale + 2.0 * margin) as usize;
    let baseline = margin + top * scale;
    let mut ink = Gray::filled(width, height, 0.0);
    let mut owner = vec![u8::MAX; width * height];
    for (k, (g, &pen)) in glyphs.iter().zip(&pens).enumerate() {
        // Each letter on a canvas of its own, to know whose ink is darkest where.
        let mut letter = Gray::filled(width, height, 0.0);
        let at = (pen + g.xmin as f32 * scale, baseline - (g.ymin + g.height as i32) as f32 * scale);
        paste(&mut letter, &g.coverage, g.width, g.height, &Placement::new(scale, scale, slant, 0.0, at));
        for (i, &v) in letter.data().iter().enumerate() {
            if v > ink.data()[i] {
                ink.data_mut()[i] = v;
                owner[i] = k as u8;
            }
        }
    }
    let light = Gray::from_fn(width, height, |x, y| 1.0 - ink.get(x, y));
    Some(Composed { light, owner, marks: glyphs.len() })
}

/// The groups tried in picture `index` of the stream `seed` (a string of
/// letters of `fonts`) that hold a whole letter: for each letter, the one
/// with the least ink of other letters (segmentation tries many groups that
/// differ by a sliver of a neighbour; one each keeps the examples varied).
fn letter_groups_of(fonts: &[FontGlyphs], seed: u64, index: u64) -> Vec<Pixels> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0xC2B2_AE3D_27D4_EB4F) ^ index);
    let Some(composed) = compose_letters(fonts, &mut rng) else { return Vec::new() };
    let mut best: Vec<Option<(f32, Pixels)>> = vec![None; composed.marks];
    for o in observe(&composed).into_iter().filter(|o| o.cover >= WHOLE_LETTER) {
        if best[o.mark].as_ref().is_none_or(|(share, _)| o.share > *share) {
            best[o.mark] = Some((o.share, o.input));
        }
    }
    best.into_iter().flatten().map(|(_, input)| input).collect()
}

/// `count` groups (fewer when `fonts` gives none) that segmentation tries
/// in lines of letters of `fonts` (the training atlas) and that hold a
/// whole letter, as the number reader sees them (28×28 inputs). From
/// pictures `0, 1, ...` of the stream `seed`, in parallel, the same for any
/// thread count.
pub fn letter_groups(fonts: &[FontGlyphs], seed: u64, count: usize) -> Vec<Pixels> {
    let mut out = Vec::with_capacity(count);
    observe_until(
        count,
        |i| letter_groups_of(fonts, seed, i),
        |groups| {
            out.extend(groups);
            out.len()
        },
    );
    out.truncate(count);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reject::glyphs::train_fonts;

    #[test]
    fn letter_groups_are_seeded_inputs_with_ink() {
        let fonts = train_fonts();
        let groups = letter_groups(&fonts, 4, 300);
        assert_eq!(groups.len(), 300);
        assert!(groups.iter().all(|g| g.iter().all(|v| (0.0..=1.0).contains(v))));
        assert!(groups.iter().all(|g| g.iter().sum::<f32>() > 10.0), "every group holds ink");
        assert_eq!(groups, letter_groups(&fonts, 4, 300), "same seed, same groups");
        assert_ne!(groups, letter_groups(&fonts, 5, 300), "another seed, other groups");
    }

    #[test]
    fn composed_letters_are_owned_by_the_letter_drawn_there() {
        let fonts = train_fonts();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let composed = compose_letters(&fonts, &mut rng).expect("a string of letters");
        assert!(composed.marks >= 2);
        let (w, h) = (composed.light.width(), composed.light.height());
        assert_eq!(composed.owner.len(), w * h);
        for (i, (&light, &owner)) in composed.light.data().iter().zip(&composed.owner).enumerate() {
            // Ink has an owner among the letters; white paper has none.
            if light < 0.5 {
                assert!(usize::from(owner) < composed.marks, "pixel {i}: ink owned by {owner}");
            }
            if owner == u8::MAX {
                assert_eq!(light, 1.0, "pixel {i}: unowned but inked");
            }
        }
        // The letters run left to right: the first's ink starts left of the last's.
        let leftmost = |mark: u8| (0..w).find(|&x| (0..h).any(|y| composed.owner[y * w + x] == mark));
        let last = composed.marks as u8 - 1;
        assert!(leftmost(0) < leftmost(last), "{:?} then {:?}", leftmost(0), leftmost(last));
    }
}
