//! `chiffre site`: a static folder that any static file server can host,
//! with the engine in WebAssembly reading and training in the page (no
//! server code, nothing fetched from another origin).
//!
//! What it writes:
//! - `index.html`, `style.css`, `i18n.js`, `engine.js`, `app.js`,
//!   `learn.js`, `worker.js`, `tutorial.js`: the page (in `src/site/page/`, embedded in
//!   the binary; plain JavaScript, no build step, no CDN);
//! - `chiffre_web.wasm`: the engine (`crates/chiffre-web`, built for
//!   `wasm32-unknown-unknown` with SIMD128), and `chiffre_web_relaxed.wasm`
//!   (with relaxed SIMD too) when it was built: see `crates/chiffre-web/build.sh`;
//! - `models/NAME.safetensors` and `models/index.json` (their names, the
//!   first read by default);
//! - `mnist/*.gz`: the MNIST files the page trains on.
//!
//! Every file is written atomically; a folder that holds other files is
//! left as it is apart from the files above.

use crate::fsutil::write_atomic;
use crate::Model;
use std::path::{Path, PathBuf};

/// The page's files: (name, content).
pub const PAGE: [(&str, &str); 8] = [
    ("index.html", include_str!("page/index.html")),
    ("style.css", include_str!("page/style.css")),
    ("i18n.js", include_str!("page/i18n.js")),
    ("engine.js", include_str!("page/engine.js")),
    ("app.js", include_str!("page/app.js")),
    ("learn.js", include_str!("page/learn.js")),
    ("worker.js", include_str!("page/worker.js")),
    ("tutorial.js", include_str!("page/tutorial.js")),
];

/// The MNIST files the page trains on (gzipped, as `chiffre download` keeps them).
pub const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// The engine's file name in the site, and as cargo builds it.
pub const WASM: &str = "chiffre_web.wasm";

/// The engine with relaxed SIMD (fused multiply-add), in the site.
pub const WASM_RELAXED: &str = "chiffre_web_relaxed.wasm";

/// The command that builds the engine for the page (both builds).
pub const BUILD_WASM: &str = "bash crates/chiffre-web/build.sh";

/// What to put in the site.
#[derive(Clone, Debug)]
pub struct SiteConfig {
    /// The model files (the first is read by default).
    pub models: Vec<PathBuf>,
    /// The engine built for the page (see [`find_wasm`]).
    pub wasm: PathBuf,
    /// The same with relaxed SIMD, for the browsers that have it (optional).
    pub wasm_relaxed: Option<PathBuf>,
    /// The folder of the MNIST files (`None`: a site that reads but cannot train).
    pub data: Option<PathBuf>,
    /// Where to write.
    pub out: PathBuf,
}

/// What was written.
#[derive(Clone, Debug)]
pub struct SiteReport {
    /// Every file written, with its size in bytes.
    pub files: Vec<(PathBuf, u64)>,
}

/// Where `crates/chiffre-web/build.sh` leaves the engine: beside the
/// running `chiffre` in cargo's target folder (`target/release/chiffre` →
/// `target/wasm32-unknown-unknown/release/chiffre_web.wasm`, and with
/// `relaxed`, `target/wasm-relaxed/wasm32-unknown-unknown/release/…`), then
/// under `./target`; the first that exists.
pub fn find_wasm(relaxed: bool) -> Option<PathBuf> {
    let below = if relaxed { "wasm-relaxed/wasm32-unknown-unknown/release" } else { "wasm32-unknown-unknown/release" };
    let beside_exe = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.parent()?.join(below).join(WASM)));
    let here = PathBuf::from("target").join(below).join(WASM);
    beside_exe.into_iter().chain([here]).find(|p| p.is_file())
}

/// The bytes of a WebAssembly module, checked by their magic number.
fn read_wasm(path: &Path) -> Result<Vec<u8>, String> {
    let wasm = std::fs::read(path).map_err(|e| format!("{}: cannot read the engine: {e}", path.display()))?;
    if !wasm.starts_with(b"\0asm") {
        return Err(format!("{}: not a WebAssembly module (build the engine with `{BUILD_WASM}`)", path.display()));
    }
    Ok(wasm)
}

