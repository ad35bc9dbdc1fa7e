//! The architecture as data: a list of layers that a spec file (JSON or TOML)
//! describes and a model file stores in its metadata.
//!
//! ```toml
//! input = [28, 28, 1]     # height, width, channels (the default)
//! [[layers]]
//! type = "conv2d"
//! filters = 32
//! kernel = 3
//! [[layers]]
//! type = "relu"
//! [[layers]]
//! type = "max_pool2d"
//! size = 2
//! [[layers]]
//! type = "flatten"
//! [[layers]]
//! type = "dense"
//! units = 10
//! ```

use super::ModelError;
use crate::layers::{Init, Padding};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One layer of a spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    /// Fully-connected layer with `units` outputs.
    Dense {
        /// Number of outputs.
        units: usize,
        /// Initial weights.
        #[serde(default)]
        init: Init,
    },
    /// Convolution with `filters` square kernels of side `kernel`.
    Conv2d {
        /// Number of filters (output channels).
        filters: usize,
        /// Kernel side.
        kernel: usize,
        /// Step of the kernel (1).
        #[serde(default = "one")]
        stride: usize,
        /// Border handling (`valid`).
        #[serde(default)]
        padding: Padding,
        /// Initial weights.
        #[serde(default)]
        init: Init,
    },
    /// Max pooling over `size × size` windows.
    MaxPool2d {
        /// Window side.
        size: usize,
        /// Step (defaults to `size`).
        #[serde(default)]
        stride: Option<usize>,
    },
    /// Mean pooling over `size × size` windows.
    AvgPool2d {
        /// Window side.
        size: usize,
        /// Step (defaults to `size`).
        #[serde(default)]
        stride: Option<usize>,
    },
    /// `[H, W, C]` → `[H·W·C]`.
    Flatten,
    /// `max(0, x)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// Batch normalisation of feature maps `[H, W, C]`, per channel.
    BatchNorm2d {
        /// Weight of each batch in the running statistics (0.1).
        #[serde(default = "bn_momentum")]
        momentum: f32,
        /// ε added to the variance (1e-5).
        #[serde(default = "bn_eps")]
        eps: f32,
    },
    /// Batch normalisation of vectors `[N]`, per feature.
    BatchNorm1d {
        /// Weight of each batch in the running statistics (0.1).
        #[serde(default = "bn_momentum")]
        momentum: f32,
        /// ε added to the variance (1e-5).
        #[serde(default = "bn_eps")]
        eps: f32,
    },
    /// Inverted dropout with probability `rate`.
    Dropout {
        /// Probability of dropping a value, in `[0, 1)`.
        rate: f32,
    },
}

fn bn_momentum() -> f32 {
    0.1
}

fn bn_eps() -> f32 {
    1e-5
}

impl LayerSpec {
    /// The layer's kind as written in spec files: `"dense"`, `"conv2d"`…
    pub fn kind(&self) -> &'static str {
        match self {
            LayerSpec::Dense { .. } => "dense",
            LayerSpec::Conv2d { .. } => "conv2d",
            LayerSpec::MaxPool2d { .. } => "max_pool2d",
            LayerSpec::AvgPool2d { .. } => "avg_pool2d",
            LayerSpec::Flatten => "flatten",
            LayerSpec::Relu => "relu",
            LayerSpec::Sigmoid => "sigmoid",
            LayerSpec::Tanh => "tanh",
            LayerSpec::Dropout { .. } => "dropout",
            LayerSpec::BatchNorm2d { .. } => "batch_norm2d",
            LayerSpec::BatchNorm1d { .. } => "batch_norm1d",
        }
    }
}

fn one() -> usize {
    1
}

fn default_input() -> [usize; 3] {
    [28, 28, 1]
}

/// A sequential network: the input shape and the layers in order. The last
/// layer's outputs are the class scores (softmax is applied by the loss and
/// by prediction).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// A short name (`"cnn"`, or the spec file's stem).
    #[serde(default)]
    pub name: String,
    /// Per-example input `[height, width, channels]`.
    #[serde(default = "default_input")]
    pub input: [usize; 3],
    /// The layers, first to last.
    pub layers: Vec<LayerSpec>,
    /// The recipe to train it with (`[training]` in a spec file), as
    /// written: the training module reads it (`train::Recipe::of`), so that
    /// the architecture does not depend on how it is trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<serde_json::Value>,
}

/// The largest spec file read, in bytes: a real spec is a few hundred.
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

impl ModelSpec {
    /// Reads a spec from a `.json` or `.toml` file (by extension; other names
    /// are tried as JSON, then TOML). Files over [`MAX_SPEC_BYTES`] are
    /// refused from their size, before reading.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let fail = |message: String| ModelError::Spec { path: path.display().to_string(), message };
        let size = std::fs::metadata(path).map_err(|e| fail(format!("cannot read the spec file: {e}")))?.len();
        if size > MAX_SPEC_BYTES {
            return Err(fail(format!("the file is {size} bytes; a spec file is at most {MAX_SPEC_BYTES} bytes")));
        }
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read the spec file: {e}")))?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let mut spec = Self::parse(&text, &ext).map_err(fail)?;
        if spec.name.is_empty() {
            spec.name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("custom").to_string();
        }
        Ok(spec)
    }

    /// Parses a spec from text, as TOML (`ext` `"toml"`), JSON (`"json"`), or
    /// either. Without the feature `toml`, TOML is refused with a message
    /// that says so.
    pub fn parse(text: &str, ext: &str) -> Result<Self, String> {
        let json = || serde_json::from_str::<ModelSpec>(text);
        match ext {
            "toml" => from_toml(text),
            "json" => json().map_err(|e| e.to_string()),
            _ => json().or_else(|e| from_toml(text).map_err(|t| format!("neither JSON ({e}) nor TOML: {t}"))),
        }
    }

    /// The same network without its training recipe: what a checkpoint must match.
    pub fn architecture(&self) -> (&[usize; 3], &[LayerSpec]) {
        (&self.input, &self.layers)
    }
}

/// A spec in TOML.
#[cfg(feature = "toml")]
fn from_toml(text: &str) -> Result<ModelSpec, String> {
    toml::from_str::<ModelSpec>(text).map_err(|e| e.to_string())
}

/// A spec in TOML: refused in a build without the feature `toml`.
#[cfg(not(feature = "toml"))]
fn from_toml(_: &str) -> Result<ModelSpec, String> {
    Err("this build reads specs in JSON only (chiffre-core's feature `toml` is off): give the spec as JSON".into())
}
