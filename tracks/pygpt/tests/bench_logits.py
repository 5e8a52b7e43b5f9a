"""
What verification in logits mode costs on pygpt, against the training budget: train.py runs
with SWARMLAB_LOGITS=serve for the budget, then answers windows of a holdout as swarmlab's
verifier would send them (8 probes of 3 rows each, then every window once in requests of 16,
8 spot checks and the canary), and this script scores them with the verifier's arithmetic.

Usage (from tracks/pygpt): python3 tests/bench_logits.py [BUDGET_SECONDS] [THREADS]
"""

import os
import subprocess
import sys
import time

import numpy as np

TRACK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [TRACK, os.path.dirname(os.path.abspath(__file__))]

import prepare  # noqa: E402
import verifier  # noqa: E402

PROBES, BATCH = 8, 16


def main():
    budget = sys.argv[1] if len(sys.argv) > 1 else "20"
    threads = sys.argv[2] if len(sys.argv) > 2 else "2"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMLAB_")}
    t = time.perf_counter()
    data = subprocess.run([sys.executable, "prepare.py", "tokens"], cwd=TRACK, check=True,
                          env=dict(env, SWARMLAB_EVAL_SEED="123456789"), capture_output=True)
    tokens_s = time.perf_counter() - t
    tokens = np.frombuffer(data.stdout, dtype="<u4")
    inputs, targets = verifier.windows(tokens, prepare.CONTEXT)
    table = prepare.load_token_bytes()
    rng = np.random.default_rng(1)

    env.update(SWARMLAB_LOGITS="serve", SWARMLAB_BUDGET_SECONDS=budget,
               SWARMLAB_THREADS=threads, SWARMLAB_SEED="1337")
    t0 = time.perf_counter()
    with verifier.Server([sys.executable, "train.py"], cwd=TRACK, env=env, timeout=900) as server:
        t1 = time.perf_counter()
        for w in rng.choice(len(inputs), PROBES, replace=False):
            split = int(rng.integers(1, prepare.CONTEXT))
            noise = inputs[w].copy()
            noise[split:] = rng.integers(0, prepare.VOCAB_SIZE, prepare.CONTEXT - split)
            foreign = inputs[w].copy()
            foreign[split:] = inputs[(w + 1) % len(inputs)][split:]
            server.logits([inputs[w], noise, foreign])
        t2 = time.perf_counter()
        nats = nbytes = 0
        serving = 0.0
        order = np.concatenate([np.arange(s, len(inputs), BATCH) for s in range(BATCH)])
        for first in range(0, len(order), BATCH):
            rows = order[first:first + BATCH]
            s = time.perf_counter()
            logits = server.logits(inputs[rows])
            serving += time.perf_counter() - s
            n, b = verifier.tally(logits, targets[rows], table)
            nats, nbytes = nats + n, nbytes + b
        s = time.perf_counter()
        for _ in range(PROBES + 1):
            server.logits(inputs[rng.integers(0, len(inputs), 1)])
        serving += time.perf_counter() - s
        code = server.close()
        t3 = time.perf_counter()
        log = server.stderr()
    summary = [line for line in log.splitlines() if line.startswith("swarmlab_logits:")]
    rows = 3 * PROBES + len(inputs) + PROBES + 1
    mb = rows * prepare.CONTEXT * prepare.VOCAB_SIZE * 4 / 1e6
    b = float(budget)
    print(f"budget {b:g} s, {threads} threads, exit {code}; {summary[-1] if summary else ''}")
    print(f"holdout tokens (prepare.py tokens):  {tokens_s:6.2f} s, {len(tokens):,} tokens, "
          f"{len(inputs)} windows")
    print(f"start-up + training, to handshake:   {t1 - t0:6.2f} s")
    print(f"probe (phase 1):                     {t2 - t1:6.2f} s ({100 * (t2 - t1) / b:.1f}%)")
    print(f"scoring + checks, server time:       {serving:6.2f} s ({100 * serving / b:.1f}%)")
    print(f"phase 2 with this harness's scoring: {t3 - t2:6.2f} s")
    print(f"{rows} rows, {mb:.1f} MB of logits; holdout bits per byte "
          f"{nats / np.log(2) / nbytes:.6f}")


if __name__ == "__main__":
    main()
