//! ONNX export: a trained [`Sequential`] as an ONNX graph (opset 13) that any
//! ONNX runtime can run.
//!
//! The graph reads `input` `[N, C, H, W]` (channels-first, as ONNX's `Conv`
//! wants; `N` is dynamic) and gives `probabilities` `[N, K]` (softmax of the
//! network's scores). chiffre computes channels-last (`[B, H, W, C]`), which
//! changes two things and nothing else:
//! - convolution kernels are stored `[OC, k, k, C]` and are written
//!   transposed to ONNX's `[OC, C, k, k]`;
//! - `flatten` lines values up in `H, W, C` order, so the graph transposes
//!   the feature maps to `[N, H, W, C]` before `Flatten` (when `C > 1`; with
//!   one channel both orders are the same), and the dense weights that
//!   follow are used unchanged.
//!
//! Layer by layer: `dense` → `Gemm` (`transB = 1`: chiffre's weight is
//! `[out, in]`), `conv2d` → `Conv` with explicit `pads`, `max_pool2d` →
//! `MaxPool`, `avg_pool2d` → `AveragePool` (floor mode, as chiffre drops
//! partial windows), `relu`/`sigmoid`/`tanh` → `Relu`/`Sigmoid`/`Tanh`,
//! `flatten` → (`Transpose`) `Flatten`, `batch_norm2d`/`batch_norm1d` →
//! `BatchNormalization` (running statistics), `dropout` → nothing (it is the
//! identity at inference). The weights are initializers named as in the
//! model file (`layers.<i>.weight`). The model's name, spec, and training
//! results (test accuracy) are in `metadata_props`.
//!
//! An 8-bit model file (`chiffre quantize`) is written in ONNX's QDQ form
//! ([`to_onnx_int8`]), the form ONNX Runtime and TensorRT turn into 8-bit
//! kernels: each layer that computes in 8 bits reads its input through
//! `Clip` (0 to 127 steps: chiffre's activations are 7-bit) →
//! `QuantizeLinear` → `DequantizeLinear` (`uint8`, the layer's input step,
//! zero point 0), and its weights are an `int8` initializer
//! (`layers.<i>.weight_quantized`, the file's own bytes) with one scale per
//! output (`layers.<i>.weight_scale`) through `DequantizeLinear` (axis 0).
//! A runtime without 8-bit kernels computes the same values in `float`. The
//! first convolution of one channel stays `float`, as chiffre computes it.

use crate::kernels::int8::{quantize_rows, ACT_MAX};
use crate::layers::{Conv2dConfig, Layer, Padding, PoolKind};
use crate::model::{InputScale, Node, Sequential};
use crate::tensor::Tensor;
use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto::dimension,
    tensor_shape_proto::Dimension, type_proto, AttributeProto, GraphProto, Message, ModelProto, NodeProto,
    OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use std::path::Path;

/// The ONNX operator set the graph uses.
pub const OPSET: i64 = 13;
/// The ONNX IR version matching [`OPSET`].
pub const IR_VERSION: i64 = 7;
/// Name of the graph's input.
pub const INPUT: &str = "input";
/// Name of the graph's output.
pub const OUTPUT: &str = "probabilities";

/// Errors of export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A layer ONNX export does not know yet.
    #[error("layer {index} ({kind}) cannot be exported to ONNX yet")]
    Unsupported {
        /// Position of the layer.
        index: usize,
        /// Its kind.
        kind: String,
    },
    /// The model is not what its spec says (a programming error upstream).
    #[error("layer {index} ({kind}): {message}")]
    Inconsistent {
        /// Position of the layer.
        index: usize,
        /// Its kind.
        kind: String,
        /// What is wrong.
        message: String,
    },
    /// The protobuf could not be encoded.
    #[error("cannot encode the ONNX model: {0}")]
    Encode(String),
    /// The file could not be written.
    #[error("{path}: cannot write the ONNX file: {source}")]
    Write {
        /// The output file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The graph under construction: nodes, initializers and the name of the
/// value the next node reads.
struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    current: String,
}

