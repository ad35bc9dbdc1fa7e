//! Does chiffre read whole numbers? Pictures of numbers composed from MNIST
//! *test* digits (see `common/numbers.rs`) are read with `Model::read`, and
//! the digit error rate (edit distance / length) is compared with the error
//! rate of the same digits read one by one as MNIST images.
//!
//! `cargo test` runs a small set with a CNN trained here for one epoch;
//! `bench/numbers.sh` runs the full set of 1,000 numbers with the trained
//! default model and prints the table of the README (`--ignored`).

mod common;

use chiffre::data::{default_data_dir, Dataset, Mnist};
use chiffre::loss::Loss;
use chiffre::model::{preset, Sequential};
use chiffre::optim::OptimizerKind;
use chiffre::preprocess::{decode_bytes, Pixels};
use chiffre::train::{train, Quiet, TrainConfig};
use chiffre::Model;
use common::numbers::{edit_distance, letter_alone, number_picture, number_with_letter, NumberPicture};
use common::render::{render, Kind};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

/// Seed of the generated sets (the full set uses another).
const SEED: u64 = 15;

fn mnist() -> Mnist {
    Mnist::load(&default_data_dir()).expect("the bundled MNIST loads")
}

fn trained_cnn(data: &Mnist, epochs: usize) -> Model {
    let mut network = Sequential::new(&preset("cnn", 10).expect("the cnn preset"), 1).expect("the cnn builds");
    let optimizer = OptimizerKind::RMSPROP;
    let config = TrainConfig {
        epochs,
        batch_size: 64,
        optimizer,
        lr: optimizer.default_lr(),
        loss: Loss::CrossEntropy,
        seed: 1,
        ..TrainConfig::default()
    };
    train(&mut network, &data.train, None, &config, &mut Quiet).expect("training runs");
    // The not-a-digit gate, as `chiffre train` fits it (smaller): it also
    // judges the cuts of touching digits.
    let gate = chiffre::reject::FitConfig { digits: 4_000, negatives: 4_000, epochs: 8, ..Default::default() };
    let (reject, _) = chiffre::reject::fit(&mut network, &data.train, &gate).expect("the gate fits");
    let mut model = Model::from_network(network).expect("the cnn reads 28×28×1");
    model.set_reject(Some(reject));
    model
}

/// The CNN trained for two epochs, with its gate, shared by the tests of this file.
fn shared_model() -> &'static Mutex<Model> {
    static MODEL: OnceLock<Mutex<Model>> = OnceLock::new();
    MODEL.get_or_init(|| {
        // CHIFFRE_MODEL measures a trained model file instead (bench/numbers.sh).
        let model = match std::env::var("CHIFFRE_MODEL") {
            Ok(path) => Model::load(&path).unwrap_or_else(|e| panic!("CHIFFRE_MODEL: {e}")),
            Err(_) => trained_cnn(&mnist(), 2),
        };
        Mutex::new(model)
    })
}

/// Counts for one group of numbers.
#[derive(Default, Clone, Copy)]
struct Tally {
    numbers: usize,
    whole_right: usize,
    /// Numbers read with as many digits as they hold, a `?` (a mark found
    /// but not read as a digit) counting as one: segmentation found every digit.
    count_right: usize,
    /// The same, a `?` not counted as a digit.
    digits_right: usize,
    digits: usize,
    edits: usize,
    single_wrong: usize,
    /// Digits read one by one wrong or said "not a digit" (as `predict`
    /// reads a single digit: like for like with the numbers, whose rejected
    /// marks count as errors).
    single_wrong_or_rejected: usize,
}

