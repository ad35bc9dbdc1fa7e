//! The model file: safetensors, one `F32` tensor per parameter
//! (`layers.<index>.weight`, `layers.<index>.bias`), and in the metadata the
//! architecture (`chiffre.spec`, JSON) and the training settings and results
//! (`chiffre.training`, JSON), so a file is self-describing. Beside the
//! network, a file written by `chiffre train` holds its rejection and
//! calibration (tensors `reject.*`, metadata `chiffre.reject`: see
//! [`crate::reject::store`]); older files have none and still load.
//!
//! An 8-bit file (`chiffre quantize`, [`to_bytes_int8`]) stores the weights
//! of the layers that compute in 8 bits, and the judges' weight matrices, as
//! `I8` with one `F32` scale per row beside them (`*.weight_scale`), and in
//! the metadata `chiffre.int8` the step of each 8-bit layer's input; it loads as
//! the network with the rounded weights, plus those steps, from which
//! [`crate::model::QuantizedNetwork::from_scales`] rebuilds the same integers.

use super::{ModelError, ModelSpec, Sequential};
use crate::fsutil::write_atomic;
use crate::reject::{store, Reject};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::HashMap;
use std::path::Path;

/// Version of the metadata layout, stored as `chiffre.format`.
pub const FORMAT_VERSION: &str = "1";

/// The largest model file read (1 GiB: the weights of [`super::MAX_PARAMS`]
/// plus the largest safetensors header), refused from its size before reading.
pub const MAX_MODEL_BYTES: u64 = 1 << 30;

/// Weights any model file may declare whatever its size (1 Mi, 4 MiB); more
/// need a file large enough to hold them, 4 bytes each, so that a tiny file
/// cannot make the loader allocate hundreds of megabytes before it finds the
/// tensors missing.
pub const SMALL_NETWORK: usize = 1 << 20;

/// A loaded model with what its file says about how it was trained.
pub struct ModelFile {
    /// The network, weights loaded.
    pub model: Sequential,
    /// The training settings and results stored by `chiffre train`, if any.
    pub training: Option<serde_json::Value>,
    /// The "not a digit" gate and the calibration, if the file has them
    /// (`None` for files made before they existed).
    pub reject: Option<Reject>,
    /// For an 8-bit file: each 8-bit layer's input step, `(layer index,
    /// step)` (see [`crate::model::QuantizedNetwork::input_scales`]).
    pub int8: Option<Vec<(usize, f32)>>,
    /// For an 8-bit file whose verifier (a judge) is in 8 bits too: its steps.
    pub int8_verifier: Option<Vec<(usize, f32)>>,
}

/// An 8-bit layer's input step: `(layer index, the value of one step)`.
pub type InputScale = (usize, f32);

/// The metadata key of an 8-bit file's input steps.
pub const INT8_KEY: &str = "chiffre.int8";

/// The suffix of a weight's per-row scales in an 8-bit file.
pub const SCALE_SUFFIX: &str = "_scale";

/// Writes `model` (and `training`, a JSON object of settings and results) to
/// `path` atomically.
pub fn save(model: &Sequential, training: &serde_json::Value, path: &Path) -> Result<(), ModelError> {
    save_with_reject(model, training, None, path)
}

/// [`save`], with the rejection and calibration fitted for the model.
pub fn save_with_reject(
    model: &Sequential,
    training: &serde_json::Value,
    reject: Option<&Reject>,
    path: &Path,
) -> Result<(), ModelError> {
    let fail = |message: String| ModelError::File { path: path.display().to_string(), message };
    let data = to_bytes(model, training, reject).map_err(fail)?;
    write_atomic(path, &data).map_err(|e| fail(format!("cannot write the model file: {e}")))
}

