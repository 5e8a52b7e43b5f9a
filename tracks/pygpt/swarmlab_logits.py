"""
swarmlab's logits protocol served from a Python process (swarmlab's docs/eval.md), so that a
verifier computes the metric of a PyTorch model itself. Trusted: a track ships it unchanged
and lists it among its trusted files.

A track's trusted evaluation hook hands over the trained model, any callable from token ids
(a LongTensor [rows, len]) to logits ([rows, len, vocab]):

    import swarmlab_logits          # first, before anything prints (see below)
    ...
    val_bpb = swarmlab_logits.evaluate(model, vocab=V, context=T, local=lambda: ...)

Without a verifier `evaluate` returns `local()`, the track's own evaluation (`bits_per_byte`
here computes exactly what the verifier computes). Under a verifier (SWARMLAB_LOGITS=serve in
the environment) `evaluate` serves the model on the verifier's pipes and ends the process with
exit code 0 when the verifier closes stdin; it never returns. Importing this module under a
verifier saves the protocol's channel, the stdin and stdout the verifier connected, and points
fd 1 at stderr and fd 0 at /dev/null: whatever the training prints after the import goes to the
log and never into the protocol, and nothing can read the verifier's requests by accident. It
also removes SWARMLAB_LOGITS from the environment, so that child processes do not serve.

Trusted code that loads the model from a checkpoint calls `serve(model, vocab=V, context=T)`
instead. `python3 swarmlab_logits.py train.py [ARGS]` runs a training script in this process
with SWARMLAB_LOGITS=serve (the channel saved before the script runs).

What the server guarantees: the handshake (`SWLOGITS`, u32 version 1, u32 vocab), then per
request (u32 rows, u32 len, rows*len u32 tokens) the echoed header and rows*len*vocab f32
logits, little-endian, flushed after each response. The model runs in eval mode under
`torch.no_grad()`; a window longer than `context` is cut into consecutive pieces of at most
`context` tokens, each evaluated on its own; -inf becomes -1e30; NaN and +inf are sent as they
are (the verifier rejects them). Rows are computed in chunks, so the answer of a row does not
depend on the other rows beyond the last bits of floating point.

Memory: besides the model and its activations for one forward pass, the server holds the
request's tokens (as sent: 4 bytes each, the verifier caps them) and at most
max(MAX_LOGITS_BYTES, context * vocab * 4) bytes of logits: a chunk of whole rows when a row
fits in MAX_LOGITS_BYTES, otherwise one piece of one row at a time.

It does not defend against anything the model does on purpose: the verifier's checks do that.
"""

import os
import struct
import sys
import time

ENV = "SWARMLAB_LOGITS"
MAGIC = b"SWLOGITS"
VERSION = 1
MAX_ROWS = 1 << 12
MAX_LEN = 1 << 16
MAX_LOGITS_BYTES = 64 << 20
# What a -inf logit (a token the model rules out) is sent as: finite, as the verifier requires.
LOWEST_LOGIT = -1e30


class ProtocolError(Exception):
    """A request this server cannot answer, or a model that answered the wrong shape."""


_mode = os.environ.pop(ENV, "").strip()
if _mode not in ("", "serve"):
    raise SystemExit(f"swarmlab_logits: {ENV}={_mode!r} is unknown; expected `serve` or unset")
_channel = None


def serving():
    """Whether this process answers a verifier (SWARMLAB_LOGITS=serve at import)."""
    return _mode == "serve"


def channel():
    """The protocol's (input, output) files: the stdin and stdout this process started with.
    The first call saves them and points fd 1 at stderr and fd 0 at /dev/null."""
    global _channel
    if _channel is None:
        try:
            fd_in, fd_out = os.dup(0), os.dup(1)
        except OSError as e:
            raise SystemExit(f"swarmlab_logits: no stdin and stdout to serve on ({e})")
        os.dup2(2, 1)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        # Anything printed before and still buffered goes to the log now, not the protocol.
        sys.stdout.flush()
        try:
            sys.stdout.reconfigure(line_buffering=True)
        except AttributeError:
            pass
        _channel = (os.fdopen(fd_in, "rb"), os.fdopen(fd_out, "wb"))
    return _channel


if serving():
    channel()


def evaluate(model, *, vocab, context, local):
    """The track's metric: `local()` in a local run; under a verifier, serve `model` and exit
    the process (0 when the verifier closes stdin, 1 on any error, with the reason on stderr)."""
    if not serving():
        return local()
    try:
        served = serve(model, vocab=vocab, context=context)
        print(f"swarmlab_logits: {served}", file=sys.stderr)
        code = 0
    except ProtocolError as e:
        print(f"swarmlab_logits: {e}", file=sys.stderr)
        code = 1
    except BaseException:  # the model failed: its traceback is the log's last word
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve(model, *, vocab, context, reader=None, writer=None, max_bytes=MAX_LOGITS_BYTES):
    """Answers requests from `reader` on `writer` (binary files; default: the saved channel)
    until `reader` ends.
    Returns a line saying what was served; raises ProtocolError on a request it cannot
    answer or an answer of the wrong shape."""
    import torch

    if reader is None or writer is None:
        reader, writer = channel()
    if not 1 < vocab < 1 << 32 or context < 1:
        raise ValueError(f"vocab {vocab} and context {context} are out of range")
    started, requests, rows_served = time.perf_counter(), 0, 0
    writer.write(MAGIC + struct.pack("<II", VERSION, vocab))
    writer.flush()
    with torch.no_grad():
        model_mode = _eval_mode(model)
        try:
            while True:
                header = _read(reader, 8, allow_eof=True)
                if header is None:
                    break
                rows, length = struct.unpack("<II", header)
                if not (0 < rows <= MAX_ROWS and 0 < length <= MAX_LEN):
                    raise ProtocolError(
                        f"a request of {rows} rows of {length} tokens is out of range")
                ids = _tokens(_read(reader, rows * length * 4), rows, length, vocab)
                answer = _answer(model, ids, vocab, context, max_bytes)
                first = next(answer)  # a model that fails, fails before the header is sent
                writer.write(header)
                writer.write(first)
                for logits in answer:
                    writer.write(logits)
                writer.flush()
                requests += 1
                rows_served += rows
        finally:
            _restore(model, model_mode)
    took = time.perf_counter() - started
    return f"served {requests} requests ({rows_served} rows) in {took:.2f}s"


