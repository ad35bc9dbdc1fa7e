//! The native half of the WebAssembly check (`tests/wasm/run.sh`): reads the
//! first N MNIST test images with a model file through [`chiffre_web::Engine`]
//! and prints one JSON array of probabilities per image, as
//! `tests/wasm/forward.mjs` does with the `.wasm`.
//!
//! Usage: forward MODEL MNIST_DIR N

use chiffre_core::data::Mnist;
use chiffre_web::Engine;
use std::path::Path;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, mnist, count] = args.as_slice() else {
        return Err("usage: forward MODEL MNIST_DIR N".into());
    };
    let count: usize = count.parse().map_err(|e| format!("N: {e}"))?;
    let bytes = std::fs::read(model).map_err(|e| format!("{model}: {e}"))?;
    let mut engine = Engine::default();
    engine.load(&bytes)?;
    let test = Mnist::load(Path::new(mnist)).map_err(|e| e.to_string())?.test;
    for i in 0..count.min(test.len()) {
        let image = test.image(i);
        engine.input_mut().iter_mut().zip(image).for_each(|(x, &v)| *x = f32::from(v) / 255.0);
        engine.predict().ok_or_else(|| engine.error().to_string())?;
        let probabilities: Vec<String> = engine.probabilities().iter().map(|p| format!("{p:e}")).collect();
        println!("[{}]", probabilities.join(","));
    }
    Ok(())
}