/// The bytes of the model file [`save_with_reject`] writes (for a caller
/// with no file system, such as a web page that offers them as a download);
/// [`load_bytes`] reads them back.
pub fn to_bytes(model: &Sequential, training: &serde_json::Value, reject: Option<&Reject>) -> Result<Vec<u8>, String> {
    let mut metadata = HashMap::from([("chiffre.training".to_string(), training.to_string())]);
    let (reject_meta, extra) = reject.map(store::encode).unwrap_or_default();
    if reject.is_some() {
        metadata.insert(store::METADATA_KEY.to_string(), reject_meta);
    }
    encode(model, metadata, &extra, None)
}

/// The bytes of an 8-bit model file: [`to_bytes`]' content with the weight
/// matrices in 8 bits (see the module documentation), the input steps
/// `scales` of the layers that compute in 8 bits, and those of the
/// verifier's, if it computes in 8 bits too.
pub fn to_bytes_int8(
    model: &Sequential,
    (scales, verifier_scales): (&[InputScale], Option<&[InputScale]>),
    training: &serde_json::Value,
    reject: Option<&Reject>,
) -> Result<Vec<u8>, String> {
    let mut metadata = HashMap::from([("chiffre.training".to_string(), training.to_string())]);
    let (reject_meta, extra) = reject.map(store::encode).unwrap_or_default();
    if reject.is_some() {
        metadata.insert(store::METADATA_KEY.to_string(), reject_meta);
    }
    let steps = serde_json::json!({ "input_scales": scales, "verifier_input_scales": verifier_scales });
    metadata.insert(INT8_KEY.to_string(), steps.to_string());
    // The weights of the layers that compute in 8 bits, and the judges' (which compute in f32 with
    // their weights as stored); a first convolution left in f32 keeps its f32 weights.
    let in_8_bits: Vec<String> = scales.iter().map(|(layer, _)| format!("layers.{layer}.weight")).collect();
    let int8 = |name: &str| in_8_bits.iter().any(|n| n == name) || name.starts_with(store::PREFIX);
    encode(model, metadata, &extra, Some(&int8))
}

/// One extra tensor to store beside a model's own: name, shape, values.
pub(crate) type Extra<'a> = (String, Vec<usize>, &'a [f32]);

/// The safetensors bytes of `model` (parameters and buffers), `extra`
/// tensors, and `metadata` plus the format and the architecture; the weight
/// matrices that `int8` names are stored in 8 bits with their rows' scales.
pub(crate) fn encode(
    model: &Sequential,
    mut metadata: HashMap<String, String>,
    extra: &[Extra<'_>],
    int8: Option<&dyn Fn(&str) -> bool>,
) -> Result<Vec<u8>, String> {
    let mut tensors: Vec<Extra<'_>> = Vec::new();
    for (name, p) in model.named_params() {
        tensors.push((name, p.value.shape().to_vec(), p.value.data()));
    }
    for (name, t) in model.named_buffers() {
        tensors.push((name, t.shape().to_vec(), t.data()));
    }
    tensors.extend(extra.iter().cloned());
    // (name, dtype, shape, bytes)
    let mut stored: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, shape, data) in &tensors {
        let le = |values: &[f32]| values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        if int8.is_some_and(|int8| int8(name)) && name.ends_with(".weight") && shape.len() >= 2 {
            let rows = shape[0];
            let (q, scales) = crate::kernels::int8::quantize_rows(data, rows, data.len() / rows.max(1))
                .map_err(|e| format!("{name}: {e}"))?;
            stored.push((name.clone(), Dtype::I8, shape.clone(), q.iter().map(|&v| v as u8).collect()));
            stored.push((format!("{name}{SCALE_SUFFIX}"), Dtype::F32, vec![rows], le(&scales)));
        } else {
            stored.push((name.clone(), Dtype::F32, shape.clone(), le(data)));
        }
    }
    let views = stored
        .iter()
        .map(|(name, dtype, shape, b)| Ok((name.clone(), TensorView::new(*dtype, shape.clone(), b)?)))
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()
        .map_err(|e| e.to_string())?;
    let spec = serde_json::to_string(model.spec()).map_err(|e| e.to_string())?;
    metadata.insert("chiffre.format".to_string(), FORMAT_VERSION.to_string());
    metadata.insert("chiffre.spec".to_string(), spec);
    safetensors::serialize(views, &Some(metadata)).map_err(|e| e.to_string())
}

