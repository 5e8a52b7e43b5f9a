"""swarmlab_logits: the server in process against byte buffers, then real processes (the
track's train.py under a verifier, a checkpoint server, a script that never serves) spoken to
from the verifier's side (tests/verifier.py)."""

import io
import os
import struct
import subprocess
import sys
import tempfile
import textwrap
import unittest

import numpy as np
import torch

from tests import checkpoint_server, verifier
from tests.checkpoint_server import Tiny

TRACK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TRACK)

import prepare  # noqa: E402
import swarmlab_logits  # noqa: E402

V = 8


class Counter(torch.nn.Module):
    """Logit t at position p is how often token t occurs up to p: causal, and its answer shows
    which positions it saw. Records the shapes it was called with."""

    def __init__(self, vocab=V):
        super().__init__()
        self.vocab = vocab
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.calls = []

    def forward(self, idx):
        self.calls.append((tuple(idx.shape), torch.is_grad_enabled(), self.training))
        onehot = torch.nn.functional.one_hot(idx, self.vocab).float()
        return onehot.cumsum(dim=1) * self.scale


def request(rows):
    rows = np.asarray(rows, dtype="<u4")
    return struct.pack("<II", *rows.shape) + rows.tobytes()


def serve_bytes(model, data, vocab=V, context=4, **kw):
    out = io.BytesIO()
    swarmlab_logits.serve(model, vocab=vocab, context=context, reader=io.BytesIO(data),
                          writer=out, **kw)
    return out.getvalue()


def responses(body, vocab=V):
    """The (rows, len, logits) of each response in `body` (after the handshake)."""
    out, at = [], 0
    while at < len(body):
        rows, length = struct.unpack("<II", body[at:at + 8])
        n = rows * length * vocab * 4
        logits = np.frombuffer(body[at + 8:at + 8 + n], dtype="<f4")
        out.append((rows, length, logits.reshape(rows, length, vocab)))
        at += 8 + n
    return out


