#!/usr/bin/env bash
# Time to 99 %: `chiffre train --preset fast --json` against the PyTorch speed-run reference
# (../shared/bench/torch_speedrun.py: the same small CNN, batch 256, Adam (0.7, 0.9), one-cycle, one epoch),
# run back to back, seed by seed, on the same machine; then each run's test accuracy and training seconds
# (the training loop only, both sides), and the ratio chiffre / PyTorch of the median training time
# (< 1: chiffre is faster; the target is ≤ 0.5 with every chiffre run ≥ 99.0 %).
#
# Usage: bench/speedrun.sh [--seeds "1 2 3"] [--threads N] [--preset fast]
# Environment:
#   TORCH_PY       Python with torch + numpy   (default /work/venvs/torch/bin/python)
#   BENCH_REF_DIR  where the reference is      (default ../shared/bench beside the repo)
set -euo pipefail

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

seeds="1 2 3"
threads="$(nproc)"
preset="fast"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seeds) seeds="${2:?--seeds needs a value}"; shift 2 ;;
        --threads) threads="${2:?--threads needs a value}"; shift 2 ;;
        --preset) preset="${2:?--preset needs a value}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "speedrun.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
ref_dir="${BENCH_REF_DIR:-$repo/../shared/bench}"
torch_py="${TORCH_PY:-/work/venvs/torch/bin/python}"
[[ -x "$torch_py" ]] || { echo "speedrun.sh: no Python at $torch_py (set TORCH_PY)" >&2; exit 1; }
[[ -f "$ref_dir/torch_speedrun.py" ]] || { echo "speedrun.sh: no $ref_dir/torch_speedrun.py (set BENCH_REF_DIR)" >&2; exit 1; }

cargo build --release --quiet
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
: >"$work/torch.txt"
: >"$work/chiffre.txt"

for seed in $seeds; do
    # PyTorch: "seed S: T s training, test A, threads N"
    OMP_NUM_THREADS="$threads" "$torch_py" "$ref_dir/torch_speedrun.py" "$seed" | grep '^seed ' | tee -a "$work/torch.txt" \
        | sed 's/^/pytorch /'
    line="$(target/release/chiffre train --preset "$preset" --seed "$seed" --threads "$threads" --quiet --json \
        --out "$work/$preset-$seed.safetensors" | tail -n 1)"
    "$torch_py" -c 'import json, sys; r = json.loads(sys.argv[1]); print(sys.argv[2], r["train_seconds"], r["test_accuracy"])' \
        "$line" "$seed" | tee -a "$work/chiffre.txt" | awk '{printf "chiffre seed %s: %.2f s training, test %s\n", $1, $2, $3}'
done

"$torch_py" - "$work/torch.txt" "$work/chiffre.txt" "$preset" <<'PY'
import re, statistics, sys
torch = [tuple(map(float, re.match(r"seed (\S+): (\S+) s training, test ([0-9.]+)", l).groups())) for l in open(sys.argv[1])]
chif = [tuple(map(float, l.split())) for l in open(sys.argv[2])]
t_med = statistics.median(r[1] for r in torch)
c_med = statistics.median(r[1] for r in chif)
print(f"\n{'seed':>6} {'pytorch s':>10} {'acc':>7} {'chiffre s':>10} {'acc':>7} {'ratio':>6}")
for (s, ts, ta), (_, cs, ca) in zip(torch, chif):
    print(f"{int(s):>6} {ts:>10.2f} {ta:>7.4f} {cs:>10.2f} {ca:>7.4f} {cs / ts:>6.2f}")
print(f"median train_seconds: pytorch {t_med:.2f}, chiffre ({sys.argv[3]}) {c_med:.2f}; ratio chiffre/pytorch {c_med / t_med:.2f}")
print(f"lowest accuracy: pytorch {min(r[2] for r in torch):.4f}, chiffre {min(r[2] for r in chif):.4f}")
PY