impl Graph {
    /// Appends `op` reading the current value (and `extra` inputs); its
    /// output, named `name`, becomes the current value.
    fn node(&mut self, op: &str, name: String, extra: &[String], attribute: Vec<AttributeProto>) {
        let inputs: Vec<String> = std::iter::once(self.current.clone()).chain(extra.iter().cloned()).collect();
        self.current = self.side_node(op, name, &inputs, attribute);
    }

    /// Adds a float initializer; returns its name.
    fn initializer(&mut self, name: String, dims: &[usize], data: Vec<f32>) -> String {
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.raw_initializer(name, dims, DataType::FLOAT, bytes)
    }

    /// Adds an initializer of `data_type` from its little-endian bytes; returns its name.
    fn raw_initializer(&mut self, name: String, dims: &[usize], data_type: DataType, bytes: Vec<u8>) -> String {
        let mut t = TensorProto::new();
        t.name = name.clone();
        t.dims = dims.iter().map(|&d| d as i64).collect();
        t.data_type = data_type as i32;
        t.raw_data = bytes;
        self.initializers.push(t);
        name
    }

    /// Appends `op` reading `inputs` only (not the current value, which
    /// stays current); returns its output's name, `name`.
    fn side_node(&mut self, op: &str, name: String, inputs: &[String], attribute: Vec<AttributeProto>) -> String {
        let mut node = NodeProto::new();
        node.op_type = op.to_string();
        node.name = name.clone();
        node.input = inputs.to_vec();
        node.output = vec![name.clone()];
        node.attribute = attribute;
        self.nodes.push(node);
        name
    }

    /// The current value as the 7-bit activations of layer `index`, whose
    /// input step is `step`: clipped to 0..=127 steps, quantized to `uint8`
    /// (zero point 0) and dequantized.
    fn quantize_input(&mut self, index: usize, step: f32) {
        let low = self.initializer(format!("layers.{index}.input_min"), &[], vec![0.0]);
        let high = self.initializer(format!("layers.{index}.input_max"), &[], vec![f32::from(ACT_MAX) * step]);
        let scale = self.initializer(format!("layers.{index}.input_scale"), &[], vec![step]);
        let zero = self.raw_initializer(format!("layers.{index}.input_zero_point"), &[], DataType::UINT8, vec![0]);
        self.node("Clip", format!("layers.{index}.input_clipped"), &[low, high], vec![]);
        self.node("QuantizeLinear", format!("layers.{index}.input_quantized"), &[scale.clone(), zero.clone()], vec![]);
        self.node("DequantizeLinear", format!("layers.{index}.input_dequantized"), &[scale, zero], vec![]);
    }

    /// Weights `[rows, …]` (`dims`, ONNX's layout, rows first) as an `int8`
    /// initializer with one scale per row through `DequantizeLinear`:
    /// `quantized` are the bytes, `scales` the rows' scales. Returns the
    /// name of the dequantized weights.
    fn quantized_weight(&mut self, index: usize, dims: &[usize], quantized: &[i8], scales: &[f32]) -> String {
        let bytes = quantized.iter().map(|&q| q.to_le_bytes()[0]).collect();
        let q = self.raw_initializer(format!("layers.{index}.weight_quantized"), dims, DataType::INT8, bytes);
        let scale = self.initializer(format!("layers.{index}.weight_scale"), &[scales.len()], scales.to_vec());
        let zeros = vec![0u8; scales.len()];
        let zero =
            self.raw_initializer(format!("layers.{index}.weight_zero_point"), &[scales.len()], DataType::INT8, zeros);
        self.side_node("DequantizeLinear", format!("layers.{index}.weight"), &[q, scale, zero], vec![int("axis", 0)])
    }
}

fn ints(name: &str, values: &[usize]) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.to_string();
    a.type_ = AttributeType::INTS.into();
    a.ints = values.iter().map(|&v| v as i64).collect();
    a
}

