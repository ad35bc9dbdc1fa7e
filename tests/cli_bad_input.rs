//! End-to-end tests of the `chiffre` binary on bad input (data, model files,
//! specs, flags): each must fail with one clear `error:` message naming the
//! file or layer, exit status 1, no panic, and no output file left behind.

mod common;

use common::prelude::*;

// ---------------------------------------------------------------- 6. missing data

#[test]
fn missing_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("no-such-dir");
    let out = tmp.path().join("m.safetensors");
    train_fails(&dir, &out, QUICK, &[arg(&dir), "data directory not found", "train-images-idx3-ubyte.gz"]);
}

#[test]
fn data_directory_missing_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::mnist(100, 100).gzipped(true).omit(Part::TestLabels).write(&tmp.path().join("data"));
    let out = tmp.path().join("m.safetensors");
    train_fails(
        &dir,
        &out,
        QUICK,
        &[arg(&dir), "missing MNIST file t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz"],
    );
}

// ---------------------------------------------------------------- 7. corrupt data files

#[test]
fn small_data_directory_trains_raw_and_gzipped() {
    // The baseline of the corruption tests: the uncorrupted layouts load.
    for gz in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::mnist(100, 100).gzipped(gz).write(&tmp.path().join("data"));
        let out = tmp.path().join("m.safetensors");
        let run = train(&dir, &out, QUICK);
        run.assert_ok();
        assert_eq!(run.test_accuracy().2, 100);
        assert!(out.is_file() && metrics_of(&out).is_file());
    }
}

#[test]
fn truncated_images_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::mnist(100, 100).edit(Part::TrainImages, |b| b.truncate(5000)).write(&tmp.path().join("data"));
    let file = dir.join(Part::TrainImages.base());
    let out = tmp.path().join("m.safetensors");
    train_fails(
        &dir,
        &out,
        QUICK,
        &[arg(&file), "truncated IDX file", "header says 100×28×28 = 78400 bytes of data, found 4984"],
    );
}

#[test]
fn wrong_magic_number() {
    // The magic written little-endian: 03 08 00 00.
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::mnist(100, 100)
        .edit(Part::TestImages, |b| b[..4].copy_from_slice(&IMAGES_MAGIC.to_le_bytes()))
        .write(&tmp.path().join("data"));
    let file = dir.join(Part::TestImages.base());
    let out = tmp.path().join("m.safetensors");
    train_fails(&dir, &out, QUICK, &[arg(&file), "not an IDX file", "[03 08 00 00]", "00 00 <type>"]);
}

#[test]
fn unsupported_idx_element_type() {
    // 0x0D: 32-bit floats.
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::mnist(100, 100).edit(Part::TrainImages, |b| b[2] = 0x0D).write(&tmp.path().join("data"));
    let file = dir.join(Part::TrainImages.base());
    let out = tmp.path().join("m.safetensors");
    train_fails(&dir, &out, QUICK, &[arg(&file), "unsupported IDX data type 0x0d", "type 0x08"]);
}

#[test]
fn labels_file_in_place_of_images_file() {
    let tmp = tempfile::tempdir().unwrap();
    let base = DataDir::mnist(100, 100);
    let labels = base.idx[1].clone();
    let dir = base.edit(Part::TrainImages, |b| *b = labels).write(&tmp.path().join("data"));
    let file = dir.join(Part::TrainImages.base());
    let out = tmp.path().join("m.safetensors");
    train_fails(&dir, &out, QUICK, &[arg(&file), "expected an images file with 3 dimensions", "labels file?"]);
}

#[test]
fn labels_magic_on_images_file() {
    // A realistic slip: the images file with the labels magic 0x00000801.
    // The header then declares a 1-D array of 100 bytes followed by junk.
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::mnist(100, 100).edit(Part::TrainImages, |b| b[3] = 1).write(&tmp.path().join("data"));
    let file = dir.join(Part::TrainImages.base());
    let out = tmp.path().join("m.safetensors");
    train_fails(&dir, &out, QUICK, &[arg(&file)]);
}

#[test]
fn image_and_label_counts_disagree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::mnist(100, 100)
        .edit(Part::TestLabels, |b| {
            b.truncate(8 + 99);
            b[4..8].copy_from_slice(&99u32.to_be_bytes());
        })
        .gzipped(true)
        .write(&tmp.path().join("data"));
    let images = dir.join("t10k-images-idx3-ubyte.gz");
    let labels = dir.join("t10k-labels-idx1-ubyte.gz");
    let out = tmp.path().join("m.safetensors");
    train_fails(&dir, &out, QUICK, &[arg(&images), arg(&labels), "has 100 images", "has 99 labels"]);
}

