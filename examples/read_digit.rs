//! Reads the digit in a picture with the library API.
//!
//! ```sh
//! cargo run --release -- train                                  # once: writes models/cnn.safetensors
//! cargo run --release --example read_digit -- samples/seven-pen.png [MODEL]
//! ```

use chiffre::preprocess::{load_image, preprocess};
use chiffre::Model;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(picture) = args.next() else {
        eprintln!("usage: read_digit IMAGE [MODEL]   (MODEL defaults to models/cnn.safetensors)");
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

    // One call does it all: preprocessing, then the network. Its errors are
    // about the picture (too small, no ink): name the file.
    let prediction = model.predict(&image).map_err(|e| format!("{picture}: {e}"))?;
    println!("{picture}: {} ({:.1} % sure)", prediction.digit, 100.0 * prediction.confidence);
    for (digit, probability) in prediction.top(3).iter().skip(1) {
        println!("  or {digit} ({:.1} %)", 100.0 * probability);
    }

    // Or step by step: the 28×28 input the network sees, then the network.
    let pixels = preprocess(&image).map_err(|e| e.in_file(picture.as_ref()))?;
    let again = model.predict_pixels(&pixels)?;
    let ink = pixels.iter().filter(|&&v| v > 0.5).count();
    println!("  step by step: {} (the network saw 28×28 pixels, {ink} of them ink)", again.digit);
    Ok(())
}
