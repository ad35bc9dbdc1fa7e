//! Training in the page: the MNIST files the page fetched, one network, and
//! a [`Stepper`] that a Web Worker drives a chunk of batches at a time (it
//! times the chunks with the browser's clock and answers "pause" and "stop"
//! between them). The steps are the engine's own ([`chiffre_core::train`]),
//! so a page's run gives the weights `chiffre train` gives with the same
//! settings and data.

use chiffre_core::data::{idx_from_bytes, Dataset, IdxArray};
use chiffre_core::model::{preset, to_bytes, Sequential, PRESETS};
use chiffre_core::optim::OptimizerKind;
use chiffre_core::train::{evaluate, Progress, Recipe, Stepper, TrainConfig};
use serde::Deserialize;
use std::path::Path;

/// The four MNIST files, in the order the page gives them.
pub const FILES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// The most training images a page may ask for (MNIST's 60,000).
const MAX_LIMIT: usize = 60_000;

/// What the page asks for, as JSON: `{"arch": "cnn", "optimizer": "adam",
/// "lr": 0.001, "batch_size": 64, "epochs": 1, "limit": 10000, "seed": 1}`;
/// every field but `arch` may be left out (the preset's recipe, then the
/// tutorial's settings).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A preset: perceptron, mlp, cnn, fast or best.
    pub arch: String,
    /// sgd, rmsprop, adam or adamw.
    pub optimizer: Option<String>,
    /// The learning rate (the optimizer's default when left out).
    pub lr: Option<f32>,
    /// Examples per step.
    pub batch_size: Option<usize>,
    /// Passes over the training images.
    pub epochs: Option<usize>,
    /// How many of the training images (the first ones; all when left out).
    pub limit: Option<usize>,
    /// The seed of the weights and of the shuffles.
    pub seed: Option<u64>,
}