#[test]
fn corrupt_gzip_stream() {
    // A valid gzip header (1f 8b, deflate, no flags) then garbage.
    let mut bytes = vec![0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff];
    bytes.extend(b"this is not a deflate stream at all, just garbage bytes".iter().cycle().take(400));
    let tmp = tempfile::tempdir().unwrap();
    let dir =
        DataDir::mnist(100, 100).gzipped(true).disk_bytes(Part::TrainLabels, bytes).write(&tmp.path().join("data"));
    let file = dir.join("train-labels-idx1-ubyte.gz");
    let out = tmp.path().join("m.safetensors");
    train_fails(&dir, &out, QUICK, &[arg(&file), "cannot decompress gzip data", "truncated or damaged"]);
}

#[test]
fn cut_off_gzip_file() {
    // A download that stopped half way: a valid gzip stream cut in two.
    let base = DataDir::mnist(100, 100).gzipped(true);
    let whole = gzip(&base.idx[0]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = base.disk_bytes(Part::TrainImages, whole[..whole.len() / 2].to_vec()).write(&tmp.path().join("data"));
    let file = dir.join("train-images-idx3-ubyte.gz");
    let out = tmp.path().join("m.safetensors");
    train_fails(&dir, &out, QUICK, &[arg(&file), "cannot decompress gzip data"]);
}

#[test]
fn empty_data_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::mnist(100, 100).disk_bytes(Part::TestImages, Vec::new()).write(&tmp.path().join("data"));
    let file = dir.join(Part::TestImages.base());
    let out = tmp.path().join("m.safetensors");
    train_fails(&dir, &out, QUICK, &[arg(&file), "file is empty", "expected an IDX file"]);
}

#[test]
fn header_only_images_file_with_zero_images() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::mnist(100, 100)
        .edit(Part::TrainImages, |b| *b = idx_header(IMAGES_MAGIC, &[0, 28, 28]))
        .edit(Part::TrainLabels, |b| *b = idx_header(common::LABELS_MAGIC, &[0]))
        .write(&tmp.path().join("data"));
    let file = dir.join(Part::TrainImages.base());
    let out = tmp.path().join("m.safetensors");
    train_fails(&dir, &out, QUICK, &[arg(&file), "contains no examples"]);
}

// ---------------------------------------------------------------- 8. labels beyond the classes

#[test]
fn eval_with_a_label_beyond_the_class_count() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, model) = trained_perceptron(tmp.path());
    let bad = DataDir::mnist(100, 100).set_label(Part::TestLabels, 5, 12).write(&tmp.path().join("bad"));
    let run = chiffre(["eval", "--model", arg(&model), "--data", arg(&bad)]);
    run.assert_error(&[arg(&model), arg(&bad), "label 12", "10 classes"]);
    assert!(run.stdout.trim().is_empty(), "{}", run.describe());
}

// ---------------------------------------------------------------- 9. bad model files

#[test]
fn eval_a_model_file_of_random_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path());
    let model = tmp.path().join("random.safetensors");
    // Deterministic "random" bytes (an LCG), starting with a huge header size.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect();
    std::fs::write(&model, bytes).unwrap();
    eval_fails(&model, &data, &["not a valid safetensors model file"]);
}

#[test]
fn eval_a_truncated_model_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, model) = trained_perceptron(tmp.path());
    let bytes = std::fs::read(&model).unwrap();
    let cut = tmp.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    eval_fails(&cut, &data, &["safetensors"]);
}

#[test]
fn eval_an_empty_model_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path());
    let model = tmp.path().join("empty.safetensors");
    std::fs::write(&model, b"").unwrap();
    eval_fails(&model, &data, &["not a valid safetensors model file"]);
}

#[test]
fn eval_a_missing_model_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path());
    eval_fails(&tmp.path().join("nope.safetensors"), &data, &["cannot read the model file"]);
}

#[test]
fn eval_a_model_whose_tensor_has_the_wrong_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, model) = trained_perceptron(tmp.path());
    let bad = tmp.path().join("bad.safetensors");
    rewrite_model(&model, &bad, |tensors| {
        let w = tensors.iter_mut().find(|t| t.0 == "layers.1.weight").expect("a weight tensor");
        w.2 = vec![5, 5];
        w.3.truncate(25 * 4);
    });
    eval_fails(&bad, &data, &["does not match its architecture", "layers.1.weight", "shape [5, 5]"]);
}

