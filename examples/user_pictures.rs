//! Writes user-style pictures of MNIST **test** digits (dark on white,
//! white on black, off centre, touching the borders, thick, thin, blurred,
//! JPEG, transparent, on coloured cards: the renderings of `tests/user_images.rs`),
//! for checks outside Rust, such as the page's test in
//! `tests/browser/site.test.mjs`, which compares the page's reading of each
//! with `chiffre predict --json`.
//!
//! ```sh
//! cargo run --release --example user_pictures -- OUT_DIR [COUNT] [DATA_DIR]
//! ```

#[path = "../tests/common/render.rs"]
#[allow(dead_code)]
mod render;

use chiffre::data::Mnist;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use render::{render, Kind};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first().map(PathBuf::from) else {
        eprintln!("usage: user_pictures OUT_DIR [COUNT (36)] [DATA_DIR (data/mnist)]");
        return ExitCode::FAILURE;
    };
    let count: usize = match args.get(1).map(|c| c.parse()) {
        None => 36,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("COUNT: expected a whole number above 0, got {}", args[1]);
            return ExitCode::FAILURE;
        }
    };
    let data = PathBuf::from(args.get(2).map_or("data/mnist", String::as_str));
    match write(&out, count, &data) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write(out: &std::path::Path, count: usize, data: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let test = Mnist::load_test(data)?;
    std::fs::create_dir_all(out)?;
    let kinds = Kind::ALL;
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    for i in 0..count {
        let index = rng.random_range(0..test.len());
        let kind = kinds[i % kinds.len()];
        let bytes = render(kind, test.image(index), &mut rng);
        let name = format!("{i:03}-{}-label{}.{}", kind.name(), test.labels[index], kind.extension());
        chiffre::fsutil::write_atomic(&out.join(name), &bytes)?;
    }
    println!("wrote {count} pictures to {}", out.display());
    Ok(())
}
