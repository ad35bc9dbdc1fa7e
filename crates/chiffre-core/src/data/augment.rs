//! Data augmentation: each training image is moved a little at random
//! (rotated, shifted, zoomed, sheared, and optionally bent by an elastic
//! distortion) every time it is seen, so that the network learns the digit
//! rather than its exact pixels.
//!
//! Every example's transform is drawn from a random stream seeded by the
//! run's seed, the epoch and the example's position in the epoch: the same
//! seed gives the same images for any thread count, and a resumed run sees
//! exactly the images the uninterrupted one would have. Images are warped in
//! parallel, straight from the `u8` pixels into the batch buffer.

use super::Dataset;
use crate::par::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The ranges of the random affine transform (each drawn uniformly in ±range).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Augment {
    /// Rotation, degrees (10).
    pub rotation: f32,
    /// Shift along each axis, pixels (2).
    pub shift: f32,
    /// Zoom, as a fraction of the size (0.1: 90 %–110 %).
    pub zoom: f32,
    /// Shear, degrees (5).
    pub shear: f32,
    /// Strength of the elastic distortion, pixels (0: off). Simard et al.
    /// (2003) used 34 with `elastic_sigma` 4 on MNIST.
    pub elastic_alpha: f32,
    /// Smoothness of the elastic distortion: the standard deviation, in
    /// pixels, of the Gaussian that smooths the random displacements (4).
    pub elastic_sigma: f32,
}

impl Default for Augment {
    fn default() -> Self {
        Augment { rotation: 10.0, shift: 2.0, zoom: 0.1, shear: 5.0, elastic_alpha: 0.0, elastic_sigma: 4.0 }
    }
}

/// One drawn transform: output pixel `p'` shows input point
/// `M⁻¹ (p' - centre - shift) + centre`, with `M = rotation · shear · zoom`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    /// Rotation, degrees (clockwise on screen, where y points down).
    pub rotation: f32,
    /// Shift `(x, y)`, pixels (x right, y down).
    pub shift: (f32, f32),
    /// Scale factor (1: no zoom).
    pub zoom: f32,
    /// Horizontal shear, degrees.
    pub shear: f32,
}

impl Affine {
    /// The identity.
    pub const IDENTITY: Affine = Affine { rotation: 0.0, shift: (0.0, 0.0), zoom: 1.0, shear: 0.0 };
}

impl Augment {
    /// Checks the ranges; `Err` says which one is out of bounds.
    pub fn validate(&self) -> Result<(), String> {
        let ok = |v: f32, max: f32| v.is_finite() && (0.0..=max).contains(&v);
        if !ok(self.rotation, 180.0) || !ok(self.shift, 14.0) || !ok(self.zoom, 0.9) || !ok(self.shear, 60.0) {
            return Err(format!(
                "augment: rotation must be in [0, 180] degrees, shift in [0, 14] pixels, zoom in [0, 0.9], shear in [0, 60] degrees; got {self:?}"
            ));
        }
        let sigma_ok = self.elastic_sigma.is_finite() && (0.5..=20.0).contains(&self.elastic_sigma);
        if !(ok(self.elastic_alpha, 200.0) && sigma_ok) {
            return Err(format!(
                "augment: elastic_alpha must be in [0, 200] pixels and elastic_sigma in [0.5, 20] pixels; got {} and {}",
                self.elastic_alpha, self.elastic_sigma
            ));
        }
        Ok(())
    }

    /// Draws one transform.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Affine {
        let mut within = |range: f32| if range > 0.0 { rng.random_range(-range..=range) } else { 0.0 };
        Affine {
            rotation: within(self.rotation),
            shift: (within(self.shift), within(self.shift)),
            zoom: 1.0 + within(self.zoom),
            shear: within(self.shear),
        }
    }
}

/// Warps `src` (`rows × cols` u8 pixels) by `t` into `out` (scaled to
/// `[0, 1]`), sampling bilinearly; points outside the image are background (0).
pub fn warp(src: &[u8], rows: usize, cols: usize, t: &Affine, out: &mut [f32]) {
    warp_displaced(src, rows, cols, t, None, out);
}

