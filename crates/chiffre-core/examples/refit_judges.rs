//! Fits the "not a digit" judges and the pair reader again beside the
//! network of a model file, as `chiffre train` fits them (the training set
//! with its 40,000 cut digits, the run's seed), and writes the model with
//! them: a change to the judges measured without training the network again
//! (about 4 minutes on 2 cores instead of 9).
//!
//! `cargo run --release -p chiffre-core --example refit_judges -- MODEL OUT [SEED] [LETTER_LINES] [WIDE_DIGITS] [LETTERS_TO_JUDGES]`
//!
//! `SEED` is the seed the model was trained with (default 1); the others
//! override [`chiffre_core::reject::FitConfig`]'s `letter_lines` (0: none),
//! `wide_digits` and `letters_to_judges` (`true` or `false`).

use chiffre_core::data::Mnist;
use chiffre_core::model::CNN_CUT_DIGITS;
use chiffre_core::reject::{fit, FitConfig};
use chiffre_core::train::{with_cut_digits, TrainConfig};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(model), Some(out)) = (args.get(1), args.get(2)) else {
        return Err("usage: refit_judges MODEL OUT [SEED] [LETTER_LINES] [WIDE_DIGITS] [LETTERS_TO_JUDGES]".into());
    };
    let seed: u64 = args.get(3).map_or(Ok(1), |s| s.parse())?;
    let defaults = FitConfig::default();
    let letter_lines: f64 = args.get(4).map_or(Ok(defaults.letter_lines), |s| s.parse())?;
    let wide_digits: f64 = args.get(5).map_or(Ok(defaults.wide_digits), |s| s.parse())?;
    let letters_to_judges: bool = args.get(6).map_or(Ok(defaults.letters_to_judges), |s| s.parse())?;
    let mut file = chiffre_core::model::load(Path::new(model))?;
    let data = Mnist::load(Path::new("data/mnist"))?;
    let own = data.train.len();
    let config = TrainConfig { seed, cut_digits: CNN_CUT_DIGITS, ..TrainConfig::default() };
    let train = with_cut_digits(data.train, &config);
    let fit_config = FitConfig { seed, pair_digits: own, letter_lines, wide_digits, letters_to_judges, ..defaults };
    let (reject, report) = fit(&mut file.model, &train, &fit_config)?;
    println!("{report:?}");
    let training = file.training.take().unwrap_or_default();
    chiffre_core::model::save_with_reject(&file.model, &training, Some(&reject), Path::new(out))?;
    println!("wrote {out}");
    Ok(())
}
