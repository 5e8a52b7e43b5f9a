"""
The data a swarmlab verifier scores karpathy/autoresearch on: held-out token windows, and the
check that the byte table it scores with is the tokenizer's. Trusted: `swarmlab init --track
autoresearch` writes it beside prepare.py and lists it among the track's trusted files; agents
do not edit it.

Usage:
    uv run swarmlab_data.py tokens        # the verifier's windows on stdout, u32 little-endian;
                                          # with SWARMLAB_EVAL_SEED: from a held-out shard
    uv run swarmlab_data.py holdout [N]   # download N shards of the holdout pool (default 4)
    uv run swarmlab_data.py table         # the tokenizer's byte table, one line per token

The windows: ROWS rows of MAX_SEQ_LEN tokens, each starting with the BOS token of a document,
documents in order and the last one of a row cropped (the rest of it is dropped), as
autoresearch's own evaluation packs them; then one BOS, the token after the last window. The
verifier sends row i as window i (its `context` is MAX_SEQ_LEN), so every position predicts the
next token of its row, and the last one predicts a BOS, which has 0 bytes and is not scored.
ROWS * MAX_SEQ_LEN = 524,288 tokens, 2.5% of autoresearch's EVAL_TOKENS: the logits of a
window are MAX_SEQ_LEN * VOCAB_SIZE * 4 bytes (64 MiB), and 256 of them are what a verifier can
move and score in seconds.

Without SWARMLAB_EVAL_SEED the rows come from the pinned validation shard, from its start: the
text autoresearch's `evaluate_bpb` scores, public, so a candidate could have trained on it. With
the verifier's secret seed they come from the holdout pool: shards 6442 to 6541 of the data set
(the 100 just below the validation shard), which the track's setup never downloads (it takes
shards 0 to 9; only `prepare.py --num-shards` above 6442 would reach the pool). The seed picks
the shard, the row group to start at and the document within it. The pool lives in
SWARMLAB_HOLDOUT_DIR (default ~/.cache/autoresearch-holdout), apart from the training data: a
verifier downloads it once, and shows it to this command only, never to a training run.

The byte table: the verifier counts the bytes of each scored token from `token_bytes.txt`, a
trusted file of the track. Before writing any token this command checks that the table is the
one of the tokenizer it tokenizes with (autoresearch's `token_bytes.pt`), and refuses if not:
a verifier whose setup trained another tokenizer must not score with the committed table.
"""

import os
import random
import sys

import pyarrow.parquet as pq

import prepare

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE_FILE = os.path.join(HERE, "token_bytes.txt")
ROWS = 256
HOLDOUT_SHARDS = range(prepare.MAX_SHARD - 100, prepare.MAX_SHARD)
HOLDOUT_DIR = os.environ.get("SWARMLAB_HOLDOUT_DIR") or os.path.join(
    os.path.expanduser("~"), ".cache", "autoresearch-holdout")


def byte_table():
    """Bytes of text per token, as autoresearch's evaluation counts them (token_bytes.pt)."""
    return [int(n) for n in prepare.get_token_bytes(device="cpu").tolist()]