impl Settings {
    /// The training settings: the preset's recipe over the tutorial's, then the page's choices.
    fn config(&self, spec: &chiffre_core::model::ModelSpec) -> Result<TrainConfig, String> {
        let recipe = Recipe::of(spec).map_err(|e| e.to_string())?;
        let mut config = recipe.over_defaults();
        if let Some(name) = &self.optimizer {
            config.optimizer = match name.as_str() {
                "sgd" => OptimizerKind::SGD,
                "rmsprop" => OptimizerKind::RMSPROP,
                "adam" => OptimizerKind::ADAM,
                "adamw" => OptimizerKind::ADAMW,
                other => return Err(format!("optimizer: expected sgd, rmsprop, adam or adamw, got {other:?}")),
            };
            config.lr = config.optimizer.default_lr();
        }
        config.lr = self.lr.unwrap_or(config.lr);
        config.batch_size = self.batch_size.unwrap_or(config.batch_size);
        config.epochs = self.epochs.unwrap_or(1);
        config.seed = self.seed.unwrap_or(config.seed);
        // The page trains on the images it was given: composing the digits
        // cut from touching neighbours would hold the page up for a minute.
        config.cut_digits = 0;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

/// A run in progress (or finished): the network, its data and its stepper.
pub struct Run {
    /// The settings as asked.
    pub settings: Settings,
    /// The network being trained.
    pub network: Sequential,
    train: Dataset,
    stepper: Stepper,
}

/// The page's MNIST files and its run.
#[derive(Default)]
pub struct Training {
    files: [Option<IdxArray>; 4],
    run: Option<Run>,
}

impl Training {
    /// Reads MNIST file `index` of [`FILES`] (gzipped or not) from its bytes.
    pub fn set_file(&mut self, index: usize, bytes: &[u8]) -> Result<(), String> {
        let name = FILES.get(index).ok_or_else(|| {
            format!("file {index}: expected 0 to 3 (train images, train labels, test images, test labels)")
        })?;
        let array = idx_from_bytes(bytes, Path::new(name)).map_err(|e| e.to_string())?;
        self.files[index] = Some(array);
        Ok(())
    }

    /// The data set of files `images` and `labels`, its first `limit` examples.
    fn dataset(&self, images: usize, labels: usize, limit: usize) -> Result<Dataset, String> {
        let missing = |i: usize| format!("the MNIST file {} is not loaded", FILES[i]);
        let img = self.files[images].clone().ok_or_else(|| missing(images))?;
        let lab = self.files[labels].clone().ok_or_else(|| missing(labels))?;
        let data = Dataset::from_idx(img, Path::new(FILES[images]), lab, Path::new(FILES[labels]))
            .map_err(|e| e.to_string())?;
        Ok(if limit < data.len() { data.take(limit) } else { data })
    }

    /// Starts a run with `settings` (JSON, see [`Settings`]).
    pub fn begin(&mut self, settings: &str) -> Result<(), String> {
        let settings: Settings = serde_json::from_str(settings).map_err(|e| format!("the training settings: {e}"))?;
        let spec = preset(&settings.arch, 10)
            .ok_or_else(|| format!("arch: expected one of {}, got {:?}", PRESETS.join(", "), settings.arch))?;
        let config = settings.config(&spec)?;
        let limit = settings.limit.unwrap_or(MAX_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(format!("limit: expected 1 to {MAX_LIMIT} training images, got {limit}"));
        }
        let train = self.dataset(0, 1, limit)?;
        let network = Sequential::new(&spec, config.seed).map_err(|e| e.to_string())?;
        let stepper = Stepper::new(&network, &train, config).map_err(|e| e.to_string())?;
        self.run = Some(Run { settings, network, train, stepper });
        Ok(())
    }

    /// Runs up to `batches` steps of the run.
    pub fn step(&mut self, batches: usize) -> Result<Progress, String> {
        let run = self.run.as_mut().ok_or("no training run: begin one first")?;
        run.stepper.run(&mut run.network, &run.train, batches).map_err(|e| e.to_string())
    }

    /// The run, if one was begun.
    pub fn run(&self) -> Option<&Run> {
        self.run.as_ref()
    }

    /// The trained network's accuracy and loss on the first `limit` test
    /// images (all when 0), as JSON: `{"test_accuracy", "test_loss", "count"}`.
    pub fn evaluate(&mut self, limit: usize) -> Result<String, String> {
        let limit = if limit == 0 { usize::MAX } else { limit };
        let test = self.dataset(2, 3, limit)?;
        let run = self.run.as_mut().ok_or("no training run: begin one first")?;
        let result = evaluate(&mut run.network, &test, run.stepper.config().loss);
        Ok(format!("{{\"test_accuracy\":{},\"test_loss\":{},\"count\":{}}}", result.accuracy, result.loss, test.len()))
    }

    /// The run's network as a model file (safetensors), with its settings.
    pub fn model_file(&self) -> Result<Vec<u8>, String> {
        let run = self.run.as_ref().ok_or("no training run: begin one first")?;
        let progress = run.stepper.progress();
        let training = serde_json::json!({
            "arch": run.settings.arch,
            "config": run.stepper.config(),
            "limit": run.train.len(),
            "steps": progress.steps,
            "trained_in": "a web page (chiffre site)",
        });
        to_bytes(&run.network, &training, None)
    }

    /// What the network being trained makes of test image `index`, as JSON
    /// `{"label", "input", "kind", "shape", "values"}`: the picture (784
    /// values, 0–1) and the output of its first ReLU (the first
    /// convolution's feature maps, `[H, W, C]`, for a CNN; the hidden units
    /// for the MLP), or its scores when it has none (the perceptron).
    pub fn inspect_test(&mut self, index: usize) -> Result<String, String> {
        let (Some(images), Some(labels)) = (&self.files[2], &self.files[3]) else {
            return Err("the MNIST test files are not loaded".into());
        };
        let pixels = images.dims.iter().skip(1).product::<usize>();
        let picture = images.data.get(index * pixels..(index + 1) * pixels).ok_or_else(|| {
            format!("test image {index}: the test set has {} images", images.dims.first().copied().unwrap_or(0))
        })?;
        let label = labels.data.get(index).copied().unwrap_or_default();
        let input: Vec<f32> = picture.iter().map(|&v| f32::from(v) / 255.0).collect();
        let run = self.run.as_mut().ok_or("no training run: begin one first")?;
        if run.network.input_shape().iter().product::<usize>() != input.len() {
            return Err(format!("test image {index} does not fit the network's input"));
        }
        let layers = run.network.inspect(&input);
        let shown = layers.iter().find(|l| l.kind == "relu").or(layers.last()).ok_or("the network has no layers")?;
        let values = serde_json::to_string(&shown.values).map_err(|e| e.to_string())?;
        let input = serde_json::to_string(&input).map_err(|e| e.to_string())?;
        Ok(format!(
            "{{\"label\":{label},\"input\":{input},\"kind\":\"{}\",\"shape\":{:?},\"values\":{values}}}",
            shown.kind, shown.shape
        ))
    }

    /// The first layer's weights as pictures, JSON `{"shape": [n, h, w],
    /// "values": [...]}`: a convolution's filters (first input channel), or a
    /// dense layer's weights over the 28×28 input, one picture per unit (at
    /// most 32 of either).
    pub fn first_layer(&self) -> Result<String, String> {
        let run = self.run.as_ref().ok_or("no training run: begin one first")?;
        let params = run.network.named_params();
        let (_, weight) = params.first().ok_or("the network has no weights")?;
        let shape = weight.value.shape();
        let data = weight.value.data();
        let (n, h, w, stride, step) = match *shape {
            // Convolution: [OC, k, k, C]; channel 0 of each filter.
            [oc, k, k2, c] => (oc.min(32), k, k2, k * k2 * c, c),
            // Dense over a flattened picture: [O, I] with I = 28·28.
            [o, i] if i == 784 => (o.min(32), 28, 28, i, 1),
            _ => return Err(format!("the first layer's weights {shape:?} are not pictures")),
        };
        let values: Vec<String> =
            (0..n).flat_map(|f| (0..h * w).map(move |p| data[f * stride + p * step].to_string())).collect();
        Ok(format!("{{\"shape\":[{n},{h},{w}],\"values\":[{}]}}", values.join(",")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IDX file of `dims` holding `data`.
    fn idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            bytes.extend((*d as u32).to_be_bytes());
        }
        bytes.extend(data);
        bytes
    }

    fn loaded() -> Training {
        let mut t = Training::default();
        // 200 pictures whose class is which row holds the ink: learnable in one epoch.
        let n = 200;
        let mut images = vec![0u8; n * 784];
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        for (i, &l) in labels.iter().enumerate() {
            let row = 2 + 2 * l as usize;
            images[i * 784 + row * 28..i * 784 + row * 28 + 28].fill(255);
        }
        for (k, bytes) in [idx(&[n, 28, 28], &images), idx(&[n], &labels)].iter().enumerate() {
            t.set_file(k, bytes).unwrap();
            t.set_file(k + 2, bytes).unwrap();
        }
        t
    }

    #[test]
    fn a_run_learns_and_gives_a_model_file_that_loads() {
        let mut t = loaded();
        t.begin(r#"{"arch": "perceptron", "optimizer": "adam", "lr": 0.01, "batch_size": 20, "epochs": 2}"#).unwrap();
        let mut chunks = 0;
        while !t.step(3).unwrap().done {
            chunks += 1;
        }
        assert_eq!(chunks, 7, "2 epochs of 10 batches, 3 at a time, a chunk ending with its epoch");
        let result: serde_json::Value = serde_json::from_str(&t.evaluate(0).unwrap()).unwrap();
        assert!(result["test_accuracy"].as_f64().unwrap() > 0.9, "{result}");
        assert_eq!(result["count"], 200);
        let model = chiffre_core::Model::from_bytes(&t.model_file().unwrap(), "trained").unwrap();
        assert_eq!(model.network().num_params(), 7850);
        let filters: serde_json::Value = serde_json::from_str(&t.first_layer().unwrap()).unwrap();
        assert_eq!(filters["shape"], serde_json::json!([10, 28, 28]));
        assert_eq!(filters["values"].as_array().unwrap().len(), 10 * 784);
    }

    #[test]
    fn bad_settings_and_missing_files_are_messages() {
        let mut t = Training::default();
        assert!(t.begin(r#"{"arch": "cnn"}"#).unwrap_err().contains("not loaded"));
        let mut t = loaded();
        for (settings, expected) in [
            (r#"{"arch": "resnet"}"#, "arch: expected one of"),
            (r#"{"arch": "cnn", "optimizer": "lion"}"#, "optimizer: expected"),
            (r#"{"arch": "cnn", "batch_size": 0}"#, "batch_size"),
            (r#"{"arch": "cnn", "limit": 0}"#, "limit: expected"),
            (r#"{"arch": "cnn", "speed": 3}"#, "unknown field"),
            ("not json", "the training settings"),
        ] {
            let message = t.begin(settings).unwrap_err();
            assert!(message.contains(expected), "{settings}: {message}");
        }
        assert!(t.set_file(0, b"garbage").is_err());
        assert!(t.set_file(7, b"").unwrap_err().contains("expected 0 to 3"));
        assert!(t.step(1).unwrap_err().contains("no training run"));
    }

    #[test]
    fn a_cnns_first_layer_gives_its_filters_and_feature_maps() {
        let mut t = loaded();
        t.begin(r#"{"arch": "cnn", "limit": 20, "batch_size": 10}"#).unwrap();
        t.step(1).unwrap();
        let filters: serde_json::Value = serde_json::from_str(&t.first_layer().unwrap()).unwrap();
        assert_eq!(filters["shape"], serde_json::json!([32, 3, 3]));
        let maps: serde_json::Value = serde_json::from_str(&t.inspect_test(3).unwrap()).unwrap();
        assert_eq!((maps["kind"].as_str(), maps["label"].as_u64()), (Some("relu"), Some(3)));
        assert_eq!(maps["shape"], serde_json::json!([26, 26, 32]));
        assert_eq!(maps["values"].as_array().unwrap().len(), 26 * 26 * 32);
        assert_eq!(maps["input"].as_array().unwrap().len(), 784);
        assert!(t.inspect_test(200).unwrap_err().contains("200 images"));
        // Training goes on after a look inside (the batch buffers are the training batch's again).
        assert!(t.step(1).is_ok());
    }
}
