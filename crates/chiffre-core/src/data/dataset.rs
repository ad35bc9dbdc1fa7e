//! In-memory data sets of labelled images, and the MNIST directory layout.

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{read_idx, DataError, IdxArray};

/// Base name of the MNIST training images file (`.gz` optional).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// Base name of the MNIST training labels file (`.gz` optional).
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// Base name of the MNIST test images file (`.gz` optional).
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Base name of the MNIST test labels file (`.gz` optional).
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Images kept as u8 in memory (row-major, one image after another), labels as u8.
///
/// Invariant (kept by every constructor here): `images.len() ==
/// labels.len() * rows * cols`.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Pixels, 0..=255, image after image, each `rows × cols` row-major.
    pub images: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
    /// Rows of each image.
    pub rows: usize,
    /// Columns of each image.
    pub cols: usize,
}

impl Dataset {
    /// Builds a data set from parts already in memory (e.g. synthetic data).
    ///
    /// # Panics
    ///
    /// If `images.len() != labels.len() * rows * cols`: a programming error,
    /// not a data error (files go through [`Dataset::load`]).
    pub fn new(images: Vec<u8>, labels: Vec<u8>, rows: usize, cols: usize) -> Self {
        let pixels = labels.len().checked_mul(rows).and_then(|x| x.checked_mul(cols));
        assert!(
            pixels == Some(images.len()),
            "Dataset::new: {} pixels do not make {} images of {rows}×{cols}",
            images.len(),
            labels.len(),
        );
        Self { images, labels, rows, cols }
    }

    /// Loads an images IDX file and a labels IDX file (each gzipped or raw).
    ///
    /// # Errors
    ///
    /// Any [`read_idx`] error; [`DataError::NotImages`] unless the images are
    /// 3-D (`count × rows × cols`); [`DataError::EmptyImages`] if rows or cols
    /// is 0; [`DataError::NotLabels`] unless the labels are 1-D; and
    /// [`DataError::CountMismatch`] if the counts differ.
    pub fn load(images: &Path, labels: &Path) -> Result<Self, DataError> {
        Self::from_idx(read_idx(images)?, images, read_idx(labels)?, labels)
    }

    /// A data set from IDX arrays already read (`images` from the file named
    /// `images_source`, `labels` from `labels_source`; the names go into
    /// errors), with the checks of [`Dataset::load`]: what a page that
    /// fetched the files itself uses (with [`super::idx_from_bytes`]).
    ///
    /// # Errors
    ///
    /// As [`Dataset::load`], after reading.
    pub fn from_idx(img: IdxArray, images: &Path, lab: IdxArray, labels: &Path) -> Result<Self, DataError> {
        let &[n, rows, cols] = img.dims.as_slice() else {
            fail!(images, NotImages, dims: img.dims);
        };
        if rows == 0 || cols == 0 {
            fail!(images, EmptyImages, rows, cols);
        }
        let &[m] = lab.dims.as_slice() else {
            fail!(labels, NotLabels, dims: lab.dims);
        };
        if n != m {
            return Err(DataError::CountMismatch { images: images.to_path_buf(), n, labels: labels.to_path_buf(), m });
        }
        Ok(Self::new(img.data, lab.data, rows, cols))
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels in one image: `rows * cols`.
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `i`, row-major.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        let ppi = self.pixels_per_image();
        &self.images[i * ppi..(i + 1) * ppi]
    }