def check_table():
    """Exit 1 unless token_bytes.txt is the byte table of the trained tokenizer."""
    try:
        with open(TABLE_FILE, encoding="ascii") as f:
            committed = [int(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        sys.exit(f"swarmlab_data: cannot read {TABLE_FILE}: {e}")
    trained = byte_table()
    if committed != trained:
        where = next((i for i, (a, b) in enumerate(zip(committed, trained)) if a != b),
                     min(len(committed), len(trained)))
        sys.exit(f"swarmlab_data: token_bytes.txt ({len(committed)} tokens) is not the byte "
                 f"table of the tokenizer in {prepare.TOKENIZER_DIR} ({len(trained)} tokens; "
                 f"they first differ at token {where}): this machine's setup trained another "
                 f"tokenizer, and scores would be counted in the wrong bytes")


def holdout_files():
    """The pool's shards present in HOLDOUT_DIR."""
    names = [f"shard_{i:05d}.parquet" for i in HOLDOUT_SHARDS]
    return [os.path.join(HOLDOUT_DIR, n) for n in names
            if os.path.isfile(os.path.join(HOLDOUT_DIR, n))]


def documents(seed):
    """Documents to pack: the validation shard from its start, or with a seed a held-out shard
    from a row group and a document the seed picks, then on through the shard (wrapping)."""
    if seed is None:
        rng, path = None, os.path.join(prepare.DATA_DIR, prepare.VAL_FILENAME)
        if not os.path.isfile(path):
            sys.exit(f"swarmlab_data: no validation shard at {path}; run `uv run prepare.py`")
    else:
        pool = holdout_files()
        if not pool:
            sys.exit(f"swarmlab_data: no shard of the holdout pool in {HOLDOUT_DIR}; download "
                     f"some with `uv run swarmlab_data.py holdout` (shards "
                     f"{HOLDOUT_SHARDS[0]} to {HOLDOUT_SHARDS[-1]})")
        rng = random.Random(seed)
        path = rng.choice(pool)
    pf = pq.ParquetFile(path)
    groups = pf.num_row_groups
    start = rng.randrange(groups) if rng else 0
    for k in range(groups):
        texts = pf.read_row_group((start + k) % groups).column("text").to_pylist()
        skip = rng.randrange(len(texts)) if rng and k == 0 and texts else 0
        yield from texts[skip:]


def rows(seed, tokenizer, count=ROWS, length=prepare.MAX_SEQ_LEN):
    """`count` rows of `length` tokens, each starting with a document's BOS (see the module
    docs)."""
    bos = tokenizer.get_bos_token_id()
    out, row, batch = [], [], []
    docs = documents(seed)
    while len(out) < count:
        if not batch:
            batch = [d for d in (next(docs, None) for _ in range(128)) if d is not None]
            if not batch:
                sys.exit(f"swarmlab_data: the shard ran out after {len(out)} of {count} rows")
            batch = tokenizer.encode(batch, prepend=bos)[::-1]
        row.extend(batch.pop()[:length - len(row)])
        if len(row) == length:
            out.append(row)
            row = []
    return out


def write_tokens(out=None):
    """`tokens`: the rows and one final BOS, u32 little-endian, on stdout."""
    import numpy as np

    seed = os.environ.get("SWARMLAB_EVAL_SEED", "").strip()
    try:
        seed = int(seed) if seed else None
    except ValueError:
        sys.exit(f"swarmlab_data: invalid SWARMLAB_EVAL_SEED={seed!r}: expected an integer")
    check_table()
    tokenizer = prepare.Tokenizer.from_directory()
    tokens = [t for row in rows(seed, tokenizer) for t in row]
    tokens.append(tokenizer.get_bos_token_id())
    out = out or sys.stdout.buffer
    out.write(np.asarray(tokens, dtype="<u4").tobytes())
    out.flush()


def download_holdout(count):
    """`holdout N`: the first N shards of the pool into HOLDOUT_DIR."""
    os.makedirs(HOLDOUT_DIR, exist_ok=True)
    # prepare's downloader writes into prepare.DATA_DIR, which this process points at the pool:
    # the training data's folder never receives a held-out shard.
    prepare.DATA_DIR = HOLDOUT_DIR
    wanted = list(HOLDOUT_SHARDS)[:count]
    ok = sum(1 for i in wanted if prepare.download_single_shard(i))
    print(f"holdout: {ok}/{len(wanted)} shards in {HOLDOUT_DIR}")
    if ok < len(wanted):
        sys.exit(1)


def print_table():
    """`table`: what token_bytes.txt must hold on this machine."""
    sys.stdout.write("".join(f"{n}\n" for n in byte_table()))


if __name__ == "__main__":
    command, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "tokens" and not args:
        write_tokens()
    elif command == "holdout" and len(args) <= 1 and all(a.isdigit() for a in args):
        download_holdout(int(args[0]) if args else 4)
    elif command == "table" and not args:
        print_table()
    else:
        sys.exit("usage: uv run swarmlab_data.py tokens | holdout [N] | table")
