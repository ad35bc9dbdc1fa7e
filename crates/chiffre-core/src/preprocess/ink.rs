//! Steps 3 and 4: which way the ink goes, and what counts as ink.
//!
//! Levels are read from 256-bin histograms (the precision of 8-bit pictures),
//! so every decision is O(pixels) whatever the picture's size.

use super::{Gray, PreprocessError, MIN_CONTRAST};

const BINS: usize = 256;
/// Components of ink lighter than this fraction of the heaviest one are
/// specks (dust, noise), not part of the digit.
pub const SPECK_FRACTION: f32 = 0.02;

/// Which way the ink goes in a picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polarity {
    /// Bright ink on a dark background, as in MNIST: kept.
    BrightInk,
    /// Dark ink on a light background (pen on paper): inverted.
    DarkInk,
}

/// The bin of a level: `(v × 255).round()`, clamped to the bins. Rounding
/// by hand (the integer part, plus one from a fraction of at least ½, exact
/// for these magnitudes) because `f32::round` is a library call on the
/// baseline x86-64 target, and this runs on every pixel, several times.
///
/// `max` then `min` rather than `clamp`: `f32::max` returns 0 for a NaN (where
/// `clamp` keeps the NaN, which `as i32` made 0: the same bin), so the
/// level converts to an integer unchecked, without the per-pixel saturation
/// and NaN checks that kept the histogram's loop from running on whole
/// vectors (2026-12-06, Intel Xeon, perf while reading numbers two at a
/// time: the two picture histograms 6.5 → 3.3 % of the time).
fn bin(v: f32) -> usize {
    #[allow(clippy::manual_clamp)] // `clamp` keeps a NaN: see above.
    let x = v.max(0.0).min(1.0) * (BINS - 1) as f32;
    // SAFETY: `x` is in [0, 255] and not NaN (`f32::max` drops a NaN), so it
    // fits an i32: the conversion is one vector instruction, without the
    // saturation and NaN checks of `as i32`.
    let whole: i32 = unsafe { x.to_int_unchecked() };
    (whole + i32::from(x - whole as f32 >= 0.5)) as usize
}

fn level(bin: usize) -> f32 {
    bin as f32 / (BINS - 1) as f32
}

/// How many of `values` fall in each bin. The bins of a run of values are
/// found first (a loop the compiler vectorises), then counted by four
/// histograms in turn, summed at the end: in a picture most pixels are
/// background, of one level, and a single histogram would wait on the same
/// counter for every pixel.
fn histogram(values: &[f32]) -> [u64; BINS] {
    const RUN: usize = 256;
    let mut part = [[0u32; BINS]; 4];
    let mut bins = [0u8; RUN];
    for run in values.chunks(RUN) {
        for (b, &v) in bins.iter_mut().zip(run) {
            // At most BINS - 1 = 255: a bin fits in a byte.
            *b = bin(v) as u8;
        }
        for (k, &b) in bins[..run.len()].iter().enumerate() {
            part[k % 4][usize::from(b)] += 1;
        }
    }
    std::array::from_fn(|b| part.iter().map(|h| u64::from(h[b])).sum())
}

/// The level of the pixel of rank `rank` (from 0) in increasing order.
fn rank_level(hist: &[u64; BINS], rank: u64) -> f32 {
    let mut seen = 0;
    for (b, &n) in hist.iter().enumerate() {
        seen += n;
        if seen > rank {
            return level(b);
        }
    }
    1.0
}

/// The darkest and brightest levels, ignoring a few outliers: the k-th from
/// each end with k = 1 + n/2000 (at most 25), so a handful of dead or hot
/// pixels do not decide, while a digit of a few dozen pixels still does.
fn extremes(hist: &[u64; BINS]) -> (f32, f32) {
    let n: u64 = hist.iter().sum();
    let k = (n / 2000).min(24);
    (rank_level(hist, k), rank_level(hist, n.saturating_sub(k + 1)))
}

/// The pixels of the outer ring (first and last rows and columns).
fn border(gray: &Gray) -> Vec<f32> {
    let (w, h) = (gray.width(), gray.height());
    let mut ring: Vec<f32> = Vec::with_capacity(2 * (w + h));
    for y in 0..h {
        if y == 0 || y + 1 == h {
            ring.extend_from_slice(gray.row(y));
        } else if w > 0 {
            ring.push(gray.get(0, y));
            if w > 1 {
                ring.push(gray.get(w - 1, y));
            }
        }
    }
    ring
}

