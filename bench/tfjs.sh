#!/usr/bin/env bash
# TensorFlow.js on the tutorial's CNN in headless Chromium (issue 18's peer): installs TensorFlow.js
# 4.22 from npm into a throw-away folder, then runs bench/tfjs.mjs. Outside CI (minutes: the cpu and
# webgl backends are slow here). Compare with bench/site.sh run just before or after, on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
date -u
lscpu | grep -m1 'Model name' || true
(cd tests/browser && npm ci --no-audit --no-fund --silent)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm install --prefix "$work" --no-audit --no-fund --silent @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0
node bench/tfjs.mjs "$work/node_modules" data/mnist