    /// Number of classes: the largest label plus one (0 if empty).
    pub fn num_classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&m| usize::from(m) + 1)
    }

    /// First n examples (or all if n >= len).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        let images = self.images.iter().take(n * self.pixels_per_image());
        let labels = self.labels.iter().take(n);
        Self::new(images.copied().collect(), labels.copied().collect(), self.rows, self.cols)
    }

    /// Splits off the last `fraction` (0.0..1.0) of the examples as a held-out set: returns (train, held_out). The split is deterministic (the tail), fraction 0 gives an empty held-out set.
    ///
    /// The held-out count is `round(len * fraction)`; `fraction` is clamped
    /// to `[0, 1]` and NaN counts as 0.
    pub fn split_tail(self, fraction: f64) -> (Dataset, Dataset) {
        let len = self.len();
        let fraction = if fraction.is_nan() { 0.0 } else { fraction.clamp(0.0, 1.0) };
        // Saturating float-to-int cast, then clamped: never more than len.
        let held = ((len as f64 * fraction).round() as usize).min(len);
        let keep = len - held;
        let (rows, cols) = (self.rows, self.cols);
        let (mut images, mut labels) = (self.images, self.labels);
        let tail_images = images.split_off(keep * rows * cols);
        let tail = Self::new(tail_images, labels.split_off(keep), rows, cols);
        (Self::new(images, labels, rows, cols), tail)
    }

    /// Adds `other`'s images after this set's.
    ///
    /// # Errors
    ///
    /// When the images are not of the same size (a message naming both).
    pub fn append(&mut self, other: Dataset) -> Result<(), String> {
        if (other.rows, other.cols) != (self.rows, self.cols) {
            return Err(format!(
                "cannot add {}×{} images to a set of {}×{} images",
                other.rows, other.cols, self.rows, self.cols
            ));
        }
        self.images.extend(other.images);
        self.labels.extend(other.labels);
        Ok(())
    }

    /// Fills `out` (len = indices.len()*pixels_per_image) with the images at `indices` scaled to `[0, 1]` (x/255), and `labels` with their labels (cleared first; no reallocation when capacity suffices).
    ///
    /// # Panics
    ///
    /// If `out` has the wrong length or an index is `>= self.len()`.
    pub fn fill_batch(&self, indices: &[usize], out: &mut [f32], labels: &mut Vec<u8>) {
        let ppi = self.pixels_per_image();
        assert_eq!(
            out.len(),
            indices.len() * ppi,
            "fill_batch: `out` must hold {} images of {ppi} pixels",
            indices.len()
        );
        labels.clear();
        labels.extend(indices.iter().map(|&i| self.labels[i]));
        for (&i, dst) in indices.iter().zip(out.chunks_exact_mut(ppi.max(1))) {
            for (d, &s) in dst.iter_mut().zip(self.image(i)) {
                *d = f32::from(s) / 255.0;
            }
        }
    }

    /// Checks every label is < classes; error names `source` (path) and the first bad index/label.
    ///
    /// # Errors
    ///
    /// [`DataError::LabelOutOfRange`] for the first label `>= classes`.
    pub fn check_labels(&self, classes: usize, source: &Path) -> Result<(), DataError> {
        let bad = self.labels.iter().enumerate().find(|&(_, &l)| usize::from(l) >= classes);
        if let Some((index, &label)) = bad {
            fail!(source, LabelOutOfRange, index, label, classes);
        }
        Ok(())
    }
}

/// Train and test sets of a directory in the MNIST layout.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// The training set (`train-*` files).
    pub train: Dataset,
    /// The test set (`t10k-*` files).
    pub test: Dataset,
    /// The directory they were loaded from.
    pub dir: PathBuf,
}

impl Mnist {
    /// Loads DIR/train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz] (raw name preferred if both exist). Checks train and test image sizes agree. Missing file error lists the names it looked for.
    ///
    /// All four files are located before any is read.
    ///
    /// # Errors
    ///
    /// [`DataError::DirNotFound`], [`DataError::MissingFile`], any
    /// [`Dataset::load`] error, [`DataError::NoExamples`] if either set is
    /// empty, and [`DataError::ImageSizeMismatch`].
    pub fn load(dir: &Path) -> Result<Self, DataError> {
        if !dir.is_dir() {
            return Err(DataError::DirNotFound { dir: dir.to_path_buf() });
        }
        let names = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];
        let [train_images, train_labels, test_images, test_labels] = names.map(|base| find_file(dir, base));
        let (train_images, test_images) = (train_images?, test_images?);
        let (train_labels, test_labels) = (train_labels?, test_labels?);
        let train = load_nonempty(&train_images, &train_labels)?;
        let test = load_nonempty(&test_images, &test_labels)?;
        if (train.rows, train.cols) != (test.rows, test.cols) {
            return Err(DataError::ImageSizeMismatch {
                train: train_images,
                train_rows: train.rows,
                train_cols: train.cols,
                test: test_images,
                test_rows: test.rows,
                test_cols: test.cols,
            });
        }
        Ok(Self { train, test, dir: dir.to_path_buf() })
    }

    /// Only the test set of `dir` (`t10k-images-idx3-ubyte[.gz]` and
    /// `t10k-labels-idx1-ubyte[.gz]`), for tools that only evaluate.
    pub fn load_test(dir: &Path) -> Result<Dataset, DataError> {
        if !dir.is_dir() {
            return Err(DataError::DirNotFound { dir: dir.to_path_buf() });
        }
        load_nonempty(&find_file(dir, TEST_IMAGES)?, &find_file(dir, TEST_LABELS)?)
    }

    /// Number of classes: max label over train and test, plus one.
    pub fn num_classes(&self) -> usize {
        self.train.num_classes().max(self.test.num_classes())
    }
}

