//! The data room: reading MNIST-style data sets from disk.
//!
//! # The IDX format
//!
//! MNIST is distributed in the *IDX* format, a minimal container for
//! n-dimensional arrays. An IDX file is:
//!
//! * a 4-byte magic number: two zero bytes, one byte giving the element type
//!   (`0x08` = unsigned byte, the only type this crate supports), and one
//!   byte giving the number of dimensions `d`;
//! * `d` big-endian `u32` sizes, one per dimension;
//! * the elements themselves, row-major (last index changes fastest), and
//!   nothing after them.
//!
//! Image files are 3-D (`count × rows × cols`, one byte per pixel, 0 =
//! background) and label files are 1-D (`count`, one byte per label). The files
//! are usually gzipped; [`read_idx`] recognises gzip by its magic bytes
//! (`1f 8b`), not by the file name, so both forms load.
//!
//! # Where MNIST comes from
//!
//! MNIST (Yann LeCun, Corinna Cortes and Christopher Burges) holds 70 000
//! 28×28 grey-scale handwritten digits: 60 000 for training, written by one
//! set of people, and 10 000 for testing, written by others. This crate ships
//! the four original gzipped files in `data/mnist/` (see
//! [`default_data_dir`]); any directory with the same four file names, for
//! example Fashion-MNIST, loads with [`Mnist::load`].
//!
//! Every failure is reported as a [`DataError`] that names the file and says
//! what was expected: bad input never panics and is never silently accepted.

/// `fail!(path, Variant, fields...)` returns `Err(DataError::Variant { path, fields... })`.
macro_rules! fail {
    ($path:expr, $v:ident $(, $($f:tt)*)?) => {
        return Err(DataError::$v { path: $path.to_path_buf(), $($($f)*)? })
    };
}

pub mod augment;
pub mod dataset;
pub mod idx;

pub use augment::{Affine, Augment};
pub use dataset::{default_data_dir, shuffle_indices, Dataset, Mnist};
pub use idx::{idx_from_bytes, parse_idx, read_idx, IdxArray};

use std::io;
use std::path::PathBuf;

/// Errors of the data room. Every message names the file (its path as given)
/// and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: cannot read file: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// The file starts like gzip but its compressed stream is damaged.
    #[error(
        "{}: cannot decompress gzip data ({source}); the file is truncated or damaged, \
         replace it with a good copy",
        .path.display()
    )]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The error reported by the decompressor.
        source: io::Error,
    },
    /// The file holds no bytes at all.
    #[error("{}: file is empty{}; expected an IDX file", .path.display(), gz_note(*.gzipped))]
    Empty {
        /// The file.
        path: PathBuf,
        /// Whether it was a gzip file that decompressed to nothing.
        gzipped: bool,
    },
    /// The magic number is not `00 00 <type> <dims>`.
    #[error(
        "{}: not an IDX file: it starts with bytes [{}], but an IDX file starts with \
         00 00 <type> <number of dimensions>{}",
        .path.display(), hex(.found), magic_hint(.found)
    )]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first (up to four) bytes found.
        found: Vec<u8>,
    },
    /// The element type is not unsigned byte.
    #[error(
        "{}: unsupported IDX data type 0x{code:02x} ({}); only unsigned-byte IDX files \
         (type 0x08) are supported",
        .path.display(), type_name(*.code)
    )]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The type code found (third byte of the magic number).
        code: u8,
    },
    /// The number of dimensions is zero or absurdly large.
    #[error(
        "{}: IDX header declares {ndims} dimensions; expected between 1 and {max}",
        .path.display()
    )]
    BadDimCount {
        /// The file.
        path: PathBuf,
        /// The number of dimensions found.
        ndims: u8,
        /// The largest number supported.
        max: usize,
    },
    /// The file ends inside the header.
    #[error(
        "{}: truncated IDX file: the header needs {expected} bytes, found only {found}",
        .path.display()
    )]
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// Header bytes needed.
        expected: usize,
        /// Header bytes present.
        found: usize,
    },
    /// The declared array is too large to load (or its size overflows).
    #[error(
        "{}: IDX header declares a {shape} array, more than the limit of {limit} bytes; \
         the file is corrupt or not a supported data set",
        .path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The declared dimensions, as `a×b×c`.
        shape: String,
        /// The largest number of data bytes accepted.
        limit: usize,
    },
    /// The file ends before all the data the header declares.
    #[error(
        "{}: truncated IDX file: header says {} bytes of data, found {found}",
        .path.display(), size_desc(.shape, *.expected)
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The declared dimensions, as `a×b×c`.
        shape: String,
        /// Data bytes declared.
        expected: usize,
        /// Data bytes present.
        found: usize,
    },
    /// There are bytes after the data the header declares.
    #[error(
        "{}: IDX file has {}{extra} unexpected extra byte(s) after the {expected} bytes of data \
         its header declares ({shape}); the file is corrupt or not an IDX file",
        .path.display(), if *.at_least { "at least " } else { "" }
    )]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// The declared dimensions, as `a×b×c`.
        shape: String,
        /// Data bytes declared.
        expected: usize,
        /// Extra bytes found (counting stops at a cap, see `at_least`).
        extra: u64,
        /// Whether counting stopped at the cap.
        at_least: bool,
    },
    /// An images file is not 3-D.
    #[error(
        "{}: expected an images file with 3 dimensions (count×rows×cols), found {} \
         dimension(s) ({}){}",
        .path.display(), .dims.len(), shape(.dims),
        if .dims.len() == 1 { "; is this a labels file?" } else { "" }
    )]
    NotImages {
        /// The file.
        path: PathBuf,
        /// The dimensions found.
        dims: Vec<usize>,
    },
    /// A labels file is not 1-D.
    #[error(
        "{}: expected a labels file with 1 dimension (count), found {} dimension(s) ({}){}",
        .path.display(), .dims.len(), shape(.dims),
        if .dims.len() == 3 { "; is this an images file?" } else { "" }
    )]
    NotLabels {
        /// The file.
        path: PathBuf,
        /// The dimensions found.
        dims: Vec<usize>,
    },
    /// Images have zero rows or zero columns.
    #[error(
        "{}: images are {rows}×{cols} pixels; each image needs at least one pixel",
        .path.display()
    )]
    EmptyImages {
        /// The images file.
        path: PathBuf,
        /// Rows per image.
        rows: usize,
        /// Columns per image.
        cols: usize,
    },
    /// The images and labels files hold different numbers of examples.
    #[error(
        "{}: has {n} images but {} has {m} labels; the counts must agree \
         (are these files from the same data set?)",
        .images.display(), .labels.display()
    )]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// Number of images.
        n: usize,
        /// The labels file.
        labels: PathBuf,
        /// Number of labels.
        m: usize,
    },
    /// Training and test images have different sizes.
    #[error(
        "{}: test images are {test_rows}×{test_cols} pixels but training images ({}) are \
         {train_rows}×{train_cols}; both sets must have the same image size",
        .test.display(), .train.display()
    )]
    ImageSizeMismatch {
        /// The training images file.
        train: PathBuf,
        /// Rows of a training image.
        train_rows: usize,
        /// Columns of a training image.
        train_cols: usize,
        /// The test images file.
        test: PathBuf,
        /// Rows of a test image.
        test_rows: usize,
        /// Columns of a test image.
        test_cols: usize,
    },
    /// A data set file holds zero examples where at least one is needed.
    #[error("{}: contains no examples; a data set needs at least one", .path.display())]
    NoExamples {
        /// The (images) file.
        path: PathBuf,
    },
    /// The data directory does not exist.
    #[error(
        "{}: data directory not found (or not a directory); expected the MNIST files \
         train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz \
         and t10k-labels-idx1-ubyte.gz in it",
        .dir.display()
    )]
    DirNotFound {
        /// The directory.
        dir: PathBuf,
    },
    /// A file of the MNIST layout is missing from the directory.
    #[error("{}: missing MNIST file {name}: looked for {}", .dir.display(), .tried.join(" and "))]
    MissingFile {
        /// The directory searched.
        dir: PathBuf,
        /// The file's base name (without `.gz`).
        name: String,
        /// The file names tried, in order.
        tried: Vec<String>,
    },
    /// A label is not below the number of classes.
    #[error(
        "{}: label {label} at index {index} is out of range; expected labels 0 to {} \
         ({classes} classes)",
        .path.display(), .classes.saturating_sub(1)
    )]
    LabelOutOfRange {
        /// The labels file.
        path: PathBuf,
        /// Index of the first bad label.
        index: usize,
        /// The bad label.
        label: u8,
        /// The number of classes expected.
        classes: usize,
    },
}

