//! End-to-end tests of `chiffre predict`: files and folders, JSON Lines and
//! text, `--save-preprocessed`, `--raw`, and every bad input of the issue in
//! one call (each gets one `error:` line naming it, the others are still
//! read, the exit status is 1, nothing panics).

mod common;

use chiffre::model::{preset, save, Sequential};
use common::prelude::*;
use common::render::{drawn, encode, mnist_picture, render, Kind};
use image::{DynamicImage, ImageFormat};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A CNN trained for one epoch on 5,000 MNIST training images (shared by the
/// tests of this file, trained once).
fn model() -> &'static Path {
    static MODEL: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = MODEL.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("cnn.safetensors");
        let run = chiffre(
            ["train", "--arch", "cnn", "--epochs", "1", "--limit", "5000", "--test-limit", "100", "--quiet", "--out"]
                .iter()
                .map(|s| s.to_string())
                .chain([arg(&path).to_string()]),
        );
        run.assert_ok();
        (dir, path)
    });
    path
}

/// MNIST test digit `i`: its label and pixels.
fn digit(i: usize) -> (u8, Vec<u8>) {
    let labels = read_mnist_prefix(Part::TestLabels, i + 1);
    let images = read_mnist_prefix(Part::TestImages, i + 1);
    (labels[i], images[i * SIDE * SIDE..].to_vec())
}

/// Writes MNIST test digit `i` drawn as `kind` into `dir`; returns (path, label).
fn picture(dir: &Path, kind: Kind, i: usize) -> (PathBuf, u8) {
    let (label, pixels) = digit(i);
    let path = dir.join(format!("{}-{i}.{}", kind.name(), kind.extension()));
    std::fs::write(&path, render(kind, &pixels, &mut ChaCha8Rng::seed_from_u64(i as u64))).expect("write a picture");
    (path, label)
}

fn write_png(path: &Path, image: &DynamicImage) -> PathBuf {
    std::fs::write(path, encode(image, ImageFormat::Png, 0)).expect("write a PNG");
    path.to_path_buf()
}

fn predict(args: &[&str]) -> Run {
    let mut all = vec!["predict", "--model", arg(model())];
    all.extend_from_slice(args);
    chiffre(all)
}

/// Checks one JSON line and returns (path, digit).
fn check_json_line(line: &str) -> (String, usize) {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let probabilities: Vec<f64> =
        v["probabilities"].as_array().expect("probabilities").iter().map(|p| p.as_f64().expect("a number")).collect();
    assert_eq!(probabilities.len(), 10, "{line}");
    assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-4, "probabilities do not sum to 1: {line}");
    let digit = v["digit"].as_u64().expect("digit") as usize;
    let confidence = v["confidence"].as_f64().expect("confidence");
    assert_eq!(confidence, probabilities[digit], "{line}");
    assert!(probabilities.iter().all(|&p| p <= confidence), "the digit is not the most probable: {line}");
    let top = v["top"].as_array().expect("top");
    assert_eq!(top.len(), 3, "{line}");
    assert_eq!(top[0]["digit"].as_u64(), Some(digit as u64), "{line}");
    let tops: Vec<f64> = top.iter().map(|t| t["probability"].as_f64().expect("a number")).collect();
    assert!(tops.windows(2).all(|w| w[0] >= w[1]), "top is not sorted: {line}");
    (v["path"].as_str().expect("path").to_string(), digit)
}

#[test]
fn files_and_folders_give_one_json_line_each() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    let mut expected = vec![
        picture(tmp.path(), Kind::DarkOnWhite, 0),
        picture(tmp.path(), Kind::Jpeg, 1),
        picture(tmp.path(), Kind::TransparentPng, 2),
    ];
    let mut in_folder: Vec<_> =
        [(Kind::OffCentre, 3), (Kind::ColouredBackground, 4), (Kind::Thick, 5), (Kind::Blurred, 6)]
            .into_iter()
            .map(|(kind, i)| picture(&folder, kind, i))
            .collect();
    in_folder.sort();
    expected.extend(in_folder);
    std::fs::write(folder.join("notes.txt"), "not a picture, skipped in a folder").unwrap();
    std::fs::create_dir(folder.join("sub")).unwrap();

    let run = predict(&["--json", arg(&expected[0].0), arg(&expected[1].0), arg(&expected[2].0), arg(&folder)]);
    run.assert_ok();
    assert!(run.stderr.is_empty(), "{}", run.describe());
    let lines: Vec<(String, usize)> = run.stdout.lines().map(check_json_line).collect();
    let paths: Vec<String> = lines.iter().map(|l| l.0.clone()).collect();
    let want: Vec<String> = expected.iter().map(|e| arg(&e.0).to_string()).collect();
    assert_eq!(paths, want, "one line per picture, in order, folder sorted");
    let correct = lines.iter().zip(&expected).filter(|(l, e)| l.1 == e.1 as usize).count();
    assert!(
        correct * 2 > expected.len(),
        "only {correct} of {} digits read right:\n{}",
        expected.len(),
        run.describe()
    );
}

