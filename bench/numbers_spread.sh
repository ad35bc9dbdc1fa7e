#!/usr/bin/env bash
# Reading whole numbers over several trainings and several test sets: issue 15's three targets (digit error apart
# within 1.5x the single-digit rate, with touching digits within 3x, the digit count right on 99 % of the numbers
# apart) for each training seed (`chiffre train --seed S`, the tutorial's recipe, trained into DIR when missing) on
# each set of 1,000 numbers (`CHIFFRE_SEED`, tests/common/numbers.rs, from MNIST *test* digits), then the mean of
# each column. A change to the reader, the judges or their training is worth keeping when it wins across
# trainings: one training's figures move by as much as a change does (README, "Reading your own pictures").
#
# Usage: bench/numbers_spread.sh [--seeds "1 2"] [--sets "2026 1 7 11"] [--dir models/spread]
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

seeds="1 2"
sets="2026 1 7 11"
dir="models/spread"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seeds) seeds="${2:?--seeds needs a list of training seeds}"; shift 2 ;;
        --sets) sets="${2:?--sets needs a list of set seeds}"; shift 2 ;;
        --dir) dir="${2:?--dir needs a folder}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "numbers_spread.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
for s in $seeds $sets; do
    [[ "$s" =~ ^[0-9]+$ ]] || { echo "numbers_spread.sh: not a seed: $s (whole numbers only)" >&2; exit 2; }
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
case "$dir" in /*) ;; *) dir="$repo/$dir" ;; esac
mkdir -p "$dir"
cargo build --release --quiet
cargo test --release --quiet --test numbers --no-run
for seed in $seeds; do
    model="$dir/seed-$seed.safetensors"
    if [[ ! -f "$model" ]]; then
        echo "training seed $seed into $model"
        target/release/chiffre train --seed "$seed" --out "$model" --no-record > "$dir/seed-$seed.log"
    fi
done

echo "date: $(date -u +%Y-%m-%dT%H:%MZ); cpu: $(lscpu | sed -n 's/^Model name: *//p'); cores: $(nproc)"
echo "| training seed | set | apart | target (1.5x) | touching | target (3x) | count right apart |"
echo "|---|---|---|---|---|---|---|"
rows=""
for seed in $seeds; do
    for set in $sets; do
        # The test fails when a target is missed; its "targets" line says which.
        line=$(CHIFFRE_SEED="$set" CHIFFRE_MODEL="$dir/seed-$seed.safetensors" \
            cargo test --release --quiet --test numbers full_number_set -- --ignored --nocapture --test-threads 1 \
            2>&1 | grep '^targets:' || true)
        if [[ -z "$line" ]]; then
            echo "numbers_spread.sh: no targets line for training seed $seed, set $set" >&2
            exit 1
        fi
        # targets: apart A % <= B % (1.5x), touching C % <= D % (3x), count right apart E % >= 99 %
        row=$(echo "$line" | sed -E 's/^targets: apart ([0-9.]+) % <= ([0-9.]+) %.*touching ([0-9.]+) % <= ([0-9.]+) %.*count right apart ([0-9.]+) %.*/\1 \2 \3 \4 \5/')
        read -r apart apart_target touching touching_target count <<< "$row"
        echo "| $seed | $set | $apart % | $apart_target % | $touching % | $touching_target % | $count % |"
        rows+="$apart $apart_target $touching $touching_target $count"$'\n'
    done
done
echo "$rows" | awk 'NF == 5 {
    n++; a += $1; at += $2; t += $3; tt += $4; c += $5
    met += ($1 <= $2) + ($3 <= $4) + ($5 >= 99)
} END {
    printf "| mean | | %.2f %% | %.2f %% | %.2f %% | %.2f %% | %.2f %% |\n", a / n, at / n, t / n, tt / n, c / n
    printf "targets met: %d of %d (three per training and set)\n", met, 3 * n
}'