/// Formats dimensions as `a×b×c` (`scalar` for none).
pub(crate) fn shape(dims: &[usize]) -> String {
    if dims.is_empty() {
        return "scalar".to_owned();
    }
    let parts: Vec<String> = dims.iter().map(ToString::to_string).collect();
    parts.join("×")
}

/// `a×b = n` for several dimensions, just `n` for one.
fn size_desc(shape: &str, total: usize) -> String {
    if shape.contains('×') {
        format!("{shape} = {total}")
    } else {
        total.to_string()
    }
}

fn hex(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(" ")
}

fn gz_note(gzipped: bool) -> &'static str {
    if gzipped {
        " (after gzip decompression)"
    } else {
        ""
    }
}

fn magic_hint(found: &[u8]) -> &'static str {
    if found.starts_with(&[0x1f, 0x8b]) {
        " (this is gzip data: decompress it first, or use read_idx)"
    } else if found.starts_with(b"<") {
        " (this looks like HTML or XML, perhaps a failed download)"
    } else {
        ""
    }
}

fn type_name(code: u8) -> &'static str {
    match code {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "16-bit integer",
        0x0C => "32-bit integer",
        0x0D => "32-bit float",
        0x0E => "64-bit float",
        _ => "unknown type",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Unwraps the error of `r` and checks its message contains every part.
    pub(crate) fn err_has<T: std::fmt::Debug>(r: Result<T, DataError>, parts: &[&str]) -> String {
        let msg = r.unwrap_err().to_string();
        for part in parts {
            assert!(msg.contains(part), "{msg:?} lacks {part:?}");
        }
        msg
    }

    #[test]
    fn shapes_and_hex_format() {
        assert_eq!(shape(&[60000, 28, 28]), "60000×28×28");
        assert_eq!(shape(&[]), "scalar");
        assert_eq!(hex(&[0x1f, 0x8b, 0, 3]), "1f 8b 00 03");
    }

    #[test]
    fn label_error_message() {
        let e = DataError::LabelOutOfRange { path: "d/labels.gz".into(), index: 7, label: 12, classes: 10 };
        let msg = e.to_string();
        assert!(msg.starts_with("d/labels.gz: label 12 at index 7"), "{msg}");
        assert!(msg.contains("0 to 9"), "{msg}");
    }
}
