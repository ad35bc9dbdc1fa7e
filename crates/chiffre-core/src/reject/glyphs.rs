//! The glyph atlas: letters and symbols of several fonts, rendered once to
//! small grayscale bitmaps (by `examples/glyph_atlas.rs`, from Debian font
//! packages) and stored gzipped in `data/glyphs/`, so that training makes
//! its "not a digit" pictures offline, without any font installed.
//!
//! The layout (after gzip), all integers little-endian:
//! `b"CHGLYPH1"`, `u16` fonts; per font a `u8` name length and the name
//! (UTF-8), a `u16` glyph count; per glyph the character (`u32`), width and
//! height (`u8` each), the left bearing and the bottom's height above the
//! baseline (`i8` each), the advance (`u8`), then `width × height` coverage
//! bytes, row-major, 255 full ink.

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::{Read, Write};

const MAGIC: &[u8; 8] = b"CHGLYPH1";

/// The atlas the training negatives are drawn from (fonts listed in
/// `data/glyphs/README.md`).
pub const TRAIN_ATLAS: &[u8] = include_bytes!("../../../../data/glyphs/train.glyphs.gz");

/// The atlas of other fonts, which training never reads: only the
/// measurements (`chiffre report`, the tests) draw their non-digits from it.
pub const TEST_ATLAS: &[u8] = include_bytes!("../../../../data/glyphs/test.glyphs.gz");

/// The largest decompressed atlas read (16 MiB), so a damaged file cannot exhaust memory.
const MAX_ATLAS_BYTES: u64 = 16 << 20;

/// Characters that people also write like digits (O for 0, l for 1, Z for 2,
/// S for 5, b for 6, q for 9, B for 8, …): never a training negative, never
/// counted in the rejection target, measured on their own.
pub const AMBIGUOUS: &str = "OoDQIlijZzSsbGgqB";

/// The letters of the atlas (both cases).
pub const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The symbols of the atlas.
pub const SYMBOLS: &str = "+=%#@&?!*<>$€÷×";

/// True for a character people also write like a digit (see [`AMBIGUOUS`]).
pub fn is_ambiguous(c: char) -> bool {
    AMBIGUOUS.contains(c)
}

/// One rendered character.
#[derive(Clone, Debug, PartialEq)]
pub struct Glyph {
    /// The character.
    pub ch: char,
    /// Bitmap width.
    pub width: usize,
    /// Bitmap height.
    pub height: usize,
    /// Left bearing, pixels.
    pub xmin: i32,
    /// Height of the bitmap's bottom above the baseline, pixels (negative for descenders).
    pub ymin: i32,
    /// Advance to the next character, pixels.
    pub advance: usize,
    /// Coverage, row-major, 255 full ink.
    pub coverage: Vec<u8>,
}

/// The glyphs of one font.
#[derive(Clone, Debug, PartialEq)]
pub struct FontGlyphs {
    /// The font's file name.
    pub name: String,
    /// Its glyphs (characters it lacks are left out).
    pub glyphs: Vec<Glyph>,
}

impl FontGlyphs {
    /// The glyph of `c`, if the font has it.
    pub fn glyph(&self, c: char) -> Option<&Glyph> {
        self.glyphs.iter().find(|g| g.ch == c)
    }
}

/// Gzipped atlas bytes of `fonts`. Fails on a name over 255 bytes, a
/// bitmap over 255 pixels a side, or a bearing outside `i8`.
pub fn encode(fonts: &[FontGlyphs]) -> Result<Vec<u8>, String> {
    let mut raw = MAGIC.to_vec();
    raw.extend_from_slice(&u16::try_from(fonts.len()).map_err(|_| "too many fonts")?.to_le_bytes());
    for font in fonts {
        let name = font.name.as_bytes();
        raw.push(u8::try_from(name.len()).map_err(|_| format!("font name {} is too long", font.name))?);
        raw.extend_from_slice(name);
        raw.extend_from_slice(&u16::try_from(font.glyphs.len()).map_err(|_| "too many glyphs")?.to_le_bytes());
        for g in &font.glyphs {
            let small = |v: usize| u8::try_from(v).map_err(|_| format!("{}: glyph {:?} is too large", font.name, g.ch));
            let bearing = |v: i32| i8::try_from(v).map_err(|_| format!("{}: glyph {:?} is offset", font.name, g.ch));
            raw.extend_from_slice(&(g.ch as u32).to_le_bytes());
            raw.extend_from_slice(&[small(g.width)?, small(g.height)?]);
            raw.extend_from_slice(&[bearing(g.xmin)?.to_le_bytes()[0], bearing(g.ymin)?.to_le_bytes()[0]]);
            raw.push(small(g.advance)?);
            raw.extend_from_slice(&g.coverage);
        }
    }
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&raw).map_err(|e| e.to_string())?;
    gz.finish().map_err(|e| e.to_string())
}