fn float(name: &str, value: f32) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.to_string();
    a.type_ = AttributeType::FLOAT.into();
    a.f = value;
    a
}

fn int(name: &str, value: i64) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.name = name.to_string();
    a.type_ = AttributeType::INT.into();
    a.i = value;
    a
}

/// A float tensor type with dimensions given as fixed sizes or names.
fn value_info(name: &str, dims: &[Result<usize, &str>]) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    shape.dim = dims
        .iter()
        .map(|d| {
            let mut dim = Dimension::new();
            dim.value = Some(match d {
                Ok(v) => dimension::Value::DimValue(*v as i64),
                Err(p) => dimension::Value::DimParam(p.to_string()),
            });
            dim
        })
        .collect();
    let mut tensor = type_proto::Tensor::new();
    tensor.elem_type = DataType::FLOAT as i32;
    tensor.shape = Some(shape).into();
    let mut ty = TypeProto::new();
    ty.value = Some(type_proto::Value::TensorType(tensor));
    let mut info = ValueInfoProto::new();
    info.name = name.to_string();
    info.type_ = Some(ty).into();
    info
}

/// Conv weight `[OC, k, k, C]` (channels-last) → `[OC, C, k, k]` (ONNX).
fn kernel_to_onnx<T: Copy + Default>(weight: &[T], oc: usize, k: usize, c: usize) -> Vec<T> {
    let mut out = vec![T::default(); weight.len()];
    for o in 0..oc {
        for y in 0..k {
            for x in 0..k {
                for ch in 0..c {
                    out[((o * c + ch) * k + y) * k + x] = weight[((o * k + y) * k + x) * c + ch];
                }
            }
        }
    }
    out
}

/// Weights `[rows × k]` quantized as the 8-bit file holds them (each row
/// symmetric, its largest magnitude at ±127): the bytes and the rows' scales.
/// An 8-bit file's weights load as `byte · scale`, which quantize back to
/// the same bytes.
fn quantized_rows(w: &[f32], rows: usize, index: usize, kind: &str) -> Result<(Vec<i8>, Vec<f32>), ExportError> {
    let k = w.len().checked_div(rows).unwrap_or(0);
    quantize_rows(w, rows, k).map_err(|message| ExportError::Inconsistent { index, kind: kind.to_string(), message })
}

