#!/usr/bin/env bash
# Builds the engine for web pages, twice (what `chiffre site` puts in a site):
#   target/wasm32-unknown-unknown/release/chiffre_web.wasm   SIMD128 (every current browser)
#   target/wasm-relaxed/wasm32-unknown-unknown/release/chiffre_web.wasm
#                                                           SIMD128 + relaxed SIMD (fused multiply-add:
#                                                           about 30 % faster where the browser has it)
# The page loads the second when the browser validates relaxed SIMD, else the first
# (src/site/page/engine.js). Two target folders, because target features are per build. Link-time
# optimisation and one codegen unit (for these builds only) keep the module under 1.5 MB.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rustup target add wasm32-unknown-unknown > /dev/null 2>&1 || true
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
export CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
# Libraries that read files and settings (the model file's JSON and TOML, picture formats) are built for size:
# they run once per load, never per digit, and the module must stay under 1.5 MB. Measured 2026-12-04: about
# 22,000 bytes saved (1,500,109 → 1,477,850 plain); the engine and the matrix products keep full optimisation.
# 2026-12-06: the picture decoders (png, zune-jpeg, their inflate and colour crates) and the TOML parser's own
# crates too, 1,566,539 → 1,544,630 bytes plain (opt-level "z" instead gave 1,556,468: larger). Later that day the
# TOML parser left the module (chiffre-core's feature `toml`, off here): 1,548,847 → 1,322,056 bytes plain.
small=()
for crate in serde_json image safetensors png fdeflate flate2 miniz_oxide zune-jpeg zune-core moxcms pxfm; do
  small+=(--config "profile.release.package.${crate}.opt-level=\"s\"")
done
cargo build --release --quiet "${small[@]}" -p chiffre-web --target wasm32-unknown-unknown
CARGO_TARGET_DIR="$target/wasm-relaxed" \
  RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd -C debuginfo=0 -C strip=symbols" \
  cargo build --release --quiet "${small[@]}" -p chiffre-web --target wasm32-unknown-unknown