impl Tally {
    fn error_rate(&self) -> f64 {
        self.edits as f64 / self.digits.max(1) as f64
    }
    fn single_error_rate(&self) -> f64 {
        self.single_wrong as f64 / self.digits.max(1) as f64
    }
    fn single_error_or_reject_rate(&self) -> f64 {
        self.single_wrong_or_rejected as f64 / self.digits.max(1) as f64
    }
    fn add(&mut self, other: &Tally) {
        self.numbers += other.numbers;
        self.whole_right += other.whole_right;
        self.count_right += other.count_right;
        self.digits_right += other.digits_right;
        self.digits += other.digits;
        self.edits += other.edits;
        self.single_wrong += other.single_wrong;
        self.single_wrong_or_rejected += other.single_wrong_or_rejected;
    }
}

/// Reads one picture and scores it against its truth.
/// Reads one generated number: its tally, the text read, and its digits
/// read one by one as MNIST images (what `CHIFFRE_SHOW` prints beside it).
fn score(model: &mut Model, test: &Dataset, picture: &NumberPicture, name: &str) -> (Tally, String, String) {
    let image = decode_bytes(&picture.bytes, name).expect("a generated picture decodes");
    let threshold = std::env::var("CHIFFRE_THRESHOLD").ok().and_then(|v| v.parse().ok());
    let reading = match threshold {
        Some(t) => model.read_with_threshold(&image, t),
        None => model.read(&image),
    };
    let read = reading.map(|r| r.text()).unwrap_or_default();
    let truth_digits: String = picture.text.chars().filter(char::is_ascii_digit).collect();
    let read_digits = read.chars().filter(char::is_ascii_digit).count();
    let read_marks = read.chars().filter(|&c| c.is_ascii_digit() || c == '?').count();
    let singles: Vec<Pixels> =
        picture.digits.iter().map(|&i| std::array::from_fn(|j| f32::from(test.image(i)[j]) / 255.0)).collect();
    let singly = model.predict_batch(&singles).expect("the scores are numbers");
    let wrong = |p: &&chiffre::predict::Prediction, i: usize| p.digit != usize::from(test.labels[i]);
    let single_wrong = singly.iter().zip(&picture.digits).filter(|&(p, &i)| wrong(&p, i)).count();
    let cut = threshold.unwrap_or_else(|| model.reject_threshold().unwrap_or(0.0));
    let single_wrong_or_rejected =
        singly.iter().zip(&picture.digits).filter(|&(p, &i)| wrong(&p, i) || !p.is_digit(cut)).count();
    let tally = Tally {
        numbers: 1,
        whole_right: usize::from(read == picture.text),
        count_right: usize::from(read_marks == truth_digits.len()),
        digits_right: usize::from(read_digits == truth_digits.len()),
        digits: picture.text.chars().filter(|c| *c != '\n').count(),
        edits: edit_distance(&read.replace('\n', ""), &picture.text.replace('\n', "")),
        single_wrong,
        single_wrong_or_rejected,
    };
    let singly_read = singly.iter().map(|p| char::from(b'0' + p.digit as u8)).collect();
    (tally, read, singly_read)
}

fn kind(p: &NumberPicture) -> &'static str {
    match (p.lines, p.point, p.touching) {
        (2, _, _) => "two lines",
        (_, true, _) => "with a point",
        (_, _, true) => "touching",
        _ => "apart",
    }
}

/// Reads `n` generated numbers and returns the tallies by kind, by length,
/// and for numbers without / with touching digits.
fn read_set(model: &mut Model, test: &Dataset, seed: u64, n: u64, show: bool) -> BTreeMap<String, Tally> {
    let pictures: Vec<NumberPicture> = (0..n).into_par_iter().map(|i| number_picture(test, seed, i)).collect();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let dump = std::env::var("CHIFFRE_DUMP").ok();
    for (i, p) in pictures.iter().enumerate() {
        if let Some(dir) = &dump {
            std::fs::create_dir_all(dir).expect("CHIFFRE_DUMP: a folder");
            std::fs::write(format!("{dir}/number-{i}.{}", p.extension), &p.bytes).expect("write a picture");
        }
        let (t, read, singly) = score(model, test, p, &format!("number-{i}.{}", p.extension));
        if show && t.whole_right == 0 {
            let touching = if p.touching { ", touching" } else { "" };
            println!("number {i} ({}{touching}): truth {:?} read {:?}, one by one {singly:?}", kind(p), p.text, read);
        }
        let len = p.text.chars().filter(char::is_ascii_digit).count();
        let touching = if p.touching { "touching: yes" } else { "touching: no" };
        for key in [format!("kind: {}", kind(p)), format!("length: {len}"), touching.to_string(), "all".to_string()] {
            tallies.entry(key).or_default().add(&t);
        }
    }
    tallies
}

