//! Reads the whole number in a picture with the library API: every digit, in
//! reading order, with its box and how sure the network is.
//!
//! ```sh
//! cargo run --release -- train                                  # once: writes models/cnn.safetensors
//! cargo run --release --example read_number -- PICTURE [MODEL]
//! ```

use chiffre::preprocess::load_image;
use chiffre::Model;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(picture) = args.next() else {
        eprintln!("usage: read_number IMAGE [MODEL]   (MODEL defaults to models/cnn.safetensors)");
        return ExitCode::FAILURE;
    };
    let model_path = args.next().unwrap_or_else(|| "models/cnn.safetensors".to_string());
    match read(&picture, &model_path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if !std::path::Path::new(&model_path).exists() {
                eprintln!("make a model first: cargo run --release -- train");
            }
            ExitCode::FAILURE
        }
    }
}

fn read(picture: &str, model_path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut model = Model::load(model_path)?;
    let image = load_image(picture.as_ref())?;

    // One call: find the digits, normalise each MNIST-style, read them.
    let reading = model.read(&image).map_err(|e| format!("{picture}: {e}"))?;
    println!("{picture}: {}", reading.text().replace('\n', " / "));
    for (k, digit) in reading.digits().enumerate() {
        let [x, y, w, h] = digit.bounds;
        println!(
            "  digit {}: {} ({:.1} % sure), line {}, at x {x}, y {y}, {w}×{h} pixels",
            k + 1,
            digit.prediction.digit,
            100.0 * digit.prediction.confidence,
            digit.line + 1
        );
    }
    Ok(())
}
