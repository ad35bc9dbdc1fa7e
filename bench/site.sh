#!/usr/bin/env bash
# The page of `chiffre site` measured in headless Chromium (issue 18's targets): first reading
# after load, inference in the page (batch 1000; one image), and training in the page's worker
# (the tutorial's CNN and `fast`, one epoch of 60,000 images each) with the test accuracy.
# Outside CI (several minutes); run it on a quiet machine.
#
#   bash bench/site.sh [RUNS]                         # trains the CNN it reads with (5 epochs)
#   CHIFFRE_MODEL=models/cnn.safetensors bash bench/site.sh 3
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
date -u
lscpu | grep -m1 'Model name' || true
(cd tests/browser && npm ci --no-audit --no-fund --silent)
cargo build --release --quiet
bash crates/chiffre-web/build.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=${CHIFFRE_MODEL:-}
if [ -z "$model" ]; then
  model="$work/cnn.safetensors"
  ./target/release/chiffre train --quiet --out "$model"
fi
./target/release/chiffre site --model "$model" --out "$work/site"
node bench/site.mjs "$work/site" "$runs"