fn print_table(tallies: &BTreeMap<String, Tally>) {
    println!(
        "| group | numbers | whole number right | digit count right | the same, `?` not counted | digit error rate \
         | single-digit error rate | the same, rejected counted |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (key, t) in tallies {
        println!(
            "| {key} | {} | {:.1} % | {:.1} % | {:.1} % | {:.2} % | {:.2} % | {:.2} % |",
            t.numbers,
            100.0 * t.whole_right as f64 / t.numbers as f64,
            100.0 * t.count_right as f64 / t.numbers as f64,
            100.0 * t.digits_right as f64 / t.numbers as f64,
            100.0 * t.error_rate(),
            100.0 * t.single_error_rate(),
            100.0 * t.single_error_or_reject_rate()
        );
    }
}

#[test]
fn generated_numbers_are_read_nearly_as_well_as_their_digits_one_by_one() {
    let data = mnist();
    let mut model = shared_model().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let tallies = read_set(&mut model, &data.test, SEED, 200, true);
    print_table(&tallies);
    let apart = tallies["touching: no"];
    let touching = tallies["touching: yes"];
    assert!(apart.numbers >= 50 && touching.numbers >= 50, "both kinds drawn");
    // Regression bounds, looser than the full set's targets (1.5× and 3× the
    // single-digit error rate, 99 % of counts right): 200 numbers, a two-epoch
    // network and a small gate, whose rejected marks (`?`) count as errors.
    // The targets are not met yet (see the README); these bounds only keep
    // the reading from getting worse.
    let single = tallies["all"].single_error_rate();
    assert!(apart.error_rate() <= 4.0 * single + 0.01, "apart: {:.4} vs single {single:.4}", apart.error_rate());
    assert!(touching.error_rate() <= 0.2, "touching: {:.4} (single {single:.4})", touching.error_rate());
    let count_apart = apart.count_right as f64 / apart.numbers as f64;
    assert!(count_apart >= 0.92, "digit count right on {count_apart:.3} of the numbers without touching digits");
}

/// What the ignored measurements start from: MNIST, the trained model
/// file `CHIFFRE_MODEL` (`models/cnn.safetensors`) and the number of
/// pictures `CHIFFRE_NUMBERS` (`default_n`).
fn trained_model_and_count(default_n: u64) -> (Mnist, Model, u64) {
    let path = std::env::var("CHIFFRE_MODEL").unwrap_or_else(|_| "models/cnn.safetensors".into());
    let model = Model::load(&path).unwrap_or_else(|e| panic!("{e}: train it first (bench/numbers.sh does)"));
    let n = std::env::var("CHIFFRE_NUMBERS").ok().and_then(|v| v.parse().ok()).unwrap_or(default_n);
    (mnist(), model, n)
}