/// Median and robust spread (1.4826 × median absolute deviation, which is the
/// standard deviation for Gaussian noise) of `values`; (0, 0) when empty.
fn median_and_spread(values: &[f32]) -> (f32, f32) {
    let hist = histogram(values);
    let n = values.len() as u64;
    if n == 0 {
        return (0.0, 0.0);
    }
    let median = rank_level(&hist, n / 2);
    let deviations: Vec<f32> = values.iter().map(|v| (v - median).abs()).collect();
    let mad = rank_level(&histogram(&deviations), n / 2);
    (median, 1.4826 * mad)
}

/// Decides the polarity from the border: the background is the median of the
/// outer ring, and the ink is on the side of it (darker or brighter) that
/// reaches further. This holds on any background colour (dark ink on a
/// mid-grey card is found dark). When nothing reaches either way, a light
/// background means dark ink.
pub fn detect_polarity(gray: &Gray) -> Polarity {
    let (background, _) = median_and_spread(&border(gray));
    let (low, high) = extremes(&histogram(gray.data()));
    let (darker, brighter) = (background - low, high - background);
    if darker > brighter || (darker == brighter && background > 0.5) {
        Polarity::DarkInk
    } else {
        Polarity::BrightInk
    }
}

/// Light levels to ink levels: `1 - v` for dark ink, unchanged for bright ink.
pub fn to_ink(gray: &Gray, polarity: Polarity) -> Gray {
    into_ink(gray.clone(), polarity)
}

/// [`to_ink`] in place.
pub fn into_ink(mut gray: Gray, polarity: Polarity) -> Gray {
    if polarity == Polarity::DarkInk {
        gray.data_mut().iter_mut().for_each(|v| *v = 1.0 - *v);
    }
    gray
}

/// The levels that separate ink from background in an ink picture (bright
/// ink), all on a 0-1 scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InkLevels {
    /// The background: the median of the outer ring.
    pub background: f32,
    /// Noise around the background: 1.4826 × the ring's median absolute deviation.
    pub noise: f32,
    /// Below this, a pixel is background: background + max(3 × noise, 5 % of the contrast).
    pub floor: f32,
    /// At or above this, a pixel is surely ink: Otsu's threshold on the
    /// histogram (the level that best splits it into two classes), at least the floor.
    pub threshold: f32,
    /// Full ink: the median of the pixels at or above the threshold (the lower edge of its bin).
    pub ink: f32,
    /// The strongest ink above the background.
    pub contrast: f32,
}

/// Otsu's threshold: the bin `t` that maximises the between-class variance
/// of the classes `< t` and `>= t`; the middle of the best run when several
/// tie (an empty gap between background and ink).
fn otsu(hist: &[u64; BINS]) -> usize {
    let total: f64 = hist.iter().sum::<u64>() as f64;
    let sum: f64 = hist.iter().enumerate().map(|(b, &n)| b as f64 * n as f64).sum();
    let (mut w0, mut s0) = (0.0, 0.0);
    let (mut best, mut first, mut last) = (-1.0, 1, 1);
    for t in 1..BINS {
        w0 += hist[t - 1] as f64;
        s0 += (t - 1) as f64 * hist[t - 1] as f64;
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let between = w0 * w1 * (s0 / w0 - (sum - s0) / w1).powi(2);
        if between > best {
            (best, first, last) = (between, t, t);
        } else if between == best {
            last = t;
        }
    }
    (first + last) / 2
}

/// Measures the [`InkLevels`] of an ink picture. Fails with
/// [`PreprocessError::NoInk`] when the strongest ink is less than
/// [`MIN_CONTRAST`] above the background (a blank or uniform picture).
pub fn ink_levels(ink: &Gray) -> Result<InkLevels, PreprocessError> {
    let (background, noise) = median_and_spread(&border(ink));
    let hist = histogram(ink.data());
    let (_, high) = extremes(&hist);
    let contrast = high - background;
    if contrast < MIN_CONTRAST {
        return Err(PreprocessError::NoInk { contrast: contrast.max(0.0) });
    }
    let floor = background + (3.0 * noise).max(0.05 * contrast);
    // The first bin at or above the floor, and the threshold's bin: a pixel is
    // in bin `b` or above exactly when its level is at least `level(b) - half a bin`.
    let floor_bin = ((floor * (BINS - 1) as f32 + 0.5).ceil() as usize).min(BINS - 1);
    let t = otsu(&hist).max(floor_bin);
    let threshold = (level(t) - 0.5 / (BINS - 1) as f32).max(floor);
    let above: u64 = hist[t..].iter().sum();
    let total: u64 = hist.iter().sum();
    // The median of the sure ink, from the lower edge of its bin (so that the
    // pixels of that bin all count as full ink despite the binning).
    let ink_level = if above == 0 { high } else { rank_level(&hist, total - above + (above - 1) / 2) - 0.5 / 255.0 };
    Ok(InkLevels { background, noise, floor, threshold, ink: ink_level.max(threshold), contrast })
}

