//! Picture decoding and MNIST-style preprocessing: any bytes give 28×28
//! values in [0, 1] or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = chiffre::preprocess::decode_bytes(data, "fuzz.png") {
        if let Ok(pixels) = chiffre::preprocess::preprocess(&image) {
            assert!(pixels.iter().all(|v| (0.0..=1.0).contains(v)), "preprocessed values out of [0, 1]");
        }
    }
});