/// A model's file name in the site: its own stem, made safe for a URL.
fn site_name(path: &Path, taken: &[String]) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut name: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    if name.is_empty() {
        name = "model".into();
    }
    let base = name.clone();
    let mut k = 2;
    while taken.contains(&name) {
        name = format!("{base}-{k}");
        k += 1;
    }
    name
}

/// The bytes of MNIST file `gz_name` (`…-ubyte.gz`) of `dir`, gzipped: the
/// file itself, or the raw one (`…-ubyte`) compressed here, so that the page
/// always fetches the smaller `.gz`.
fn mnist_file(dir: &Path, gz_name: &str) -> Result<Vec<u8>, String> {
    let gz = dir.join(gz_name);
    let raw = dir.join(gz_name.trim_end_matches(".gz"));
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|e| format!("{}: cannot read the MNIST file the page trains on: {e}", path.display()))
    };
    if gz.is_file() {
        return read(&gz);
    }
    if !raw.is_file() {
        return Err(format!(
            "{}: no MNIST file {gz_name} (or {}) for the page to train on (`chiffre download` fetches them; --no-training writes a site without)",
            dir.display(),
            raw.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ));
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, &read(&raw)?).map_err(|e| e.to_string())?;
    encoder.finish().map_err(|e| e.to_string())
}

/// Writes the site; every input is checked before anything is written.
pub fn write_site(config: &SiteConfig) -> Result<SiteReport, String> {
    let wasm = read_wasm(&config.wasm)?;
    let relaxed = config.wasm_relaxed.as_deref().map(read_wasm).transpose()?;
    if config.models.is_empty() {
        return Err("no model to put in the site".into());
    }
    let mut models = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut files = Vec::new();
    for path in &config.models {
        // Each model is read as the page will read it: a file the page cannot use is refused here.
        let size =
            std::fs::metadata(path).map_err(|e| format!("{}: cannot read the model file: {e}", path.display()))?;
        if size.len() > crate::model::MAX_MODEL_BYTES {
            return Err(format!("{}: {} bytes is too large for a model file", path.display(), size.len()));
        }
        let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read the model file: {e}", path.display()))?;
        let model = Model::from_bytes(&bytes, &path.display().to_string()).map_err(|e| e.to_string())?;
        let name = site_name(path, &names);
        let layers: Vec<&str> = model.network().layers().iter().map(|node| node.layer().kind()).collect();
        models.push(serde_json::json!({
            "name": name,
            "file": format!("models/{name}.safetensors"),
            "parameters": model.network().num_params(),
            "layers": layers,
            "not_a_digit": model.reject().is_some(),
        }));
        names.push(name);
        files.push(bytes);
    }
    let mnist: Vec<(String, Vec<u8>)> = match &config.data {
        None => Vec::new(),
        Some(dir) => MNIST_FILES
            .iter()
            .map(|name| mnist_file(dir, name).map(|b| (name.to_string(), b)))
            .collect::<Result<_, _>>()?,
    };
    let out = &config.out;
    std::fs::create_dir_all(out.join("models"))
        .map_err(|e| format!("{}: cannot create the folder: {e}", out.display()))?;
    if !mnist.is_empty() {
        std::fs::create_dir_all(out.join("mnist"))
            .map_err(|e| format!("{}: cannot create the folder: {e}", out.display()))?;
    }
    let mut report = SiteReport { files: Vec::new() };
    let mut write = |relative: &str, bytes: &[u8]| -> Result<(), String> {
        let path = out.join(relative);
        write_atomic(&path, bytes).map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        report.files.push((path, bytes.len() as u64));
        Ok(())
    };
    for (name, text) in PAGE {
        write(name, text.as_bytes())?;
    }
    write(WASM, &wasm)?;
    if let Some(relaxed) = &relaxed {
        write(WASM_RELAXED, relaxed)?;
    }
    for (bytes, name) in files.iter().zip(&names) {
        write(&format!("models/{name}.safetensors"), bytes)?;
    }
    let index = serde_json::json!({ "models": models, "mnist": !mnist.is_empty(), "relaxed_simd": relaxed.is_some() });
    write("models/index.json", serde_json::to_string_pretty(&index).unwrap_or_default().as_bytes())?;
    for (name, bytes) in &mnist {
        write(&format!("mnist/{name}"), bytes)?;
    }
    Ok(report)
}
