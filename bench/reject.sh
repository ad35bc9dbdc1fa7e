#!/usr/bin/env bash
# The measurements of issue 16 ("not a digit" and calibrated confidence):
# trains the tutorial's CNN (5 epochs, seed 1), fits its gate and temperature
# as `chiffre train` does, and prints the rejection of generated non-digits
# (overall, per category, ambiguous letters apart), of MNIST test digits and
# of user-style digit pictures, a threshold sweep, the expected calibration
# error before and after, and the baselines (largest softmax probability,
# energy, Mahalanobis distance). About 2-3 minutes on 2 cores.
#
#   bash bench/reject.sh                       # train here
#   CHIFFRE_MODEL=models/cnn.safetensors bash bench/reject.sh   # measure a trained network (gate refitted)
#   CHIFFRE_VERIFIER_EPOCHS=0 CHIFFRE_PIECES=0.5 bash bench/reject.sh   # the gate alone, as before the verifier
#   CHIFFRE_FIT_SEED=2 bash bench/reject.sh    # the judges fitted with another seed (their spread)
set -euo pipefail
cd "$(dirname "$0")/.."
date -u
lscpu | grep -m1 'Model name' || true
cargo test --release --test reject measurements -- --ignored --nocapture 2>&1 | grep -v '^running\|^test \|^$'