#[test]
fn eval_a_model_missing_a_tensor() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, model) = trained_perceptron(tmp.path());
    let bad = tmp.path().join("bad.safetensors");
    rewrite_model(&model, &bad, |tensors| tensors.retain(|t| t.0 != "layers.1.bias"));
    eval_fails(&bad, &data, &["does not match its architecture", "layers.1.bias", "missing"]);
}

#[test]
fn eval_a_model_with_an_extra_tensor() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, model) = trained_perceptron(tmp.path());
    let bad = tmp.path().join("bad.safetensors");
    rewrite_model(&model, &bad, |tensors| {
        tensors.push(("layers.7.weight".to_owned(), Dtype::F32, vec![2], vec![0; 8]));
    });
    eval_fails(&bad, &data, &["does not match its architecture", "unexpected tensor layers.7.weight"]);
}

#[test]
fn eval_a_model_with_a_nan_weight() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, model) = trained_perceptron(tmp.path());
    let bad = tmp.path().join("bad.safetensors");
    rewrite_model(&model, &bad, |tensors| {
        let w = tensors.iter_mut().find(|t| t.0 == "layers.1.weight").expect("a weight tensor");
        w.3[40..44].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    eval_fails(&bad, &data, &["layers.1.weight", "non-finite", "NaN"]);
}

// ---------------------------------------------------------------- 10. impossible specs

#[test]
fn spec_with_a_pool_larger_than_its_input() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec_file(
        tmp.path(),
        "pool.json",
        r#"{"layers": [{"type": "relu"}, {"type": "max_pool2d", "size": 64}, {"type": "flatten"},
                       {"type": "dense", "units": 10}]}"#,
    );
    let data = small_data(tmp.path());
    let out = tmp.path().join("m.safetensors");
    train_fails(&data, &out, &["--spec", arg(&spec), "--threads", "1"], &["layer 1 (max_pool2d)", "64×64", "28×28"]);
    chiffre(["summary", "--spec", arg(&spec)]).assert_error(&["layer 1 (max_pool2d)"]);
}

#[test]
fn spec_with_dense_directly_on_the_image() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec_file(
        tmp.path(),
        "noflat.toml",
        "[[layers]]\ntype = \"relu\"\n\n[[layers]]\ntype = \"dense\"\nunits = 10\n",
    );
    let data = small_data(tmp.path());
    let out = tmp.path().join("m.safetensors");
    train_fails(&data, &out, &["--spec", arg(&spec), "--threads", "1"], &["layer 1 (dense)", "[28, 28, 1]", "flatten"]);
}

#[test]
fn spec_with_an_unknown_layer_type() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec_file(
        tmp.path(),
        "unknown.json",
        r#"{"layers": [{"type": "flatten"}, {"type": "transformer", "units": 10}]}"#,
    );
    let data = small_data(tmp.path());
    let out = tmp.path().join("m.safetensors");
    train_fails(
        &data,
        &out,
        &["--spec", arg(&spec), "--threads", "1"],
        &[arg(&spec), "invalid model spec", "unknown variant `transformer`", "dense"],
    );
}

#[test]
fn spec_that_is_malformed_json() {
    let tmp = tempfile::tempdir().unwrap();
    let spec =
        spec_file(tmp.path(), "broken.json", r#"{"layers": [{"type": "flatten"}, {"type": "dense", "units": 10}"#);
    let data = small_data(tmp.path());
    let out = tmp.path().join("m.safetensors");
    train_fails(&data, &out, &["--spec", arg(&spec), "--threads", "1"], &[arg(&spec), "invalid model spec", "line"]);
}

// ---------------------------------------------------------------- 11. divergence

#[test]
fn diverging_loss_fails_and_leaves_no_model() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("diverged.safetensors");
    let args = ["--arch", "mlp", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "1", "--limit", "2000"];
    let run = train(&mnist_dir(), &out, &[&args[..], &["--test-limit", "500", "--threads", "2"]].concat());
    run.assert_error(&["loss"]);
    let lower = run.stderr.to_lowercase();
    assert!(
        ["diverged", "nan", "inf"].iter().any(|w| lower.contains(w)),
        "the message does not say the loss diverged:\n{}",
        run.describe()
    );
    assert_absent(&[&out, &metrics_of(&out)]);
}

