#!/usr/bin/env bash
# Training throughput of tracks/tinygpt against PyTorch eager on the CPU, same model shape,
# batch, context and thread count, measured alternately in one run on this machine, at each
# thread count in turn.
#
#   benches/tinygpt/bench.sh [SECONDS_PER_RUN] [ROUNDS]
#
# Environment: BENCH_THREADS (thread counts to compare, default "1 2"; each run gets its
# count as RAYON_NUM_THREADS or torch.set_num_threads), TINYGPT_BENCH_VENV (virtualenv with
# torch; default $TMPDIR/tinygpt-bench-venv, created and filled from PyPI on first use).
# Prints every run, then per thread count the best and the median of each side and their
# ratios tinygpt / torch, with the load average before and after.
set -euo pipefail

seconds="${1:-10}"
rounds="${2:-5}"
here="$(cd "$(dirname "$0")" && pwd)"
track="$here/../../tracks/tinygpt"
thread_counts="${BENCH_THREADS:-1 2}"
venv="${TINYGPT_BENCH_VENV:-${TMPDIR:-/tmp}/tinygpt-bench-venv}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The model shape is whatever tracks/tinygpt/src/train.rs says now.
const() { sed -n "s/^pub const $1: usize = \([0-9_]*\);.*/\1/p" "$track/src/train.rs" | tr -d _; }
n_embd="$(const N_EMBD)"; n_layer="$(const N_LAYER)"; n_head="$(const N_HEAD)"
context="$(const CONTEXT)"; batch="$(const BATCH_SIZE)"
echo "shape: n_embd=$n_embd n_layer=$n_layer n_head=$n_head context=$context batch=$batch, threads: $thread_counts, ${seconds}s per run, $rounds rounds"

if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
    echo "setting up PyTorch in $venv (one-off, from PyPI)"
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check torch numpy; }; then
        echo "SKIP: could not install torch from PyPI (offline?); no comparison made"
        exit 0
    fi
fi

(cd "$track" && cargo build --release --quiet)

run_tinygpt() {
    (cd "$track" && RAYON_NUM_THREADS="$threads" SWARMLAB_BUDGET_SECONDS="$seconds" \
        ./target/release/tinygpt train --checkpoint "$work/ckpt.safetensors") \
        | sed -n 's/^tokens_per_second: //p'
}
run_torch() {
    "$venv/bin/python" "$here/torch_baseline.py" --n-embd "$n_embd" --n-layer "$n_layer" \
        --n-head "$n_head" --context "$context" --batch "$batch" --threads "$threads" \
        --seconds "$seconds" | sed -n 's/^tokens_per_second: //p'
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

for threads in $thread_counts; do
    ours=(); theirs=()
    before="$(load)"
    for round in $(seq "$rounds"); do
        o="$(run_tinygpt)"; t="$(run_torch)"
        echo "$threads threads, round $round: tinygpt $o tokens/s, torch $t tokens/s"
        ours+=("$o"); theirs+=("$t")
    done
    python3 - "$threads" "${ours[*]}" "${theirs[*]}" "$before" "$(load)" <<'PY'
import statistics
import sys
threads, before, after = sys.argv[1], sys.argv[4], sys.argv[5]
ours = [float(x) for x in sys.argv[2].split()]
theirs = [float(x) for x in sys.argv[3].split()]
# On a shared machine the best run of each is the least disturbed one; the median shows
# how typical it is.
for name, pick in (("best", max), ("median", statistics.median)):
    o, t = pick(ours), pick(theirs)
    print(f"{threads} threads {name}: tinygpt {o:.0f} tokens/s, pytorch eager {t:.0f} tokens/s, ratio {o / t:.2f}x")
print(f"{threads} threads load average: {before} before, {after} after")
PY
done
