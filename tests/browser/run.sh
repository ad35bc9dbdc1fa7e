#!/usr/bin/env bash
# The browser tests: the page of `chiffre serve` (draw.test.mjs: a quickly
# trained CNN behind `chiffre serve` on a free loopback port) and the static
# site of `chiffre site` (site.test.mjs: the engine built for
# wasm32-unknown-unknown, the same CNN, user-style PNG pictures from
# examples/user_pictures.rs), each in headless Chromium. Installs what it needs: Debian's chromium (as root, when missing)
# and playwright-core (`npm ci`, from the committed package-lock.json; it
# drives the system Chromium and downloads no browser). Skips, saying so, only
# when no Chromium can be had.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "browser test: installing Debian's chromium"
    apt-get update -qq > /dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null || true
  fi
fi
if [ ! -x "$chromium" ]; then
  echo "browser test SKIPPED: no Chromium at $chromium, and it cannot be installed here (needs root and apt-get)"
  exit 0
fi
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "browser test SKIPPED: Node.js and npm are needed to drive Chromium (playwright-core)"
  exit 0
fi

cd "$here"
npm ci --no-audit --no-fund --silent
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/release/chiffre"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One epoch on 12,000 images (about 95 % on MNIST's test set) reads a drawn 1 and 0 reliably, in seconds.
"$bin" train --arch cnn --data "$root/data/mnist" --limit 12000 --batch-size 32 --epochs 1 --seed 1 \
  --test-limit 1000 --quiet --no-record --out "$work/cnn.safetensors"
bash "$root/crates/chiffre-web/build.sh"
"$bin" site --model "$work/cnn.safetensors" --data "$root/data/mnist" --out "$work/site" > /dev/null
cargo run --release --quiet --manifest-path "$root/Cargo.toml" --example user_pictures -- "$work/pictures" 36 "$root/data/mnist" > /dev/null
CHIFFRE_BIN="$bin" CHIFFRE_MODEL="$work/cnn.safetensors" CHIFFRE_SITE="$work/site" CHIFFRE_PICTURES="$work/pictures" \
  CHROMIUM="$chromium" SCREENSHOT_DIR="${SCREENSHOT_DIR:-$root/target/browser}" \
  node --test --test-reporter=spec --test-concurrency=1 draw.test.mjs site.test.mjs
