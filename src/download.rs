//! Fetching MNIST from the public mirrors: `chiffre download`.
//!
//! Each of the four gzipped files is tried on every mirror in turn until one
//! copy passes every check: an HTTP 200, a body no larger than
//! [`MAX_DOWNLOAD_BYTES`], as many bytes as the server announced, a valid gzip
//! stream, and the SHA-256 of the *decompressed* data equal to the one in
//! [`MNIST_FILES`] (the same sums as `data/mnist/SHA256SUMS`). The body is
//! streamed into a temporary file beside the target (`.NAME.tmp-PID`), flushed
//! to disk and only then renamed over `NAME`; any failure removes the temporary
//! file, so a download never leaves half a file behind. A file already present
//! with the right checksum is not fetched again.

use crate::fsutil::AtomicFile;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The four MNIST files (gzipped, as served and as kept on disk) and the
/// SHA-256 of each one's decompressed content, from `data/mnist/SHA256SUMS`.
pub const MNIST_FILES: [(&str, &str); 4] = [
    ("train-images-idx3-ubyte.gz", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    ("train-labels-idx1-ubyte.gz", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    ("t10k-images-idx3-ubyte.gz", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    ("t10k-labels-idx1-ubyte.gz", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];

/// The usual public MNIST mirrors, tried in this order.
pub const DEFAULT_MIRRORS: [&str; 3] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];

/// The largest body accepted for one file (the biggest MNIST file is under
/// 10 MB), so that a hostile or broken server cannot fill the disk.
pub const MAX_DOWNLOAD_BYTES: u64 = 64 << 20;

/// The most decompressed bytes hashed per file (the biggest MNIST file is
/// 47 MB decompressed): a gzip bomb stops here and fails its checksum.
const MAX_DECOMPRESSED_BYTES: u64 = 256 << 20;

/// What [`download_mnist`] is doing, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// `file` is already in the directory with the right checksum.
    Skipped {
        /// The file name.
        file: &'a str,
    },
    /// A request for `file` to `url` got an answer of `total` bytes (if the
    /// server said).
    Started {
        /// The file name.
        file: &'a str,
        /// The full URL.
        url: &'a str,
        /// The announced body size.
        total: Option<u64>,
    },
    /// `done` bytes of `file` received so far.
    Progress {
        /// The file name.
        file: &'a str,
        /// Bytes received.
        done: u64,
        /// The announced body size.
        total: Option<u64>,
    },
    /// One mirror failed for `file`; the next one will be tried.
    Failed {
        /// The file name.
        file: &'a str,
        /// The mirror (base URL).
        mirror: &'a str,
        /// What was wrong (HTTP status, checksum, short body...).
        reason: &'a str,
    },
    /// `file` was downloaded from `mirror`, checked and renamed into place.
    Done {
        /// The file name.
        file: &'a str,
        /// The mirror (base URL).
        mirror: &'a str,
        /// Size of the gzipped file.
        bytes: u64,
    },
}

/// What [`download_mnist`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownloadReport {
    /// Files fetched and verified, in order.
    pub downloaded: Vec<String>,
    /// Files already present with the right checksum.
    pub skipped: Vec<String>,
}

/// Why [`download_mnist`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The target directory could not be created.
    #[error("{}: cannot create directory: {source}", .dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// No mirror was given.
    #[error("no mirror to download from")]
    NoMirrors,
    /// Every mirror failed for one file; nothing of it was left on disk.
    #[error(
        "cannot download {file}: all {} mirror(s) failed: {}",
        .attempts.len(), .attempts.join("; ")
    )]
    AllMirrorsFailed {
        /// The file name.
        file: String,
        /// One message per mirror: `URL: reason`.
        attempts: Vec<String>,
    },
}