#[test]
fn pictures_read_side_by_side_print_what_one_reader_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let kinds = [Kind::DarkOnWhite, Kind::Jpeg, Kind::OffCentre, Kind::Thick, Kind::Blurred, Kind::ColouredBackground];
    for (i, kind) in kinds.into_iter().cycle().take(9).enumerate() {
        picture(tmp.path(), kind, 20 + i);
    }
    let folder = arg(tmp.path());
    let missing = tmp.path().join("missing.png");
    let one = predict(&["--json", "--threads", "1", folder, arg(&missing), folder]);
    let three = predict(&["--json", "--threads", "3", folder, arg(&missing), folder]);
    // The same lines in the same order (the folder twice, around the missing file), the same one error.
    assert_eq!(one.stdout, three.stdout, "\n{}\n{}", one.describe(), three.describe());
    assert_eq!(one.stdout.lines().count(), 18, "{}", one.describe());
    assert_eq!(one.stderr, three.stderr);
    assert!(three.stderr.contains("missing.png") && !three.status.success(), "{}", three.describe());
}

#[test]
fn text_output_top_k_and_saved_preprocessed_pictures() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, _) = picture(tmp.path(), Kind::DarkOnWhite, 7);
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    // The same file name in another folder: the saved pictures must not collide.
    let b = other.join(a.file_name().unwrap());
    std::fs::copy(&a, &b).unwrap();
    let out = tmp.path().join("seen");
    let run = predict(&["--top", "2", "--save-preprocessed", arg(&out), arg(&a), arg(&b)]);
    run.assert_ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.describe());
    for (line, path) in lines.iter().zip([&a, &b]) {
        assert!(line.starts_with(&format!("{}: ", arg(path))), "{line}");
        assert!(line.contains("top 2: ") && line.matches(", ").count() == 1, "{line}");
    }
    let stem = a.file_stem().unwrap().to_str().unwrap();
    for name in [format!("{stem}.png"), format!("{stem}-2.png")] {
        let seen = image::open(out.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}")).to_luma8();
        assert_eq!(seen.dimensions(), (28, 28));
        assert_eq!(seen.get_pixel(0, 0).0[0], 0, "background is black");
        assert!(seen.pixels().any(|p| p.0[0] > 200), "ink is white");
    }
}

#[test]
fn raw_reads_28_by_28_pictures_as_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, pixels) = digit(8);
    let small = write_png(&tmp.path().join("mnist.png"), &mnist_picture(&pixels).into());
    let (big, _) = picture(tmp.path(), Kind::WhiteOnBlack, 8);
    let raw = predict(&["--json", "--raw", arg(&small)]);
    raw.assert_ok();
    let processed = predict(&["--json", arg(&small)]);
    processed.assert_ok();
    // An MNIST picture passes the preprocessing unchanged: the same answer, to the last digit.
    assert_eq!(raw.stdout, processed.stdout);
    let run = predict(&["--raw", arg(&big)]);
    run.assert_error(&[arg(&big), "unprocessed (raw) input must be exactly 28×28"]);
}

#[test]
fn bad_inputs_each_get_one_line_and_the_others_are_still_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (first, _) = picture(dir, Kind::DarkOnWhite, 9);
    let (last, _) = picture(dir, Kind::Jpeg, 10);
    let text = dir.join("notes.png");
    std::fs::write(&text, "this is not a picture").unwrap();
    let truncated = dir.join("truncated.png");
    let bytes = std::fs::read(&first).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let one = write_png(&dir.join("one.png"), &drawn(1, 1, 0, 255, |_, _| true));
    let zero = dir.join("zero.png");
    std::fs::write(&zero, common::bad_gen::png_claiming(0, 0)).unwrap();
    let blank = write_png(&dir.join("blank.png"), &drawn(300, 200, 180, 180, |_, _| false));
    let huge = dir.join("huge.png");
    std::fs::write(&huge, common::bad_gen::png_claiming(20_000, 20_000)).unwrap();
    let missing = dir.join("missing.png");
    let empty_folder = dir.join("empty");
    std::fs::create_dir(&empty_folder).unwrap();
    // A folder that cannot be listed: a symbolic link to itself.
    let looped = dir.join("looped");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();

    let bad: Vec<(&Path, &str)> = vec![
        (&text, "not an image chiffre can read"),
        (&truncated, "damaged or truncated PNG image"),
        (&one, "the image is 1×1 pixels; a digit needs at least 8×8"),
        (&zero, "damaged or truncated PNG image"),
        (&blank, "no ink"),
        (&huge, "the image is 20000×20000 pixels, larger than the limit"),
        (&missing, "cannot read"),
        (&empty_folder, "no picture files in this folder"),
        (&looped, "cannot read"),
    ];
    let mut args = vec!["predict", "--model", arg(model()), arg(&first)];
    args.extend(bad.iter().map(|(p, _)| arg(p)));
    args.push(arg(&last));
    // The huge picture is refused from its header (the message says so), before any decoding.
    let run = chiffre(args);
    run.assert_no_panic();
    assert_eq!(run.status.code(), Some(1), "{}", run.describe());
    let good: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(good.len(), 2, "the two good pictures are still read:\n{}", run.describe());
    assert!(good[0].starts_with(&format!("{}: ", arg(&first))) && good[1].starts_with(&format!("{}: ", arg(&last))));
    let errors: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(errors.len(), bad.len() + 1, "one line per bad input and a summary:\n{}", run.describe());
    for ((path, what), line) in bad.iter().zip(&errors) {
        assert!(line.starts_with(&format!("error: {}: ", arg(path))), "{line}");
        assert!(line.contains(what), "{line} lacks {what:?}");
    }
    assert_eq!(errors[bad.len()], format!("error: {} of {} inputs could not be read", bad.len(), bad.len() + 2));
}

