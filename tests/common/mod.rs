//! Helpers shared by the integration tests: running the `chiffre` binary and
//! building small data directories in the MNIST layout (with hooks to
//! corrupt them) from the bundled MNIST files.
//!
//! Each test crate uses only some of these, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod bad_gen;
pub mod cli;
pub mod numbers;
pub mod render;
pub mod serve;

/// Everything a CLI test file needs, in one `use common::prelude::*;`.
#[allow(unused_imports)]
pub mod prelude {
    pub use super::cli::*;
    pub use super::*;
    pub use safetensors::{tensor::TensorView, Dtype, SafeTensors};
    pub use serde_json::Value;
    pub use std::collections::HashMap;
    pub use std::path::{Path, PathBuf};
}

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// IDX magic number of an images file (unsigned bytes, 3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// IDX magic number of a labels file (unsigned bytes, 1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Side of an MNIST image.
pub const SIDE: usize = 28;

/// The bundled MNIST directory.
pub fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

/// A path as a command-line argument (test paths are always UTF-8).
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// The output of one run of the binary.
#[derive(Debug)]
pub struct Run {
    /// How it exited.
    pub status: ExitStatus,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

/// Runs `chiffre` with `args` (no stdin) and waits for it.
pub fn chiffre<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_os_string()).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_chiffre"))
        .args(&args)
        // The tests' trainings are recorded apart from the developer's own history.
        .env("CHIFFRE_RUNS_DB", Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-history.sqlite"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run chiffre {args:?}: {e}"));
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Run {
    /// Both streams, for assertion messages.
    pub fn describe(&self) -> String {
        format!("status: {}\n--- stdout ---\n{}--- stderr ---\n{}", self.status, self.stdout, self.stderr)
    }

    /// Asserts that neither stream mentions a panic.
    pub fn assert_no_panic(&self) -> &Self {
        for text in [&self.stdout, &self.stderr] {
            assert!(!text.contains("panicked"), "the binary panicked:\n{}", self.describe());
            assert!(!text.contains("RUST_BACKTRACE"), "the binary panicked:\n{}", self.describe());
        }
        self
    }

    /// Asserts a successful run without panics.
    pub fn assert_ok(&self) -> &Self {
        self.assert_no_panic();
        assert!(self.status.success(), "expected success:\n{}", self.describe());
        self
    }

    /// Asserts a failure as the CLI reports it: exit status 1, one
    /// `error: ...` message on stderr that contains every one of `parts`,
    /// no panic.
    pub fn assert_error(&self, parts: &[&str]) -> &Self {
        self.assert_no_panic();
        assert_eq!(self.status.code(), Some(1), "expected exit status 1:\n{}", self.describe());
        assert!(self.stderr.starts_with("error: "), "stderr does not start with `error: `:\n{}", self.describe());
        for part in parts {
            assert!(self.stderr.contains(part), "the error message lacks {part:?}:\n{}", self.describe());
        }
        self
    }

    /// The `test accuracy: A (correct/total)` line: (accuracy, correct, total).
    pub fn test_accuracy(&self) -> (f64, u64, u64) {
        let line = self
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("test accuracy: "))
            .unwrap_or_else(|| panic!("no `test accuracy:` line:\n{}", self.describe()));
        let parse = || -> Option<(f64, u64, u64)> {
            let (acc, rest) = line.split_once(" (")?;
            let (counts, _) = rest.split_once(')')?;
            let (correct, total) = counts.split_once('/')?;
            Some((acc.parse().ok()?, correct.parse().ok()?, total.parse().ok()?))
        };
        parse().unwrap_or_else(|| panic!("malformed `test accuracy:` line {line:?}"))
    }
}

/// Asserts that none of `paths` exists (e.g. outputs of a failed run).
pub fn assert_absent(paths: &[&Path]) {
    for path in paths {
        assert!(!path.exists(), "{} should not exist after a failed run", path.display());
    }
}

/// Gzips `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).expect("gzip in memory");
    e.finish().expect("gzip in memory")
}

/// An IDX header: the magic number then the sizes, all big-endian.
pub fn idx_header(magic: u32, dims: &[u32]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    dims.iter().for_each(|d| v.extend_from_slice(&d.to_be_bytes()));
    v
}

/// A complete IDX images file (`n × 28 × 28`) holding `pixels`.
pub fn idx_images(pixels: &[u8]) -> Vec<u8> {
    assert_eq!(pixels.len() % (SIDE * SIDE), 0, "pixels must make whole images");
    let n = (pixels.len() / (SIDE * SIDE)) as u32;
    [idx_header(IMAGES_MAGIC, &[n, SIDE as u32, SIDE as u32]), pixels.to_vec()].concat()
}

/// A complete IDX labels file.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    [idx_header(LABELS_MAGIC, &[labels.len() as u32]), labels.to_vec()].concat()
}