/// Reads a model file written by [`save`] (or a checkpoint), checking that
/// every tensor the architecture needs is there, `F32`, of the right shape and
/// finite. Files over [`MAX_MODEL_BYTES`] are refused from their size, before reading.
pub fn load(path: &Path) -> Result<ModelFile, ModelError> {
    let fail = |message: String| ModelError::File { path: path.display().to_string(), message };
    let size = std::fs::metadata(path).map_err(|e| fail(format!("cannot read the model file: {e}")))?.len();
    if size > MAX_MODEL_BYTES {
        return Err(fail(format!("the file is {size} bytes; a model file is at most {MAX_MODEL_BYTES} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read the model file: {e}")))?;
    load_bytes(&bytes, &path.display().to_string())
}

/// Reads a model file (or a checkpoint) held in memory, with the checks of
/// [`load`]; `source` names it in errors. Never panics, whatever the bytes:
/// the safetensors header is bounded and checked against the data before
/// use, and the architecture's sizes are checked before any weight is allocated.
pub fn load_bytes(bytes: &[u8], source: &str) -> Result<ModelFile, ModelError> {
    let fail = |message: String| ModelError::File { path: source.to_string(), message };
    // A checkpoint is a model file too: its training state (`train.*`) is left aside.
    let (model, meta) = decode(bytes, Path::new(source), &["train.", store::PREFIX])?;
    let training = match meta.get("chiffre.training") {
        Some(t) => Some(serde_json::from_str(t).map_err(|e| fail(format!("unreadable training metadata: {e}")))?),
        None => None,
    };
    // `decode` has read the tensors already: they are valid safetensors.
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| fail(format!("corrupt tensor data ({e:?})")))?;
    let reject = store::decode(meta.get(store::METADATA_KEY), &tensors).map_err(fail)?;
    let (int8, int8_verifier) = match meta.get(INT8_KEY) {
        Some(text) => {
            #[derive(serde::Deserialize)]
            struct Int8 {
                input_scales: Vec<(usize, f32)>,
                #[serde(default)]
                verifier_input_scales: Option<Vec<(usize, f32)>>,
            }
            let int8: Int8 = serde_json::from_str(text).map_err(|e| fail(format!("unreadable {INT8_KEY}: {e}")))?;
            (Some(int8.input_scales), int8.verifier_input_scales)
        }
        None => (None, None),
    };
    Ok(ModelFile { model, training, reject, int8, int8_verifier })
}