/// Adds the ONNX nodes of layer `index` of `model` (per-example input
/// `shape`); `step`: its input step when it computes in 8 bits.
fn add_layer(
    graph: &mut Graph,
    model: &Sequential,
    index: usize,
    shape: &[usize],
    step: Option<f32>,
) -> Result<(), ExportError> {
    let node = &model.layers()[index];
    let kind = node.kind();
    let inconsistent = |message: String| ExportError::Inconsistent { index, kind: kind.to_string(), message };
    let image = |shape: &[usize]| {
        <[usize; 3]>::try_from(shape).map_err(|_| inconsistent(format!("expects an image input, got {shape:?}")))
    };
    let out = format!("layers.{index}.{kind}");
    let tensor = |graph: &mut Graph, name: &str, t: &Tensor| {
        graph.initializer(format!("layers.{index}.{name}"), t.shape(), t.data().to_vec())
    };
    match node {
        Node::Dense(dense) => {
            let weight = &dense.weight().value;
            let w = match step {
                Some(step) => {
                    graph.quantize_input(index, step);
                    let (q, scales) = quantized_rows(weight.data(), weight.shape()[0], index, kind)?;
                    graph.quantized_weight(index, weight.shape(), &q, &scales)
                }
                None => tensor(graph, "weight", weight),
            };
            let b = tensor(graph, "bias", &dense.bias().value);
            // y = x · Wᵀ + b, with W [out, in] as stored.
            graph.node("Gemm", out, &[w, b], vec![int("transB", 1)]);
        }
        Node::Conv2d(conv) => {
            let Conv2dConfig { filters, kernel, stride, padding, .. } = conv.config();
            let [h, w, c] = image(shape)?;
            let [oh, ow, top, left] = padding.output(h, w, kernel, stride).map_err(inconsistent)?;
            // Zeros after the last row and column: whatever the output needs beyond the input.
            let after = |o: usize, i: usize, before: usize| ((o - 1) * stride + kernel).saturating_sub(i + before);
            let pads = match padding {
                Padding::Valid => [0, 0, 0, 0],
                Padding::Same => [top, left, after(oh, h, top), after(ow, w, left)],
            };
            let weight = conv.weight().value.data();
            let dims = [filters, c, kernel, kernel];
            let wname = match step {
                Some(step) => {
                    graph.quantize_input(index, step);
                    // Rows are filters in both layouts: quantize, then transpose the bytes.
                    let (q, scales) = quantized_rows(weight, filters, index, kind)?;
                    graph.quantized_weight(index, &dims, &kernel_to_onnx(&q, filters, kernel, c), &scales)
                }
                None => graph.initializer(
                    format!("layers.{index}.weight"),
                    &dims,
                    kernel_to_onnx(weight, filters, kernel, c),
                ),
            };
            let bname = tensor(graph, "bias", &conv.bias().value);
            let attrs =
                vec![ints("kernel_shape", &[kernel, kernel]), ints("strides", &[stride, stride]), ints("pads", &pads)];
            graph.node("Conv", out, &[wname, bname], attrs);
        }
        Node::Pool2d(pool) => {
            let op = match pool.pool_kind() {
                PoolKind::Max => "MaxPool",
                PoolKind::Mean => "AveragePool",
            };
            let (size, stride) = (pool.size(), pool.stride());
            graph.node(op, out, &[], vec![ints("kernel_shape", &[size, size]), ints("strides", &[stride, stride])]);
        }
        Node::Flatten(_) => {
            if shape.len() == 3 && shape[2] > 1 {
                // chiffre flattens [H, W, C]: bring the channels last first.
                graph.node(
                    "Transpose",
                    format!("layers.{index}.to_channels_last"),
                    &[],
                    vec![ints("perm", &[0, 2, 3, 1])],
                );
            }
            graph.node("Flatten", out, &[], vec![int("axis", 1)]);
        }
        Node::Relu(_) => graph.node("Relu", out, &[], vec![]),
        Node::Sigmoid(_) => graph.node("Sigmoid", out, &[], vec![]),
        Node::Tanh(_) => graph.node("Tanh", out, &[], vec![]),
        // Inverted dropout is the identity at inference.
        Node::Dropout(_) => {}
        // Inference uses the running statistics; ONNX's channel axis is 1 for
        // both [N, C, H, W] and [N, C].
        Node::BatchNorm(bn) => {
            let inputs = vec![
                tensor(graph, "weight", &bn.scale().value),
                tensor(graph, "bias", &bn.shift().value),
                tensor(graph, "running_mean", bn.running_mean()),
                tensor(graph, "running_var", bn.running_var()),
            ];
            graph.node("BatchNormalization", out, &inputs, vec![float("epsilon", bn.config().eps)]);
        } // A new layer kind gets its arm here: the match is exhaustive, so the
          // compiler asks for it.
    }
    Ok(())
}

/// The ONNX model of `model`; `training` (the settings and results stored
/// in its file) goes into the metadata, with its `test_accuracy` on its own.
pub fn to_onnx(model: &Sequential, training: Option<&serde_json::Value>) -> Result<ModelProto, ExportError> {
    to_onnx_int8(model, training, &[])
}

