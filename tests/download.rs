//! `chiffre download` against tiny HTTP servers on loopback (never the real
//! mirrors): a good mirror serving the bundled files, a corrupt one, one that
//! closes the connection half-way through a body, one that answers 404.
//!
//! Run with `cargo test --release --test download`.

use chiffre::download::{download_mnist, DownloadReport, Event, MNIST_FILES};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// How a test server answers a request for one of the four MNIST files.
#[derive(Clone, Copy)]
enum Kind {
    /// The bundled file, whole.
    Good,
    /// A valid gzip stream of the wrong content.
    Corrupt,
    /// Announces the full length, sends half, closes the connection.
    HalfWay,
    /// 404 Not Found.
    NotFound,
}

fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

/// A server on 127.0.0.1 for the rest of the test process: its base URL and
/// the number of connections it accepted.
fn serve(kind: Kind) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let _ = answer(stream, kind);
            });
        }
    });
    (format!("http://{addr}/mnist/"), hits)
}

/// Reads one HTTP/1.1 request and writes the answer of a `kind` server.
fn answer(mut stream: TcpStream, kind: Kind) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let name = request_line.split_whitespace().nth(1).and_then(|p| p.rsplit('/').next()).unwrap_or("");
    let known = MNIST_FILES.iter().any(|(f, _)| *f == name);
    let head = |status: &str, len: usize| {
        format!("HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    let kind = if known { kind } else { Kind::NotFound };
    match kind {
        Kind::NotFound => {
            let body = b"not found\n";
            stream.write_all(head("404 Not Found", body.len()).as_bytes())?;
            stream.write_all(body)?;
        }
        Kind::Good => {
            let body = std::fs::read(mnist_dir().join(name))?;
            stream.write_all(head("200 OK", body.len()).as_bytes())?;
            stream.write_all(&body)?;
        }
        Kind::Corrupt => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(b"these are not the digits you are looking for\n")?;
            let body = gz.finish()?;
            stream.write_all(head("200 OK", body.len()).as_bytes())?;
            stream.write_all(&body)?;
        }
        Kind::HalfWay => {
            let body = std::fs::read(mnist_dir().join(name))?;
            stream.write_all(head("200 OK", body.len()).as_bytes())?;
            stream.write_all(&body[..body.len() / 2])?;
        }
    }
    stream.flush()
}

/// Runs the library, collecting every failure message.
fn download(dir: &Path, mirrors: &[&str]) -> (Result<DownloadReport, String>, Vec<String>) {
    let mirrors: Vec<String> = mirrors.iter().map(|m| (*m).to_owned()).collect();
    let mut failures = Vec::new();
    let mut on_event = |e: Event<'_>| {
        if let Event::Failed { file, mirror, reason } = e {
            failures.push(format!("{file} from {mirror}: {reason}"));
        }
    };
    let result = download_mnist(dir, &mirrors, &mut on_event).map_err(|e| e.to_string());
    (result, failures)
}

