//! Trains the pair reader ([`chiffre_core::reject::pairs`]) on pairs of MNIST
//! training digits and measures it on pairs of MNIST test digits: how often
//! it names both digits of a touching pair, and how often it calls a single
//! digit, a wrong cut or three digits "not a pair".
//!
//! `cargo run --release -p chiffre-core --example pair_reader -- data/mnist [EXAMPLES] [EPOCHS] [MODEL OUT]`
//!
//! With `MODEL OUT`, the pair reader trained is also put beside the judges of
//! the model file `MODEL` (in place of its own, if it has one), written to `OUT`.

use chiffre_core::data::Mnist;
use chiffre_core::reject::pairs::{best_pair, pair_example, PairKind, PairReader, NOT_A_PAIR, PAIR_CLASSES};
use chiffre_core::reject::{generate_many, glyphs, Category, Split};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).map_or("data/mnist", String::as_str);
    let count: usize = args.get(2).map_or(Ok(150_000), |s| s.parse())?;
    let epochs: usize = args.get(3).map_or(Ok(4), |s| s.parse())?;
    let data = Mnist::load(std::path::Path::new(dir))?;
    let start = Instant::now();
    // The non-digits the judges learn from (as `chiffre train` draws them: 40,000, seed 1).
    let fonts = glyphs::train_fonts();
    let others: Vec<_> =
        generate_many(&fonts, Split::Train, &Category::REJECTED, 1, 40_000).into_iter().map(|n| n.pixels).collect();
    let mut reader = PairReader::train(&data.train, &others, count, epochs, 1)?;
    println!("trained on {count} examples, {epochs} epochs, in {:.1} s", start.elapsed().as_secs_f64());
    let test_others: Vec<_> = generate_many(&glyphs::test_fonts()?, Split::Test, &Category::REJECTED, 77, 2_000)
        .into_iter()
        .map(|n| n.pixels)
        .collect();
    let examples: Vec<_> = (0..20_000).filter_map(|i| pair_example(&data.test, &test_others, 77, i)).collect();
    let rows: Vec<&[f32]> = examples.iter().map(|(_, input, _)| &input[..]).collect();
    let probs = reader.probabilities(&rows);
    for kind in [PairKind::Pair, PairKind::One, PairKind::Cut, PairKind::Three, PairKind::NotDigits] {
        let (mut n, mut right) = (0, 0);
        for ((k, _, class), p) in examples.iter().zip(probs.chunks_exact(PAIR_CLASSES)) {
            if *k != kind {
                continue;
            }
            n += 1;
            let (a, b, pp) = best_pair(p);
            let said = if pp > p[NOT_A_PAIR] { usize::from(a * 10 + b) } else { NOT_A_PAIR };
            right += usize::from(said == usize::from(*class));
        }
        println!("{kind:?}: {right} / {n} right ({:.2} %)", 100.0 * right as f64 / n.max(1) as f64);
    }
    if let (Some(model), Some(out)) = (args.get(4), args.get(5)) {
        let mut file = chiffre_core::model::load(std::path::Path::new(model))?;
        let training = file.training.take().unwrap_or_default();
        let mut reject = file.reject.take().ok_or("the model file has no judges to put the pair reader beside")?;
        reject.pairs = Some(reader);
        chiffre_core::model::save_with_reject(&file.model, &training, Some(&reject), std::path::Path::new(out))?;
        println!("wrote {out}");
    }
    Ok(())
}
