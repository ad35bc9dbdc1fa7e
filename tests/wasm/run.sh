#!/usr/bin/env bash
# The engine in WebAssembly: builds crates/chiffre-web (chiffre-core without
# threads or image decoding) for wasm32-unknown-unknown, trains a small CNN
# natively (one epoch on 10,000 images), and checks under Node.js that the
# .wasm reads the first 300 MNIST test images with the same probabilities as
# the native engine (forward.mjs), and well (accuracy at least 0.9).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
count=300

if ! command -v node > /dev/null; then
  echo "wasm test FAILED: Node.js is needed to run WebAssembly (apt-get install nodejs)" >&2
  exit 1
fi
rustup target add wasm32-unknown-unknown > /dev/null 2>&1 || true
cargo build --release --quiet -p chiffre-core --target wasm32-unknown-unknown --no-default-features
bash "$root/crates/chiffre-web/build.sh"
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
wasm="$target/wasm32-unknown-unknown/release/chiffre_web.wasm"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run --release --quiet -- train --epochs 1 --limit 10000 --test-limit 100 --quiet --no-record --out "$work/model.safetensors"
cargo run --release --quiet -p chiffre-web --example forward -- "$work/model.safetensors" data/mnist "$count" > "$work/native.jsonl"
summary=$(node "$here/forward.mjs" "$wasm" "$work/model.safetensors" data/mnist "$count" "$work/native.jsonl")
echo "$summary"
accuracy=${summary##*accuracy }
if ! awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.9) }'; then
  echo "wasm test FAILED: accuracy $accuracy below 0.9" >&2
  exit 1
fi
