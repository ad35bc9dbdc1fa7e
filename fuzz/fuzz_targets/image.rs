//! Picture decoding, MNIST-style preprocessing and segmentation: any bytes
//! give 28×28 values in [0, 1] or an error, and a reading whose boxes lie
//! inside the picture (read by a stand-in network), or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Pictures declaring more pixels than this are skipped: decoding them is
/// correct but slow (tens of megapixels of zeros), and the fuzzer would spend
/// its time there. The size refusal itself is tested in `tests/`.
const MAX_FUZZ_PIXELS: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let reader = image::ImageReader::new(std::io::Cursor::new(data)).with_guessed_format();
    if let Ok((w, h)) = reader.map_err(|_| ()).and_then(|r| r.into_dimensions().map_err(|_| ())) {
        if u64::from(w) * u64::from(h) > MAX_FUZZ_PIXELS {
            return;
        }
    }
    if let Ok(image) = chiffre::preprocess::decode_bytes(data, "fuzz.png") {
        if let Ok(pixels) = chiffre::preprocess::preprocess(&image) {
            assert!(pixels.iter().all(|v| (0.0..=1.0).contains(v)), "preprocessed values out of [0, 1]");
        }
        // A stand-in network that reads every input as a 1, half sure.
        let mut read = |inputs: &[[f32; 784]]| {
            inputs.iter().map(|_| chiffre::Prediction::from_logits(&[0.0, 0.0])).collect::<Result<Vec<_>, _>>()
        };
        if let Ok(reading) = chiffre::reading::read_picture(&image, &mut read, 0.5) {
            for d in reading.digits() {
                let [x, y, w, h] = d.bounds;
                assert!(x + w <= image.width() + 1 && y + h <= image.height() + 1, "box {:?} outside the picture", d.bounds);
                assert!(d.pixels.iter().all(|v| (0.0..=1.0).contains(v)), "digit values out of [0, 1]");
            }
        }
    }
});