#[test]
fn a_model_for_other_inputs_or_not_a_model_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (pic, _) = picture(tmp.path(), Kind::DarkOnWhite, 11);
    let mut spec = preset("mlp", 10).unwrap();
    spec.input = [32, 32, 1];
    let other = tmp.path().join("other.safetensors");
    save(&Sequential::new(&spec, 1).unwrap(), &serde_json::json!({}), &other).unwrap();
    chiffre(["predict", "--model", arg(&other), arg(&pic)]).assert_error(&[
        arg(&other),
        "reads 32×32×1 inputs",
        "another kind of data",
    ]);
    chiffre(["predict", "--model", arg(&pic), arg(&pic)])
        .assert_error(&[arg(&pic), "not a valid safetensors model file"]);
}

#[test]
fn without_a_model_it_says_how_to_make_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (pic, _) = picture(tmp.path(), Kind::DarkOnWhite, 12);
    let out = Command::new(env!("CARGO_BIN_EXE_chiffre"))
        .args(["predict", arg(&pic)])
        .current_dir(tmp.path())
        .stdin(Stdio::null())
        .output()
        .expect("run chiffre");
    let run = Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    run.assert_error(&["no model at models/cnn.safetensors", "cargo run --release -- train", "--model FILE"]);
}

#[test]
fn show_draws_the_input_the_network_saw_beside_its_reading() {
    let dir = tempfile::tempdir().unwrap();
    let (path, label) = picture(dir.path(), Kind::DarkOnWhite, 0);
    let run = predict(&["--show", arg(&path)]);
    run.assert_ok();
    let lines: Vec<&str> = run.stdout.trim_end().lines().collect();
    // A frame 28 wide, 14 text lines of two pixel rows each.
    assert_eq!(lines.len(), 16, "{}", run.stdout);
    assert!(lines[0].starts_with(&format!("┌{}┐", "─".repeat(28))), "{}", lines[0]);
    assert!(lines[15].starts_with(&format!("└{}┘", "─".repeat(28))));
    let inside: String = lines[1..15].iter().map(|l| l.chars().skip(1).take(28).collect::<String>()).collect();
    let inked = inside.chars().filter(|c| "▀▄█".contains(*c)).count();
    assert!(inked > 20 && inked < 300, "{inked} inked cells:\n{}", run.stdout);
    // MNIST-style: the digit's box leaves the outer rows and columns blank.
    assert!(lines[1].chars().skip(1).take(28).all(|c| c == ' '), "top row inked:\n{}", run.stdout);
    assert!(run.stdout.contains(&format!("read as {label} (")), "{}", run.stdout);
    predict(&["--show", "--json", arg(&path)]).assert_no_panic();
    assert_ne!(predict(&["--show", "--json", arg(&path)]).status.code(), Some(0), "--show conflicts with --json");
}