/// [`warp`], then each output pixel's source point moved by a displacement
/// field `[dx (rows × cols) | dy (rows × cols)]` (see [`elastic_field`]).
pub fn warp_displaced(src: &[u8], rows: usize, cols: usize, t: &Affine, field: Option<&[f32]>, out: &mut [f32]) {
    let (cy, cx) = ((rows as f32 - 1.0) / 2.0, (cols as f32 - 1.0) / 2.0);
    // M = R(θ) · [[1, tan φ], [0, 1]] · zoom; the inverse maps output to input.
    let (sin, cos) = t.rotation.to_radians().sin_cos();
    let tan = t.shear.to_radians().tan();
    let m = [cos * t.zoom, (cos * tan - sin) * t.zoom, sin * t.zoom, (sin * tan + cos) * t.zoom];
    let det = m[0] * m[3] - m[1] * m[2];
    let inv = [m[3] / det, -m[1] / det, -m[2] / det, m[0] / det];
    let pixel = |y: isize, x: isize| -> f32 {
        if y < 0 || x < 0 || y >= rows as isize || x >= cols as isize {
            0.0
        } else {
            f32::from(src[y as usize * cols + x as usize])
        }
    };
    for y in 0..rows {
        for x in 0..cols {
            let (u, v) = (x as f32 - cx - t.shift.0, y as f32 - cy - t.shift.1);
            let (ex, ey) = match field {
                Some(f) => (f[y * cols + x], f[rows * cols + y * cols + x]),
                None => (0.0, 0.0),
            };
            let sx = inv[0] * u + inv[1] * v + cx + ex;
            let sy = inv[2] * u + inv[3] * v + cy + ey;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            let top = pixel(y0, x0) * (1.0 - fx) + pixel(y0, x0 + 1) * fx;
            let bottom = pixel(y0 + 1, x0) * (1.0 - fx) + pixel(y0 + 1, x0 + 1) * fx;
            out[y * cols + x] = (top * (1.0 - fy) + bottom * fy) / 255.0;
        }
    }
}

/// A random elastic displacement field (Simard, Steinkraus and Platt, 2003):
/// a displacement drawn uniformly in [-1, 1] at every pixel, for x and for y,
/// smoothed by a Gaussian of standard deviation `sigma` (so that nearby
/// pixels move together and strokes bend instead of scattering), then scaled
/// by `alpha`. Writes `field = [dx (rows × cols) | dy (rows × cols)]`;
/// `scratch` holds the half-smoothed field. Both are resized here and
/// reused from call to call.
pub fn elastic_field(
    rows: usize,
    cols: usize,
    alpha: f32,
    sigma: f32,
    rng: &mut ChaCha8Rng,
    field: &mut Vec<f32>,
    scratch: &mut Vec<f32>,
) {
    let n = rows * cols;
    field.resize(2 * n, 0.0);
    scratch.resize(2 * n, 0.0);
    for v in field.iter_mut() {
        *v = rng.random_range(-1.0f32..=1.0);
    }
    // The Gaussian, cut at 3 sigma (sigma ≤ 20: at most 121 taps), normalised to sum 1.
    let mut taps = [0.0f32; 128];
    let radius = ((3.0 * sigma).ceil() as usize).clamp(1, 63);
    let taps = &mut taps[..2 * radius + 1];
    for (i, k) in taps.iter_mut().enumerate() {
        let d = i as f32 - radius as f32;
        *k = (-d * d / (2.0 * sigma * sigma)).exp();
    }
    let total: f32 = taps.iter().sum();
    taps.iter_mut().for_each(|k| *k /= total);
    // One pass of the separable blur, with zeros beyond the border: along
    // rows (step 1) or along columns (step `cols`), scaled by `scale`.
    let blur = |from: &[f32], to: &mut [f32], along_rows: bool, scale: f32| {
        for y in 0..rows {
            for x in 0..cols {
                let (at, len) = if along_rows { (x, cols) } else { (y, rows) };
                let lo = at.saturating_sub(radius);
                let hi = (at + radius).min(len - 1);
                let mut sum = 0.0;
                for p in lo..=hi {
                    let v = if along_rows { from[y * cols + p] } else { from[p * cols + x] };
                    sum += taps[p + radius - at] * v;
                }
                to[y * cols + x] = sum * scale;
            }
        }
    };
    for axis in 0..2 {
        let part = axis * n..(axis + 1) * n;
        blur(&field[part.clone()], &mut scratch[part], true, 1.0);
    }
    for axis in 0..2 {
        let part = axis * n..(axis + 1) * n;
        blur(&scratch[part.clone()], &mut field[part], false, alpha);
    }
}

thread_local! {
    /// Each thread's elastic displacement field and its scratch.
    static ELASTIC_BUFFERS: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// The random stream of the example at `position` of epoch `epoch`'s order.
fn example_rng(seed: u64, epoch: u64, position: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xA11_6E47);
    rng.set_stream(epoch);
    rng.set_word_pos(u128::from(position) * 16);
    rng
}