/// The model in `bytes` (read from `path`) and the file's metadata. Tensors
/// whose names start with one of `extra_prefixes` are left for the caller;
/// any other tensor the architecture does not have is an error.
pub(crate) fn decode(
    bytes: &[u8],
    path: &Path,
    extra_prefixes: &[&str],
) -> Result<(Sequential, HashMap<String, String>), ModelError> {
    let fail = |message: String| ModelError::File { path: path.display().to_string(), message };
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| {
            fail(format!(
                "not a valid safetensors model file: it is truncated, damaged or of another format ({e:?}); make one with `chiffre train --out FILE`"
            ))
        })?;
    let meta = header.metadata().clone().unwrap_or_default();
    match meta.get("chiffre.format").map(String::as_str) {
        Some(FORMAT_VERSION) => {}
        Some(other) => {
            return Err(fail(format!("model format version {other}, this chiffre reads version {FORMAT_VERSION}")))
        }
        None => return Err(fail("a safetensors file, but not a chiffre model (no chiffre.format metadata)".into())),
    }
    let spec_json =
        meta.get("chiffre.spec").ok_or_else(|| fail("no architecture (chiffre.spec) in the metadata".into()))?;
    let spec: ModelSpec =
        serde_json::from_str(spec_json).map_err(|e| fail(format!("unreadable architecture in the metadata: {e}")))?;
    // Every weight is stored as 4 bytes: the file's size bounds what may be allocated for them
    // (with a floor of SMALL_NETWORK weights, so that a small file whose tensors are wrong is
    // still built and told which tensor is wrong).
    let per_weight = if meta.contains_key(INT8_KEY) { 1 } else { 4 };
    let holds = (bytes.len() / per_weight).max(SMALL_NETWORK);
    let mut model = Sequential::new_within(&spec, 0, holds)
        .map_err(|e| fail(format!("impossible architecture for a file of {} bytes: {e}", bytes.len())))?;
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| fail(format!("corrupt tensor data ({e:?})")))?;

    let mut expected = Vec::new();
    let mut error = None;
    let mut fill = |key: String, value: &mut crate::tensor::Tensor| {
        if error.is_none() {
            let shape = value.shape().to_vec();
            error = fill_tensor(&tensors, &key, &shape, value.data_mut()).err();
        }
        expected.push(key);
    };
    model.visit_params_mut(&mut |index, name, param| fill(format!("layers.{index}.{name}"), &mut param.value));
    model.visit_buffers_mut(&mut |index, name, buffer| fill(format!("layers.{index}.{name}"), buffer));
    if let Some(message) = error {
        return Err(fail(format!("does not match its architecture ({}): {message}", spec.name)));
    }
    // An 8-bit weight's scales go with it.
    let is_scale = |n: &String| n.strip_suffix(SCALE_SUFFIX).is_some_and(|w| expected.iter().any(|e| e == w));
    let is_extra = |n: &String| extra_prefixes.iter().any(|p| n.starts_with(p)) || is_scale(n);
    if let Some(extra) = tensors.names().into_iter().find(|n| !expected.contains(n) && !is_extra(n)) {
        return Err(fail(format!("does not match its architecture ({}): unexpected tensor {extra}", spec.name)));
    }
    Ok((model, meta))
}

/// Copies tensor `key` of `tensors` into `out`, checking its type, shape and
/// finiteness.
pub(crate) fn fill_tensor(
    tensors: &SafeTensors<'_>,
    key: &str,
    shape: &[usize],
    out: &mut [f32],
) -> Result<(), String> {
    fill_param(tensors, key, shape, out)
}

