//! Does chiffre read what users bring? Pictures rendered from MNIST *test*
//! digits the way users make them (see `common/render.rs`) are read by a CNN
//! trained here on the MNIST training set, with and without the
//! MNIST-style preprocessing; and the preprocessing, run whole on hand-made
//! pictures, does what it promises.

mod common;

use chiffre::data::{default_data_dir, Mnist};
use chiffre::model::{preset, Sequential};
use chiffre::preprocess::{centre_of_mass, decode_bytes, ink_bounds, preprocess, Gray, Pixels, PIXELS, SIDE};
use chiffre::train::{train, Quiet, TrainConfig};
use chiffre::Model;
use common::render::{drawn, mnist_picture, naive_pixels, render, Kind};
use image::DynamicImage;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::sync::OnceLock;

/// MNIST test digits in the accuracy test, each drawn once in every kind.
const DIGITS: usize = 500;

fn mnist() -> &'static Mnist {
    static DATA: OnceLock<Mnist> = OnceLock::new();
    DATA.get_or_init(|| Mnist::load(&default_data_dir()).expect("the bundled MNIST loads"))
}

/// The tutorial's CNN, trained for 2 epochs on the 60,000 training images
/// (RMSprop, batch 64, seed 1).
fn trained_cnn() -> Model {
    let mut network = Sequential::new(&preset("cnn", 10).expect("the cnn preset"), 1).expect("the cnn builds");
    // The tutorial's recipe (TrainConfig::default: RMSprop at 1e-3, batch 64, cross-entropy, seed 1).
    let config = TrainConfig { epochs: 2, ..TrainConfig::default() };
    train(&mut network, &mnist().train, None, &config, &mut Quiet).expect("training runs");
    Model::from_network(network).expect("the cnn reads 28×28×1")
}

fn accuracy(model: &mut Model, inputs: &[Pixels], labels: &[u8]) -> f64 {
    let predictions = model.predict_batch(inputs).expect("the scores are numbers");
    let correct = predictions.iter().zip(labels).filter(|(p, &l)| p.digit == l as usize).count();
    correct as f64 / labels.len() as f64
}

fn mnist_pixels(i: usize) -> Pixels {
    std::array::from_fn(|j| f32::from(mnist().test.image(i)[j]) / 255.0)
}

/// The network inputs for the pictures of `kind` drawn from test digits
/// `indices`: preprocessed, and as a program without preprocessing sees them.
/// Each picture has its own seeded generator, so they are drawn in parallel
/// and still the same on every run.
fn user_pictures(kind: Kind, indices: &[usize]) -> (Vec<Pixels>, Vec<Pixels>) {
    indices
        .par_iter()
        .map(|&i| {
            let mut rng = ChaCha8Rng::seed_from_u64(((kind as u64) << 32) + i as u64);
            let name = format!("{}-{i}.{}", kind.name(), kind.extension());
            let bytes = render(kind, mnist().test.image(i), &mut rng);
            let image = decode_bytes(&bytes, &name).unwrap_or_else(|e| panic!("a rendered picture decodes: {e}"));
            (preprocess(&image).unwrap_or_else(|e| panic!("{name}: {e}")), naive_pixels(&image))
        })
        .unzip()
}

#[test]
fn user_pictures_are_read_as_well_as_mnist_with_preprocessing_and_much_worse_without() {
    let start = std::time::Instant::now();
    let mut model = trained_cnn();
    println!("trained the CNN in {:.1} s", start.elapsed().as_secs_f64());
    let test = &mnist().test;
    // The same digits in every kind, so that the kinds differ only by how they are drawn.
    let mut indices: Vec<usize> = (0..test.len()).collect();
    indices.shuffle(&mut ChaCha8Rng::seed_from_u64(5));
    indices.truncate(DIGITS);
    let labels: Vec<u8> = indices.iter().map(|&i| test.labels[i]).collect();
    let clean: Vec<Pixels> = indices.iter().map(|&i| mnist_pixels(i)).collect();
    let clean_accuracy = accuracy(&mut model, &clean, &labels);
    println!("{DIGITS} MNIST test digits, read as they are: {clean_accuracy:.3}");
    println!("{:<18} {:>14} {:>18}", "kind", "preprocessed", "not preprocessed");
    let (mut all_pre, mut all_naive, mut all_labels) = (Vec::new(), Vec::new(), Vec::new());
    let mut worst = (String::new(), 1.0f64);
    for kind in Kind::ALL {
        let (pre, naive) = user_pictures(kind, &indices);
        let (a_pre, a_naive) = (accuracy(&mut model, &pre, &labels), accuracy(&mut model, &naive, &labels));
        println!("{:<18} {a_pre:>14.3} {a_naive:>18.3}", kind.name());
        if a_pre < worst.1 {
            worst = (kind.name().to_string(), a_pre);
        }
        all_pre.extend(pre);
        all_naive.extend(naive);
        all_labels.extend_from_slice(&labels);
    }
    let overall = accuracy(&mut model, &all_pre, &all_labels);
    let naive = accuracy(&mut model, &all_naive, &all_labels);
    println!("{:<18} {overall:>14.3} {naive:>18.3}", "all");
    println!("in {:.1} s in all", start.elapsed().as_secs_f64());
    assert!(overall >= 0.98, "with preprocessing, {overall:.3} of the user pictures are read (want ≥ 0.98)");
    assert!(
        worst.1 >= 0.97,
        "with preprocessing, {} pictures are read at {:.3} (want ≥ 0.97 per kind)",
        worst.0,
        worst.1
    );
    assert!(
        naive <= overall - 0.25,
        "without preprocessing {naive:.3}, with {overall:.3}: the preprocessing should matter"
    );
}