/// Downloads the four MNIST files into `dir` (created if needed) from the
/// first of `mirrors` (base URLs, e.g. [`DEFAULT_MIRRORS`]) that serves each
/// one intact, reporting what happens to `progress`.
///
/// Files already in `dir` with the right checksum are skipped. Stops at the
/// first file that no mirror could provide; the files completed before it
/// stay (they are verified), and no partial or temporary file is left.
pub fn download_mnist(
    dir: &Path,
    mirrors: &[String],
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<DownloadReport, DownloadError> {
    if mirrors.is_empty() {
        return Err(DownloadError::NoMirrors);
    }
    std::fs::create_dir_all(dir).map_err(|source| DownloadError::CreateDir { dir: dir.to_path_buf(), source })?;
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_secs(60))
        .user_agent(concat!("chiffre/", env!("CARGO_PKG_VERSION")))
        .build();
    let mut report = DownloadReport::default();
    for (file, expected) in MNIST_FILES {
        let path = dir.join(file);
        if path.is_file() && matches!(gunzip_sha256(&path), Ok(got) if got == expected) {
            progress(Event::Skipped { file });
            report.skipped.push(file.to_owned());
            continue;
        }
        let mut attempts = Vec::new();
        let mut ok = false;
        for mirror in mirrors {
            let url = if mirror.ends_with('/') { format!("{mirror}{file}") } else { format!("{mirror}/{file}") };
            match fetch_one(&agent, &url, file, expected, &path, progress) {
                Ok(bytes) => {
                    progress(Event::Done { file, mirror, bytes });
                    report.downloaded.push(file.to_owned());
                    ok = true;
                    break;
                }
                Err(reason) => {
                    progress(Event::Failed { file, mirror, reason: &reason });
                    attempts.push(format!("{url}: {reason}"));
                }
            }
        }
        if !ok {
            return Err(DownloadError::AllMirrorsFailed { file: file.to_owned(), attempts });
        }
    }
    Ok(report)
}

/// Fetches `url` into a temporary file, checks it and renames it to `target`.
/// Returns the number of bytes, or why this copy was refused.
fn fetch_one(
    agent: &ureq::Agent,
    url: &str,
    file: &str,
    expected: &str,
    target: &Path,
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<u64, String> {
    let response = match agent.get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => return Err(format!("HTTP {code} {}", r.status_text())),
        Err(ureq::Error::Transport(t)) => return Err(format!("request failed: {}", transport_message(&t))),
    };
    let total = match response.header("Content-Length") {
        Some(v) => Some(v.trim().parse::<u64>().map_err(|_| format!("invalid Content-Length {v:?}"))?),
        None => None,
    };
    if let Some(n) = total.filter(|&n| n > MAX_DOWNLOAD_BYTES) {
        return Err(format!("server announces {n} bytes, more than the limit of {MAX_DOWNLOAD_BYTES}"));
    }
    progress(Event::Started { file, url, total });

    let mut out =
        AtomicFile::create(target).map_err(|e| format!("cannot create a file beside {}: {e}", target.display()))?;
    let mut body = response.into_reader().take(MAX_DOWNLOAD_BYTES + 1);
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0u64;
    let of_total = |done: u64| match total {
        Some(t) => format!("{done} of {t} bytes"),
        None => format!("{done} bytes"),
    };
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("connection closed after {} ({e})", of_total(done))),
        };
        done += n as u64;
        if done > MAX_DOWNLOAD_BYTES {
            return Err(format!("more than the limit of {MAX_DOWNLOAD_BYTES} bytes received; refused"));
        }
        out.write_all(&buf[..n]).map_err(|e| format!("cannot write {}: {e}", out.temp_path().display()))?;
        progress(Event::Progress { file, done, total });
    }
    if let Some(t) = total.filter(|&t| t != done) {
        return Err(format!("connection closed after {done} of {t} bytes"));
    }
    out.flush().map_err(|e| format!("cannot write {}: {e}", out.temp_path().display()))?;
    let got = gunzip_sha256(out.temp_path()).map_err(|e| format!("not a valid gzip file ({e})"))?;
    if got != expected {
        return Err(format!("SHA-256 mismatch (of the decompressed data): expected {expected}, got {got}"));
    }
    out.commit().map_err(|e| format!("cannot move the download into place as {}: {e}", target.display()))?;
    Ok(done)
}

/// A transport error without its URL (the caller names the URL already).
fn transport_message(t: &ureq::Transport) -> String {
    let mut message = t.kind().to_string();
    if let Some(m) = t.message() {
        message += &format!(": {m}");
    }
    if let Some(source) = std::error::Error::source(t) {
        message += &format!(": {source}");
    }
    message
}

/// The SHA-256 (lower-case hex) of the decompressed content of the gzip file
/// at `path`, reading at most `MAX_DECOMPRESSED_BYTES` of it.
fn gunzip_sha256(path: &Path) -> io::Result<String> {
    let file = File::open(path)?;
    let mut decoder = flate2::read::MultiGzDecoder::new(io::BufReader::new(file)).take(MAX_DECOMPRESSED_BYTES);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = decoder.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_files_match_the_embedded_sums() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
        for (file, expected) in MNIST_FILES {
            let got = gunzip_sha256(&dir.join(file)).map_err(|e| e.to_string());
            assert_eq!(got.as_deref(), Ok(expected), "{file}");
        }
    }

    #[test]
    fn no_mirror_is_an_error() {
        let mut events = |_: Event<'_>| {};
        assert!(matches!(download_mnist(Path::new("unused"), &[], &mut events), Err(DownloadError::NoMirrors)));
    }
}
