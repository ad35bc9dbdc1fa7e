//! Renders the glyph atlases of `data/glyphs/` from installed fonts: each
//! letter and symbol of each font once, as a small grayscale bitmap. Run once
//! by a developer (training reads the atlas, never the fonts):
//!
//! ```sh
//! apt-get install fonts-dejavu-core fonts-liberation fonts-freefont-ttf fonts-comic-neue \
//!     fonts-dkg-handwriting fonts-breip fonts-bwht fonts-femkeklaver fonts-humor-sans \
//!     fonts-kristi fonts-dancingscript fonts-ecolier-court
//! cargo run --release --example glyph_atlas
//! ```
//!
//! The training fonts and the test fonts are disjoint (the test fonts come
//! from other families but one, Because We Had To, whose six hands are split).

use chiffre::reject::glyphs::{encode, FontGlyphs, Glyph, LETTERS, SYMBOLS};
use std::path::Path;
use std::process::ExitCode;

/// Pixel size the glyphs are rendered at (the em square).
const PX: f32 = 32.0;

/// Fonts of the training negatives (Debian packages in the README of data/glyphs).
const TRAIN: &[&str] = &[
    "truetype/dejavu/DejaVuSans.ttf",
    "truetype/dejavu/DejaVuSans-Bold.ttf",
    "truetype/dejavu/DejaVuSerif.ttf",
    "truetype/dejavu/DejaVuSerif-Italic.ttf",
    "truetype/liberation/LiberationSans-Regular.ttf",
    "truetype/liberation/LiberationSerif-Bold.ttf",
    "truetype/freefont/FreeSans.ttf",
    "truetype/freefont/FreeSerifItalic.ttf",
    "opentype/comic-neue/ComicNeue-Regular.otf",
    "opentype/comic-neue/ComicNeue-Bold.otf",
    "truetype/fifthhorseman/dkg.ttf",
    "truetype/humor-sans/Humor-Sans.ttf",
    "opentype/bwht/BecauseWeBuild-Regular.otf",
    "opentype/bwht/BecauseWeConnect-Regular.otf",
    "opentype/bwht/BecauseWeCreate-Regular.otf",
    "truetype/kristi/Kristi.ttf",
    "truetype/femkeklaver/femkeklaver.ttf",
];

/// Fonts of the test set of non-digits only.
const TEST: &[&str] = &[
    "truetype/breip/Breip.ttf",
    "truetype/ecolier-court/Ecolier-court.ttf",
    "opentype/dancingscript/DancingScript-Regular.otf",
    "opentype/bwht/BecauseWeLearn-Regular.otf",
    "opentype/bwht/BecauseWeMentor-Regular.otf",
    "opentype/bwht/BecauseWeOrganize-Regular.otf",
    "truetype/liberation/LiberationMono-Regular.ttf",
    "truetype/freefont/FreeMono.ttf",
    "truetype/liberation/LiberationSansNarrow-Italic.ttf",
];

fn render(path: &Path) -> Result<FontGlyphs, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let font = fontdue::Font::from_bytes(bytes, fontdue::FontSettings::default())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let glyphs = LETTERS
        .chars()
        .chain(SYMBOLS.chars())
        .filter(|&c| font.lookup_glyph_index(c) != 0)
        .map(|ch| {
            let (m, coverage) = font.rasterize(ch, PX);
            Glyph {
                ch,
                width: m.width,
                height: m.height,
                xmin: m.xmin,
                ymin: m.ymin,
                advance: m.advance_width.round().max(0.0) as usize,
                coverage,
            }
        })
        .filter(|g| g.width > 0 && g.height > 0)
        .collect();
    let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    Ok(FontGlyphs { name, glyphs })
}

fn write(fonts: &[&str], out: &Path) -> Result<(), String> {
    let rendered =
        fonts.iter().map(|f| render(&Path::new("/usr/share/fonts").join(f))).collect::<Result<Vec<_>, _>>()?;
    for f in &rendered {
        println!("{:<40} {} glyphs", f.name, f.glyphs.len());
    }
    let bytes = encode(&rendered)?;
    std::fs::write(out, &bytes).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}

fn main() -> ExitCode {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/glyphs");
    let result = std::fs::create_dir_all(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))
        .and_then(|()| write(TRAIN, &dir.join("train.glyphs.gz")))
        .and_then(|()| write(TEST, &dir.join("test.glyphs.gz")));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e} (install the fonts listed at the top of examples/glyph_atlas.rs)");
            ExitCode::FAILURE
        }
    }
}
