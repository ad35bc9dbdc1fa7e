#!/usr/bin/env bash
# Side-by-side speed comparison: `chiffre bench --json` against the PyTorch and Keras/TensorFlow references
# (../shared/bench/torch_reference.py and keras_reference.py), run back to back on the same machine, then a table
# of the figures and of the ratio chiffre / best peer (> 1 always means chiffre wins).
#
# Usage: bench/compare.sh [--threads N] [--arch cnn|mlp]... [--int8] [--data DIR] [--out FILE]
#   --threads N  threads for every engine (default: nproc)
#   --int8       also time chiffre's 8-bit network (`chiffre bench --int8`) against the peers' f32 inference (their
#                reference scripts have no 8-bit path): rows "int8 infer_img_s" and "int8 latency_ms_p50"
#   --arch A     architecture to compare; repeatable (default: cnn and mlp)
#   --data DIR   MNIST directory (default: data/mnist in the repo)
#   --out FILE   also save the raw JSON lines, one per run, to FILE
# Environment:
#   TORCH_PY       Python with torch + numpy          (default /work/venvs/torch/bin/python)
#   KERAS_PY       Python with tensorflow + keras     (default /work/venvs/keras/bin/python)
#   BENCH_REF_DIR  where the reference scripts are    (default ../shared/bench beside the repo)
# A peer whose Python is missing, or whose run fails, is skipped with a note. The frameworks are large: keep them
# in throw-away virtualenvs outside the repo and out of CI (each reference script's docstring says what it needs).
set -euo pipefail

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

threads=""
int8=()
out=""
data=""
archs=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --threads) threads="${2:?--threads needs a value}"; shift 2 ;;
        --arch) archs+=("${2:?--arch needs a value}"); shift 2 ;;
        --int8) int8=(--int8); shift ;;
        --data) data="${2:?--data needs a value}"; shift 2 ;;
        --out) out="${2:?--out needs a value}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "compare.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