/// One of the four files of the MNIST layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// `train-images-idx3-ubyte`
    TrainImages,
    /// `train-labels-idx1-ubyte`
    TrainLabels,
    /// `t10k-images-idx3-ubyte`
    TestImages,
    /// `t10k-labels-idx1-ubyte`
    TestLabels,
}

impl Part {
    /// The four parts, in this order.
    pub const ALL: [Part; 4] = [Part::TrainImages, Part::TrainLabels, Part::TestImages, Part::TestLabels];

    /// The file's base name (without `.gz`).
    pub fn base(self) -> &'static str {
        match self {
            Part::TrainImages => "train-images-idx3-ubyte",
            Part::TrainLabels => "train-labels-idx1-ubyte",
            Part::TestImages => "t10k-images-idx3-ubyte",
            Part::TestLabels => "t10k-labels-idx1-ubyte",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The first `n` items of a bundled MNIST file (images: `n` whole images),
/// without the header; reads only what it needs.
pub fn read_mnist_prefix(part: Part, n: usize) -> Vec<u8> {
    let (header, item) = match part {
        Part::TrainImages | Part::TestImages => (16, SIDE * SIDE),
        Part::TrainLabels | Part::TestLabels => (8, 1),
    };
    let path = mnist_dir().join(format!("{}.gz", part.base()));
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut bytes = Vec::new();
    GzDecoder::new(file).take((header + n * item) as u64).read_to_end(&mut bytes).expect("bundled MNIST is readable");
    assert_eq!(bytes.len(), header + n * item, "the bundled {} has fewer than {n} items", part.base());
    bytes.split_off(header)
}

/// A small data directory in the MNIST layout, built in memory from the
/// first images of the real MNIST and written out by [`DataDir::write`].
///
/// The hooks corrupt it: [`DataDir::edit`] changes a file's IDX bytes before
/// any compression, [`DataDir::disk_bytes`] replaces exactly what is written
/// on disk, and [`DataDir::omit`] leaves a file out.
#[derive(Clone, Debug)]
pub struct DataDir {
    /// The uncompressed IDX bytes of each part, in [`Part::ALL`] order.
    pub idx: [Vec<u8>; 4],
    /// Whether the files are gzipped (named `*.gz`).
    pub gzip: bool,
    on_disk: [Option<Vec<u8>>; 4],
    omitted: [bool; 4],
}

impl DataDir {
    /// The first `train` training and `test` test examples of MNIST, raw IDX.
    pub fn mnist(train: usize, test: usize) -> Self {
        let images = |part, n| idx_images(&read_mnist_prefix(part, n));
        let labels = |part, n| idx_labels(&read_mnist_prefix(part, n));
        DataDir {
            idx: [
                images(Part::TrainImages, train),
                labels(Part::TrainLabels, train),
                images(Part::TestImages, test),
                labels(Part::TestLabels, test),
            ],
            gzip: false,
            on_disk: Default::default(),
            omitted: [false; 4],
        }
    }

    /// Gzip the files (named `*.gz`) or not.
    pub fn gzipped(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }

    /// Changes the IDX bytes of `part` (before compression).
    pub fn edit(mut self, part: Part, f: impl FnOnce(&mut Vec<u8>)) -> Self {
        f(&mut self.idx[part.index()]);
        self
    }

    /// Sets label `index` of a labels part.
    pub fn set_label(self, part: Part, index: usize, label: u8) -> Self {
        assert!(matches!(part, Part::TrainLabels | Part::TestLabels), "{part:?} is not a labels file");
        self.edit(part, |b| b[8 + index] = label)
    }

    /// Writes exactly `bytes` as the file of `part` (no compression applied).
    pub fn disk_bytes(mut self, part: Part, bytes: Vec<u8>) -> Self {
        self.on_disk[part.index()] = Some(bytes);
        self
    }

    /// Leaves the file of `part` out.
    pub fn omit(mut self, part: Part) -> Self {
        self.omitted[part.index()] = true;
        self
    }

    /// The file name of `part` in this layout (`.gz` when gzipped).
    pub fn file_name(&self, part: Part) -> String {
        if self.gzip {
            format!("{}.gz", part.base())
        } else {
            part.base().to_owned()
        }
    }

    /// Writes the files into `dir` (created if needed); returns `dir`.
    pub fn write(&self, dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).expect("create the data directory");
        for part in Part::ALL {
            let i = part.index();
            if self.omitted[i] {
                continue;
            }
            let bytes = match &self.on_disk[i] {
                Some(b) => b.clone(),
                None if self.gzip => gzip(&self.idx[i]),
                None => self.idx[i].clone(),
            };
            std::fs::write(dir.join(self.file_name(part)), bytes).expect("write a data file");
        }
        dir.to_path_buf()
    }
}