/// The user pictures read by saved models, one by one and together (an
/// ensemble): `CHIFFRE_MODELS=a.safetensors,b.safetensors cargo test --release
/// --test user_images -- --ignored --nocapture saved_models`.
#[test]
#[ignore = "reads models named by CHIFFRE_MODELS; run by hand"]
fn saved_models_read_user_pictures() {
    let paths: Vec<String> = std::env::var("CHIFFRE_MODELS")
        .unwrap_or_default()
        .split(',')
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect();
    assert!(!paths.is_empty(), "name the models in CHIFFRE_MODELS, separated by commas");
    let test = &mnist().test;
    let mut indices: Vec<usize> = (0..test.len()).collect();
    indices.shuffle(&mut ChaCha8Rng::seed_from_u64(5));
    indices.truncate(DIGITS);
    let labels: Vec<u8> = indices.iter().map(|&i| test.labels[i]).collect();
    let (mut pictures, mut all_labels) = (Vec::new(), Vec::new());
    for kind in Kind::ALL {
        pictures.extend(user_pictures(kind, &indices).0);
        all_labels.extend_from_slice(&labels);
    }
    let mut models: Vec<Model> = paths.iter().map(|p| Model::load(p).unwrap()).collect();
    let mut each = Vec::new();
    for (model, path) in models.iter_mut().zip(&paths) {
        let predictions = model.predict_batch(&pictures).expect("the scores are numbers");
        let correct = predictions.iter().zip(&all_labels).filter(|(p, &l)| p.digit == l as usize).count();
        println!("{path}: {:.4} of {} user pictures", correct as f64 / all_labels.len() as f64, all_labels.len());
        each.push(predictions);
    }
    if models.len() > 1 {
        let correct = (0..all_labels.len())
            .filter(|&i| {
                let members: Vec<_> = each.iter().map(|p| p[i].clone()).collect();
                chiffre::Prediction::mean(&members).unwrap().digit == all_labels[i] as usize
            })
            .count();
        println!("ensemble of {}: {:.4}", models.len(), correct as f64 / all_labels.len() as f64);
    }
}

fn to_gray(p: &Pixels) -> Gray {
    Gray::new(SIDE, SIDE, p.to_vec()).expect("28×28")
}

#[test]
fn mnist_images_pass_through_unchanged() {
    for i in 0..2000 {
        let image = DynamicImage::ImageLuma8(mnist_picture(mnist().test.image(i)));
        assert_eq!(preprocess(&image).unwrap(), mnist_pixels(i), "MNIST test image {i} was changed");
    }
}

#[test]
fn a_digit_reads_the_same_whatever_its_polarity() {
    // An MNIST digit inverted (dark on white) must come back nearly as it was.
    for i in 0..200 {
        let mut dark = mnist_picture(mnist().test.image(i));
        image::imageops::invert(&mut dark);
        let back = preprocess(&DynamicImage::ImageLuma8(dark)).unwrap();
        let want = mnist_pixels(i);
        let diff: f32 = back.iter().zip(&want).map(|(a, b)| (a - b).abs()).sum::<f32>() / want.iter().sum::<f32>();
        assert!(diff < 0.15, "MNIST test image {i}, inverted: {diff:.3} of its ink moved");
    }
}

