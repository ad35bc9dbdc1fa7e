//! The built-in presets (`presets/*.toml`, the files people read and copy)
//! turned into JSON at build time, so that the engine reads them with the
//! JSON parser it needs anyway for model files: the TOML parser (about
//! 100 KB of WebAssembly) is then only in builds that read TOML spec files
//! (feature `toml`, on by default; the web engine leaves it out).

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for name in ["fast", "best"] {
        let source = Path::new("../../presets").join(format!("{name}.toml"));
        println!("cargo:rerun-if-changed={}", source.display());
        let text = std::fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("cannot read the preset {}: {e}", source.display()));
        let value: toml::Value =
            toml::from_str(&text).unwrap_or_else(|e| panic!("the preset {} is not TOML: {e}", source.display()));
        let json = serde_json::to_string(&value).expect("a TOML value is JSON");
        std::fs::write(Path::new(&out).join(format!("{name}.json")), json).expect("OUT_DIR is writable");
    }
}
