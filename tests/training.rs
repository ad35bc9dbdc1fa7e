//! Training on small subsets of the real MNIST: the engine must learn, be
//! reproducible, and save models that load back to the same outputs.

use chiffre::data::{default_data_dir, Mnist};
use chiffre::layers::Mode;
use chiffre::loss::Loss;
use chiffre::model::{load, preset, save, Sequential};
use chiffre::optim::OptimizerKind;
use chiffre::tensor::Tensor;
use chiffre::train::{evaluate, train, Quiet, TrainConfig};
use std::sync::OnceLock;

fn mnist() -> &'static Mnist {
    static DATA: OnceLock<Mnist> = OnceLock::new();
    DATA.get_or_init(|| Mnist::load(&default_data_dir()).expect("the bundled MNIST loads"))
}

fn config(epochs: usize, batch_size: usize, optimizer: OptimizerKind) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size,
        optimizer,
        lr: optimizer.default_lr(),
        loss: Loss::CrossEntropy,
        seed: 3,
        ..TrainConfig::default()
    }
}

fn trained(arch: &str, n: usize, config: &TrainConfig) -> Sequential {
    let mut model = Sequential::new(&preset(arch, 10).unwrap(), config.seed).unwrap();
    train(&mut model, &mnist().train.take(n), None, config, &mut Quiet).unwrap();
    model
}

#[test]
fn untrained_models_are_near_chance() {
    let test = mnist().test.take(1000);
    let mut model = Sequential::new(&preset("cnn", 10).unwrap(), 1).unwrap();
    let result = evaluate(&mut model, &test, Loss::CrossEntropy);
    assert!(result.accuracy < 0.3, "an untrained CNN should guess, got {}", result.accuracy);
}

#[test]
fn cnn_learns_from_a_small_subset() {
    let model = &mut trained("cnn", 8000, &config(1, 32, OptimizerKind::RMSPROP));
    let result = evaluate(model, &mnist().test.take(1000), Loss::CrossEntropy);
    assert!(result.accuracy > 0.9, "CNN on 8000 images, 1 epoch: accuracy {}", result.accuracy);
}

#[test]
fn every_optimizer_and_loss_lowers_the_loss() {
    let test = mnist().test.take(500);
    for (optimizer, loss) in [
        (OptimizerKind::SGD, Loss::CrossEntropy),
        (OptimizerKind::Sgd { momentum: 0.9 }, Loss::CrossEntropy),
        (OptimizerKind::RMSPROP, Loss::Mse),
        (OptimizerKind::ADAM, Loss::CrossEntropy),
    ] {
        let mut model = Sequential::new(&preset("mlp", 10).unwrap(), 5).unwrap();
        let before = evaluate(&mut model, &test, loss).loss;
        // Plain SGD needs a larger step than Keras' default 0.01 to move in 63 steps.
        let lr = if optimizer == OptimizerKind::SGD { 0.1 } else { optimizer.default_lr() };
        let cfg = TrainConfig { loss, lr, ..config(1, 32, optimizer) };
        let history = train(&mut model, &mnist().train.take(2000), Some(&test), &cfg, &mut Quiet).unwrap();
        let after = history[0].val_loss.unwrap();
        assert!(after < before * 0.8, "{optimizer:?} {loss:?}: loss {before} → {after}");
        assert!(history[0].val_accuracy.unwrap() > 0.75, "{optimizer:?} {loss:?}: {:?}", history[0]);
    }
}

#[test]
fn same_seed_gives_same_weights_and_another_seed_does_not() {
    let cfg = config(1, 64, OptimizerKind::RMSPROP);
    let weights =
        |m: &Sequential| -> Vec<f32> { m.named_params().iter().flat_map(|(_, p)| p.value.data().to_vec()).collect() };
    let a = weights(&trained("cnn", 640, &cfg));
    let b = weights(&trained("cnn", 640, &cfg));
    assert!(a == b, "two runs with the same seed differ");
    let c = weights(&trained("cnn", 640, &TrainConfig { seed: 4, ..cfg }));
    assert!(a != c, "a different seed gave the same weights");
}

#[test]
fn saved_model_loads_back_to_identical_outputs() {
    let mut model = trained("cnn", 256, &config(1, 64, OptimizerKind::ADAM));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    save(&model, &serde_json::json!({"note": "test"}), &path).unwrap();
    let mut loaded = load(&path).unwrap();
    assert_eq!(loaded.training.as_ref().unwrap()["note"], "test");
    assert_eq!(loaded.model.spec(), model.spec());
    let mut x = Tensor::zeros(&[50, 28, 28, 1]);
    let mut labels = Vec::new();
    mnist().test.fill_batch(&(0..50).collect::<Vec<_>>(), x.data_mut(), &mut labels);
    let want = model.forward(&x, Mode::Eval).clone();
    let got = loaded.model.forward(&x, Mode::Eval);
    assert_eq!(got.data(), want.data(), "outputs differ after save → load");
    // No temporary file is left beside the model.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("m.safetensors")]);
}

