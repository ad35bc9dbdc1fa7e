//! `chiffre predict`: read the number in pictures (files or folders of them):
//! every digit, in reading order, with decimal points and minus signs
//! (`--single` reads the whole picture as one digit). A picture that cannot
//! be read gets one `error:` line and the others are still read; the exit
//! status is non-zero if any failed.

use super::predict_output::{boxes_png, number_json, number_line, shown_number};
use super::values;
use crate::predict::{Model, NotANumber, Prediction};
use crate::preprocess::{encode_png, load_image, preprocess, raw_pixels, Pixels, SIDE};
use crate::reading::{read_picture, read_picture_with_pairs, ReadDigit, Reading, Symbol};
use anyhow::Context;
use image::DynamicImage;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where `chiffre train` writes the default network (`--arch cnn`).
pub const DEFAULT_MODEL: &str = "models/cnn.safetensors";

/// File extensions read in a folder (any file named on the command line is
/// tried, whatever its name).
const IMAGE_EXTENSIONS: &[&str] =
    &["png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "webp", "pgm", "ppm", "pbm", "pnm", "pam"];

/// Arguments of `chiffre predict`.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// Picture files, or folders of them (PNG, JPEG, BMP, GIF, TIFF, WebP, PGM/PPM).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The model file written by `chiffre train` [default: models/cnn.safetensors]; give several
    /// (`--model a --model b`) to read with their ensemble, which averages their probabilities.
    #[arg(long, value_name = "FILE")]
    model: Vec<PathBuf>,
    /// One JSON object per line: path, number, digits (each with digit, confidence, probabilities, box,
    /// line); a picture of one digit also gives digit, confidence, probabilities and top.
    #[arg(long)]
    json: bool,
    /// Read the whole picture as one digit (no search for several digits).
    #[arg(long)]
    single: bool,
    /// How many of the most probable digits to show.
    #[arg(long, allow_negative_numbers = true, value_name = "K", default_value_t = 3, value_parser = values::whole_from(1))]
    top: usize,
    /// Write the 28×28 picture the network saw, as DIR/NAME.png (one digit), or DIR/NAME.D.png for
    /// each digit D of a number (from 1) and DIR/NAME.boxes.png, the picture with the digits' boxes.
    #[arg(long, value_name = "DIR")]
    save_preprocessed: Option<PathBuf>,
    /// No preprocessing: the pictures must already be 28×28, white ink on black (implies --single).
    #[arg(long)]
    raw: bool,
    /// Read every mark as a digit: no "not a digit" decision.
    #[arg(long, conflicts_with = "reject_threshold")]
    no_reject: bool,
    /// A mark whose probability of being a digit at all is below this is "not a digit"
    /// [default: the model's, chosen when it was trained; 0 reads every mark as a digit].
    #[arg(long, allow_negative_numbers = true, value_parser = values::probability, value_name = "P")]
    reject_threshold: Option<f32>,
    /// Also draw the 28×28 input the network saw, in the terminal (Unicode half blocks).
    #[arg(long, conflicts_with = "json")]
    show: bool,
    /// Pictures read side by side, one per thread, each with its own copy of the model (0: one per core).
    #[arg(long, allow_negative_numbers = true, value_parser = values::whole_from(0), default_value_t = 0)]
    threads: usize,
}

/// The threshold on the digit probability for this run; `note` says when
/// the models cannot reject anything (printed on stderr after the run, so
/// that each picture's error stays the first thing said about it).
fn reject_threshold(args: &PredictArgs, models: &[Model], paths: &[PathBuf], note: &mut Option<String>) -> f32 {
    if args.no_reject {
        return 0.0;
    }
    let without: Vec<String> = models
        .iter()
        .zip(paths.iter().map(|p| p.display().to_string()).chain(std::iter::repeat(DEFAULT_MODEL.to_string())))
        .filter(|(m, _)| m.reject_threshold().is_none())
        .map(|(_, p)| p)
        .collect();
    if !without.is_empty() {
        *note = Some(format!(
            "note: {} {} no \"not a digit\" gate (made before chiffre had one): every mark was read as a digit; \
             train again with `chiffre train` to get one",
            without.join(", "),
            if without.len() == 1 { "has" } else { "have" }
        ));
    }
    args.reject_threshold.or_else(|| models.iter().filter_map(Model::reject_threshold).reduce(f32::max)).unwrap_or(0.0)
}