def window_logits(model, ids, vocab, context):
    """f32 logits [rows, len, vocab] of LongTensor `ids` [rows, len], in pieces of `context`."""
    import torch

    rows, length = ids.shape
    device = _device(model)
    pieces = []
    for start in range(0, length, context):
        piece = ids[:, start:start + context].to(device)
        out = model(piece)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (rows, piece.shape[1], vocab):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ProtocolError(f"the model answered ids of shape {tuple(piece.shape)} with "
                                f"{shape}; logits of shape {(rows, piece.shape[1], vocab)} "
                                f"were expected")
        pieces.append(out.detach().to("cpu", torch.float32).clamp(min=LOWEST_LOGIT))
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)


def bits_per_byte(model, tokens, token_bytes, *, window, context, batch=16):
    """What the verifier computes, here: `tokens` cut into windows of `window` tokens (window
    i holds tokens i*window .. (i+1)*window and predicts the tokens one later; a remainder
    shorter than a window is not scored), log-softmax and cross-entropy in f64, tokens of 0
    bytes not scored; bits per byte. NaN when the model answers NaN."""
    import numpy as np
    import torch

    data = torch.as_tensor(np.asarray(tokens, dtype=np.int64))
    table = torch.as_tensor(np.asarray(token_bytes, dtype=np.int64))
    vocab = len(table)
    n = (len(data) - 1) // window
    if n < 1:
        raise ValueError(f"{len(data)} tokens hold no window of {window}")
    nats, nbytes = 0.0, 0
    with torch.no_grad():
        mode = _eval_mode(model)
        try:
            for first in range(0, n, batch):
                idx = torch.arange(first, min(first + batch, n)).unsqueeze(1) * window
                span = torch.arange(window)
                inputs, targets = data[idx + span], data[idx + span + 1]
                logp = window_logits(model, inputs, vocab, context).double().log_softmax(-1)
                nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
                weight = table[targets]
                nats += nll[weight > 0].sum().item()
                nbytes += int(weight.sum())
        finally:
            _restore(model, mode)
    return nats / np.log(2) / nbytes


def _answer(model, ids, vocab, context, max_bytes):
    """The response body of one request, in bounded chunks (see the module docs)."""
    import numpy as np
    import torch

    rows, length = ids.shape
    ids = torch.as_tensor(ids.astype(np.int64))
    row_bytes = length * vocab * 4
    if row_bytes <= max_bytes:
        step = max(1, max_bytes // row_bytes)
        for first in range(0, rows, step):
            yield _le_bytes(window_logits(model, ids[first:first + step], vocab, context))
    else:
        for r in range(rows):
            for start in range(0, length, context):
                piece = ids[r:r + 1, start:start + context]
                yield _le_bytes(window_logits(model, piece, vocab, context))


def _tokens(body, rows, length, vocab):
    import numpy as np

    ids = np.frombuffer(body, dtype="<u4").reshape(rows, length)
    if ids.size and int(ids.max()) >= vocab:
        raise ProtocolError(f"token {int(ids.max())} is outside the vocabulary of {vocab}")
    return ids


def _le_bytes(logits):
    return logits.numpy().astype("<f4", copy=False).tobytes()


def _read(stream, n, allow_eof=False):
    """Exactly n bytes; None at a clean end of input when `allow_eof`."""
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = stream.readinto(view[got:])
        if not k:
            if got == 0 and allow_eof:
                return None
            raise ProtocolError(f"the input ended after {got} of {n} bytes of a request")
        got += k
    return bytes(buf)


def _device(model):
    params = getattr(model, "parameters", None)
    if callable(params):
        for p in params():
            return p.device
    return "cpu"


def _eval_mode(model):
    """Puts a torch Module in eval mode; returns what to restore."""
    if hasattr(model, "training") and callable(getattr(model, "eval", None)):
        was = model.training
        model.eval()
        return was
    return None


def _restore(model, was):
    if was is not None:
        model.train(was)


def _launch(argv):
    """`python3 swarmlab_logits.py SCRIPT [ARGS]`: run SCRIPT here as `__main__`, serving."""
    import runpy

    if not argv:
        raise SystemExit("usage: python3 swarmlab_logits.py SCRIPT [ARGS...]")
    import importlib.util

    os.environ[ENV] = "serve"
    sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
    # This very file as the module `swarmlab_logits`, which saves the channel now; the
    # script's own `import swarmlab_logits` finds it in sys.modules.
    spec = importlib.util.spec_from_file_location("swarmlab_logits", os.path.abspath(__file__))
    module = importlib.util.module_from_spec(spec)
    sys.modules["swarmlab_logits"] = module
    spec.loader.exec_module(module)

    sys.argv = list(argv)
    try:
        runpy.run_path(argv[0], run_name="__main__")
        why = "returned"
    except SystemExit as e:
        why = f"exited ({e.code})"
    raise SystemExit(f"swarmlab_logits: {argv[0]} {why} without serving: its evaluation "
                     f"never called swarmlab_logits.evaluate")


if __name__ == "__main__":
    _launch(sys.argv[1:])
