//! The tutorial's worked example, computed by the engine: a 9×9 black and
//! white "X" (pixels +1 and −1), three 3×3 features cut from it (the two
//! diagonals and the centre cross), each slid over the image (a feature map:
//! the mean of the products under the window, so a perfect match is 1.00),
//! ReLU, 2×2 max-pooling, flattening. Then a tiny CNN with the same layers
//! learns to tell an "X" from an "O" ([`train_x_or_o`]).
//!
//! Every number comes from the engine's own layers ([`Conv2d`], [`Relu`],
//! [`Pool2d`], [`Flatten`]); only their weights are set by hand.

mod shapes;

pub use shapes::{draw, Shape, Variant};

use crate::layers::{Conv2d, Conv2dConfig, Flatten, Layer, Mode, Pool2d, Relu};
use crate::tensor::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt::Write;

mod xo;
pub use xo::{train_x_or_o, x_or_o_spec, XoResult};

/// A small matrix, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows × cols` values, row by row.
    pub values: Vec<f32>,
}

impl Grid {
    /// A grid from rows of equal length.
    pub fn from_rows(rows: &[&[f32]]) -> Grid {
        let cols = rows.first().map_or(0, |r| r.len());
        Grid { rows: rows.len(), cols, values: rows.iter().flat_map(|r| r.iter().copied()).collect() }
    }

    /// The value at row `r`, column `c`.
    pub fn at(&self, r: usize, c: usize) -> f32 {
        self.values[r * self.cols + c]
    }

    /// The values with two decimals, one row per line, columns aligned.
    pub fn format(&self) -> String {
        let cells: Vec<String> = self.values.iter().map(|v| format!("{:.2}", v + 0.0)).collect();
        let width = cells.iter().map(String::len).max().unwrap_or(0);
        let mut out = String::new();
        for row in cells.chunks(self.cols.max(1)) {
            let line: Vec<String> = row.iter().map(|c| format!("{c:>width$}")).collect();
            let _ = writeln!(out, "{}", line.join(" "));
        }
        out
    }
}

/// The tutorial's "X": 9×9, +1 on the two diagonals (inside a one-pixel
/// border), −1 elsewhere.
pub fn x_image() -> Grid {
    let values = (0..81)
        .map(|i| {
            let (r, c) = (i / 9, i % 9);
            let on = (1..8).contains(&r) && (r == c || r + c == 8);
            if on {
                1.0
            } else {
                -1.0
            }
        })
        .collect();
    Grid { rows: 9, cols: 9, values }
}

/// The same "X" drawn a little differently: its lower half shifted one
/// pixel to the right and its centre a pixel thicker, so that whole-image
/// matching fails while the local features still match.
pub fn x_variant() -> Grid {
    let x = x_image();
    let mut values = vec![-1.0; 81];
    for r in 0..9 {
        for c in 0..9usize {
            let src_c: usize = if r >= 5 { c.wrapping_sub(1) } else { c };
            if src_c < 9 && x.at(r, src_c) > 0.0 {
                values[r * 9 + c] = 1.0;
            }
        }
    }
    values[4 * 9 + 5] = 1.0;
    Grid { rows: 9, cols: 9, values }
}

/// The three 3×3 features cut from [`x_image`]: the diagonal `\` (rows and
/// columns 1–3), the centre cross (rows and columns 3–5) and the diagonal `/`
/// (rows 1–3, columns 5–7).
pub fn features() -> Vec<(&'static str, Grid)> {
    let x = x_image();
    let cut = |r0: usize, c0: usize| Grid {
        rows: 3,
        cols: 3,
        values: (0..9).map(|i| x.at(r0 + i / 3, c0 + i % 3)).collect(),
    };
    vec![("diagonal \\", cut(1, 1)), ("centre cross", cut(3, 3)), ("diagonal /", cut(1, 5))]
}