#[test]
fn a_diverging_run_stops_with_an_error() {
    let mut model = Sequential::new(&preset("mlp", 10).unwrap(), 1).unwrap();
    let cfg = TrainConfig { lr: 1e30, ..config(1, 32, OptimizerKind::SGD) };
    let err = train(&mut model, &mnist().train.take(2000), None, &cfg, &mut Quiet).unwrap_err();
    assert!(err.to_string().contains("diverged"), "{err}");
}

#[test]
fn chunked_inference_gives_the_same_scores_as_one_pass() {
    let mut model = trained("cnn", 256, &config(1, 64, OptimizerKind::RMSPROP));
    let n = model.infer_chunk() * 2 + 37;
    let mut x = Tensor::zeros(&[n, 28, 28, 1]);
    let mut labels = Vec::new();
    mnist().test.fill_batch(&(0..n).collect::<Vec<_>>(), x.data_mut(), &mut labels);
    let whole = model.forward(&x, Mode::Eval).clone();
    model.input_mut(n).data_mut().copy_from_slice(x.data());
    let chunked = model.infer_loaded();
    assert_eq!(chunked.shape(), whole.shape());
    for (i, (a, b)) in chunked.data().iter().zip(whole.data()).enumerate() {
        assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "score {i}: chunked {a}, whole {b}");
    }
}

/// Every parameter gradient of the model, in order.
fn gradients(model: &Sequential) -> Vec<f32> {
    model.named_params().iter().flat_map(|(_, p)| p.grad.data().to_vec()).collect()
}

#[test]
fn fused_steps_give_the_numbers_of_the_layers_one_by_one() {
    // cnn: conv → relu → pool (twice) and conv → relu; fast: conv → pool → batch norm → relu;
    // best: conv → batch norm → relu;
    // the third: conv → pool → relu, the ReLU after the pooling.
    let pool_then_relu = chiffre::model::ModelSpec::parse(
        r#"
        name = "pool_then_relu"
        input = [28, 28, 1]
        [[layers]]
        type = "conv2d"
        filters = 6
        kernel = 3
        [[layers]]
        type = "max_pool2d"
        size = 2
        [[layers]]
        type = "relu"
        [[layers]]
        type = "conv2d"
        filters = 5
        kernel = 3
        [[layers]]
        type = "flatten"
        [[layers]]
        type = "dense"
        units = 10
        "#,
        "toml",
    )
    .unwrap();
    let n = 70;
    let mut x = Tensor::zeros(&[n, 28, 28, 1]);
    let mut labels = Vec::new();
    mnist().train.fill_batch(&(0..n).collect::<Vec<_>>(), x.data_mut(), &mut labels);
    for spec in [preset("cnn", 10).unwrap(), preset("fast", 10).unwrap(), preset("best", 10).unwrap(), pool_then_relu] {
        // Two copies from the same seed (dropout draws the same masks in both).
        let (mut model, mut copy) = (Sequential::new(&spec, 5).unwrap(), Sequential::new(&spec, 5).unwrap());
        model.input_mut(n).data_mut().copy_from_slice(x.data());
        let each = model.forward_each_layer(Mode::Train).clone();
        let loss_each = model.backward(Loss::CrossEntropy, &labels);
        let grads_each = gradients(&model);
        copy.input_mut(n).data_mut().copy_from_slice(x.data());
        let fused = copy.forward_loaded(Mode::Train).clone();
        let loss_fused = copy.backward(Loss::CrossEntropy, &labels);
        let grads_fused = gradients(&copy);
        assert_eq!(fused.data(), each.data(), "{}: scores", spec.name);
        assert_eq!(loss_fused, loss_each, "{}: loss", spec.name);
        assert_eq!(grads_fused.len(), grads_each.len());
        let max = grads_each.iter().fold(0.0f32, |m, g| m.max(g.abs()));
        assert!(max > 0.0, "{}: the gradients are not all zero", spec.name);
        for (i, (a, b)) in grads_fused.iter().zip(&grads_each).enumerate() {
            assert!((a - b).abs() <= 1e-6 * max, "{}: gradient {i}: fused {a}, one by one {b}", spec.name);
        }
    }
}
