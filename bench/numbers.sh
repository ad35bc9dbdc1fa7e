#!/usr/bin/env bash
# Reading whole numbers, measured: 1,000 numbers composed from MNIST *test* digits (tests/common/numbers.rs: 2 to 8
# digits, about one neighbour pair in five touching, slanted lines, paper backgrounds, some JPEG, two lines, decimal
# points) read by the trained default CNN, with the digit error rate (edit distance / length) per group beside the
# error rate of the same digits read one by one as MNIST images; then 600 numbers with a letter or symbol of the
# test fonts among their digits ("12A4": how often it is read as a digit), the same letters alone, and words in the
# test fonts (tests/words.rs: how often a word is read as a number); then the speed on 5-digit pictures (criterion,
# benches/read.rs). The model is trained first when missing (`chiffre train`, the tutorial's recipe).
#
# Usage: bench/numbers.sh [--model FILE] [--numbers N]
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

model="models/cnn.safetensors"
numbers=1000
while [[ $# -gt 0 ]]; do
    case "$1" in
        --model) model="${2:?--model needs a file}"; shift 2 ;;
        --numbers) numbers="${2:?--numbers needs a count}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "numbers.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
case "$model" in /*) ;; *) model="$repo/$model" ;; esac
if [[ ! -f "$model" ]]; then
    echo "numbers.sh: no model at $model: training the tutorial's CNN first"
    cargo run --release --quiet -- train --out "$model"
fi
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); cpu: $(lscpu | sed -n 's/^Model name: *//p'); cores: $(nproc)"

status=0
CHIFFRE_MODEL="$model" CHIFFRE_NUMBERS="$numbers" \
    cargo test --release --quiet --test numbers full_number_set -- --ignored --nocapture --test-threads 1 || status=$?
if [[ $status -ne 0 ]]; then
    echo "numbers.sh: the targets above are not all met (the table says which)"
fi
CHIFFRE_MODEL="$model" cargo test --release --quiet --test numbers letters_ -- --ignored --nocapture
CHIFFRE_MODEL="$model" cargo test --release --quiet --test words -- --ignored --nocapture
CHIFFRE_MODEL="$model" cargo bench --quiet --bench read -- --warm-up-time 2 --measurement-time 10
exit $status