#[test]
fn a_number_gives_its_digits_boxes_and_pictures() {
    let tmp = tempfile::tempdir().unwrap();
    let test = chiffre::data::Mnist::load_test(&chiffre::data::default_data_dir()).expect("MNIST test set");
    // The first 3-digit number of the generator whose digits do not touch.
    let number = (0..).map(|seed| common::numbers::number_of(&test, seed, 3, 60)).find(|n| !n.touching).unwrap();
    let path = tmp.path().join(format!("number.{}", number.extension));
    std::fs::write(&path, &number.bytes).unwrap();
    let out = tmp.path().join("out");
    let run = predict(&["--json", "--save-preprocessed", arg(&out), arg(&path)]);
    run.assert_ok();
    let v: Value = serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout));
    let digits = v["digits"].as_array().expect("digits");
    assert_eq!(digits.len(), 3, "{}", run.stdout);
    assert_eq!(v["number"].as_str().unwrap().len(), 3);
    assert!(v.get("digit").is_none(), "no single-digit fields for a number: {}", run.stdout);
    let image = image::open(&path).unwrap();
    let mut last_x = 0;
    for (k, d) in digits.iter().enumerate() {
        let b: Vec<u64> = d["box"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
        assert!(b[0] + b[2] <= u64::from(image.width()) && b[1] + b[3] <= u64::from(image.height()), "{b:?}");
        assert!(b[0] >= last_x, "left to right: {b:?}");
        last_x = b[0];
        assert_eq!(d["line"], 0);
        let p: f64 = d["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).sum();
        assert!((p - 1.0).abs() < 1e-4);
        let shown = image::open(out.join(format!("number.{}.png", k + 1))).expect("the digit's picture");
        assert_eq!((shown.width(), shown.height()), (28, 28));
    }
    let boxes = image::open(out.join("number.boxes.png")).expect("the picture with boxes");
    assert_eq!((boxes.width(), boxes.height()), (image.width(), image.height()));
    // The text line: the number, then each digit with its confidence.
    let run = predict(&[arg(&path)]);
    run.assert_ok();
    let line = run.stdout.trim();
    assert!(line.starts_with(&format!("{}: {}  (", arg(&path), v["number"].as_str().unwrap())), "{line}");
    assert_eq!(line.matches(", ").count(), 2, "{line}");
    // --single reads the whole picture as one digit, with the single-digit
    // fields (and --no-reject reads it as a digit even if the gate says no).
    let run = predict(&["--json", "--single", "--no-reject", arg(&path)]);
    run.assert_ok();
    let (_, _) = check_json_line(run.stdout.trim());
}

/// `chiffre quantize` (issue 19): an 8-bit file a quarter of the size, which
/// `eval` and `predict` read as the f32 model reads.
#[test]
fn an_8_bit_model_reads_as_the_f32_one() {
    let tmp = tempfile::tempdir().unwrap();
    let int8 = tmp.path().join("cnn.int8.safetensors");
    let run = chiffre(["quantize", "--model", arg(model()), "--out", arg(&int8), "--calibration", "300"]);
    run.assert_ok();
    assert!(run.stdout.contains("compute in 8 bits"), "{}", run.describe());
    let (f32_size, int8_size) = (std::fs::metadata(model()).unwrap().len(), std::fs::metadata(&int8).unwrap().len());
    assert!(int8_size * 10 <= f32_size * 3, "the 8-bit file is {int8_size} bytes, the f32 one {f32_size}");
    let eval = |path: &Path| chiffre(["eval", "--model", arg(path), "--limit", "1000"]).assert_ok().test_accuracy();
    let (f32_accuracy, int8_accuracy) = (eval(model()).0, eval(&int8).0);
    assert!((f32_accuracy - int8_accuracy).abs() <= 0.01, "f32 {f32_accuracy}, 8 bits {int8_accuracy}");
    // The same digits for MNIST pictures, with the judges (whose weights are in 8 bits too) still saying "digit".
    let pictures: Vec<(PathBuf, u8)> = (0..6).map(|i| picture(tmp.path(), Kind::DarkOnWhite, i)).collect();
    let read = |path: &Path| {
        let mut args = vec!["predict", "--json", "--model", arg(path)];
        args.extend(pictures.iter().map(|(p, _)| arg(p)));
        let run = chiffre(args);
        run.assert_ok();
        run.stdout.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["number"].to_string()).collect::<Vec<_>>()
    };
    let (f32_read, int8_read) = (read(model()), read(&int8));
    let same = f32_read.iter().zip(&int8_read).filter(|(a, b)| a == b).count();
    assert!(same >= 5, "f32 read {f32_read:?}, 8 bits {int8_read:?}");
    // Loaded, the reader and the verifier (one of the judges) compute in 8 bits.
    let loaded = chiffre::Model::load(&int8).expect("the 8-bit file loads");
    assert!(loaded.quantized().is_some(), "the reader in 8 bits");
    let verifier = loaded.reject().and_then(|r| r.verifier.as_ref()).expect("a model trained with its judges");
    assert!(verifier.quantized.is_some(), "the verifier in 8 bits");
    // An 8-bit file is not quantized again.
    chiffre(["quantize", "--model", arg(&int8), "--out", arg(&tmp.path().join("again.safetensors"))])
        .assert_error(&["8-bit model already"]);
}