class ServeInProcess(unittest.TestCase):
    def test_answers_each_request_in_pieces_no_longer_than_the_context(self):
        model = Counter()
        body = serve_bytes(model, request([[1, 1, 2, 1, 1], [3, 3, 3, 3, 3]]) + request([[7]]),
                           context=2)
        self.assertEqual(body[:8], b"SWLOGITS")
        self.assertEqual(struct.unpack("<II", body[8:16]), (1, V))
        (r1, l1, a), (r2, l2, b) = responses(body[16:])
        self.assertEqual((r1, l1, r2, l2), (2, 5, 1, 1))
        # Pieces [0, 2), [2, 4), [4, 5): position 3 of row 0 saw tokens 2 and 1 only.
        self.assertEqual((a[0, 1, 1], a[0, 3, 1], a[0, 3, 2], a[0, 4, 1]), (2, 1, 1, 1))
        self.assertEqual(a[1, 3, 3], 2)
        self.assertEqual(b[0, 0, 7], 1)
        self.assertTrue(all(shape[1] <= 2 and not grad for shape, grad, _ in model.calls))
        self.assertTrue(all(not training for _, _, training in model.calls))
        self.assertTrue(model.training, "the model's mode is restored")

    def test_refuses_what_it_cannot_answer(self):
        cases = [
            (request([[1, 9]]), "token 9 is outside the vocabulary of 8"),
            (b"\x01\x00\x00", "ended after 3 of 8 bytes"),
            (request([[1, 2]])[:-2], "ended after 6 of 8 bytes"),
            (struct.pack("<II", 0, 4), "0 rows of 4 tokens is out of range"),
            (struct.pack("<II", 1, swarmlab_logits.MAX_LEN + 1), "out of range"),
        ]
        for data, message in cases:
            with self.assertRaises(swarmlab_logits.ProtocolError) as caught:
                serve_bytes(Counter(), data)
            self.assertIn(message, str(caught.exception))

    def test_a_model_of_the_wrong_shape_is_named(self):
        class Wrong(torch.nn.Module):
            def forward(self, idx):
                return torch.zeros(idx.shape[0], idx.shape[1], V + 1)

        out = io.BytesIO()
        with self.assertRaises(swarmlab_logits.ProtocolError) as caught:
            swarmlab_logits.serve(Wrong(), vocab=V, context=4,
                                  reader=io.BytesIO(request([[1, 2, 3]])), writer=out)
        self.assertIn("the model answered ids of shape (1, 3) with (1, 3, 9)",
                      str(caught.exception))
        self.assertEqual(len(out.getvalue()), 16, "nothing but the handshake was sent")
        with self.assertRaises(swarmlab_logits.ProtocolError) as caught:
            serve_bytes(lambda idx: [0.0], request([[1]]))
        self.assertIn("with list", str(caught.exception))

    def test_minus_infinity_is_sent_finite_and_nan_as_it_is(self):
        def model(idx):
            out = torch.zeros(idx.shape[0], idx.shape[1], V, dtype=torch.float64)
            out[..., 0] = float("-inf")
            out[..., 1] = float("nan")
            return out

        (_, _, logits), = responses(serve_bytes(model, request([[1, 2]]))[16:])
        self.assertTrue((logits[..., 0] == np.float32(swarmlab_logits.LOWEST_LOGIT)).all())
        self.assertTrue(np.isnan(logits[..., 1]).all())
        self.assertTrue((logits[..., 2:] == 0).all())

    def test_memory_is_bounded_by_chunks_of_rows_and_pieces_of_a_row(self):
        rng = np.random.default_rng(1)
        rows = rng.integers(0, V, size=(6, 10))
        whole = serve_bytes(Counter(), request(rows), context=4)
        # A row is 10 * 8 * 4 = 320 bytes: 700 bytes hold 2 rows at a time.
        model = Counter()
        self.assertEqual(serve_bytes(model, request(rows), context=4, max_bytes=700), whole)
        self.assertEqual({shape[0] for shape, _, _ in model.calls}, {2})
        # 100 bytes hold no row: one piece of one row at a time.
        model = Counter()
        self.assertEqual(serve_bytes(model, request(rows), context=4, max_bytes=100), whole)
        self.assertEqual({shape for shape, _, _ in model.calls}, {(1, 4), (1, 2)})

    def test_bits_per_byte_is_what_the_verifier_computes_from_the_served_logits(self):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Embedding(V, 16), torch.nn.Linear(16, V))
        tokens = np.random.default_rng(2).integers(0, V, size=203)
        token_bytes = [0, 1, 2, 3, 1, 1, 2, 5]
        inputs, targets = verifier.windows(tokens, 20)
        (_, _, logits), = responses(serve_bytes(model, request(inputs), context=8)[16:])
        nats, nbytes = verifier.tally(logits, targets, token_bytes)
        local = swarmlab_logits.bits_per_byte(model, tokens, token_bytes, window=20, context=8,
                                              batch=3)
        self.assertAlmostEqual(local, nats / np.log(2) / nbytes, places=12)