/// The files named by `paths`: files as they are, folders as their picture
/// files (by extension, sorted, not recursive). Paths that cannot be listed
/// come back as error messages naming them.
pub fn expand(paths: &[PathBuf]) -> Vec<Result<PathBuf, String>> {
    let mut out = Vec::new();
    for path in paths {
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) => {
                out.push(Err(format!("{}: cannot read: {e}", path.display())));
                continue;
            }
        };
        if !meta.is_dir() {
            out.push(Ok(path.clone()));
            continue;
        }
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(e) => {
                out.push(Err(format!("{}: cannot read the folder: {e}", path.display())));
                continue;
            }
        };
        let mut files = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => files.push(entry.path()),
                Err(e) => out.push(Err(format!("{}: cannot read the folder: {e}", path.display()))),
            }
        }
        files.retain(|f| is_picture_name(f) && !f.is_dir());
        files.sort();
        if files.is_empty() {
            out.push(Err(format!(
                "{}: no picture files in this folder ({})",
                path.display(),
                IMAGE_EXTENSIONS.join(", ")
            )));
        }
        out.extend(files.into_iter().map(Ok));
    }
    out
}

fn is_picture_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|known| known.eq_ignore_ascii_case(e)))
}

/// A file name in `dir` for a picture made from `path`, not used before in
/// this run: `STEM.png` (`STEM.SUFFIX.png` with a suffix), else
/// `STEM-2.png`, `STEM-3.png`, …
fn preprocessed_name(dir: &Path, path: &Path, used: &mut HashSet<PathBuf>, suffix: Option<&str>) -> PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("picture");
    let tail = suffix.map_or_else(|| ".png".to_string(), |s| format!(".{s}.png"));
    (1..)
        .map(|n| if n == 1 { dir.join(format!("{stem}{tail}")) } else { dir.join(format!("{stem}-{n}{tail}")) })
        .find(|candidate| used.insert(candidate.clone()))
        .unwrap_or_else(|| dir.join(format!("picture{tail}")))
}

/// Loads the models (the default one when none is given), explaining how to
/// make one when the default is missing.
fn load_models(paths: &[PathBuf]) -> anyhow::Result<Vec<Model>> {
    if paths.is_empty() {
        let path = Path::new(DEFAULT_MODEL);
        if !path.exists() {
            anyhow::bail!(
                "no model at {DEFAULT_MODEL}: make one with `cargo run --release -- train` (or `chiffre train`), \
                 or give --model FILE"
            );
        }
        return Ok(vec![Model::load(path)?]);
    }
    let models = paths.iter().map(Model::load).collect::<Result<Vec<_>, _>>()?;
    if let Some((m, path)) = models.iter().zip(paths).find(|(m, _)| m.num_classes() != models[0].num_classes()) {
        anyhow::bail!(
            "{} reads {} classes but {} reads {}: an ensemble needs models of the same classes",
            path.display(),
            m.num_classes(),
            paths[0].display(),
            models[0].num_classes()
        );
    }
    Ok(models)
}

/// The prediction of one model, or the mean of several.
fn predict_all(models: &mut [Model], pixels: &Pixels) -> Result<Prediction, NotANumber> {
    Ok(predict_batch_all(models, std::slice::from_ref(pixels))?.swap_remove(0))
}

/// [`predict_all`] for many inputs, in order.
pub fn predict_batch_all(models: &mut [Model], inputs: &[Pixels]) -> Result<Vec<Prediction>, NotANumber> {
    match models {
        [one] => one.predict_batch(inputs),
        several => {
            let each = several.iter_mut().map(|m| m.predict_batch(inputs)).collect::<Result<Vec<_>, _>>()?;
            Ok((0..inputs.len())
                .map(|i| {
                    let members: Vec<Prediction> = each.iter().map(|e| e[i].clone()).collect();
                    Prediction::mean(&members).expect("models of the same classes")
                })
                .collect())
        }
    }
}