impl Dataset {
    /// As [`Dataset::fill_batch`], each image warped by a transform drawn from
    /// `augment` for (`seed`, `epoch`, its position `first + j` in the epoch).
    /// Labels are never changed.
    pub fn fill_batch_augmented(
        &self,
        indices: &[usize],
        out: &mut [f32],
        labels: &mut Vec<u8>,
        augment: &Augment,
        (seed, epoch, first): (u64, u64, usize),
    ) {
        let ppi = self.pixels_per_image();
        assert_eq!(out.len(), indices.len() * ppi, "fill_batch_augmented: `out` must hold {} images", indices.len());
        labels.clear();
        labels.extend(indices.iter().map(|&i| self.labels[i]));
        out.par_chunks_mut(ppi.max(1)).zip(indices.par_iter()).enumerate().for_each(|(j, (dst, &i))| {
            let mut rng = example_rng(seed, epoch, (first + j) as u64);
            let t = augment.sample(&mut rng);
            if augment.elastic_alpha > 0.0 {
                // The field's buffers: one pair per thread, allocated once.
                ELASTIC_BUFFERS.with_borrow_mut(|(field, scratch)| {
                    let (alpha, sigma) = (augment.elastic_alpha, augment.elastic_sigma);
                    elastic_field(self.rows, self.cols, alpha, sigma, &mut rng, field, scratch);
                    warp_displaced(self.image(i), self.rows, self.cols, &t, Some(field), dst);
                });
            } else {
                warp(self.image(i), self.rows, self.cols, &t, dst);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob off centre, fully inside the image after any small shift.
    fn blob() -> Vec<u8> {
        let mut img = vec![0u8; 28 * 28];
        for y in 8..15 {
            for x in 10..19 {
                img[y * 28 + x] = ((y * 31 + x * 17) % 200 + 55) as u8;
            }
        }
        img
    }

    fn centre_of_mass(img: &[f32]) -> (f64, f64) {
        let (mut m, mut sx, mut sy) = (0.0, 0.0, 0.0);
        for (i, &v) in img.iter().enumerate() {
            m += v as f64;
            sx += v as f64 * (i % 28) as f64;
            sy += v as f64 * (i / 28) as f64;
        }
        (sx / m, sy / m)
    }

    #[test]
    fn the_identity_changes_nothing() {
        let img = blob();
        let mut out = vec![0.0; 784];
        warp(&img, 28, 28, &Affine::IDENTITY, &mut out);
        for (o, &i) in out.iter().zip(&img) {
            assert_eq!(*o, f32::from(i) / 255.0);
        }
        let zero = Augment { rotation: 0.0, shift: 0.0, zoom: 0.0, shear: 0.0, ..Augment::default() };
        assert_eq!(zero.sample(&mut ChaCha8Rng::seed_from_u64(1)), Affine::IDENTITY);
    }

    #[test]
    fn a_shift_moves_the_centre_of_mass_by_the_shift() {
        let img = blob();
        let mut before = vec![0.0; 784];
        warp(&img, 28, 28, &Affine::IDENTITY, &mut before);
        let (x0, y0) = centre_of_mass(&before);
        for shift in [(3.0, -2.0), (-1.5, 2.5), (0.25, 0.0)] {
            let mut out = vec![0.0; 784];
            warp(&img, 28, 28, &Affine { shift, ..Affine::IDENTITY }, &mut out);
            let (x1, y1) = centre_of_mass(&out);
            assert!((x1 - x0 - shift.0 as f64).abs() < 1e-3, "x moved {} for shift {shift:?}", x1 - x0);
            assert!((y1 - y0 - shift.1 as f64).abs() < 1e-3, "y moved {} for shift {shift:?}", y1 - y0);
        }
    }

    #[test]
    fn a_rotation_keeps_the_centre_of_the_image_and_moves_the_rest() {
        let img = blob();
        let mut out = vec![0.0; 784];
        warp(&img, 28, 28, &Affine { rotation: 90.0, ..Affine::IDENTITY }, &mut out);
        // A quarter turn maps pixel (x, y) to (27 - y, x) around the centre (13.5, 13.5).
        let mut base = vec![0.0; 784];
        warp(&img, 28, 28, &Affine::IDENTITY, &mut base);
        let (bx, by) = centre_of_mass(&base);
        let (rx, ry) = centre_of_mass(&out);
        assert!((rx - (27.0 - by)).abs() < 1e-2 && (ry - bx).abs() < 1e-2, "({bx}, {by}) → ({rx}, {ry})");
    }

    #[test]
    fn an_elastic_field_is_smooth_and_scales_with_alpha() {
        let (mut field, mut scratch) = (Vec::new(), Vec::new());
        let mean_abs = |f: &[f32]| f.iter().map(|v| v.abs() as f64).sum::<f64>() / f.len() as f64;
        elastic_field(28, 28, 34.0, 4.0, &mut ChaCha8Rng::seed_from_u64(3), &mut field, &mut scratch);
        assert_eq!(field.len(), 2 * 784);
        let strong = mean_abs(&field);
        // Neighbours move together: the step between adjacent pixels is far
        // smaller than the displacement itself (white noise would give ~1.4×).
        let step: f64 = (0..28 * 27).map(|i| (field[i + 28] - field[i]).abs() as f64).sum::<f64>() / (28.0 * 27.0);
        assert!(strong > 0.3 && strong < 10.0, "mean displacement {strong}");
        assert!(step < 0.35 * strong, "step {step} vs displacement {strong}");
        elastic_field(28, 28, 17.0, 4.0, &mut ChaCha8Rng::seed_from_u64(3), &mut field, &mut scratch);
        assert!((mean_abs(&field) - strong / 2.0).abs() < 1e-4 * strong, "half alpha, half the displacement");
    }

    #[test]
    fn elastic_distortion_bends_the_digit_but_keeps_its_ink() {
        let img = blob();
        let mut base = vec![0.0; 784];
        warp(&img, 28, 28, &Affine::IDENTITY, &mut base);
        let (mut field, mut scratch) = (Vec::new(), Vec::new());
        elastic_field(28, 28, 34.0, 4.0, &mut ChaCha8Rng::seed_from_u64(9), &mut field, &mut scratch);
        let mut bent = vec![0.0; 784];
        warp_displaced(&img, 28, 28, &Affine::IDENTITY, Some(&field), &mut bent);
        let ink = |v: &[f32]| v.iter().map(|&p| p as f64).sum::<f64>();
        assert_ne!(bent, base, "the field moves pixels");
        assert!((ink(&bent) / ink(&base) - 1.0).abs() < 0.25, "ink {} vs {}", ink(&bent), ink(&base));
        // A zero field is the plain warp.
        let mut same = vec![0.0; 784];
        warp_displaced(&img, 28, 28, &Affine::IDENTITY, Some(&vec![0.0; 2 * 784]), &mut same);
        assert_eq!(same, base);
    }

    #[test]
    fn elastic_batches_are_seeded_and_keep_labels() {
        let images: Vec<u8> = (0..3).flat_map(|_| blob()).collect();
        let data = Dataset::new(images, vec![7, 2, 9], 28, 28);
        let elastic = Augment { elastic_alpha: 34.0, ..Augment::default() };
        let fill = |aug: &Augment| {
            let (mut out, mut labels) = (vec![0.0; 3 * 784], Vec::new());
            data.fill_batch_augmented(&[0, 1, 2], &mut out, &mut labels, aug, (5, 1, 0));
            (out, labels)
        };
        let (a, la) = fill(&elastic);
        let (b, _) = fill(&elastic);
        let (plain, _) = fill(&Augment::default());
        assert_eq!(la, vec![7, 2, 9]);
        assert_eq!(a, b, "same seed, epoch and positions: same images");
        assert_ne!(a, plain, "the elastic field changes the images");
        assert!(Augment { elastic_alpha: -1.0, ..Augment::default() }.validate().is_err());
        assert!(Augment { elastic_sigma: 0.0, ..elastic }.validate().is_err());
        assert!(elastic.validate().is_ok());
    }

    #[test]
    fn augmented_batches_are_seeded_keep_labels_and_differ_by_epoch() {
        let images: Vec<u8> = (0..4).flat_map(|_| blob()).collect();
        let data = Dataset::new(images, vec![3, 1, 4, 1], 28, 28);
        let aug = Augment::default();
        let fill = |epoch| {
            let (mut out, mut labels) = (vec![0.0; 4 * 784], Vec::new());
            data.fill_batch_augmented(&[2, 0, 3, 1], &mut out, &mut labels, &aug, (7, epoch, 0));
            (out, labels)
        };
        let (a, la) = fill(1);
        let (b, lb) = fill(1);
        let (c, _) = fill(2);
        assert_eq!(la, vec![4, 3, 1, 1]);
        assert_eq!(la, lb);
        assert_eq!(a, b, "same seed, epoch and positions: same images");
        assert_ne!(a, c, "another epoch draws other transforms");
        assert_ne!(a[..784], a[784..2 * 784], "two positions draw two transforms");
    }
}