def run_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMLAB_")}
    env.update(SWARMLAB_THREADS="2", SWARMLAB_SEED="7", SWARMLAB_BUDGET_STEPS="20",
               PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


class ServeTheTrack(unittest.TestCase):
    """The track's own train.py, trained for 20 steps, served to the verifier's side."""

    @classmethod
    def setUpClass(cls):
        cls.tokens = prepare.val_tokens()
        cls.token_bytes = prepare.load_token_bytes()

    def check_session(self, server):
        """Shapes, causality after a changed suffix, repeatability with other neighbours."""
        inputs, targets = verifier.windows(self.tokens, prepare.CONTEXT)
        first = server.logits(inputs[:4])
        self.assertEqual(first.shape, (4, prepare.CONTEXT, prepare.VOCAB_SIZE))
        self.assertTrue(np.isfinite(first).all())
        split = 100
        probe = inputs[0].copy()
        probe[split:] = inputs[5][split:]
        noise = inputs[0].copy()
        noise[split:] = np.random.default_rng(3).integers(0, prepare.VOCAB_SIZE,
                                                          prepare.CONTEXT - split)
        perturbed = server.logits([inputs[0], probe, noise])
        for row in (1, 2):
            self.assertLess(verifier.change(perturbed[0, :split], perturbed[row, :split],
                                            targets[0, :split]).max(), 1e-4)
            self.assertGreater(verifier.change(perturbed[0, split:], perturbed[row, split:],
                                               targets[0, split:]).max(), 1e-3)
        again = server.logits([inputs[9], inputs[2], inputs[7]])
        self.assertLess(verifier.change(first[2], again[1], targets[2]).max(), 1e-4)
        return inputs, targets

    def test_train_py_under_a_verifier_serves_what_a_local_run_scores(self):
        local = subprocess.run([sys.executable, "train.py"], cwd=TRACK, env=run_env(),
                               capture_output=True, text=True, timeout=300)
        self.assertEqual(local.returncode, 0, local.stderr[-3000:])
        summary = dict(line.split(":", 1) for line in local.stdout.split("---\n")[1].splitlines())
        val_bpb = float(summary["val_bpb"])

        with verifier.Server([sys.executable, "train.py"], cwd=TRACK,
                             env=run_env(SWARMLAB_LOGITS="serve")) as server:
            inputs, targets = self.check_session(server)
            nats = nbytes = 0
            for first in range(0, len(inputs), 16):
                logits = server.logits(inputs[first:first + 16])
                n, b = verifier.tally(logits, targets[first:first + 16], self.token_bytes)
                nats, nbytes = nats + n, nbytes + b
            self.assertEqual(server.close(), 0)
            log = server.stderr()
        self.assertIn("pygpt: 0.48M parameters", log, "training prints go to the log")
        self.assertIn("swarmlab_logits: served", log)
        self.assertNotIn("val_bpb", log, "a served run prints no summary")
        # The same seed and steps on the same threads train the same model: the verifier's
        # score of the public windows is the val_bpb the local run printed.
        self.assertAlmostEqual(nats / np.log(2) / nbytes, val_bpb, delta=2e-6)
        self.assertLess(val_bpb, np.log2(prepare.VOCAB_SIZE) * len(self.tokens) / sum(
            self.token_bytes[t] for t in self.tokens))

    def test_the_launcher_serves_a_script_that_calls_the_hook(self):
        with verifier.Server([sys.executable, "swarmlab_logits.py", "train.py"],
                             cwd=TRACK, env=run_env()) as server:
            self.check_session(server)
            self.assertEqual(server.close(), 0)

    def test_a_script_that_never_calls_the_hook_ends_with_a_reason(self):
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "noeval.py")
            with open(script, "w") as f:
                f.write("print('training without evaluation')\n")
            with self.assertRaises(verifier.ServerError) as caught:
                verifier.Server([sys.executable, os.path.join(TRACK, "swarmlab_logits.py"),
                                 script], cwd=tmp, env=run_env(), timeout=60)
        self.assertIn("returned without serving", str(caught.exception))
        self.assertIn("exit 1", str(caught.exception))


class ServeACheckpoint(unittest.TestCase):
    def test_trusted_code_serves_a_model_it_loaded(self):
        torch.manual_seed(5)
        model = Tiny()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.pt")
            torch.save(model.state_dict(), path)
            with verifier.Server([sys.executable, checkpoint_server.__file__, path], cwd=tmp,
                                 env=run_env(SWARMLAB_LOGITS="serve"), timeout=60) as server:
                rows = np.random.default_rng(4).integers(0, Tiny.VOCAB, size=(3, 20))
                logits = server.logits(rows)
                self.assertEqual(server.close(), 0)
                log = server.stderr()
        with torch.no_grad():
            # Pieces of 6 tokens: positions 6, 12 and 18 have no predecessor.
            pieces = [model(torch.as_tensor(rows[:, s:s + 6])) for s in range(0, 20, 6)]
            want = torch.cat(pieces, dim=1).numpy()
        np.testing.assert_allclose(logits, want, rtol=0, atol=1e-5)
        self.assertIn("loading the checkpoint", log)
        self.assertIn("served 1 requests (3 rows)", log)


if __name__ == "__main__":
    unittest.main()
