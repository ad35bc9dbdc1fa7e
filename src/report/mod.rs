//! `chiffre report`: one offline HTML page showing what trained networks
//! do — the model, its training curves, its results and mistakes, its "not
//! a digit" gate and calibration, every layer's output for a digit, a
//! side-by-side comparison of several models, and the tutorial's worked
//! example.
//!
//! The layer outputs come from [`crate::Model::inspect`], the same forward
//! pass as training and prediction. Charts are SVG (`plotters`), digits and
//! feature maps PNG, the page one HTML file with an inline style sheet and no
//! script: it opens from the disk, offline.

pub mod charts;
mod compare;
mod history;
pub mod html;
mod inside;
pub mod pictures;
mod reject;
mod sections;
mod tutorial;

pub use history::HistoryInput;

use crate::data::{DataError, Mnist};
use crate::fsutil::write_atomic;
use crate::predict::{Model, PredictError, Prediction};
use crate::preprocess::{load_image, preprocess, Pixels, PreprocessError, PIXELS, SIDE};
use crate::train::{metrics_path, EpochStats};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to put in a report, and where.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// Model files, in the order they are shown (at least one).
    pub models: Vec<PathBuf>,
    /// A picture to look inside the networks with; by default the first test
    /// image of each class.
    pub image: Option<PathBuf>,
    /// The folder to write `index.html` and `img/` into (created if needed).
    pub out: PathBuf,
    /// The folder with the test set (IDX, MNIST layout).
    pub data: PathBuf,
    /// How many mistakes the gallery shows per model.
    pub mistakes: usize,
    /// Runs and a sweep from the run history, for their section.
    pub history: Option<HistoryInput>,
}

/// What was written.
#[derive(Clone, Debug)]
pub struct Written {
    /// The page.
    pub index: PathBuf,
    /// Number of files written (page and pictures).
    pub files: usize,
    /// Seconds it took.
    pub seconds: f64,
}

