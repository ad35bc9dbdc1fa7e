//! A picture of words is not a number: words written in the test fonts
//! (fonts the judges never saw), at the fonts' own letter sizes on one
//! baseline, read with `Model::read`. How many come out as a number with no
//! `?` at all (silent garbage), and how many of their letters are read as
//! digits. An ignored test, run by `bench/numbers.sh` with a trained model
//! (`CHIFFRE_MODEL`, default `models/cnn.safetensors`).

use chiffre::preprocess::Gray;
use chiffre::reject::draw::{paste, Placement};
use chiffre::reject::glyphs::{decode, FontGlyphs, TEST_ATLAS};
use chiffre::Model;

/// Common French and English words, as users might write them beside (or
/// instead of) numbers.
const WORDS: &[&str] = &[
    "bonjour", "merci", "chiffre", "Paris", "nombre", "maison", "rouge", "avec", "dans", "pour", "Mardi", "Total",
    "hello", "world", "table", "page", "the", "and", "Name", "Date", "euros", "le chat", "oui", "non",
];

/// `word` in `font`, `scale` times the atlas' size, dark ink on white with a
/// margin (light levels, as a decoded picture gives them).
fn word_picture(font: &FontGlyphs, word: &str, scale: f32) -> Option<Gray> {
    let glyphs: Vec<_> = word.chars().map(|c| font.glyph(c)).collect::<Option<_>>()?;
    let space = glyphs.iter().map(|g| g.advance).max()? / 2;
    let advance: usize = word.chars().zip(&glyphs).map(|(c, g)| if c == ' ' { space } else { g.advance }).sum();
    let top = glyphs.iter().map(|g| g.ymin + g.height as i32).max()?;
    let bottom = glyphs.iter().map(|g| g.ymin).min()?;
    let margin = 20.0;
    let width = (advance as f32 * scale + 2.0 * margin) as usize;
    let height = ((top - bottom) as f32 * scale + 2.0 * margin) as usize;
    let mut ink = Gray::filled(width, height, 0.0);
    let baseline = margin + top as f32 * scale;
    let mut pen = margin;
    for (c, g) in word.chars().zip(&glyphs) {
        if c != ' ' && g.width > 0 && g.height > 0 {
            let at = (pen + g.xmin as f32 * scale, baseline - (g.ymin + g.height as i32) as f32 * scale);
            paste(&mut ink, &g.coverage, g.width, g.height, &Placement::new(scale, scale, 0.0, 0.0, at));
        }
        pen += if c == ' ' { space } else { g.advance } as f32 * scale;
    }
    let light: Vec<f32> = ink.data().iter().map(|v| 1.0 - v).collect();
    Gray::new(width, height, light)
}

#[test]
#[ignore = "with a trained model: bench/numbers.sh"]
fn words_are_not_read_as_numbers() {
    let path = std::env::var("CHIFFRE_MODEL").unwrap_or_else(|_| "models/cnn.safetensors".into());
    let mut model = Model::load(&path).unwrap_or_else(|e| panic!("{e}: train it first (bench/numbers.sh does)"));
    let fonts = decode(TEST_ATLAS, "test.glyphs.gz").expect("the test atlas decodes");
    let show = std::env::var("CHIFFRE_SHOW").is_ok();
    let (mut words, mut as_numbers, mut letters, mut as_digits) = (0, 0, 0, 0);
    for font in &fonts {
        for (k, word) in WORDS.iter().enumerate() {
            let Some(picture) = word_picture(font, word, 1.5 + (k % 3) as f32 * 0.5) else { continue };
            let read = model.read(&picture).map(|r| r.text()).unwrap_or_default();
            words += 1;
            letters += word.chars().filter(|c| *c != ' ').count();
            as_digits += read.chars().filter(char::is_ascii_digit).count();
            if !read.is_empty() && !read.contains('?') {
                as_numbers += 1;
                if show {
                    println!("{word:?} in {}: read {read:?}", font.name);
                }
            }
        }
    }
    assert!(words > 0, "the test fonts write the words");
    println!(
        "{words} words ({} fonts): read as a number without any `?` {:.1} %; digits read per letter {:.1} %",
        fonts.len(),
        100.0 * as_numbers as f64 / words as f64,
        100.0 * as_digits as f64 / letters as f64
    );
    assert!(as_numbers <= words);
}