# Paths given by the caller are relative to where it stands; make them absolute before moving to the repo.
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }
[[ -n "$out" ]] && out="$(abspath "$out")"
[[ -n "$data" ]] && data="$(abspath "$data")"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
threads="${threads:-$(nproc)}"
data="${data:-$repo/data/mnist}"
[[ ${#archs[@]} -gt 0 ]] || archs=(cnn mlp)
ref_dir="${BENCH_REF_DIR:-$repo/../shared/bench}"
torch_py="${TORCH_PY:-/work/venvs/torch/bin/python}"
keras_py="${KERAS_PY:-/work/venvs/keras/bin/python}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
results="$work/results.jsonl"
notes="$work/notes.txt"
: >"$results"
: >"$notes"
: >"$work/other.txt"

note() { echo "$*" >>"$notes"; echo "compare.sh: $*" >&2; }

# The machine is shared: to tell a clean run from a disturbed one, compare the CPU time the whole machine spent
# busy (/proc/stat) with what the run itself used (this shell's reaped children: cutime + cstime), in clock ticks.
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }
own_ticks() { sed 's/.*) //' "/proc/$$/stat" | awk '{print $14+$15}'; }
hz="$(getconf CLK_TCK)"
ncpu="$(nproc)"
disturbed=()

# Runs one engine; appends its JSON line to $results, or notes why it could not. $1: label, rest: the command.
run_one() {
    local label="$1"; shift
    local log="$work/$label.stderr" line
    echo "compare.sh: running $label ..." >&2
    local rc=0 b0 o0 t0 other pct
    b0="$(busy_ticks)"; o0="$(own_ticks)"; t0="$EPOCHREALTIME"
    "$@" >"$work/$label.stdout" 2>"$log" || rc=$?
    other=$(( $(busy_ticks) - b0 - ($(own_ticks) - o0) ))
    pct="$(awk -v o="$other" -v hz="$hz" -v n="$ncpu" -v t0="$t0" -v t1="$EPOCHREALTIME" \
        'BEGIN { p = 100 * o / hz / n / (t1 - t0); printf "%.0f", (p < 0 ? 0 : p) }')"
    echo "$label $pct" >>"$work/other.txt"
    [[ $pct -le 5 ]] || disturbed+=("$label")
    if [[ $rc != 0 ]]; then
        note "$label failed (exit $rc); last lines of its stderr:"
        tail -n 5 "$log" | sed 's/^/    /' | tee -a "$notes" >&2
        return 1
    fi
    line="$(grep '^{' "$work/$label.stdout" | tail -n 1 || true)"
    if [[ -z "$line" ]]; then
        note "$label printed no JSON object; skipped"
        return 1
    fi
    printf '%s\n' "$line" >>"$results"
}

echo "compare.sh: cargo build --release" >&2
cargo build --release >&2

have_peer() { # $1: name, $2: python, $3: script
    if [[ ! -x "$2" ]]; then
        note "$1 skipped: no Python at $2 (set ${1^^}_PY)"
        return 1
    fi
    if [[ ! -f "$3" ]]; then
        note "$1 skipped: no reference script at $3 (set BENCH_REF_DIR)"
        return 1
    fi
}
torch_ok=1; have_peer torch "$torch_py" "$ref_dir/torch_reference.py" || torch_ok=0
keras_ok=1; have_peer keras "$keras_py" "$ref_dir/keras_reference.py" || keras_ok=0

started="$(date '+%Y-%m-%d %H:%M %Z')"
load="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
for arch in "${archs[@]}"; do
    run_one "chiffre-$arch" target/release/chiffre bench --arch "$arch" --threads "$threads" --data "$data" --json "${int8[@]}"
    if [[ $torch_ok == 1 ]]; then
        run_one "torch-$arch" "$torch_py" "$ref_dir/torch_reference.py" \
            --arch "$arch" --threads "$threads" --data "$data" || true
    fi
    if [[ $keras_ok == 1 ]]; then
        # keras_reference.py has no --threads: TensorFlow's thread pools read these variables instead.
        run_one "keras-$arch" env TF_NUM_INTRAOP_THREADS="$threads" TF_NUM_INTEROP_THREADS="$threads" \
            OMP_NUM_THREADS="$threads" "$keras_py" "$ref_dir/keras_reference.py" --arch "$arch" --data "$data" || true
    fi
done

note "CPU used by other processes during each run (% of the machine): $(tr '\n' ' ' <"$work/other.txt")"
if [[ ${#disturbed[@]} -gt 0 ]]; then
    note "WARNING: other work took > 5 % of the CPU during ${disturbed[*]}: those figures are disturbed; rerun on a quiet machine"
fi

if [[ -n "$out" ]]; then
    cp "$results" "$out"
    echo "compare.sh: raw JSON lines saved to $out" >&2
fi

cpu="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
python3 - "$results" "$notes" "$started" "${cpu:-unknown}" "$(nproc)" "$threads" "$load" <<'PY'
import json
import sys

results_path, notes_path, date, cpu, cores, threads, load = sys.argv[1:]
runs = [json.loads(l) for l in open(results_path) if l.strip()]
notes = [l.rstrip("\n") for l in open(notes_path)]

def peer_of(engine):
    e = engine.lower()
    return "chiffre" if e.startswith("chiffre") else "torch" if "torch" in e else "keras" if "keras" in e else e

KEYS = [  # key, higher is better
    ("train_img_s", True),
    ("infer_img_s", True),
    ("latency_ms_p50", False),
    ("latency_ms_p99", False),
    ("gemm_gflops", True),
]
ENGINES = ["chiffre", "torch", "keras"]

def best_and_ratio(c, peers, higher):
    """The best peer's name and chiffre's ratio to it ("-" when there is nothing to compare)."""
    peers = {e: v for e, v in peers.items() if isinstance(v, (int, float)) and v > 0}
    if not peers or not isinstance(c, (int, float)) or c <= 0:
        return "-", "-"
    best = (max if higher else min)(peers, key=peers.get)
    return best, f"{(c / peers[best]) if higher else (peers[best] / c):.2f}x"

def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.4f}" if abs(v) < 10 else f"{v:,.1f}"

print(f"chiffre vs PyTorch vs Keras/TensorFlow — {date}")
print(f"CPU: {cpu} ({cores} cores), {threads} threads requested; load average at start: {load}")
print("ratio = chiffre / best peer for throughputs, best peer / chiffre for latencies: > 1 means chiffre wins")
archs = list(dict.fromkeys(r.get("arch") for r in runs))
for arch in archs:
    by = {peer_of(r.get("engine", "?")): r for r in runs if r.get("arch") == arch}
    print()
    print(f"== {arch} (batch {by.get('chiffre', next(iter(by.values()))).get('batch', '?')}) ==")
    for e in ENGINES:
        if e in by:
            print(f"  {e:<8} {by[e].get('engine', '?')} (threads field: {by[e].get('threads', '?')})")
    header = f"  {'key':<16}{'chiffre':>12}{'torch':>12}{'keras':>12}  {'best peer':<10}{'ratio':>8}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for key, higher in KEYS:
        vals = {e: by[e].get(key) for e in ENGINES if e in by}
        best, ratio = best_and_ratio(vals.get("chiffre"), {e: v for e, v in vals.items() if e != "chiffre"}, higher)
        print(f"  {key:<16}" + "".join(f"{fmt(vals.get(e)):>12}" for e in ENGINES) + f"  {best:<10}{ratio:>8}")
    c = by.get("chiffre")
    q = (c or {}).get("int8") or {}
    for key, higher in (("infer_img_s", True), ("latency_ms_p50", False)):
        if not isinstance(q.get(key), (int, float)):
            continue
        peers = {e: by[e].get(key) for e in ENGINES[1:] if e in by}
        best, ratio = best_and_ratio(q[key], peers, higher)
        label = f"int8 {key}"
        print(f"  {label:<16}" + f"{fmt(q[key]):>12}" + "".join(f"{fmt(peers.get(e)):>12}" for e in ENGINES[1:])
              + f"  {best:<10}{ratio:>8}")
    if c:
        extra = [f"{k} {fmt(c[k])}" for k in ("train_gflops", "train_mflop_per_img", "peak_rss_mb") if k in c]
        if extra:
            print("  chiffre also: " + ", ".join(extra))
print()
print("Notes:")
print("  keras_reference.py takes no --threads: its thread count is set through TF_NUM_INTRAOP_THREADS /")
print("  TF_NUM_INTEROP_THREADS (its JSON 'threads' field is always os.cpu_count()); its single-image latency runs on")
print("  TensorFlow's thread pool, not on one thread as chiffre's and PyTorch's do; it reports no gemm_gflops.")
if any((r.get("int8") or {}) for r in runs):
    print("  int8 rows: chiffre's 8-bit network (chiffre bench --int8: quantized after the bench's training, as")
    print("  chiffre quantize does) against the peers' f32 figures; the peers' scripts have no 8-bit path.")
for n in notes:
    print("  " + n)
PY