#[test]
fn a_centred_square_stays_centred_and_fills_the_box() {
    for (size, side, background, ink) in [(100, 30, 255, 0), (400, 120, 0, 255), (57, 11, 200, 40)] {
        let lo = (size - side) / 2;
        let picture =
            drawn(size, size, background, ink, |x, y| (lo..lo + side).contains(&x) && (lo..lo + side).contains(&y));
        let out = to_gray(&preprocess(&picture).unwrap());
        let (cx, cy) = centre_of_mass(&out).unwrap();
        assert!((cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5, "{size}/{side}: centre ({cx}, {cy})");
        let b = ink_bounds(&out, 0.0).unwrap();
        assert_eq!((b.width(), b.height()), (20, 20), "{size}/{side}: {b:?}");
        assert!(out.data().iter().all(|&v| (0.0..=1.0).contains(&v)));
    }
}

#[test]
fn an_off_centre_digit_is_moved_to_the_centre() {
    // A thin ring in the top-left corner of a 300×200 page.
    let picture = drawn(300, 200, 240, 10, |x, y| {
        let r = ((x as f32 - 40.0).powi(2) + (y as f32 - 50.0).powi(2)).sqrt();
        (22.0..30.0).contains(&r)
    });
    let out = to_gray(&preprocess(&picture).unwrap());
    let (cx, cy) = centre_of_mass(&out).unwrap();
    assert!((cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5, "centre ({cx}, {cy})");
    assert_eq!(out.get(14, 14), 0.0, "the ring's hole is at the centre");
}

#[test]
fn a_1_by_200_stroke_becomes_20_pixels_long() {
    // A one-pixel-wide vertical stroke, 200 long, on a page.
    let picture = drawn(60, 260, 255, 0, |x, y| x == 30 && (30..230).contains(&y));
    let out = to_gray(&preprocess(&picture).unwrap());
    let b = ink_bounds(&out, 0.0).unwrap();
    assert_eq!(b.height(), 20, "{b:?}");
    // A hairline is thickened to MNIST's thinner strokes (about 1.5 pixels), no more.
    assert!((1..=2).contains(&b.width()), "{b:?}");
    let mass: f32 = out.data().iter().sum();
    assert!((20.0..=2.5 * 20.0).contains(&mass), "ink {mass}");
    assert_eq!(out.data().len(), PIXELS);
}

#[test]
fn noise_on_the_page_does_not_count_as_ink() {
    // A bar on grey paper with a fine texture and a far-away speck of dust.
    let picture = DynamicImage::ImageLuma8(image::GrayImage::from_fn(200, 200, |x, y| {
        let texture = 190 + ((x * 37 + y * 91) % 23) as u8;
        if (90..110).contains(&x) && (40..160).contains(&y) || (x, y) == (10, 190) {
            image::Luma([30])
        } else {
            image::Luma([texture])
        }
    }));
    let out = to_gray(&preprocess(&picture).unwrap());
    let b = ink_bounds(&out, 0.0).unwrap();
    assert_eq!(b.height(), 20, "the bar alone sets the scale: {b:?}");
    let stray = (0..SIDE).flat_map(|y| (0..SIDE).map(move |x| (x, y))).filter(|&(x, _)| !(b.x0..b.x1).contains(&x));
    assert!(stray.into_iter().all(|(x, y)| out.get(x, y) == 0.0), "texture or speck left as ink");
}

/// Writes the pictures of `samples/` (the README's `chiffre predict` example):
/// `cargo test --release --test user_images -- --ignored write_samples`.
#[test]
#[ignore = "writes samples/; run by hand"]
fn write_samples() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    std::fs::create_dir_all(&dir).expect("create samples/");
    let test = &mnist().test;
    for (kind, digit, name) in [
        (Kind::DarkOnWhite, 7, "seven-pen"),
        (Kind::Jpeg, 2, "two-photo"),
        (Kind::TransparentPng, 4, "four-transparent"),
        (Kind::ColouredBackground, 9, "nine-card"),
        (Kind::OffCentre, 3, "three-corner"),
        (Kind::Thick, 5, "five-marker"),
    ] {
        let i = (100..test.len()).find(|&i| test.labels[i] == digit).expect("a test digit");
        let bytes = render(kind, test.image(i), &mut ChaCha8Rng::seed_from_u64(i as u64));
        let path = dir.join(format!("{name}.{}", kind.extension()));
        std::fs::write(&path, bytes).expect("write a sample");
        assert!(decode_bytes(&std::fs::read(&path).expect("read back"), name).is_ok());
    }
}