/// The loss is checked before each step, so a step that blows the weights up
/// on the last batch is seen only by the evaluation after training: one step
/// with an absurd rate makes the test loss NaN. That must fail too, not save
/// a model.
#[test]
fn divergence_in_the_last_step_fails_and_leaves_no_model() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("diverged.safetensors");
    let args = ["--arch", "perceptron", "--optimizer", "sgd", "--lr", "1e38", "--epochs", "1", "--limit", "64"];
    let run = train(
        &mnist_dir(),
        &out,
        &[&args[..], &["--batch-size", "64", "--test-limit", "100", "--threads", "1"]].concat(),
    );
    run.assert_error(&["loss"]);
    assert_absent(&[&out, &metrics_of(&out)]);
}

// ---------------------------------------------------------------- 12. invalid flags

/// A flag's value outside its range: clap's usage error (exit status 2,
/// `error: invalid value ...`) naming the flag, the value and the range, no panic.
fn flag_refused(args: &[&str], parts: &[&str]) {
    let run = chiffre(args);
    run.assert_no_panic();
    assert_eq!(run.status.code(), Some(2), "expected clap's exit status 2:\n{}", run.describe());
    assert!(run.stderr.starts_with("error: invalid value"), "not a value error:\n{}", run.describe());
    for part in parts {
        assert!(run.stderr.contains(part), "the error message lacks {part:?}:\n{}", run.describe());
    }
}

#[test]
fn batch_size_zero_is_refused() {
    flag_refused(&["train", "--batch-size", "0"], &["--batch-size", "'0'", "a whole number from 1 up"]);
}

#[test]
fn val_split_out_of_range_is_refused() {
    for value in ["1.5", "1", "-0.1"] {
        let flag = format!("--val-split={value}");
        flag_refused(&["train", flag.as_str()], &["--val-split", "from 0 up to (not including) 1", value]);
    }
}

#[test]
fn every_numeric_flag_names_itself_and_its_range() {
    let whole_1 = "a whole number from 1 up";
    let whole_0 = "a whole number from 0 up";
    let cases: &[(&str, &str, &str)] = &[
        ("train", "--epochs", whole_1),
        ("train", "--batch-size", whole_1),
        ("train", "--lr", "a number greater than 0"),
        ("train", "--weight-decay", "a number from 0 up"),
        ("train", "--step-every", whole_1),
        ("train", "--step-gamma", "a number greater than 0"),
        ("train", "--warmup", "a number from 0 up"),
        ("train", "--label-smoothing", "up to (not including) 1"),
        ("train", "--early-stopping", whole_1),
        ("train", "--checkpoint-every", whole_1),
        ("train", "--momentum", "up to (not including) 1"),
        ("train", "--seed", "a whole number from 0 to"),
        ("train", "--threads", whole_0),
        ("train", "--val-split", "up to (not including) 1"),
        ("train", "--limit", whole_1),
        ("train", "--test-limit", whole_1),
        ("eval", "--threads", whole_0),
        ("eval", "--limit", whole_1),
        ("bench", "--threads", whole_0),
        ("bench", "--train-batches", whole_1),
        ("report", "--mistakes", whole_0),
        ("summary", "--classes", "a whole number from 2 up"),
        ("serve", "--workers", whole_0),
        ("serve", "--timeout", "a number greater than 0"),
        ("serve", "--body-limit", whole_1),
        ("serve", "--max-in-flight", whole_1),
        ("predict", "--top", whole_1),
        ("predict", "--reject-threshold", "a number from 0 to 1"),
    ];
    for &(command, flag, range) in cases {
        for value in ["-1", "x"] {
            flag_refused(&[command, flag, value], &[flag, range, value]);
        }
    }
}

#[test]
fn flags_that_do_not_apply_to_the_chosen_rule_are_refused() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--momentum", "0.9"], &["--momentum applies to --optimizer sgd only", "rmsprop"]),
        (&["--optimizer", "adam", "--momentum", "0.9"], &["--momentum", "--optimizer adam"]),
        (&["--optimizer", "sgd", "--betas", "0.8,0.9"], &["--betas applies to --optimizer adam and adamw only"]),
        (&["--optimizer", "adam", "--weight-decay", "0.1"], &["--weight-decay applies to --optimizer adamw only"]),
        (&["--step-gamma", "0.5"], &["--step-every and --step-gamma apply to --schedule step only"]),
        (&["--schedule", "step", "--step-gamma", "2"], &["--step-gamma", "gamma must be in (0, 1], got 2"]),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path());
    let out = tmp.path().join("m.safetensors");
    for (flags, parts) in cases {
        train_fails(&data, &out, &[QUICK, flags].concat(), parts);
    }
}