/// `dir/base` if it is a file, else `dir/base.gz`, else a missing-file error.
fn find_file(dir: &Path, base: &str) -> Result<PathBuf, DataError> {
    let tried = vec![base.to_owned(), format!("{base}.gz")];
    match tried.iter().map(|name| dir.join(name)).find(|p| p.is_file()) {
        Some(path) => Ok(path),
        None => Err(DataError::MissingFile { dir: dir.to_path_buf(), name: base.to_owned(), tried }),
    }
}

/// [`Dataset::load`], refusing a set with no examples.
fn load_nonempty(images: &Path, labels: &Path) -> Result<Dataset, DataError> {
    let set = Dataset::load(images, labels)?;
    if set.is_empty() {
        fail!(images, NoExamples);
    }
    Ok(set)
}

/// The bundled MNIST: `data/mnist` under the current directory if it exists, else `<CARGO_MANIFEST_DIR>/data/mnist` (compile-time path via env!).
pub fn default_data_dir() -> PathBuf {
    let local = PathBuf::from("data/mnist");
    if local.is_dir() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist")
    }
}

/// Seeded shuffled order 0..n for an epoch: same (seed, epoch) → same order.
///
/// Uses a [`ChaCha8Rng`] seeded with `seed ^ epoch * 0x9E37_79B9_7F4A_7C15`
/// (wrapping) and a Fisher–Yates shuffle, written into `order` (cleared and
/// reused: no reallocation when its capacity is at least `n`).
pub fn shuffle_indices(order: &mut Vec<usize>, n: usize, seed: u64, epoch: u64) {
    order.clear();
    order.extend(0..n);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    order.shuffle(&mut rng);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::tests::{gzip, idx_bytes};
    use crate::data::tests::err_has;

    /// Writes an IDX file (gzipped if the name ends in `.gz`).
    fn write(dir: &Path, name: &str, dims: &[u32], data: &[u8]) -> PathBuf {
        let (path, bytes) = (dir.join(name), idx_bytes(dims, data));
        let gz = name.ends_with(".gz");
        std::fs::write(&path, if gz { gzip(&bytes) } else { bytes }).unwrap();
        path
    }

    /// `n` images of 2×3 with pixels `10*i + k` and labels `i % 4`, as files
    /// `{prefix}-images-idx3-ubyte{ext}` and `{prefix}-labels-idx1-ubyte{ext}`.
    fn write_set(dir: &Path, prefix: &str, n: u32, ext: &str) -> (PathBuf, PathBuf) {
        let px: Vec<u8> = (0..n * 6).map(|p| (10 * (p / 6) + p % 6) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 4) as u8).collect();
        let name = |kind: &str| format!("{prefix}-{kind}{ext}");
        let img = write(dir, &name("images-idx3-ubyte"), &[n, 2, 3], &px);
        let lab = write(dir, &name("labels-idx1-ubyte"), &[n], &labels);
        (img, lab)
    }

    fn small(n: u32) -> Dataset {
        let dir = tempfile::tempdir().unwrap();
        let (img, lab) = write_set(dir.path(), "train", n, ".gz");
        Dataset::load(&img, &lab).unwrap()
    }

    #[test]
    fn take_split_and_fill_round_trip() {
        let d = small(10);
        assert_eq!((d.len(), d.rows, d.cols, d.pixels_per_image()), (10, 2, 3, 6));
        assert_eq!(d.image(2), &[20, 21, 22, 23, 24, 25]);
        assert_eq!(d.labels[..5], [0, 1, 2, 3, 0]);
        assert_eq!((d.num_classes(), d.take(0).num_classes()), (4, 0));
        assert!(d.take(0).is_empty());
        let t = d.take(4);
        assert_eq!((t.len(), t.images.len(), t.image(3)), (4, 24, d.image(3)));
        assert_eq!(d.take(99).labels, d.labels);

        let (train, held) = d.clone().split_tail(0.3);
        assert_eq!((train.len(), held.len(), held.image(0)), (7, 3, d.image(7)));
        assert_eq!([train.images, held.images].concat(), d.images);
        let (all, none) = d.clone().split_tail(0.0);
        assert_eq!((all.len(), none.len(), none.images.len()), (10, 0, 0));
        assert_eq!(d.clone().split_tail(f64::NAN).1.len(), 0);
        assert_eq!(d.clone().split_tail(7.0).1.len(), 10);

        let (mut out, mut labels) = (vec![0f32; 12], Vec::with_capacity(8));
        let ptr = labels.as_ptr();
        d.fill_batch(&[9, 2], &mut out, &mut labels);
        assert_eq!((labels.as_slice(), labels.as_ptr()), (&[1, 2][..], ptr));
        assert_eq!((out[0], out[11]), (90.0 / 255.0, 25.0 / 255.0));
        d.fill_batch(&[], &mut [], &mut labels);
        assert!(labels.is_empty());
    }

    #[test]
    #[should_panic(expected = "fill_batch")]
    fn fill_batch_checks_out_len() {
        small(2).fill_batch(&[0], &mut [0.0; 5], &mut Vec::new());
    }

    #[test]
    fn check_labels_names_file_and_first_bad_label() {
        let d = Dataset::new(vec![0; 4], vec![1, 9, 12, 200], 1, 1);
        assert!(d.check_labels(201, Path::new("l")).is_ok());
        let r = d.check_labels(10, Path::new("dir/lab.gz"));
        err_has(r, &["dir/lab.gz: label 12 at index 2 is out of range", "0 to 9"]);
    }

    #[test]
    fn load_errors_name_files() {
        let dir = tempfile::tempdir().unwrap();
        let (img, lab) = write_set(dir.path(), "a", 5, "");
        let (_, lab3) = write_set(dir.path(), "b", 3, "");
        err_has(Dataset::load(&img, &lab3), &["a-images-idx3-ubyte: has 5 images but"]);
        err_has(Dataset::load(&img, &lab3), &["b-labels-idx1-ubyte has 3 labels"]);
        let swapped = Dataset::load(&lab, &img);
        err_has(swapped, &["a-labels-idx1-ubyte: expected an images file with 3 dimensions"]);
        err_has(Dataset::load(&lab, &img), &["found 1 dimension(s) (5); is this a labels file?"]);
        let e = err_has(Dataset::load(&img, &img), &["expected a labels file with 1 dimension"]);
        assert!(e.contains("(5×2×3); is this an images file?"), "{e}");
        let zero = write(dir.path(), "zero", &[4, 0, 28], &[]);
        err_has(Dataset::load(&zero, &lab), &["zero: images are 0×28 pixels"]);
    }

    #[test]
    fn mnist_layout() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        err_has(Mnist::load(&d.join("nope")), &["nope: data directory not found"]);
        write_set(d, "train", 8, ".gz");
        let e = "missing MNIST file t10k-images-idx3-ubyte: looked for t10k-images-idx3-ubyte and t10k-images-idx3-ubyte.gz";
        err_has(Mnist::load(d), &[e]);
        write_set(d, "t10k", 3, ".gz");
        let m = Mnist::load(d).unwrap();
        assert_eq!((m.train.len(), m.test.len(), m.num_classes()), (8, 3, 4));
        write_set(d, "t10k", 2, ""); // the raw file wins over the .gz one
        assert_eq!(Mnist::load(d).unwrap().test.len(), 2);
        write_set(d, "t10k", 0, "");
        err_has(Mnist::load(d), &["t10k-images-idx3-ubyte: contains no examples"]);
        write(d, "t10k-images-idx3-ubyte", &[1, 3, 3], &[0; 9]);
        write(d, "t10k-labels-idx1-ubyte", &[1], &[0]);
        err_has(Mnist::load(d), &["test images are 3×3 pixels but training images", "are 2×3"]);
    }

    #[test]
    fn shuffle_is_seeded_permutation_without_realloc() {
        let mut a = Vec::with_capacity(1000);
        let ptr = a.as_ptr();
        shuffle_indices(&mut a, 1000, 42, 3);
        assert_eq!(a.as_ptr(), ptr, "no reallocation");
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        let mut b = vec![7; 5];
        shuffle_indices(&mut b, 1000, 42, 3);
        assert_eq!(a, b);
        shuffle_indices(&mut b, 1000, 42, 4);
        assert_ne!(a, b);
        shuffle_indices(&mut b, 1000, 43, 3);
        assert_ne!(a, b);
        shuffle_indices(&mut b, 0, 1, 1);
        assert!(b.is_empty());
    }

    #[test]
    fn real_mnist() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
        let m = Mnist::load(&dir).unwrap();
        assert_eq!((m.train.len(), m.test.len(), m.num_classes()), (60000, 10000, 10));
        assert_eq!((m.train.rows, m.train.cols, m.test.rows, m.test.cols), (28, 28, 28, 28));
        assert_eq!((m.train.images.len(), m.train.labels[0]), (60000 * 784, 5));
        m.train.check_labels(10, &dir).unwrap();
        m.test.check_labels(10, &dir).unwrap();
        assert!(default_data_dir().is_dir());
    }
}
