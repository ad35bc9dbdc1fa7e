//! Connected components of a cleaned ink picture: every pixel with ink
//! (value above 0) belongs to one component, its 8-connected neighbours in
//! the same one. A scanline flood fill (`preprocess::fill`) with an explicit
//! stack: O(pixels), no recursion, whatever the picture holds.

use crate::preprocess::{fill, next_seed, Bounds, Gray};

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
    let w = ink.width();
    let data = ink.data();
    let mut labels = vec![0u32; data.len()];
    let mut list: Vec<Component> = Vec::new();
    let mut stack = Vec::new();
    let mut seed = 0;
    while let Some(found) = next_seed(data, &labels, seed, |v| v > 0.0) {
        seed = found;
        let (sx, sy) = (seed % w, seed / w);
        let mut c = Component { bounds: Bounds { x0: sx, y0: sy, x1: sx + 1, y1: sy + 1 }, area: 0, mass: 0.0 };
        let label = list.len() as u32 + 1;
        fill(
            &mut labels,
            w,
            seed,
            label,
            |j| data[j] > 0.0,
            &mut stack,
            |y, x0, x1| {
                c.area += x1 - x0;
                c.mass += data[y * w + x0..y * w + x1].iter().sum::<f32>();
                c.bounds.x0 = c.bounds.x0.min(x0);
                c.bounds.x1 = c.bounds.x1.max(x1);
                c.bounds.y0 = c.bounds.y0.min(y);
                c.bounds.y1 = c.bounds.y1.max(y + 1);
            },
        );
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