/// The network input for one picture read as one digit: preprocessed (or not).
fn pixels_of(path: &Path, image: &DynamicImage, raw: bool) -> Result<Pixels, String> {
    let pixels = if raw { raw_pixels(image) } else { preprocess(image) };
    pixels.map_err(|e| e.in_file(path).to_string())
}

fn text_line(path: &Path, p: &Prediction, top: usize, is_digit: bool) -> String {
    let ranked: Vec<String> = p.top(top).iter().map(|(d, prob)| format!("{d} {prob:.3}")).collect();
    if !is_digit {
        return format!(
            "{}: not a digit (digit probability {:.3})  if it were, top {}: {}",
            path.display(),
            p.digit_probability,
            ranked.len(),
            ranked.join(", ")
        );
    }
    format!("{}: {} ({:.3})  top {}: {}", path.display(), p.digit, p.confidence, ranked.len(), ranked.join(", "))
}

/// The picture the network saw, with what it read beside it.
fn shown(path: &Path, p: &Prediction, top: usize, pixels: &Pixels, is_digit: bool) -> String {
    let verdict = if is_digit {
        format!("read as {} ({:.1} %)", p.digit, 100.0 * p.confidence)
    } else {
        format!("not a digit ({:.1} % a digit)", 100.0 * p.digit_probability)
    };
    let mut text = vec![String::new(), path.display().to_string(), String::new(), verdict, String::new()];
    text.extend(p.top(top).iter().map(|(d, prob)| format!("  {d}  {:>5.1} %  {}", 100.0 * prob, bar(*prob))));
    crate::preview::beside(&crate::preview::half_blocks(pixels, SIDE, SIDE), &text, 3)
}

/// A bar of up to 20 blocks for a probability.
fn bar(p: f32) -> String {
    "█".repeat((p * 20.0).round() as usize)
}

fn json_value(path: &Path, p: &Prediction, top: usize, saved: Option<&Path>, is_digit: bool) -> serde_json::Value {
    let mut value = crate::reading::digit_json(p, top, is_digit);
    value["path"] = path.display().to_string().into();
    value["preprocessed"] = saved.map(|s| s.display().to_string()).into();
    value
}

/// Writes `bytes` to `file`, naming the picture in the error.
fn save(path: &Path, file: &Path, bytes: &[u8]) -> Result<PathBuf, String> {
    crate::fsutil::write_atomic(file, bytes)
        .map_err(|e| format!("{}: cannot write {}: {e}", path.display(), file.display()))?;
    Ok(file.to_path_buf())
}

/// The output of one picture read as one digit (`--single`, `--raw`, or a
/// picture that holds one digit and nothing else).
fn one_digit(
    args: &PredictArgs,
    path: &Path,
    (p, is_digit): (&Prediction, bool),
    pixels: &Pixels,
    reading: Option<&Reading>,
    saved: Option<PathBuf>,
) -> String {
    let top = args.top;
    if args.json {
        let mut value = json_value(path, p, top, saved.as_deref(), is_digit);
        if let Some(reading) = reading {
            let number = number_json(path, reading, top, None);
            value["number"] = number["number"].clone();
            value["digits"] = number["digits"].clone();
        }
        value.to_string()
    } else if args.show {
        shown(path, p, top, pixels, is_digit)
    } else {
        text_line(path, p, top, is_digit)
    }
}

/// What reading one picture found, before anything is saved or printed.
enum Outcome {
    /// The picture read as one digit (`--single`, `--raw`): its input and
    /// the models' prediction.
    Single { image: DynamicImage, pixels: Box<Pixels>, prediction: Prediction, is_digit: bool },
    /// The picture's number (one digit or several).
    Number { image: DynamicImage, reading: Reading },
}

