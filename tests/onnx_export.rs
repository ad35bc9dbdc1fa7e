//! ONNX export checked by an independent runtime: the exported graph, run
//! by `tract-onnx`, must give chiffre's probabilities (max abs difference
//! ≤ 1e-5) on 100 MNIST test images, for the tutorial's three networks and
//! for stacks that use every exportable layer (stride, `same` padding with
//! an odd total, average pooling, sigmoid, tanh, dropout, several input
//! channels). Random weights and biases are as good a check of the
//! arithmetic as trained ones, and need no training.

mod common;

use chiffre::export::{onnx_bytes, onnx_bytes_int8};
use chiffre::layers::Mode;
use chiffre::model::{load_bytes, preset, to_bytes_int8, ModelSpec, QuantizedNetwork, Sequential};
use common::prelude::*;
use rand::{Rng, SeedableRng};
use tract_onnx::prelude::{tvec, Framework, InferenceModelExt, IntoRunnable, Tensor as TractTensor};

/// Largest difference allowed between chiffre's and tract's probabilities.
const TOLERANCE: f32 = 1e-5;

/// A network of `spec` with every weight and bias drawn uniformly from
/// ±`scale`/√fan-in (biases too, so that bias handling is checked).
fn random_network(spec: &ModelSpec, seed: u64) -> Sequential {
    let mut net = Sequential::new(spec, seed).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    net.visit_params_mut(&mut |_, name, p| {
        let shape = p.value.shape().to_vec();
        // Weights: ±√(6 / fan-in) (He); biases: ±0.2; batch-norm scales (1-D weights): 0.5 to 1.5.
        let range = match (name, shape.len()) {
            ("weight", 1) => 0.5..1.5,
            (_, 1) => -0.2..0.2,
            _ => {
                let bound = (6.0 / shape.iter().skip(1).product::<usize>() as f32).sqrt();
                -bound..bound
            }
        };
        p.value.data_mut().iter_mut().for_each(|v| *v = rng.random_range(range.clone()));
    });
    // Running statistics of batch normalisation: means around 0, variances in [0.5, 2].
    net.visit_buffers_mut(&mut |_, name, t| {
        let range = if name == "running_var" { 0.5..2.0 } else { -0.5..0.5 };
        t.data_mut().iter_mut().for_each(|v| *v = rng.random_range(range.clone()));
    });
    net
}

/// chiffre's probabilities for `input` (`[B, H, W, C]` values).
fn chiffre_probabilities(net: &mut Sequential, input: &[f32]) -> Vec<f32> {
    let [h, w, c] = net.input_shape();
    let batch = input.len() / (h * w * c);
    let x = chiffre::tensor::Tensor::from_vec(&[batch, h, w, c], input.to_vec()).unwrap();
    let classes = net.num_classes();
    let logits = net.forward(&x, Mode::Eval).data().to_vec();
    let mut probabilities = vec![0.0; logits.len()];
    chiffre::loss::softmax_rows(&logits, classes, &mut probabilities);
    probabilities
}

/// `[B, H, W, C]` → `[B, C, H, W]`.
fn to_channels_first(input: &[f32], [h, w, c]: [usize; 3]) -> Vec<f32> {
    let per = h * w * c;
    let mut out = vec![0.0; input.len()];
    for (b, example) in input.chunks_exact(per).enumerate() {
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    out[b * per + (ch * h + y) * w + x] = example[(y * w + x) * c + ch];
                }
            }
        }
    }
    out
}

/// Runs the ONNX `bytes` in tract on `input` (`[B, H, W, C]` values); the
/// batch size is left symbolic in the graph, as exported.
fn tract_probabilities(bytes: &[u8], input: &[f32], shape: [usize; 3], classes: usize) -> Vec<f32> {
    let [h, w, c] = shape;
    let batch = input.len() / (h * w * c);
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .expect("tract reads the exported file")
        .into_optimized()
        .expect("tract optimises the graph")
        .into_runnable()
        .expect("tract can run the graph");
    let x = TractTensor::from_shape(&[batch, c, h, w], &to_channels_first(input, shape)).unwrap();
    let out = model.run(tvec!(x.into())).expect("tract runs the graph");
    assert_eq!(out.len(), 1, "one output");
    let view = out[0].to_plain_array_view::<f32>().unwrap();
    assert_eq!(view.shape(), &[batch, classes], "output `probabilities` is [N, K]");
    view.iter().copied().collect()
}

/// The first `n` MNIST test images, as network inputs in `[0, 1]`.
fn mnist_inputs(n: usize) -> Vec<f32> {
    read_mnist_prefix(Part::TestImages, n).iter().map(|&p| f32::from(p) / 255.0).collect()
}