/// Reads atlas bytes written by [`encode`]; `source` names them in errors.
pub fn decode(bytes: &[u8], source: &str) -> Result<Vec<FontGlyphs>, String> {
    let mut raw = Vec::new();
    GzDecoder::new(bytes)
        .take(MAX_ATLAS_BYTES)
        .read_to_end(&mut raw)
        .map_err(|e| format!("{source}: not a gzipped glyph atlas: {e}"))?;
    let mut r = Reader { raw: &raw, at: 0, source };
    if r.take(MAGIC.len())? != MAGIC {
        return Err(format!("{source}: not a glyph atlas (expected the header CHGLYPH1)"));
    }
    let fonts = r.u16()?;
    let mut out = Vec::with_capacity(fonts.into());
    for _ in 0..fonts {
        let len = r.take(1)?[0] as usize;
        let name = String::from_utf8_lossy(r.take(len)?).into_owned();
        let count = r.u16()?;
        let mut glyphs = Vec::with_capacity(count.into());
        for _ in 0..count {
            let code = u32::from_le_bytes(r.take(4)?.try_into().map_err(|_| r.truncated())?);
            let ch = char::from_u32(code).ok_or_else(|| format!("{source}: {name}: {code:#x} is not a character"))?;
            let head = r.take(5)?;
            let (width, height) = (head[0] as usize, head[1] as usize);
            let (xmin, ymin, advance) = (i32::from(head[2] as i8), i32::from(head[3] as i8), head[4] as usize);
            let coverage = r.take(width * height)?.to_vec();
            glyphs.push(Glyph { ch, width, height, xmin, ymin, advance, coverage });
        }
        out.push(FontGlyphs { name, glyphs });
    }
    if r.at != raw.len() {
        return Err(format!("{source}: {} bytes after the last font", raw.len() - r.at));
    }
    Ok(out)
}

/// The fonts of [`TRAIN_ATLAS`].
pub fn train_fonts() -> Vec<FontGlyphs> {
    // The atlas is part of the source tree and checked by a test: it decodes.
    decode(TRAIN_ATLAS, "data/glyphs/train.glyphs.gz").unwrap_or_default()
}

/// The fonts of [`TEST_ATLAS`], for [`Split::Test`](super::Split::Test).
pub fn test_fonts() -> Result<Vec<FontGlyphs>, String> {
    decode(TEST_ATLAS, "data/glyphs/test.glyphs.gz")
}

struct Reader<'a> {
    raw: &'a [u8],
    at: usize,
    source: &'a str,
}

impl<'a> Reader<'a> {
    fn truncated(&self) -> String {
        format!("{}: truncated glyph atlas (at byte {})", self.source, self.at)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.raw.len()).ok_or_else(|| self.truncated())?;
        let slice = &self.raw[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_training_atlas_decodes_with_letters_and_symbols() {
        let fonts = train_fonts();
        assert!(fonts.len() >= 8, "{} fonts", fonts.len());
        for font in &fonts {
            assert!(font.glyph('A').is_some() && font.glyph('+').is_some(), "{}", font.name);
            assert!(font.glyphs.iter().all(|g| g.coverage.len() == g.width * g.height));
        }
        let test = test_fonts().expect("the test atlas decodes");
        assert!(test.len() >= 5 && test.iter().all(|t| fonts.iter().all(|f| f.name != t.name)), "other fonts");
    }

    #[test]
    fn an_atlas_round_trips_and_damage_is_an_error() {
        let glyph = Glyph { ch: '€', width: 2, height: 1, xmin: -1, ymin: -3, advance: 4, coverage: vec![9, 255] };
        let fonts = vec![FontGlyphs { name: "X".into(), glyphs: vec![glyph] }];
        let bytes = encode(&fonts).unwrap();
        assert_eq!(decode(&bytes, "a").unwrap(), fonts);
        let err = decode(&bytes[..bytes.len() / 2], "half.gz").unwrap_err();
        assert!(err.starts_with("half.gz: "), "{err}");
        assert!(decode(b"not gzip", "b").is_err());
    }
}
