//! Connected components of a cleaned ink picture: every pixel with ink
//! (value above 0) belongs to one component, its 8-connected neighbours in
//! the same one. One pass over the picture with an explicit stack: O(pixels),
//! no recursion, whatever the picture holds.

use crate::preprocess::{Bounds, Gray};

/// One connected piece of ink.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Component {
    /// Its bounding box, in the picture's pixels.
    pub bounds: Bounds,
    /// Pixels with ink.
    pub area: usize,
    /// Sum of its ink values.
    pub mass: f32,
}

/// Every component of a picture, and for each pixel which one it belongs to.
#[derive(Clone, Debug)]
pub struct Components {
    width: usize,
    /// Per pixel, row-major: 0 for background, `k + 1` for component `k`.
    labels: Vec<u32>,
    /// The components, in the order their first pixel is met (row-major).
    pub list: Vec<Component>,
}

impl Components {
    /// The component that pixel `(x, y)` belongs to, if any.
    ///
    /// # Panics
    /// Outside the picture (a programming error).
    pub fn at(&self, x: usize, y: usize) -> Option<usize> {
        let label = self.labels[y * self.width + x];
        (label > 0).then(|| label as usize - 1)
    }

    /// The labels of row `y`: 0 background, `k + 1` for component `k`.
    pub fn label_row(&self, y: usize) -> &[u32] {
        &self.labels[y * self.width..(y + 1) * self.width]
    }
}

/// Labels the 8-connected components of the pixels of `ink` above 0.
pub fn connected_components(ink: &Gray) -> Components {
    let (w, h) = (ink.width(), ink.height());
    let data = ink.data();
    let mut labels = vec![0u32; data.len()];
    let mut list = Vec::new();
    let mut stack = Vec::new();
    for seed in 0..data.len() {
        if data[seed] <= 0.0 || labels[seed] != 0 {
            continue;
        }
        let label = list.len() as u32 + 1;
        let (sx, sy) = (seed % w, seed / w);
        let mut c = Component { bounds: Bounds { x0: sx, y0: sy, x1: sx + 1, y1: sy + 1 }, area: 0, mass: 0.0 };
        labels[seed] = label;
        // Positions, not indices: no division per pixel.
        stack.push((sx, sy));
        while let Some((x, y)) = stack.pop() {
            let i = y * w + x;
            c.area += 1;
            c.mass += data[i];
            c.bounds.x0 = c.bounds.x0.min(x);
            c.bounds.x1 = c.bounds.x1.max(x + 1);
            c.bounds.y0 = c.bounds.y0.min(y);
            c.bounds.y1 = c.bounds.y1.max(y + 1);
            for ny in y.saturating_sub(1)..(y + 2).min(h) {
                for nx in x.saturating_sub(1)..(x + 2).min(w) {
                    let j = ny * w + nx;
                    if data[j] > 0.0 && labels[j] == 0 {
                        labels[j] = label;
                        stack.push((nx, ny));
                    }
                }
            }
        }
        list.push(c);
    }
    Components { width: w, labels, list }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(rows: &[&str]) -> Gray {
        Gray::from_fn(rows[0].len(), rows.len(), |x, y| f32::from(u8::from(rows[y].as_bytes()[x] == b'#')))
    }

    #[test]
    fn diagonal_neighbours_join_and_gaps_separate() {
        let ink = picture(&["#.....", ".#..##", "......", "##...#"]);
        let c = connected_components(&ink);
        assert_eq!(c.list.len(), 4, "{:?}", c.list);
        assert_eq!(c.list[0].bounds, Bounds { x0: 0, y0: 0, x1: 2, y1: 2 });
        assert_eq!(c.list[0].area, 2);
        assert_eq!(c.at(1, 1), Some(0));
        assert_eq!(c.at(4, 1), Some(1));
        assert_eq!(c.at(0, 3), Some(2));
        assert_eq!(c.at(5, 3), Some(3));
        assert_eq!(c.at(2, 2), None);
        let total: usize = c.list.iter().map(|k| k.area).sum();
        assert_eq!(total, ink.data().iter().filter(|&&v| v > 0.0).count());
    }

    #[test]
    fn a_ring_is_one_component_and_its_hole_is_background() {
        let ink = picture(&["#####", "#...#", "#...#", "#####"]);
        let c = connected_components(&ink);
        assert_eq!(c.list.len(), 1);
        assert_eq!(c.list[0].area, 14);
        assert_eq!(c.at(2, 2), None);
        assert!((c.list[0].mass - 14.0).abs() < 1e-6);
    }

    #[test]
    fn an_empty_picture_has_no_components() {
        assert!(connected_components(&Gray::filled(7, 3, 0.0)).list.is_empty());
        assert!(connected_components(&Gray::filled(0, 0, 0.0)).list.is_empty());
    }
}