/// Every step of the worked example for one image.
#[derive(Clone, Debug)]
pub struct WorkedExample {
    /// The input image.
    pub image: Grid,
    /// The features, with their names.
    pub features: Vec<(&'static str, Grid)>,
    /// One feature map per feature (7×7): the mean of the products under the window.
    pub maps: Vec<Grid>,
    /// The maps after ReLU.
    pub relu: Vec<Grid>,
    /// The ReLU maps after 2×2 max-pooling (4×4: the border windows that
    /// stick out keep what they cover, as in the tutorial).
    pub pooled: Vec<Grid>,
    /// The pooled maps flattened, as the engine stores them: channels last,
    /// so the three maps interleave (row, column, feature).
    pub flat: Vec<f32>,
}

/// Runs the worked example on `image` (9×9) with the engine's layers.
pub fn worked_example(image: &Grid) -> WorkedExample {
    let features = features();
    let (side, k, f) = (image.rows, 3, features.len());
    let out = side - k + 1;
    // Convolution: weight = feature / 9, so each output is the mean of the products.
    let config = Conv2dConfig { filters: f, kernel: k, ..Conv2dConfig::default() };
    let mut conv = Conv2d::new([side, side, 1], config, &mut ChaCha8Rng::seed_from_u64(0))
        .expect("a 3×3 convolution fits a 9×9 image");
    conv.visit_params_mut(&mut |name, param| match name {
        // W [F, 3, 3, 1]: feature by feature, row by row.
        "weight" => {
            let w = param.value.data_mut();
            for (o, (_, g)) in features.iter().enumerate() {
                for (i, v) in g.values.iter().enumerate() {
                    w[o * 9 + i] = v / 9.0;
                }
            }
        }
        _ => param.value.fill(0.0),
    });
    let input = Tensor::from_vec(&[1, side, side, 1], image.values.clone()).expect("9×9 values");
    let mut maps = Tensor::zeros(&[1, out, out, f]);
    conv.forward(&input, &mut maps, Mode::Eval);
    let mut relu_out = Tensor::zeros(&[1, out, out, f]);
    Relu::new(&[out, out, f]).forward(&maps, &mut relu_out, Mode::Eval);
    // Pooling with partial border windows: pad to an even side with zeros,
    // which changes nothing after ReLU (no value is below 0).
    let padded_side = out.div_ceil(2) * 2;
    let mut padded = Tensor::zeros(&[1, padded_side, padded_side, f]);
    for y in 0..out {
        for x in 0..out {
            for c in 0..f {
                padded.data_mut()[(y * padded_side + x) * f + c] = relu_out.data()[(y * out + x) * f + c];
            }
        }
    }
    let pooled_side = padded_side / 2;
    let mut pool = Pool2d::max([padded_side, padded_side, f], 2, 2).expect("2×2 pooling fits");
    let mut pooled = Tensor::zeros(&[1, pooled_side, pooled_side, f]);
    pool.forward(&padded, &mut pooled, Mode::Eval);
    let mut flat = Tensor::zeros(&[1, pooled_side * pooled_side * f]);
    Flatten::new(&[pooled_side, pooled_side, f]).forward(&pooled, &mut flat, Mode::Eval);
    WorkedExample {
        image: image.clone(),
        features,
        maps: channels(&maps, out, f),
        relu: channels(&relu_out, out, f),
        pooled: channels(&pooled, pooled_side, f),
        flat: flat.into_vec(),
    }
}

/// Splits a `[1, side, side, f]` tensor into `f` grids.
fn channels(t: &Tensor, side: usize, f: usize) -> Vec<Grid> {
    (0..f)
        .map(|c| Grid { rows: side, cols: side, values: (0..side * side).map(|p| t.data()[p * f + c]).collect() })
        .collect()
}

impl WorkedExample {
    /// The whole example as text, every matrix with two decimals.
    pub fn format(&self) -> String {
        let mut s = format!(
            "The image ({}×{}, +1 ink, −1 background):\n{}",
            self.image.rows,
            self.image.cols,
            self.image.format()
        );
        for (i, (name, feature)) in self.features.iter().enumerate() {
            let _ = write!(
                s,
                "\nFeature {}: {name}\n{}\nFeature map (mean of the products under the window; 1.00 = perfect match):\n{}\
                 \nAfter ReLU (negatives become 0):\n{}\nAfter 2×2 max-pooling:\n{}",
                i + 1,
                feature.format(),
                self.maps[i].format(),
                self.relu[i].format(),
                self.pooled[i].format()
            );
        }
        let flat: Vec<String> = self.flat.iter().map(|v| format!("{:.2}", v + 0.0)).collect();
        let _ = writeln!(
            s,
            "\nFlattened ({} values; channels last, so the three pooled maps interleave):\n{}",
            self.flat.len(),
            flat.join(" ")
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_matches_where_it_was_cut_with_one() {
        let ex = worked_example(&x_image());
        assert_eq!(ex.maps.len(), 3);
        assert_eq!((ex.maps[0].rows, ex.pooled[0].rows), (7, 4));
        // Cut at rows/columns 1–3, 3–5 and (1–3, 5–7): the map's (row, column) of the window's corner.
        for (f, (r, c)) in [(0, (1, 1)), (1, (3, 3)), (2, (1, 5))] {
            assert!((ex.maps[f].at(r, c) - 1.0).abs() < 1e-6, "feature {f}: {}", ex.maps[f].at(r, c));
        }
        assert!(ex.maps.iter().flat_map(|m| &m.values).all(|v| (-1.0..=1.0 + 1e-6).contains(v)));
        assert_eq!(ex.flat.len(), 48);
    }
}
