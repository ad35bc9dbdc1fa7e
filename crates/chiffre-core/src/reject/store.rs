//! A [`Reject`] in the model file: the gate's weights and standardisation as
//! tensors `reject.gate.layers.<i>.<name>`, `reject.mean`, `reject.scale`,
//! and in the metadata `chiffre.reject` (JSON) the format version, the
//! temperature, the threshold and the gate's architecture; the verifier, when
//! there is one, as tensors `reject.verifier.layers.<i>.<name>` and its
//! architecture in the metadata (a file without it, made before it existed,
//! judges with the gate alone; a chiffre made before it ignores it); the
//! pair reader likewise, as `reject.pairs.layers.<i>.<name>`.

use super::gate::{gate_spec, Gate};
use super::pairs::PairReader;
use super::verifier::Verifier;
use super::Reject;
use crate::model::{fill_tensor, LayerSpec, ModelSpec, Sequential};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

/// The metadata key.
pub const METADATA_KEY: &str = "chiffre.reject";

/// The prefix of the tensors.
pub const PREFIX: &str = "reject.";

/// Version of the `chiffre.reject` layout.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Meta {
    version: u32,
    temperature: f32,
    threshold: f32,
    /// What the gate reads.
    gate_inputs: String,
    gate: ModelSpec,
    /// The verifier's architecture, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verifier: Option<ModelSpec>,
    /// The pair reader's architecture, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pairs: Option<ModelSpec>,
}

/// One tensor to store: name, shape, values.
pub type Tensor<'a> = (String, Vec<usize>, &'a [f32]);

/// The metadata value and the extra tensors of `reject`.
pub fn encode(reject: &Reject) -> (String, Vec<Tensor<'_>>) {
    let meta = Meta {
        version: VERSION,
        temperature: reject.temperature,
        threshold: reject.threshold,
        gate_inputs: "last hidden layer, then class scores".into(),
        gate: reject.gate.network.spec().clone(),
        verifier: reject.verifier.as_ref().map(|v| v.network.spec().clone()),
        pairs: reject.pairs.as_ref().map(|p| p.network.spec().clone()),
    };
    let mut tensors: Vec<Tensor<'_>> = vec![
        (format!("{PREFIX}mean"), vec![reject.gate.mean.len()], &reject.gate.mean),
        (format!("{PREFIX}scale"), vec![reject.gate.scale.len()], &reject.gate.scale),
    ];
    for (name, p) in reject.gate.network.named_params() {
        tensors.push((format!("{PREFIX}gate.{name}"), p.value.shape().to_vec(), p.value.data()));
    }
    if let Some(verifier) = &reject.verifier {
        for (name, p) in verifier.network.named_params() {
            tensors.push((format!("{PREFIX}verifier.{name}"), p.value.shape().to_vec(), p.value.data()));
        }
    }
    if let Some(pairs) = &reject.pairs {
        for (name, p) in pairs.network.named_params() {
            tensors.push((format!("{PREFIX}pairs.{name}"), p.value.shape().to_vec(), p.value.data()));
        }
    }
    // Serialising a struct of numbers and a spec cannot fail.
    (serde_json::to_string(&meta).unwrap_or_default(), tensors)
}

/// Reads the rejection stored beside a model: `Ok(None)` when the file has
/// none (made before rejection existed); an error (without the file's name,
/// which the caller adds) when it is there but damaged.
pub fn decode(meta: Option<&String>, tensors: &SafeTensors<'_>) -> Result<Option<Reject>, String> {
    let Some(json) = meta else { return Ok(None) };
    let meta: Meta = serde_json::from_str(json).map_err(|e| format!("unreadable {METADATA_KEY} metadata: {e}"))?;
    if meta.version != VERSION {
        return Err(format!("{METADATA_KEY} version {}, this chiffre reads version {VERSION}", meta.version));
    }
    let finite_positive = |v: f32| v.is_finite() && v > 0.0;
    if !finite_positive(meta.temperature) || !(0.0..=1.0).contains(&meta.threshold) {
        return Err(format!(
            "{METADATA_KEY}: the temperature must be a positive number and the threshold in [0, 1]; got {} and {}",
            meta.temperature, meta.threshold
        ));
    }
    let width = meta.gate.input.iter().product::<usize>();
    // Flatten, dense (any width), ReLU, dense 3 (or 2, as stored before wrong
    // cuts had their own class): the gate's shape, whatever its hidden width.
    let shape_ok = matches!(
        meta.gate.layers.as_slice(),
        [LayerSpec::Flatten, LayerSpec::Dense { .. }, LayerSpec::Relu, LayerSpec::Dense { units: 2 | 3, .. }]
    );
    if !shape_ok || meta.gate.input != gate_spec(width).input {
        return Err(format!(
            "{METADATA_KEY}: the gate is not flatten, dense, ReLU, dense 3 (or 2) on a 1×1×N input, the only gate this chiffre reads"
        ));
    }
    let mut network = Sequential::new(&meta.gate, 0).map_err(|e| format!("{METADATA_KEY}: impossible gate: {e}"))?;
    let (mut mean, mut scale) = (vec![0.0; width], vec![0.0; width]);
    let error = fill_network(&mut network, tensors, "gate")
        .or_else(|| fill_tensor(tensors, &format!("{PREFIX}mean"), &[width], &mut mean).err())
        .or_else(|| fill_tensor(tensors, &format!("{PREFIX}scale"), &[width], &mut scale).err());
    if let Some(message) = error {
        return Err(format!("the rejection gate: {message}"));
    }
    let gate = Gate { mean, scale, network };
    let verifier = match stored_network(meta.verifier.as_ref(), tensors, ("verifier", "the rejection verifier"))? {
        None => None,
        Some(network) => Some(Verifier::from_network(network).map_err(|e| format!("{METADATA_KEY}: {e}"))?),
    };
    let pairs = match stored_network(meta.pairs.as_ref(), tensors, ("pairs", "the pair reader"))? {
        None => None,
        Some(network) => Some(PairReader::from_network(network).map_err(|e| format!("{METADATA_KEY}: {e}"))?),
    };
    Ok(Some(Reject { temperature: meta.temperature, threshold: meta.threshold, gate, verifier, pairs }))
}

/// The network of architecture `spec` (none: the file has no such part)
/// with its weights from the tensors `reject.<part>.layers.<i>.<name>`;
/// errors name it as `what`.
fn stored_network(
    spec: Option<&ModelSpec>,
    tensors: &SafeTensors<'_>,
    (part, what): (&str, &str),
) -> Result<Option<Sequential>, String> {
    let Some(spec) = spec else { return Ok(None) };
    let mut network = Sequential::new(spec, 0).map_err(|e| format!("{METADATA_KEY}: impossible {part}: {e}"))?;
    match fill_network(&mut network, tensors, part) {
        Some(message) => Err(format!("{what}: {message}")),
        None => Ok(Some(network)),
    }
}

/// Fills `network`'s weights from the tensors `reject.<part>.layers.<i>.<name>`;
/// the first problem, if any.
fn fill_network(network: &mut Sequential, tensors: &SafeTensors<'_>, part: &str) -> Option<String> {
    let mut error = None;
    network.visit_params_mut(&mut |index, name, param| {
        if error.is_none() {
            let shape = param.value.shape().to_vec();
            let key = format!("{PREFIX}{part}.layers.{index}.{name}");
            error = fill_tensor(tensors, &key, &shape, param.value.data_mut()).err();
        }
    });
    error
}