/// Keeps the digit and nothing else: pixels at or above the threshold are
/// surely ink; pixels above the floor are ink when connected (8-neighbours)
/// to those (hysteresis, which keeps the grey edges of strokes and drops
/// isolated noise); connected pieces lighter than 2 % of the heaviest are
/// dropped as specks. Kept pixels are stretched so that the background
/// becomes 0 and full ink 1: `(v - floor) / (ink - floor)`, clamped.
pub fn isolate_ink(ink: &Gray, levels: &InkLevels) -> Gray {
    isolate_ink_keeping(ink, levels, SPECK_FRACTION)
}

/// [`isolate_ink`], dropping connected pieces lighter than `speck_fraction`
/// of the heaviest (a number's decimal point can weigh less than 2 % of its
/// heaviest digit: [`crate::reading`] keeps lighter pieces and judges them by
/// their size and place).
pub fn isolate_ink_keeping(ink: &Gray, levels: &InkLevels, speck_fraction: f32) -> Gray {
    let (w, h) = (ink.width(), ink.height());
    let data = ink.data();
    let span = (levels.ink - levels.floor).max(1e-6);
    let value = |v: f32| ((v - levels.floor) / span).clamp(0.0, 1.0);
    // 0: not (yet) ink; c > 0: piece number c.
    let mut piece = vec![0u32; data.len()];
    // The stretched ink of every piece, and each piece's mass (its sum),
    // written run by run as the fill labels them (a pass over the whole
    // picture testing every pixel's label ran one pixel at a time).
    let mut out = vec![0.0f32; data.len()];
    let mut masses = vec![0.0f32];
    let mut stack = Vec::new();
    let mut seed = 0;
    // Each pixel of sure ink not yet in a piece starts one: every pixel above
    // the floor connected to it joins.
    while let Some(found) = super::next_seed(data, &piece, seed, |v| v >= levels.threshold) {
        seed = found;
        let id = masses.len() as u32;
        let mut mass = 0.0f32;
        super::fill(
            &mut piece,
            w,
            seed,
            id,
            |j| data[j] > levels.floor,
            &mut stack,
            |y, x0, x1| {
                let (source, stretched) = (&data[y * w + x0..y * w + x1], &mut out[y * w + x0..y * w + x1]);
                for (o, &v) in stretched.iter_mut().zip(source) {
                    *o = value(v);
                }
                mass += stretched.iter().sum::<f32>();
            },
        );
        masses.push(mass);
    }
    let heaviest = masses.iter().copied().fold(0.0, f32::max);
    let keep: Vec<bool> = masses.iter().enumerate().map(|(id, &m)| id > 0 && m >= speck_fraction * heaviest).collect();
    if keep[1..].iter().any(|k| !k) {
        for (o, &p) in out.iter_mut().zip(&piece) {
            if !keep[p as usize] {
                *o = 0.0;
            }
        }
    }
    Gray::new(w, h, out).unwrap_or_else(|| Gray::filled(w, h, 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w`×`h` picture of `background` with a `value` square at (x0, y0) of side `s`.
    fn square(w: usize, h: usize, background: f32, value: f32, (x0, y0, s): (usize, usize, usize)) -> Gray {
        Gray::from_fn(
            w,
            h,
            |x, y| if (x0..x0 + s).contains(&x) && (y0..y0 + s).contains(&y) { value } else { background },
        )
    }

    #[test]
    fn bin_rounds_as_f32_round_does() {
        // Every 8-bit level, the midpoints between bins and their neighbours, and junk.
        let mut levels: Vec<f32> = (0..=255).map(|k| k as f32 / 255.0).collect();
        for k in 0..255 {
            let mid = (k as f32 + 0.5) / 255.0;
            levels.extend([mid, mid.next_down(), mid.next_up()]);
        }
        levels.extend([-1.0, 2.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.5f32.next_down()]);
        for v in levels {
            let expected = (v.clamp(0.0, 1.0) * (BINS - 1) as f32).round() as usize;
            assert_eq!(bin(v), expected, "level {v}");
        }
    }

    #[test]
    fn polarity_is_detected_both_ways_and_on_a_mid_grey_card() {
        assert_eq!(detect_polarity(&square(40, 40, 1.0, 0.0, (10, 10, 12))), Polarity::DarkInk);
        assert_eq!(detect_polarity(&square(40, 40, 0.0, 1.0, (10, 10, 12))), Polarity::BrightInk);
        assert_eq!(detect_polarity(&square(40, 40, 0.45, 0.05, (10, 10, 12))), Polarity::DarkInk);
        assert_eq!(detect_polarity(&square(40, 40, 0.55, 0.95, (10, 10, 12))), Polarity::BrightInk);
    }

    #[test]
    fn one_hot_pixel_does_not_flip_the_polarity() {
        let mut card = square(100, 100, 0.5, 0.1, (30, 30, 20));
        card.data_mut()[5 * 100 + 5] = 1.0;
        assert_eq!(detect_polarity(&card), Polarity::DarkInk);
    }

    #[test]
    fn a_digit_touching_the_border_does_not_flip_the_polarity() {
        // Dark ink filling the left quarter of the ring.
        let page = Gray::from_fn(60, 60, |x, _| if x < 15 { 0.0 } else { 1.0 });
        assert_eq!(detect_polarity(&page), Polarity::DarkInk);
    }

    #[test]
    fn to_ink_inverts_only_dark_ink() {
        let g = Gray::from_fn(2, 1, |x, _| x as f32 * 0.25);
        assert_eq!(to_ink(&g, Polarity::DarkInk).data(), &[1.0, 0.75]);
        assert_eq!(to_ink(&g, Polarity::BrightInk), g);
    }

    #[test]
    fn levels_split_background_from_ink() {
        let ink = square(50, 50, 0.2, 0.9, (15, 15, 20));
        let l = ink_levels(&ink).unwrap();
        assert!((l.background - 0.2).abs() < 0.01 && l.noise == 0.0, "{l:?}");
        assert!(l.floor > l.background && l.floor <= l.threshold && l.threshold < 0.9, "{l:?}");
        assert!((l.ink - 0.9).abs() < 0.01 && (l.contrast - 0.7).abs() < 0.01, "{l:?}");
    }

    #[test]
    fn a_uniform_picture_has_no_ink() {
        for v in [0.0, 0.3, 1.0] {
            assert!(matches!(ink_levels(&Gray::filled(30, 30, v)), Err(PreprocessError::NoInk { .. })));
        }
        // Faint noise is not ink either.
        let noise = Gray::from_fn(30, 30, |x, y| 0.02 * ((x * 7 + y * 13) % 5) as f32);
        assert!(matches!(ink_levels(&noise), Err(PreprocessError::NoInk { .. })));
    }

    #[test]
    fn isolate_ink_keeps_the_digit_and_its_grey_edge_and_drops_noise_and_specks() {
        // Background 0.1 with texture ±0.04; a 0.9 square with a 0.5 grey edge
        // on its left; a lone 0.9 speck far away.
        let mut g = Gray::from_fn(60, 60, |x, y| 0.1 + 0.04 * (((x * 31 + y * 17) % 3) as f32 - 1.0));
        for y in 20..40 {
            for x in 20..40 {
                g.data_mut()[y * 60 + x] = 0.9;
            }
            g.data_mut()[y * 60 + 19] = 0.5;
        }
        g.data_mut()[5 * 60 + 5] = 0.9;
        let levels = ink_levels(&g).unwrap();
        let clean = isolate_ink(&g, &levels);
        assert_eq!(clean.get(30, 30), 1.0, "full ink stretched to 1: {levels:?}");
        let edge = clean.get(19, 30);
        assert!(edge > 0.2 && edge < 0.8, "the grey edge stays grey: {edge}");
        assert_eq!(clean.get(5, 5), 0.0, "the speck is gone");
        let background = (0..60)
            .flat_map(|y| (0..60).map(move |x| (x, y)))
            .filter(|&(x, y)| !(19..40).contains(&x) || !(20..40).contains(&y));
        assert!(background.into_iter().all(|(x, y)| clean.get(x, y) == 0.0), "the texture is gone");
    }
}
