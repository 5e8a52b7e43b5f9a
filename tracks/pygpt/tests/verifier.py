"""
The verifier's side of swarmlab's logits protocol in Python, for tests of a Python server:
start it, read the handshake, send windows, read and check the logits, score them.

A harness, not the verifier: swarmlab's verifier (Rust, docs/eval.md) plans its own probes
and decides verdicts. This speaks the same bytes with the same arithmetic (log-softmax and
cross-entropy in f64 over the f32 logits, bits per byte with the byte table, the "same
distribution" test of a probe), so that tests of the server and of attacks on it can be
written in a few lines. Every read has a deadline: a server that hangs fails the test, it
does not hang it.
"""

import os
import select
import struct
import subprocess
import tempfile
import time

import numpy as np

MAGIC = b"SWLOGITS"
VERSION = 1


class ServerError(Exception):
    """The server broke the protocol, ended early or ran past the deadline."""


class Server:
    """A logits server started as `argv` in `cwd`, its stderr in a temporary log; a context
    manager that kills it and closes its pipes on exit. Starting it reads the handshake."""

    def __init__(self, argv, *, cwd, env=None, timeout=120.0):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log)
        self.deadline = time.monotonic() + timeout
        try:
            header = self._read(16)
            if header[:8] != MAGIC:
                raise ServerError(f"bad magic {header[:8]!r}; stderr: {self.stderr()[-2000:]}")
            version, self.vocab = struct.unpack("<II", header[8:])
            if version != VERSION:
                raise ServerError(f"version {version}")
        except BaseException:
            self.__exit__()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        for stream in (self.proc.stdin, self.proc.stdout, self.log):
            if not stream.closed:
                stream.close()

    def logits(self, rows):
        """f32 logits [rows, len, vocab] for equal-length rows of token ids."""
        rows = np.asarray(rows, dtype="<u4")
        n, length = rows.shape
        self.proc.stdin.write(struct.pack("<II", n, length) + rows.tobytes())
        self.proc.stdin.flush()
        echo = struct.unpack("<II", self._read(8))
        if echo != (n, length):
            raise ServerError(f"echoed {echo} for a request of {(n, length)}")
        body = self._read(n * length * self.vocab * 4)
        return np.frombuffer(body, dtype="<f4").reshape(n, length, self.vocab)

    def close(self):
        """Closes stdin (the end of the session) and returns the server's exit code."""
        self.proc.stdin.close()
        try:
            return self.proc.wait(max(0.1, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            raise ServerError("the server did not exit after its stdin closed")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stderr(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def _read(self, n):
        out = bytearray()
        fd = self.proc.stdout.fileno()
        while len(out) < n:
            left = self.deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise ServerError(f"timed out after {len(out)} of {n} bytes")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, min(n - len(out), 1 << 20))
                if not chunk:
                    try:
                        code = self.proc.wait(max(0.1, self.deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        code = None
                    raise ServerError(f"the server ended after {len(out)} of {n} bytes "
                                      f"(exit {code}); stderr: {self.stderr()[-2000:]}")
                out += chunk
        return bytes(out)


def windows(tokens, context):
    """(inputs, targets) of every whole window: window i sends tokens i*context ..
    (i+1)*context and position p predicts the token one later."""
    tokens = np.asarray(tokens, dtype=np.int64)
    n = (len(tokens) - 1) // context
    idx = np.arange(n)[:, None] * context + np.arange(context)[None, :]
    return tokens[idx], tokens[idx + 1]


def log_softmax(logits):
    z = np.asarray(logits, dtype=np.float64)
    top = z.max(axis=-1, keepdims=True)
    return z - (top + np.log(np.exp(z - top).sum(axis=-1, keepdims=True)))


def tally(logits, targets, token_bytes):
    """(nats, bytes) of the predictions of `targets`; tokens of 0 bytes are not scored."""
    logp = np.take_along_axis(log_softmax(logits), np.asarray(targets)[..., None], -1)[..., 0]
    weight = np.asarray(token_bytes)[np.asarray(targets)]
    return float(-logp[weight > 0].sum()), int(weight.sum())


def change(a, b, targets):
    """Per position: the larger of the change in log-probability of the target (nats) and
    the total variation distance between the two distributions (the verifier's test)."""
    la, lb = log_softmax(a), log_softmax(b)
    t = np.asarray(targets)[..., None]
    target = np.abs(np.take_along_axis(la, t, -1) - np.take_along_axis(lb, t, -1))[..., 0]
    variation = np.abs(np.exp(la) - np.exp(lb)).sum(axis=-1) / 2
    return np.maximum(target, variation)
