//! Trains the tutorial's CNN for one epoch on the first 2,000 MNIST training
//! images (seed 1) and prints a fingerprint of every weight's bits, the test
//! loss and accuracy on 1,000 test images. `.ci/run` runs it twice, once
//! built without the feature `parallel` and once with it on one thread
//! (`RAYON_NUM_THREADS=1`), and requires the same line: the engine without
//! threads computes the same numbers, bit for bit.
//!
//! ```text
//! cargo run --release -p chiffre-core --example fingerprint --no-default-features -- data/mnist
//! RAYON_NUM_THREADS=1 cargo run --release -p chiffre-core --example fingerprint -- data/mnist
//! ```

use chiffre_core::data::Mnist;
use chiffre_core::model::{preset, Sequential};
use chiffre_core::train::{evaluate, train, Quiet, TrainConfig};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("data/mnist"));
    let mnist = Mnist::load(&dir)?;
    let (train_set, test_set) = (mnist.train.take(2_000), mnist.test.take(1_000));
    let mut network = Sequential::new(&preset("cnn", 10).ok_or("no cnn preset")?, 1)?;
    train(&mut network, &train_set, None, &TrainConfig { epochs: 1, ..TrainConfig::default() }, &mut Quiet)?;
    // FNV-1a over every parameter's bits, in order.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (_, param) in network.named_params() {
        for v in param.value.data() {
            for byte in v.to_bits().to_le_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    let evaluation = evaluate(&mut network, &test_set, chiffre_core::loss::Loss::CrossEntropy);
    println!("weights {hash:016x}  test loss {:.9}  accuracy {:.4}", evaluation.loss, evaluation.accuracy);
    Ok(())
}