/// Exports `spec` with random weights and compares tract with chiffre on `input`.
fn check(spec: &ModelSpec, input: &[f32], seed: u64) {
    let mut net = random_network(spec, seed);
    let bytes = onnx_bytes(&net, None).unwrap();
    let want = chiffre_probabilities(&mut net, input);
    let got = tract_probabilities(&bytes, input, spec.input, net.num_classes());
    let diff = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(diff <= TOLERANCE, "{}: tract and chiffre differ by {diff:e}", spec.name);
    // Not a degenerate check: the probabilities change from image to image.
    let classes = net.num_classes();
    let first = &want[..classes];
    let spread = want.chunks_exact(classes).flat_map(|row| row.iter().zip(first).map(|(a, b)| (a - b).abs()));
    let spread = spread.fold(0.0f32, f32::max);
    assert!(spread > 0.01, "{}: every image gets the same probabilities; the check would be weak", spec.name);
}

fn spec(json: &str) -> ModelSpec {
    serde_json::from_str(json).unwrap()
}

#[test]
fn perceptron_matches_in_tract() {
    check(&preset("perceptron", 10).unwrap(), &mnist_inputs(100), 1);
}

#[test]
fn mlp_matches_in_tract() {
    check(&preset("mlp", 10).unwrap(), &mnist_inputs(100), 2);
}

#[test]
fn cnn_matches_in_tract() {
    // Flatten sees 3×3×64 feature maps: the channels-last transpose matters here.
    check(&preset("cnn", 10).unwrap(), &mnist_inputs(100), 3);
}

#[test]
fn every_layer_kind_matches_in_tract() {
    let zoo = spec(
        r#"{"name": "zoo", "layers": [
            {"type": "conv2d", "filters": 6, "kernel": 5, "stride": 2, "padding": "same"},
            {"type": "tanh"},
            {"type": "avg_pool2d", "size": 2},
            {"type": "conv2d", "filters": 4, "kernel": 3},
            {"type": "sigmoid"},
            {"type": "max_pool2d", "size": 2, "stride": 1},
            {"type": "flatten"},
            {"type": "dropout", "rate": 0.5},
            {"type": "dense", "units": 16},
            {"type": "relu"},
            {"type": "dense", "units": 10}]}"#,
    );
    check(&zoo, &mnist_inputs(100), 4);
}

#[test]
fn batch_norm_matches_in_tract() {
    let bn = spec(
        r#"{"name": "bn", "layers": [
            {"type": "conv2d", "filters": 8, "kernel": 3},
            {"type": "batch_norm2d"},
            {"type": "relu"},
            {"type": "max_pool2d", "size": 2},
            {"type": "flatten"},
            {"type": "dense", "units": 32},
            {"type": "batch_norm1d", "eps": 0.001},
            {"type": "relu"},
            {"type": "dense", "units": 10}]}"#,
    );
    check(&bn, &mnist_inputs(100), 7);
}

#[test]
fn several_input_channels_and_odd_padding_match_in_tract() {
    // 3 input channels (the input itself is transposed to NCHW), a kernel of 4
    // with stride 3 and `same` padding (uneven zeros before and after), 2 classes.
    let colour = spec(
        r#"{"name": "colour", "input": [13, 11, 3], "layers": [
            {"type": "conv2d", "filters": 5, "kernel": 4, "stride": 3, "padding": "same"},
            {"type": "relu"},
            {"type": "conv2d", "filters": 3, "kernel": 2, "padding": "same"},
            {"type": "flatten"},
            {"type": "dense", "units": 2}]}"#,
    );
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let input: Vec<f32> = (0..100 * 13 * 11 * 3).map(|_| rng.random_range(0.0..1.0)).collect();
    check(&colour, &input, 5);
}

#[test]
fn the_batch_size_is_dynamic() {
    let mut net = random_network(&preset("cnn", 10).unwrap(), 6);
    let bytes = onnx_bytes(&net, None).unwrap();
    for n in [1, 7] {
        let input = mnist_inputs(n);
        let want = chiffre_probabilities(&mut net, &input);
        let got = tract_probabilities(&bytes, &input, [28, 28, 1], 10);
        let diff = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(diff <= TOLERANCE, "batch {n}: differ by {diff:e}");
    }
}