/// Reads one picture: the work that may run beside other pictures'.
fn read_picture_at(args: &PredictArgs, models: &mut [Model], threshold: f32, path: &Path) -> Result<Outcome, String> {
    let image = load_image(path).map_err(|e| e.to_string())?;
    if args.single || args.raw {
        let pixels = pixels_of(path, &image, args.raw)?;
        let prediction = predict_all(models, &pixels).map_err(|e| format!("{}: {e}", path.display()))?;
        let is_digit = prediction.is_digit(threshold);
        return Ok(Outcome::Single { image, pixels: Box::new(pixels), prediction, is_digit });
    }
    // The first model's pair reader reads two digits run together whole (see
    // chiffre_core::reject::pairs); taken out of it while the models read.
    let mut pairs = models.first_mut().and_then(Model::take_pair_reader);
    let read = match pairs.as_mut() {
        Some(reader) => read_picture_with_pairs(
            &image,
            &mut |inputs| predict_batch_all(models, inputs),
            Some(&mut |inputs: &[&[f32]]| reader.probabilities(inputs)),
            threshold,
        ),
        None => read_picture(&image, &mut |inputs| predict_batch_all(models, inputs), threshold),
    };
    if let (Some(first), Some(reader)) = (models.first_mut(), pairs) {
        first.put_pair_reader(reader);
    }
    let reading = read
        .map_err(|e| crate::predict::PredictError::from(e).to_string())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Outcome::Number { image, reading })
}

/// Saves what `--save-preprocessed` asks for and returns what to print, in
/// the order the pictures were given (`used`: the file names taken so far).
fn report(args: &PredictArgs, path: &Path, outcome: Outcome, used: &mut HashSet<PathBuf>) -> Result<String, String> {
    let dir = args.save_preprocessed.as_deref();
    let save_one = |pixels: &Pixels, used: &mut HashSet<PathBuf>| {
        dir.map(|dir| save(path, &preprocessed_name(dir, path, used, None), &encode_png(pixels))).transpose()
    };
    let (image, reading) = match outcome {
        Outcome::Single { image, pixels, prediction, is_digit } => {
            let saved = save_one(&pixels, used)?;
            // The whole picture is the digit's box.
            let digit = ReadDigit {
                is_digit,
                prediction: prediction.clone(),
                bounds: [0, 0, image.width(), image.height()],
                line: 0,
                pixels: pixels.clone(),
            };
            let reading = Reading { lines: vec![vec![Symbol::Digit(digit)]] };
            return Ok(one_digit(args, path, (&prediction, is_digit), &pixels, Some(&reading), saved));
        }
        Outcome::Number { image, reading } => (image, reading),
    };
    if let Some(d) = reading.single() {
        let saved = save_one(&d.pixels, used)?;
        return Ok(one_digit(args, path, (&d.prediction, d.is_digit), &d.pixels, Some(&reading), saved));
    }
    let mut saved = Vec::new();
    if let Some(dir) = dir {
        for (k, d) in reading.digits().enumerate() {
            saved.push(save(
                path,
                &preprocessed_name(dir, path, used, Some(&(k + 1).to_string())),
                &encode_png(&d.pixels),
            )?);
        }
        save(path, &preprocessed_name(dir, path, used, Some("boxes")), &boxes_png(&image, &reading))?;
    }
    let top = args.top;
    Ok(if args.json {
        number_json(path, &reading, top, dir.map(|_| saved.as_slice())).to_string()
    } else if args.show {
        shown_number(path, &reading)
    } else {
        number_line(path, &reading)
    })
}

/// Reads every picture and prints one line each, in the order given; errors
/// go to stderr. Several pictures are read side by side, one per core, each
/// reader with its own copy of the models on one thread (as `chiffre serve`'s
/// workers read): a picture's networks are too small to split across cores,
/// so this reads a folder about twice as fast on two cores as one picture at
/// a time did.
pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let threads = super::set_threads(args.threads)?;
    let models = load_models(&args.model)?;
    let mut note = None;
    let threshold = reject_threshold(&args, &models, &args.model, &mut note);
    if let Some(dir) = &args.save_preprocessed {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--save-preprocessed {}: cannot create", dir.display()))?;
    }
    let inputs = expand(&args.paths);
    let readers = threads.min(inputs.len()).max(1);
    let mut sets = vec![models];
    for _ in 1..readers {
        sets.push(load_models(&args.model)?);
    }
    // A closed pipe (`chiffre predict DIR | head`) ends the run quietly.
    let Some((total, failed)) = read_in_order(&args, sets, threshold, &inputs) else { return Ok(()) };
    if let Some(note) = note {
        eprintln!("{note}");
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {total} inputs could not be read");
    }
    Ok(())
}