/// Why a report cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// No model was given.
    #[error("no model given: pass --model FILE (one or more), or --runs / --sweep")]
    NoModel,
    /// A model that cannot be loaded or does not read 28×28 digits.
    #[error(transparent)]
    Model(#[from] PredictError),
    /// The test set cannot be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The picture given with `--image` cannot be read.
    #[error(transparent)]
    Image(#[from] PreprocessError),
    /// The test set holds images of another size.
    #[error("{dir}: the test images are {rows}×{cols}, but the models read {SIDE}×{SIDE} digits")]
    DataShape {
        /// The data folder.
        dir: PathBuf,
        /// Image height.
        rows: usize,
        /// Image width.
        cols: usize,
    },
    /// The output folder or a file in it cannot be written.
    #[error("cannot write the report to {path}: {source}")]
    Write {
        /// The folder or file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A chart could not be drawn (a bug: please report it).
    #[error("{0}")]
    Chart(String),
}

/// A model with everything the report says about it.
struct Analysed {
    /// Short name: the file's stem.
    name: String,
    path: PathBuf,
    model: Model,
    /// The per-epoch metrics, or why there are none.
    history: Result<Vec<EpochStats>, String>,
    /// Its reading of every test image.
    predictions: Vec<Prediction>,
}

impl Analysed {
    fn correct(&self, labels: &[u8]) -> Vec<bool> {
        self.predictions.iter().zip(labels).map(|(p, &l)| p.digit == l as usize).collect()
    }

    fn training_value(&self, key: &str) -> Option<&serde_json::Value> {
        self.model.training().and_then(|t| t.get(key))
    }
}

/// The test set as the networks read it.
struct TestSet {
    pixels: Vec<Pixels>,
    labels: Vec<u8>,
}

/// Where the pictures go: `out/img/`, named by the caller.
struct Out {
    dir: PathBuf,
    files: usize,
}

impl Out {
    fn create(dir: &Path) -> Result<Self, ReportError> {
        let img = dir.join("img");
        std::fs::create_dir_all(&img).map_err(|source| ReportError::Write { path: img.clone(), source })?;
        Ok(Out { dir: dir.to_path_buf(), files: 0 })
    }

    /// Writes `img/name` and returns its path relative to the page.
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<String, ReportError> {
        let rel = format!("img/{name}");
        let path = self.dir.join(&rel);
        std::fs::write(&path, bytes).map_err(|source| ReportError::Write { path, source })?;
        self.files += 1;
        Ok(rel)
    }

    fn png(&mut self, name: &str, img: &image::RgbImage) -> Result<String, ReportError> {
        self.put(name, &pictures::png(img))
    }

    fn svg(&mut self, name: &str, chart: charts::ChartResult) -> Result<String, ReportError> {
        self.put(name, chart.map_err(ReportError::Chart)?.as_bytes())
    }
}

/// Writes the report; see [`ReportOptions`].
pub fn write_report(options: &ReportOptions) -> Result<Written, ReportError> {
    let start = Instant::now();
    if options.models.is_empty() && options.history.is_none() {
        return Err(ReportError::NoModel);
    }
    // Everything that can fail on the user's input is read before anything is written.
    let mut models = options.models.iter().map(|path| load_model(path)).collect::<Result<Vec<_>, _>>()?;
    let own_image = match &options.image {
        Some(path) => {
            let image = load_image(path)?;
            Some(preprocess(&image).map_err(|e| e.in_file(path))?)
        }
        None => None,
    };
    let test =
        if models.is_empty() { TestSet { pixels: Vec::new(), labels: Vec::new() } } else { load_test(&options.data)? };
    for m in &mut models {
        m.predictions = m.model.predict_batch(&test.pixels).map_err(PredictError::from)?;
    }
    let negatives = if models.iter().any(|m| m.model.reject_threshold().is_some()) {
        reject::test_negatives()
    } else {
        Ok(Vec::new())
    };
    let mut out = Out::create(&options.out)?;

    let mut body = String::new();
    let mut nav = Vec::new();
    for (i, m) in models.iter_mut().enumerate() {
        let id = format!("m{i}");
        nav.push((id.clone(), m.name.clone()));
        body.push_str(&sections::model_section(&id, m, &test, options.mistakes, &mut out)?);
        body.push_str(&reject::reject_section(&id, m, &test, &negatives, &mut out)?);
        body.push_str(&inside::inside_section(&id, m, own_image.as_ref(), &test, &mut out)?);
    }
    if models.len() > 1 {
        nav.push(("comparison".into(), "Comparison".into()));
        body.push_str(&compare::comparison_section(&models, &test, &mut out)?);
    }
    if let Some(history) = &options.history {
        nav.push(("history".into(), "Run history".into()));
        body.push_str(&history::history_section(history, &mut out)?);
    }
    nav.push(("tutorial".into(), "The tutorial's X".into()));
    body.push_str(&tutorial::tutorial_section(&mut out)?);

    let index = options.out.join("index.html");
    let page = html::page("chiffre report", &nav, &body);
    write_atomic(&index, page.as_bytes()).map_err(|source| ReportError::Write { path: index.clone(), source })?;
    Ok(Written { index, files: out.files + 1, seconds: start.elapsed().as_secs_f64() })
}

fn load_model(path: &Path) -> Result<Analysed, ReportError> {
    let model = Model::load(path)?;
    let name = path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into_owned());
    Ok(Analysed { name, path: path.to_path_buf(), model, history: read_history(path), predictions: Vec::new() })
}

/// The metrics file beside the model, or why it cannot be used.
fn read_history(model: &Path) -> Result<Vec<EpochStats>, String> {
    let path = metrics_path(model);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("no training curves: cannot read {}: {e}", path.display()))?;
    let history = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str::<EpochStats>(line)
                .map_err(|e| format!("no training curves: {} line {}: {e}", path.display(), i + 1))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if history.is_empty() {
        return Err(format!("no training curves: {} is empty", path.display()));
    }
    Ok(history)
}

fn load_test(dir: &Path) -> Result<TestSet, ReportError> {
    let set = Mnist::load_test(dir)?;
    if (set.rows, set.cols) != (SIDE, SIDE) {
        return Err(ReportError::DataShape { dir: dir.to_path_buf(), rows: set.rows, cols: set.cols });
    }
    let pixels = (0..set.len())
        .map(|i| {
            let mut p = [0.0f32; PIXELS];
            p.iter_mut().zip(set.image(i)).for_each(|(d, &s)| *d = s as f32 / 255.0);
            p
        })
        .collect();
    Ok(TestSet { pixels, labels: set.labels })
}
