# A fake logits server for swarmlab-eval's tests: `python3 logits_server.py VOCAB BEHAVIOUR`.
#
# The honest model is a bigram: after token t it puts half its probability on t + 1 (mod
# VOCAB) and spreads the rest evenly. The other behaviours cheat or break the protocol in one
# way each; the tests check that the verifier notices.
import math
import struct
import sys
import time
from array import array

VOCAB = int(sys.argv[1])
BEHAVIOUR = sys.argv[2]
HIT = math.log(0.5)
MISS = math.log(0.5 / (VOCAB - 1))


def bigram(after):
    row = [MISS] * VOCAB
    row[(after + 1) % VOCAB] = HIT
    return row


def logits(window, p, calls):
    if BEHAVIOUR == "zeros":
        return [0.0] * VOCAB
    row = bigram(window[p])
    if BEHAVIOUR == "shifted" and p + 1 < len(window):
        # Predicts position p from the token it is meant to predict.
        row = [MISS] * VOCAB
        row[window[p + 1]] = 0.0
    elif BEHAVIOUR == "mean":
        # Every position sees how often each token occurs in the whole window.
        for t in window:
            row[t] += 1.0 / len(window)
    elif BEHAVIOUR == "last":
        # Every position sees the window's last token.
        row[window[-1]] += 2.0
    elif BEHAVIOUR == "stateful":
        # Grows more confident with every call: the same window scores better later.
        row = [x * (1.0 + 0.05 * calls) for x in row]
    elif BEHAVIOUR == "nan" and calls == 2 and p == 1:
        row[3] = float("nan")
    return row


def read_exactly(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data


def main():
    out, inp = sys.stdout.buffer, sys.stdin.buffer
    vocab = VOCAB + 1 if BEHAVIOUR == "wrong-vocab" else VOCAB
    print("loading the model", file=sys.stderr)
    if BEHAVIOUR == "late":
        # Trains on past its budget before it serves.
        time.sleep(3)
    out.write(b"SWLOGITS" + struct.pack("<II", 1, vocab))
    out.flush()
    calls = 0
    while True:
        rows, length = struct.unpack("<II", read_exactly(inp, 8))
        tokens = array("I")
        tokens.frombytes(read_exactly(inp, rows * length * 4))
        calls += 1
        if BEHAVIOUR == "hang" and calls == 2:
            time.sleep(1000)
        if BEHAVIOUR == "crash" and calls == 2:
            print("out of memory in layer 3", file=sys.stderr)
            sys.exit(3)
        answer = array("f")
        for r in range(rows):
            window = tokens[r * length:(r + 1) * length]
            for p in range(length):
                answer.extend(logits(window, p, calls))
        header_rows = rows - 1 if BEHAVIOUR == "short-header" else rows
        out.write(struct.pack("<II", header_rows, length))
        body = answer.tobytes()
        if BEHAVIOUR == "short-body":
            body = body[: len(body) // 2]
        out.write(body)
        out.flush()
        if BEHAVIOUR == "flood":
            # Writes bytes nobody asked for, as fast as the pipe takes them.
            while True:
                out.write(b"\xff" * 65536)
                out.flush()


main()