fn fill_param(tensors: &SafeTensors<'_>, key: &str, shape: &[usize], out: &mut [f32]) -> Result<(), String> {
    let view = tensors.tensor(key).map_err(|_| format!("tensor {key} is missing"))?;
    if view.dtype() == Dtype::I8 && shape.len() >= 2 {
        if view.shape() != shape {
            return Err(format!("tensor {key} has shape {:?}, expected {shape:?}", view.shape()));
        }
        // out = q · scale of its row
        let mut scales = vec![0.0; shape[0]];
        fill_param(tensors, &format!("{key}{SCALE_SUFFIX}"), &shape[..1], &mut scales)?;
        let per_row = out.len() / shape[0].max(1);
        for (i, (v, &q)) in out.iter_mut().zip(view.data()).enumerate() {
            *v = f32::from(q as i8) * scales[i / per_row.max(1)];
        }
        return Ok(());
    }
    if view.dtype() != Dtype::F32 {
        return Err(format!("tensor {key} is {:?}, expected F32", view.dtype()));
    }
    if view.shape() != shape {
        return Err(format!("tensor {key} has shape {:?}, expected {shape:?}", view.shape()));
    }
    for (v, b) in out.iter_mut().zip(view.data().chunks_exact(4)) {
        *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if !v.is_finite() {
            return Err(format!("tensor {key} holds a non-finite value ({v})"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::preset;

    /// A safetensors file with chiffre's metadata for `spec` and no tensors.
    fn header_only(spec: &ModelSpec) -> Vec<u8> {
        let metadata = HashMap::from([
            ("chiffre.format".to_string(), FORMAT_VERSION.to_string()),
            ("chiffre.spec".to_string(), serde_json::to_string(spec).unwrap()),
        ]);
        safetensors::serialize(Vec::<(&str, TensorView<'_>)>::new(), &Some(metadata)).unwrap()
    }

    #[test]
    fn a_small_file_cannot_make_the_loader_allocate_its_declared_weights() {
        // A dense layer of 784 × 4096 (3.2 Mi weights, 13 MB) declared in a header of a few hundred bytes.
        let mut spec = preset("perceptron", 10).unwrap();
        spec.layers.insert(1, crate::model::LayerSpec::Dense { units: 4096, init: crate::layers::Init::He });
        let bytes = header_only(&spec);
        assert!(bytes.len() < 4096);
        let error = load_bytes(&bytes, "tiny.safetensors").err().expect("refused").to_string();
        assert!(error.contains(&format!("for a file of {} bytes", bytes.len())), "{error}");
        assert!(error.contains(&format!("over the limit of {SMALL_NETWORK}")), "{error}");
    }

    #[test]
    fn a_file_big_enough_for_its_weights_is_judged_on_its_tensors() {
        let spec = preset("perceptron", 10).unwrap();
        let mut bytes = header_only(&spec);
        bytes.resize(bytes.len() + 4 * 7850, 0); // room for 784 × 10 + 10 weights, but no tensors declared
        let error = load_bytes(&bytes, "padded.safetensors").err().expect("refused").to_string();
        assert!(!error.contains("over the limit"), "{error}");
    }

    #[test]
    fn an_8_bit_file_stores_bytes_and_loads_the_same_8_bit_network() {
        let mut network = Sequential::new(&preset("cnn", 10).unwrap(), 2).unwrap();
        let images: Vec<f32> = (0..8 * 784).map(|i| ((i * 7919) % 997) as f32 / 996.0).collect();
        let mut quantized = crate::model::QuantizedNetwork::new(&mut network, &images).unwrap();
        let scales = quantized.input_scales();
        let bytes = to_bytes_int8(&network, (&scales, None), &serde_json::json!({}), None).unwrap();
        let f32_bytes = to_bytes(&network, &serde_json::json!({}), None).unwrap();
        assert!(bytes.len() * 10 < f32_bytes.len() * 3, "{} against {}", bytes.len(), f32_bytes.len());
        let tensors = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(tensors.tensor("layers.3.weight").unwrap().dtype(), Dtype::I8);
        assert_eq!(tensors.tensor("layers.3.weight_scale").unwrap().shape(), &[64]);
        assert_eq!(tensors.tensor("layers.3.bias").unwrap().dtype(), Dtype::F32);
        let file = load_bytes(&bytes, "int8.safetensors").unwrap();
        assert_eq!(file.int8.as_deref(), Some(scales.as_slice()));
        // The weights loaded are the stored integers times their scales: quantized again, the same
        // integers, and the network reads as the one it was made from (to a rounding of the scales).
        let mut loaded = crate::model::QuantizedNetwork::from_scales(&file.model, &scales).unwrap();
        let (want, got) = (quantized.forward(&images).to_vec(), loaded.forward(&images).to_vec());
        let worst = want.iter().zip(&got).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(worst <= 1e-5 * want.iter().fold(1.0f32, |m, v| m.max(v.abs())), "off by {worst}");
        // An 8-bit weight without its scales is refused, naming them.
        let names: Vec<String> =
            tensors.names().into_iter().filter(|n| *n != "layers.3.weight_scale").cloned().collect();
        let views: Vec<(String, TensorView<'_>)> =
            names.iter().map(|n| (n.clone(), tensors.tensor(n).unwrap())).collect();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let broken = safetensors::serialize(views, &header.metadata().clone()).unwrap();
        let error = load_bytes(&broken, "broken.safetensors").err().expect("refused").to_string();
        assert!(error.contains("layers.3.weight_scale is missing"), "{error}");
    }
}
