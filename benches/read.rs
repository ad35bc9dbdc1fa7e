//! Criterion benchmark of reading whole numbers (issue target: at least 300
//! numbers/s on 2 cores for 5-digit pictures of about 600×150 pixels):
//! decoding, segmentation, normalisation and the network, one picture at a
//! time as `chiffre predict` reads them. `cargo bench --bench read`;
//! `CHIFFRE_MODEL=FILE` reads with a trained model and its "not a digit"
//! judges (the default is an untrained CNN without judges: the segmentation's
//! work is the same, but the judges, which read most candidate groups, are
//! missing, so it reads faster than `chiffre predict` does).

#[path = "../tests/common/numbers.rs"]
#[allow(dead_code)]
mod numbers;

use chiffre::data::{default_data_dir, Mnist};
use chiffre::model::{preset, Sequential};
use chiffre::preprocess::decode_bytes;
use chiffre::Model;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn model() -> Model {
    match std::env::var("CHIFFRE_MODEL") {
        Ok(path) => Model::load(&path).expect("CHIFFRE_MODEL: a model file"),
        Err(_) => {
            eprintln!(
                "read bench: an untrained CNN without the \"not a digit\" judges, which are a good part of the work; \
                 CHIFFRE_MODEL=models/cnn.safetensors measures what a user runs (bench/numbers.sh sets it)"
            );
            Model::from_network(Sequential::new(&preset("cnn", 10).expect("cnn"), 1).expect("builds"))
                .expect("reads 28×28")
        }
    }
}

fn read_numbers(c: &mut Criterion) {
    let test = Mnist::load_test(&default_data_dir()).expect("the bundled MNIST test set");
    let pictures: Vec<Vec<u8>> = (0..32).map(|seed| numbers::number_of(&test, seed, 5, 90).bytes).collect();
    let sizes: Vec<(u32, u32)> = pictures
        .iter()
        .map(|b| {
            let image = decode_bytes(b, "bench").expect("decodes");
            (image.width(), image.height())
        })
        .collect();
    let mean = |f: fn(&(u32, u32)) -> u32| sizes.iter().map(f).sum::<u32>() / sizes.len() as u32;
    eprintln!("5-digit pictures, mean size {}×{} pixels", mean(|s| s.0), mean(|s| s.1));
    let read_all = |model: &mut Model, pictures: &[Vec<u8>]| {
        for bytes in pictures {
            let image = decode_bytes(bytes, "bench").expect("decodes");
            std::hint::black_box(model.read(&image).expect("reads"));
        }
    };
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(pictures.len() as u64));
    let mut one = model();
    group.bench_function("5-digit numbers, one picture at a time", |b| b.iter(|| read_all(&mut one, &pictures)));
    // Two pictures at a time, one model each, as `chiffre serve`'s workers read
    // (src/serve/pool.rs): each on its own thread with a one-thread rayon pool,
    // so the engine's parallel loops run inline there. Both cores busy.
    let (mut left, mut right) = (model(), model());
    let (first, second) = pictures.split_at(pictures.len() / 2);
    let one_thread = || rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a one-thread pool");
    let (left_pool, right_pool) = (one_thread(), one_thread());
    group.bench_function("5-digit numbers, two at a time", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                s.spawn(|| left_pool.install(|| read_all(&mut left, first)));
                s.spawn(|| right_pool.install(|| read_all(&mut right, second)));
            })
        })
    });
    group.finish();
}

criterion_group!(benches, read_numbers);
criterion_main!(benches);