/// Reads `inputs` with one reader per set of models (one thread each; the
/// calling thread's pool when there is one set) and prints each picture's
/// line as soon as the pictures before it are printed. Returns how many
/// inputs there were and how many failed; `None` when stdout was closed.
fn read_in_order(
    args: &PredictArgs,
    mut sets: Vec<Vec<Model>>,
    threshold: f32,
    inputs: &[Result<PathBuf, String>],
) -> Option<(usize, usize)> {
    let mut used = HashSet::new();
    let mut stdout = std::io::stdout().lock();
    let mut failed = 0;
    // Prints one input's answer; false once stdout is closed.
    let mut print = |path: Result<&Path, String>, outcome: Result<Outcome, String>| match path
        .and_then(|path| report(args, path, outcome?, &mut used))
    {
        Ok(line) => writeln!(stdout, "{line}").is_ok(),
        Err(message) => {
            failed += 1;
            eprintln!("error: {message}");
            true
        }
    };
    let read = |models: &mut [Model], input: &Result<PathBuf, String>| match input {
        Ok(path) => read_picture_at(args, models, threshold, path),
        Err(message) => Err(message.clone()),
    };
    if let [models] = sets.as_mut_slice() {
        for input in inputs {
            if !print(input.as_deref().map_err(Clone::clone), read(models, input)) {
                return None;
            }
        }
        return Some((inputs.len(), failed));
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let finished = std::thread::scope(|scope| {
        let (done, answers) = std::sync::mpsc::channel();
        for mut models in sets {
            let (done, next, read) = (done.clone(), &next, &read);
            scope.spawn(move || {
                crate::serve::pool::single_threaded(|| loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    // The printer is gone (stdout closed): stop.
                    if k >= inputs.len() || done.send((k, read(&mut models, &inputs[k]))).is_err() {
                        return;
                    }
                })
            });
        }
        drop(done);
        // Answers come in any order; each is printed once those before it are.
        let mut waiting = std::collections::BTreeMap::new();
        let mut printed = 0;
        for (k, outcome) in answers {
            waiting.insert(k, outcome);
            while let Some(outcome) = waiting.remove(&printed) {
                if !print(inputs[printed].as_deref().map_err(Clone::clone), outcome) {
                    // Dropping the receiver stops the readers after their picture.
                    return false;
                }
                printed += 1;
            }
        }
        true
    });
    finished.then_some((inputs.len(), failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocessed_names_do_not_collide() {
        let mut used = HashSet::new();
        let dir = Path::new("out");
        let a = preprocessed_name(dir, Path::new("x/seven.jpg"), &mut used, None);
        let b = preprocessed_name(dir, Path::new("y/seven.png"), &mut used, None);
        let c = preprocessed_name(dir, Path::new("seven.bmp"), &mut used, None);
        assert_eq!((a, b, c), (dir.join("seven.png"), dir.join("seven-2.png"), dir.join("seven-3.png")));
        let d = preprocessed_name(dir, Path::new("meter.jpg"), &mut used, Some("1"));
        let e = preprocessed_name(dir, Path::new("meter.png"), &mut used, Some("1"));
        assert_eq!((d, e), (dir.join("meter.1.png"), dir.join("meter-2.1.png")));
    }

    #[test]
    fn picture_names_by_extension() {
        assert!(is_picture_name(Path::new("a/b.JPG")) && is_picture_name(Path::new("c.webp")));
        assert!(!is_picture_name(Path::new("notes.txt")) && !is_picture_name(Path::new("README")));
    }

    #[test]
    fn text_line_shows_the_digit_and_the_top_k() {
        let p = Prediction::from_logits(&[0.0, 5.0, 1.0]).unwrap();
        let line = text_line(Path::new("a.png"), &p, 2, true);
        assert!(line.starts_with("a.png: 1 (0."), "{line}");
        assert!(line.contains("top 2: 1 0.9") && line.contains(", 2 0.0"), "{line}");
        let line = text_line(Path::new("b.png"), &p, 2, false);
        assert!(line.starts_with("b.png: not a digit (digit probability 1.000)"), "{line}");
    }
}