/// Runs `chiffre download --dir DIR --mirror M...`.
fn cli(dir: &Path, mirrors: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chiffre"));
    cmd.arg("download").arg("--dir").arg(dir);
    for m in mirrors {
        cmd.args(["--mirror", m]);
    }
    cmd.output().expect("run chiffre")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The names in `dir`, sorted (temporary files included).
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// The four files are in `dir`, byte for byte the bundled ones, and nothing else is.
fn assert_complete(dir: &Path) {
    let mut expected: Vec<String> = MNIST_FILES.iter().map(|(f, _)| (*f).to_owned()).collect();
    expected.sort();
    assert_eq!(listing(dir), expected, "exactly the four files, no temporary file");
    for (file, _) in MNIST_FILES {
        let got = std::fs::read(dir.join(file)).expect("read downloaded file");
        let want = std::fs::read(mnist_dir().join(file)).expect("read bundled file");
        assert!(got == want, "{file} differs from the bundled copy");
    }
}

#[test]
fn a_good_mirror_gives_the_four_files_and_no_temporary_file() {
    let (good, _) = serve(Kind::Good);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("new/mnist");
    let (result, failures) = download(&dir, &[&good]);
    let report = result.expect("download");
    assert_eq!(report.downloaded.len(), 4, "{report:?}");
    assert!(report.skipped.is_empty());
    assert!(failures.is_empty(), "{failures:?}");
    assert_complete(&dir);
}

#[test]
fn a_corrupt_mirror_is_reported_and_the_next_one_used() {
    let (corrupt, _) = serve(Kind::Corrupt);
    let (good, _) = serve(Kind::Good);
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = cli(tmp.path(), &[&corrupt, &good]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for (file, sum) in MNIST_FILES {
        let warning = stderr.lines().find(|l| l.contains(file)).unwrap_or_default();
        for part in [corrupt.as_str(), "SHA-256 mismatch", &format!("expected {sum}, got ")] {
            assert!(warning.contains(part), "{file}: {part:?} missing from the warnings:\n{stderr}");
        }
        assert!(stdout.contains(&format!("{file}: ")) && stdout.contains(&good), "{stdout}");
    }
    assert_complete(tmp.path());
}

#[test]
fn unreachable_not_found_and_half_way_mirrors_are_reported_and_skipped() {
    let refused = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        format!("http://{}/", listener.local_addr().expect("local address"))
    };
    let (missing, _) = serve(Kind::NotFound);
    let (half, _) = serve(Kind::HalfWay);
    let (good, _) = serve(Kind::Good);
    let tmp = tempfile::tempdir().expect("tempdir");
    let (result, failures) = download(tmp.path(), &[&refused, &missing, &half, &good]);
    assert_eq!(result.expect("download").downloaded.len(), 4);
    assert_eq!(failures.len(), 12, "{failures:#?}");
    for (file, _) in MNIST_FILES {
        let len = std::fs::metadata(mnist_dir().join(file)).expect("bundled file").len();
        let expected = [
            format!("{file} from {refused}: request failed: "),
            format!("{file} from {missing}: HTTP 404"),
            format!("{file} from {half}: connection closed after {} of {len} bytes", len / 2),
        ];
        for e in &expected {
            assert!(failures.iter().any(|f| f.starts_with(e.as_str())), "{e:?} not in {failures:#?}");
        }
    }
    assert_complete(tmp.path());
}

#[test]
fn only_bad_mirrors_fail_clearly_and_leave_nothing() {
    let (corrupt, _) = serve(Kind::Corrupt);
    let (half, _) = serve(Kind::HalfWay);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("mnist");
    let out = cli(&dir, &[&corrupt, &half]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "must fail:\n{stderr}");
    let error = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_default();
    for part in [
        "error: cannot download train-images-idx3-ubyte.gz: all 2 mirror(s) failed",
        &format!("{corrupt}train-images-idx3-ubyte.gz: SHA-256 mismatch"),
        &format!("{half}train-images-idx3-ubyte.gz: connection closed after "),
    ] {
        assert!(error.contains(part), "{part:?} missing from the error line:\n{stderr}");
    }
    assert_eq!(stderr.lines().filter(|l| l.starts_with("error: ")).count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(listing(&dir), Vec::<String>::new(), "no file, final or temporary, may stay");
}

#[test]
fn files_already_present_are_skipped_and_a_wrong_one_is_replaced() {
    let (good, _) = serve(Kind::Good);
    let tmp = tempfile::tempdir().expect("tempdir");
    download(tmp.path(), &[&good]).0.expect("first download");

    let (missing, hits) = serve(Kind::NotFound);
    let out = cli(tmp.path(), &[&missing]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert_eq!(stdout.matches("already present, SHA-256 verified; skipped").count(), 4, "{stdout}");
    assert!(stdout.contains("0 downloaded, 4 already present"), "{stdout}");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no request for files already present");

    // A damaged copy is fetched again; the others are still skipped.
    std::fs::write(tmp.path().join("t10k-labels-idx1-ubyte.gz"), b"damaged").expect("damage a file");
    let (result, failures) = download(tmp.path(), &[&good]);
    let report = result.expect("second download");
    assert_eq!(report.downloaded, vec!["t10k-labels-idx1-ubyte.gz".to_owned()], "{failures:?}");
    assert_eq!(report.skipped.len(), 3);
    assert_complete(tmp.path());
}
