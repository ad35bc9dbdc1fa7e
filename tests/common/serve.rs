//! Helpers for the `chiffre serve` tests: a model trained once per test
//! binary, a server started on an ephemeral loopback port (stopped when
//! dropped), and HTTP calls that return the status and the parsed JSON.

use super::{arg, chiffre, mnist_dir};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Training images of [`trained_cnn`]: enough for about 95 % after one epoch.
pub const TRAIN_LIMIT: usize = 8000;

/// A CNN trained for one epoch on the first [`TRAIN_LIMIT`] MNIST training
/// images, written once per test binary under Cargo's temporary folder for tests.
pub fn trained_cnn() -> PathBuf {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("serve-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create the model folder");
            let out = dir.join("cnn.safetensors");
            let limit = TRAIN_LIMIT.to_string();
            let data = mnist_dir();
            let args = ["train", "--data", arg(&data), "--out", arg(&out), "--quiet", "--arch", "cnn"];
            let extra =
                ["--limit", &limit, "--test-limit", "500", "--epochs", "1", "--seed", "1", "--batch-size", "32"];
            chiffre(args.iter().chain(&extra)).assert_ok();
            out
        })
        .clone()
}

/// A running `chiffre serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The process id.
    pub pid: u32,
    log: PathBuf,
}

impl Server {
    /// Starts `chiffre serve --model MODEL --addr 127.0.0.1:0 EXTRA…` and
    /// waits for its first line, which names the port.
    pub fn start(model: &Path, extra: &[&str]) -> Server {
        let log = model.with_file_name(format!("serve-{}.log", unique()));
        let stderr = std::fs::File::create(&log).expect("create the server log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_chiffre"))
            .args(["serve", "--model", arg(model), "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start chiffre serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut first = String::new();
        let read = stdout.read_line(&mut first);
        let url = first
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .map(|a| format!("http://{}", a.trim_end_matches('/')));
        let Some(url) = url.filter(|_| read.is_ok()) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chiffre serve did not say where it listens: {first:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        // Keep draining stdout so that the server never blocks on it.
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stdout.read_to_string(&mut rest);
        });
        let pid = child.id();
        Server { child, url, pid, log }
    }

    /// The full URL of `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// `host:port`, for raw TCP.
    pub fn host(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGINT (what Ctrl-C sends) and waits up to `within` for the exit.
    pub fn interrupt(mut self, within: Duration) -> Option<ExitStatus> {
        let sent = Command::new("kill").args(["-INT", &self.pid.to_string()]).status();
        assert!(sent.is_ok_and(|s| s.success()), "cannot send SIGINT");
        let start = Instant::now();
        while start.elapsed() < within {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The server's resident memory in kB (Linux), from /proc.
    pub fn rss_kb(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()
    }
}

impl Server {
    /// CPU time the server has used so far (user + system), from /proc (Linux).
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // Fields after the command name (which is in parentheses): state is field 3, utime 14, stime 15.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0) // USER_HZ is 100 on Linux
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// An HTTP answer: status, content type and body text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub text: String,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// Asserts an error answer: `status`, JSON `{"error": "..."}` containing `part`.
    pub fn assert_error(&self, status: u16, part: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert!(self.content_type.starts_with("application/json"), "{self:?}");
        let json = self.json();
        let message = json["error"].as_str().unwrap_or_else(|| panic!("no error message: {self:?}"));
        assert!(message.contains(part), "{message:?} lacks {part:?}");
        assert_eq!(json.as_object().map(|o| o.len()), Some(1), "only `error`: {json}");
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build()
}

fn answer(result: Result<ureq::Response, ureq::Error>) -> Answer {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("HTTP transport error: {e}"),
    };
    let status = response.status();
    let content_type = response.header("content-type").unwrap_or("").to_string();
    let text = response.into_string().expect("a UTF-8 body");
    Answer { status, content_type, text }
}

/// `method url` without a body.
pub fn call(method: &str, url: &str) -> Answer {
    answer(agent().request(method, url).call())
}

/// `POST url` with `body` as `content_type` (none when empty).
pub fn post(url: &str, content_type: &str, body: &[u8]) -> Answer {
    let mut request = agent().post(url);
    if !content_type.is_empty() {
        request = request.set("Content-Type", content_type);
    }
    answer(request.send_bytes(body))
}
