#!/usr/bin/env bash
# Training throughput of tracks/tinygpt against PyTorch eager on the CPU, same model shape,
# batch, context and thread count, measured alternately in one run on this machine.
#
#   benches/tinygpt/bench.sh [SECONDS_PER_RUN] [ROUNDS]
#
# Environment: RAYON_NUM_THREADS (threads for both; default: all cores),
# TINYGPT_BENCH_VENV (virtualenv with torch; default $TMPDIR/tinygpt-bench-venv, created
# and filled from PyPI on first use). Prints both rates and the ratio tinygpt / torch.
set -euo pipefail

seconds="${1:-15}"
rounds="${2:-2}"
here="$(cd "$(dirname "$0")" && pwd)"
track="$here/../../tracks/tinygpt"
threads="${RAYON_NUM_THREADS:-$(nproc)}"
venv="${TINYGPT_BENCH_VENV:-${TMPDIR:-/tmp}/tinygpt-bench-venv}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The model shape is whatever tracks/tinygpt/src/train.rs says now.
const() { sed -n "s/^pub const $1: usize = \([0-9_]*\);.*/\1/p" "$track/src/train.rs" | tr -d _; }
n_embd="$(const N_EMBD)"; n_layer="$(const N_LAYER)"; n_head="$(const N_HEAD)"
context="$(const CONTEXT)"; batch="$(const BATCH_SIZE)"
echo "shape: n_embd=$n_embd n_layer=$n_layer n_head=$n_head context=$context batch=$batch, $threads threads, ${seconds}s per run"

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

ours=(); theirs=()
for round in $(seq "$rounds"); do
    o="$(run_tinygpt)"; t="$(run_torch)"
    echo "round $round: tinygpt $o tokens/s, torch $t tokens/s"
    ours+=("$o"); theirs+=("$t")
done
python3 - "${ours[*]}" "${theirs[*]}" <<'PY'
import sys
ours = [float(x) for x in sys.argv[1].split()]
theirs = [float(x) for x in sys.argv[2].split()]
o, t = sum(ours) / len(ours), sum(theirs) / len(theirs)
print(f"mean: tinygpt {o:.0f} tokens/s, pytorch eager {t:.0f} tokens/s, ratio {o / t:.2f}x")
# On a shared machine the best run of each is the least disturbed one; OpenMP (torch) suffers
# far more than rayon when other processes take cores, so compare the bests as well.
o, t = max(ours), max(theirs)
print(f"best: tinygpt {o:.0f} tokens/s, pytorch eager {t:.0f} tokens/s, ratio {o / t:.2f}x")
PY