#[test]
#[ignore = "the full set, with a trained model: bench/numbers.sh"]
fn full_number_set() {
    let (data, mut model, n) = trained_model_and_count(1000);
    let show = std::env::var("CHIFFRE_SHOW").is_ok();
    let seed = std::env::var("CHIFFRE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(2026);
    let tallies = read_set(&mut model, &data.test, seed, n, show);
    print_table(&tallies);
    let single = tallies["all"].single_error_rate();
    let (apart, touching) = (tallies["touching: no"], tallies["touching: yes"]);
    println!(
        "targets: apart {:.2} % <= {:.2} % (1.5x), touching {:.2} % <= {:.2} % (3x), count right apart {:.2} % >= 99 %",
        100.0 * apart.error_rate(),
        150.0 * single,
        100.0 * touching.error_rate(),
        300.0 * single,
        100.0 * apart.count_right as f64 / apart.numbers as f64
    );
    let like = tallies["all"].single_error_or_reject_rate();
    println!(
        "with the digits read one by one also counted wrong when rejected ({:.2} %): apart {:.2} % <= {:.2} %, \
         touching {:.2} % <= {:.2} %",
        100.0 * like,
        100.0 * apart.error_rate(),
        150.0 * like,
        100.0 * touching.error_rate(),
        300.0 * like
    );
    assert!(apart.error_rate() <= 1.5 * single);
    assert!(touching.error_rate() <= 3.0 * single);
    assert!(apart.count_right as f64 >= 0.99 * apart.numbers as f64);
}

/// A letter or a symbol among digits ("12A4"), standing apart: how often
/// it is read as a digit, said "not a digit" (`?`), or lost or split (the
/// count of marks wrong), over `CHIFFRE_NUMBERS` pictures (600), each
/// letter of the test fonts (never seen in training) that people do not
/// also write like a digit, and each symbol, in turn. What the rules for a
/// mark among digits (`reading::among`) trade against reading the digits
/// the judges doubt. `CHIFFRE_SHOW=1` lists the letters read as digits.
/// The test fonts' letters and symbols, the ambiguous ones (O, l, …) left out.
fn test_glyphs() -> Vec<(char, image::GrayImage)> {
    use chiffre::reject::glyphs::{is_ambiguous, LETTERS, SYMBOLS, TEST_ATLAS};
    let fonts = chiffre::reject::glyphs::decode(TEST_ATLAS, "test.glyphs.gz").expect("the test atlas decodes");
    let glyphs: Vec<(char, image::GrayImage)> = fonts
        .iter()
        .flat_map(|font| LETTERS.chars().chain(SYMBOLS.chars()).filter_map(move |c| font.glyph(c)))
        .filter(|g| !is_ambiguous(g.ch) && g.width > 0 && g.height > 0)
        .filter_map(|g| {
            image::GrayImage::from_raw(g.width as u32, g.height as u32, g.coverage.clone()).map(|i| (g.ch, i))
        })
        .collect();
    assert!(!glyphs.is_empty(), "the test fonts have letters");
    glyphs
}

#[test]
#[ignore = "with a trained model: bench/numbers.sh"]
fn letters_among_digits() {
    let (data, mut model, n) = trained_model_and_count(600);
    let glyphs = test_glyphs();
    let show = std::env::var("CHIFFRE_SHOW").is_ok();
    let (mut as_digit, mut rejected, mut count_wrong, mut digit_edits, mut digits) = (0, 0, 0, 0, 0);
    for i in 0..n {
        let (c, glyph) = &glyphs[(i as usize * 7919) % glyphs.len()];
        let picture = number_with_letter(&data.test, 2026, i, (*c, glyph));
        let image = decode_bytes(&picture.bytes, "letter.png").expect("a generated picture decodes");
        let read: Vec<char> = model.read(&image).map(|r| r.text()).unwrap_or_default().chars().collect();
        let truth: Vec<char> = picture.text.chars().collect();
        let at = truth.iter().position(|t| t == c).expect("the letter is in the text");
        if read.len() != truth.len() {
            if show {
                let read: String = read.iter().collect();
                println!("{c:?}: the count of marks wrong, {:?} read {read:?}", picture.text);
            }
            count_wrong += 1;
            continue;
        }
        match read[at] {
            '?' => rejected += 1,
            d if d.is_ascii_digit() => {
                as_digit += 1;
                if show {
                    println!("{c:?} read as {d} in {:?}", picture.text);
                }
            }
            _ => {}
        }
        let others =
            |s: &[char]| -> String { s.iter().enumerate().filter(|&(k, _)| k != at).map(|(_, c)| c).collect() };
        digit_edits += edit_distance(&others(&read), &others(&truth));
        digits += truth.len() - 1;
    }
    let pct = |k: usize| 100.0 * k as f64 / n as f64;
    println!(
        "{n} numbers with a letter or symbol among 2-5 digits ({} glyphs): the letter read as a digit {:.1} %, \
         as `?` {:.1} %, count of marks wrong {:.1} %; the digits' error (count right) {:.2} %",
        glyphs.len(),
        pct(as_digit),
        pct(rejected),
        pct(count_wrong),
        100.0 * digit_edits as f64 / digits.max(1) as f64
    );
    assert!(as_digit + rejected + count_wrong <= n as usize);
}

/// A letter or symbol alone in a picture is not a number: how often each
/// glyph of the test fonts, drawn alone, is read as digits (`bench/numbers.sh`).
#[test]
#[ignore = "with a trained model: bench/numbers.sh"]
fn letters_alone() {
    let (data, mut model, _) = trained_model_and_count(0);
    let glyphs = test_glyphs();
    let show = std::env::var("CHIFFRE_SHOW").is_ok();
    let (mut as_digits, mut rejected, mut as_two_or_more) = (0, 0, 0);
    for (i, (c, glyph)) in glyphs.iter().enumerate() {
        let picture = letter_alone(&data.test, 2026, i as u64, (*c, glyph));
        let image = decode_bytes(&picture.bytes, "letter.png").expect("a generated picture decodes");
        let read = model.read(&image).map(|r| r.text()).unwrap_or_default();
        if read.chars().any(|d| d.is_ascii_digit()) {
            as_digits += 1;
            as_two_or_more += usize::from(read.chars().count() > 1);
            if show {
                println!("{c:?} alone read {read:?}");
            }
        } else if read == "?" {
            rejected += 1;
        }
    }
    let pct = |k: usize| 100.0 * k as f64 / glyphs.len() as f64;
    println!(
        "{} letters and symbols alone: read with a digit {:.1} % (of which as two or more marks {:.1} %), as `?` {:.1} %",
        glyphs.len(),
        pct(as_digits),
        pct(as_two_or_more),
        pct(rejected)
    );
    assert!(as_digits + rejected <= glyphs.len());
}

/// How many of the single-digit user pictures of `kind` (drawn from test
/// digits `0..n`) are read as exactly one digit; the others' readings.
fn one_digit_share(model: &mut Model, test: &Dataset, kind: Kind, n: usize) -> (usize, Vec<String>) {
    let mut odd = Vec::new();
    let mut ones = 0;
    for i in 0..n {
        let mut rng = ChaCha8Rng::seed_from_u64(((kind as u64) << 32) + i as u64);
        let name = format!("{}-{i}.{}", kind.name(), kind.extension());
        let image = decode_bytes(&render(kind, test.image(i), &mut rng), &name).expect("a rendered picture decodes");
        match model.read(&image) {
            Ok(r) if r.single().is_some() => ones += 1,
            Ok(r) => odd.push(format!("{name}: {:?}", r.text())),
            Err(e) => odd.push(format!("{name}: {e}")),
        }
    }
    (ones, odd)
}

#[test]
fn single_digit_pictures_are_read_as_one_digit() {
    let data = mnist();
    let mut model = shared_model().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let n = 100;
    let mut all_odd = Vec::new();
    for kind in Kind::ALL {
        let (ones, odd) = one_digit_share(&mut model, &data.test, kind, n);
        println!("{}: {ones} of {n} read as one digit", kind.name());
        all_odd.extend(odd);
    }
    for o in &all_odd {
        println!("  {o}");
    }
    assert!(
        all_odd.len() * 200 <= n * Kind::ALL.len(),
        "{} of {} pictures not read as one digit",
        all_odd.len(),
        n * Kind::ALL.len()
    );
}