#[test]
fn cli_export_writes_a_graph_with_the_models_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, model) = trained_perceptron(tmp.path());
    let out = tmp.path().join("exported/perceptron.onnx");
    std::fs::create_dir(out.parent().unwrap()).unwrap();
    let run = chiffre(["export", "--model", arg(&model), "--format", "onnx", "--out", arg(&out)]);
    run.assert_ok();
    assert!(run.stdout.contains("input `input` [N, 1, 28, 28], output `probabilities` [N, 10]"), "{}", run.describe());
    let names: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("perceptron.onnx")], "only the ONNX file, no temporary file");

    // Read back by tract's own protobuf types.
    let proto = tract_onnx::onnx().proto_model_for_path(&out).unwrap();
    let meta: HashMap<String, String> = proto.metadata_props.iter().map(|e| (e.key.clone(), e.value.clone())).collect();
    assert_eq!(meta["chiffre.architecture"], "perceptron");
    let training = read_tensors(&model).metadata.unwrap()["chiffre.training"].clone();
    let training: Value = serde_json::from_str(&training).unwrap();
    let accuracy: f64 = meta["chiffre.test_accuracy"].parse().unwrap();
    assert_eq!(accuracy, training["test_accuracy"].as_f64().unwrap());
    let spec: ModelSpec = serde_json::from_str(&meta["chiffre.spec"]).unwrap();
    assert_eq!(spec, preset("perceptron", 10).unwrap());
    assert!(proto.opset_import.iter().any(|o| o.domain.is_empty() && o.version >= 13));
    let graph = proto.graph.unwrap();
    let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(ops, ["Flatten", "Gemm", "Softmax"]);
    assert_eq!(graph.initializer.len(), 2, "the weight and the bias");

    // And the trained weights give chiffre's probabilities.
    let mut net = chiffre::model::load(&model).unwrap().model;
    let input = mnist_inputs(100);
    let want = chiffre_probabilities(&mut net, &input);
    let got = tract_probabilities(&std::fs::read(&out).unwrap(), &input, [28, 28, 1], 10);
    let diff = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(diff <= TOLERANCE, "trained perceptron: differ by {diff:e}");
}

#[test]
fn cli_export_of_a_bad_model_fails_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("broken.safetensors");
    std::fs::write(&model, b"not a model").unwrap();
    let out = tmp.path().join("out.onnx");
    let run = chiffre(["export", "--model", arg(&model), "--out", arg(&out)]);
    run.assert_error(&[arg(&model), "not a valid safetensors model file"]);
    assert_absent(&[&out]);
    let run = chiffre(["export", "--model", arg(&model), "--format", "tflite"]);
    run.assert_no_panic();
    assert!(!run.status.success() && run.stderr.contains("onnx"), "{}", run.describe());
}

/// An 8-bit file of `spec` (random weights, activation steps calibrated on
/// 200 MNIST test images) exported in QDQ form: tract computes what chiffre's
/// 8-bit network computes, within 5·10⁻⁴ (3·10⁻⁷ measured; a value half a step from
/// two steps rounds up in chiffre and to even in ONNX; the sums run in
/// another order), closer than the float export of the same weights does,
/// and the weights are `int8`: the file is at most 30 % of the float one.
fn check_int8(spec: &ModelSpec, seed: u64) {
    let mut net = random_network(spec, seed);
    let calibration = mnist_inputs(200);
    let steps = QuantizedNetwork::new(&mut net, &calibration).expect("the network quantizes").input_scales();
    let bytes = to_bytes_int8(&net, (&steps, None), &serde_json::json!({}), None).expect("an 8-bit file");
    let file = load_bytes(&bytes, "int8.safetensors").expect("the 8-bit file loads");
    let steps = file.int8.clone().expect("the file is an 8-bit one");
    let input = &calibration[..100 * 784];
    let scores = QuantizedNetwork::from_scales(&file.model, &steps).unwrap().forward(input).to_vec();
    let classes = file.model.num_classes();
    let mut want = vec![0.0; scores.len()];
    chiffre::loss::softmax_rows(&scores, classes, &mut want);
    let qdq = onnx_bytes_int8(&file.model, None, &steps).unwrap();
    let float = onnx_bytes(&file.model, None).unwrap();
    let largest = |got: &[f32]| want.iter().zip(got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    let qdq_diff = largest(&tract_probabilities(&qdq, input, spec.input, classes));
    let float_diff = largest(&tract_probabilities(&float, input, spec.input, classes));
    assert!(qdq_diff <= 5e-4, "{}: tract's QDQ graph and chiffre's 8-bit network differ by {qdq_diff:e}", spec.name);
    assert!(qdq_diff < float_diff, "{}: QDQ {qdq_diff:e}, float {float_diff:e}: the graph is not in 8 bits", spec.name);
    assert!(qdq.len() * 10 <= float.len() * 3, "{}: QDQ {} bytes, float {}", spec.name, qdq.len(), float.len());
}

#[test]
fn an_int8_cnn_exports_in_qdq_form_and_matches_in_tract() {
    check_int8(&preset("cnn", 10).unwrap(), 21);
}

#[test]
fn an_int8_network_with_batch_norm_exports_in_qdq_form_and_matches_in_tract() {
    check_int8(&preset("fast", 10).unwrap(), 22);
}