/// [`to_onnx`] for an 8-bit model file: the layers of `steps` (`(layer
/// index, input step)`, as [`crate::model::ModelFile::int8`] holds them)
/// in QDQ form (see the module documentation); with no steps, the float graph.
pub fn to_onnx_int8(
    model: &Sequential,
    training: Option<&serde_json::Value>,
    steps: &[InputScale],
) -> Result<ModelProto, ExportError> {
    let spec = model.spec();
    let [h, w, c] = spec.input;
    let mut graph = Graph { nodes: Vec::new(), initializers: Vec::new(), current: INPUT.to_string() };
    let mut shape: Vec<usize> = spec.input.to_vec();
    for (index, node) in model.layers().iter().enumerate() {
        let step = steps.iter().find(|(layer, _)| *layer == index).map(|&(_, step)| step);
        add_layer(&mut graph, model, index, &shape, step)?;
        shape = node.output_shape().to_vec();
    }
    graph.node("Softmax", OUTPUT.to_string(), &[], vec![int("axis", 1)]);

    let mut g = GraphProto::new();
    g.name = spec.name.clone();
    g.node = graph.nodes;
    g.initializer = graph.initializers;
    g.input = vec![value_info(INPUT, &[Err("N"), Ok(c), Ok(h), Ok(w)])];
    g.output = vec![value_info(OUTPUT, &[Err("N"), Ok(model.num_classes())])];

    let spec_json = serde_json::to_string(spec).map_err(|e| ExportError::Encode(e.to_string()))?;
    let mut meta = vec![
        ("chiffre.architecture", spec.name.clone()),
        ("chiffre.spec", spec_json),
        ("chiffre.input", format!("[N, {c}, {h}, {w}] float, 0 background to 1 ink (MNIST pixels / 255)")),
    ];
    if !steps.is_empty() {
        meta.push(("chiffre.int8", "QDQ: 7-bit activations (uint8), int8 weights with one scale per output".into()));
    }
    if let Some(training) = training {
        if let Some(acc) = training.get("test_accuracy").and_then(|a| a.as_f64()) {
            meta.push(("chiffre.test_accuracy", acc.to_string()));
        }
        meta.push(("chiffre.training", training.to_string()));
    }
    let mut onnx = ModelProto::new();
    onnx.ir_version = IR_VERSION;
    let mut opset = OperatorSetIdProto::new();
    opset.version = OPSET;
    onnx.opset_import = vec![opset];
    onnx.producer_name = "chiffre".to_string();
    onnx.producer_version = env!("CARGO_PKG_VERSION").to_string();
    onnx.doc_string = format!("{}: a chiffre network; outputs the probability of each class", spec.name);
    onnx.metadata_props = meta
        .into_iter()
        .map(|(k, v)| {
            let mut e = StringStringEntryProto::new();
            e.key = k.to_string();
            e.value = v;
            e
        })
        .collect();
    onnx.graph = Some(g).into();
    Ok(onnx)
}

/// The bytes of the ONNX file of `model` (see [`to_onnx`]).
pub fn onnx_bytes(model: &Sequential, training: Option<&serde_json::Value>) -> Result<Vec<u8>, ExportError> {
    onnx_bytes_int8(model, training, &[])
}

/// The bytes of the ONNX file of an 8-bit `model` (see [`to_onnx_int8`]).
pub fn onnx_bytes_int8(
    model: &Sequential,
    training: Option<&serde_json::Value>,
    steps: &[InputScale],
) -> Result<Vec<u8>, ExportError> {
    to_onnx_int8(model, training, steps)?.write_to_bytes().map_err(|e| ExportError::Encode(e.to_string()))
}

/// Writes the ONNX file of `model` to `path` atomically (temporary file,
/// then rename): a failure leaves no file behind. `steps`: an 8-bit file's
/// input steps (QDQ form, [`to_onnx_int8`]), or none.
pub fn write_onnx(
    model: &Sequential,
    training: Option<&serde_json::Value>,
    steps: &[InputScale],
    path: &Path,
) -> Result<(), ExportError> {
    let bytes = onnx_bytes_int8(model, training, steps)?;
    crate::fsutil::write_atomic(path, &bytes)
        .map_err(|source| ExportError::Write { path: path.display().to_string(), source })
}
