//! Labelling the 8-connected region around a pixel: the flood fill that
//! [`super::isolate_ink`] and [`crate::segment::connected_components`] share.
//!
//! A scanline fill: each run of a row is labelled at once, and the rows above
//! and below are searched for new runs only over the run's width plus one
//! pixel each side (the diagonal neighbours). Far fewer stack operations and
//! unpredictable branches than visiting each pixel's eight neighbours, which
//! took most of the time of cleaning a picture of a number.

/// Labels `id` on every pixel of a `width`-wide picture (row-major `labels`,
/// 0 = unlabelled) 8-connected to `seed` through unlabelled pixels for which
/// `joins(index)` holds; `seed` itself is labelled whether it joins or not.
/// `run(y, x0, x1)` is told each run of row `y` labelled (`x0..x1`), once.
/// `stack` is scratch, kept by the caller across calls.
pub(crate) fn fill(
    labels: &mut [u32],
    width: usize,
    seed: usize,
    id: u32,
    joins: impl Fn(usize) -> bool,
    stack: &mut Vec<(usize, usize)>,
    mut run: impl FnMut(usize, usize, usize),
) {
    let height = labels.len() / width.max(1);
    let open = |labels: &[u32], i: usize| labels[i] == 0 && joins(i);
    stack.clear();
    stack.push((seed % width, seed / width));
    while let Some((x, y)) = stack.pop() {
        let row = y * width;
        if labels[row + x] != 0 {
            continue;
        }
        let (mut left, mut right) = (x, x + 1);
        while left > 0 && open(labels, row + left - 1) {
            left -= 1;
        }
        while right < width && open(labels, row + right) {
            right += 1;
        }
        labels[row + left..row + right].fill(id);
        run(y, left, right);
        // Diagonal neighbours included: one pixel more on each side.
        let (from, to) = (left.saturating_sub(1), (right + 1).min(width));
        for ny in [y.wrapping_sub(1), y + 1].into_iter().filter(|&ny| ny < height) {
            let next = ny * width;
            let mut nx = from;
            while nx < to {
                if open(labels, next + nx) {
                    // One seed per stretch: it will label the whole stretch.
                    stack.push((nx, ny));
                    while nx < to && open(labels, next + nx) {
                        nx += 1;
                    }
                } else {
                    nx += 1;
                }
            }
        }
    }
}

/// The first pixel from `from` on that is not yet labelled and `starts` a
/// region (the seed of the next [`fill`]). Block by block: whether a block
/// holds one is a branch-free reduction the compiler vectorises, and only
/// that block is then searched pixel by pixel (most of a picture is
/// background, which a search pixel by pixel with a branch for each went
/// through one pixel at a time).
pub(crate) fn next_seed(data: &[f32], labels: &[u32], from: usize, starts: impl Fn(f32) -> bool) -> Option<usize> {
    const BLOCK: usize = 64;
    let mut start = from;
    while start < data.len() {
        let end = (start + BLOCK).min(data.len());
        let (values, block) = (&data[start..end], &labels[start..end]);
        // `&`, not `&&`: no branch per pixel.
        let seeds = |(&v, &l): (&f32, &u32)| (l == 0) & starts(v);
        if values.iter().zip(block).fold(false, |any, pair| any | seeds(pair)) {
            return values.iter().zip(block).position(seeds).map(|k| start + k);
        }
        start = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The definition: a pixel-by-pixel search over the eight neighbours.
    fn fill_by_definition(labels: &mut [u32], width: usize, seed: usize, id: u32, joins: impl Fn(usize) -> bool) {
        let height = labels.len() / width;
        let mut stack = vec![seed];
        labels[seed] = id;
        while let Some(i) = stack.pop() {
            let (x, y) = (i % width, i / width);
            for ny in y.saturating_sub(1)..(y + 2).min(height) {
                for nx in x.saturating_sub(1)..(x + 2).min(width) {
                    let j = ny * width + nx;
                    if labels[j] == 0 && joins(j) {
                        labels[j] = id;
                        stack.push(j);
                    }
                }
            }
        }
    }

    #[test]
    fn labels_what_the_definition_labels_on_random_masks() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut stack = Vec::new();
        for case in 0..300 {
            let (w, h) = (rng.random_range(1..40), rng.random_range(1..40));
            let density = rng.random_range(0.2..0.8);
            let mask: Vec<bool> = (0..w * h).map(|_| rng.random_bool(density)).collect();
            let (mut fast, mut slow) = (vec![0u32; w * h], vec![0u32; w * h]);
            let mut id = 0;
            for seed in 0..w * h {
                // Seeds on every other pixel of the mask, and on some pixels off it.
                if fast[seed] != 0 || !(mask[seed] || seed % 7 == 0) {
                    continue;
                }
                id += 1;
                let mut area = 0;
                fill(&mut fast, w, seed, id, |i| mask[i], &mut stack, |_, x0, x1| area += x1 - x0);
                fill_by_definition(&mut slow, w, seed, id, |i| mask[i]);
                assert_eq!(area, fast.iter().filter(|&&l| l == id).count(), "case {case}: runs told once each");
            }
            assert_eq!(fast, slow, "case {case}: {w}×{h}");
        }
    }

    #[test]
    fn next_seed_finds_the_first_unlabelled_start_from_any_pixel() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for _ in 0..200 {
            let n = rng.random_range(0..300);
            let data: Vec<f32> =
                (0..n).map(|_| if rng.random_bool(0.05) { rng.random_range(0.0..1.0) } else { 0.0 }).collect();
            let labels: Vec<u32> = (0..n).map(|_| u32::from(rng.random_bool(0.3))).collect();
            let from = rng.random_range(0..=n);
            let want = (from..n).find(|&i| labels[i] == 0 && data[i] > 0.5);
            assert_eq!(next_seed(&data, &labels, from, |v| v > 0.5), want);
        }
    }
}
