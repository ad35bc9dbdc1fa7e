//! The network: a [`Sequential`] stack of layers built from a [`ModelSpec`],
//! the presets, the summary table, and the model file.

mod file;
mod fusion;
mod inspect;
mod node;
mod presets;
mod quantized;
mod sequential;
mod spec;
mod summary;

pub(crate) use file::{decode, encode, fill_tensor};
pub use file::{
    load, load_bytes, save, save_with_reject, to_bytes, to_bytes_int8, InputScale, ModelFile, FORMAT_VERSION, INT8_KEY,
    MAX_MODEL_BYTES, SMALL_NETWORK,
};
pub use fusion::{fusion_plan, Step};
pub use inspect::LayerOutput;
pub use node::Node;
pub use presets::{preset, CNN_AUGMENT, CNN_CUT_DIGITS, PRESETS, RECIPES};
pub use quantized::QuantizedNetwork;
pub use sequential::{Sequential, INFER_BUDGET, MAX_LAYERS, MAX_PARAMS, MAX_VALUES_PER_EXAMPLE};
pub use spec::{LayerSpec, ModelSpec, MAX_SPEC_BYTES};
pub use summary::{summary, thousands};

/// Errors of the model room: specs, shapes, model files.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A spec file that cannot be read or parsed.
    #[error("{path}: invalid model spec: {message}")]
    Spec {
        /// The spec file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A layer whose shapes are impossible.
    #[error("layer {index} ({kind}): {message}")]
    Shape {
        /// Position of the layer, from 0.
        index: usize,
        /// The layer's kind.
        kind: String,
        /// What is wrong.
        message: String,
    },
    /// A spec that is well-formed but not a usable classifier.
    #[error("model {name}: {message}")]
    Invalid {
        /// The model's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A model file that cannot be read, or does not match its architecture.
    #[error("{path}: {message}")]
    File {
        /// The model file.
        path: String,
        /// What is wrong.
        message: String,
    },
}
