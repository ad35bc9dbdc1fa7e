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
    /// Inverted dropout with probability `rate`.
    Dropout {
        /// Probability of dropping a value, in `[0, 1)`.
        rate: f32,
    },
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
}

impl ModelSpec {
    /// Reads a spec from a `.json` or `.toml` file (by extension; other names
    /// are tried as JSON, then TOML).
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Spec {
            path: path.display().to_string(),
            message: format!("cannot read the spec file: {e}"),
        })?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let parsed = match ext.as_str() {
            "toml" => toml::from_str::<ModelSpec>(&text).map_err(|e| e.to_string()),
            "json" => serde_json::from_str::<ModelSpec>(&text).map_err(|e| e.to_string()),
            _ => serde_json::from_str::<ModelSpec>(&text)
                .or_else(|_| toml::from_str::<ModelSpec>(&text))
                .map_err(|e| format!("neither JSON nor TOML: {e}")),
        };
        let mut spec = parsed.map_err(|message| ModelError::Spec { path: path.display().to_string(), message })?;
        if spec.name.is_empty() {
            spec.name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("custom").to_string();
        }
        Ok(spec)
    }
}
