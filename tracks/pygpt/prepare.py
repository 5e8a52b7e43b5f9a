"""
pygpt's fixed half: the data, the tokenizer, the budget and the metric. Trusted: agents do
not edit this file; a verifier pins it to the baseline.

Usage:
    python3 prepare.py            # setup: check the environment, the tokenizer, cache the data
    python3 prepare.py tokens     # the validation tokens, u32 little-endian, on stdout;
                                  # with SWARMLAB_EVAL_SEED: fresh holdout text from that seed
    python3 prepare.py tokenizer  # retrain the tokenizer, rewrite tokenizer.txt and
                                  # token_bytes.txt (only when the language changes)

train.py imports it for CONTEXT, VOCAB_SIZE, the training tokens, the budget and
`evaluate_bpb`. Importing it imports `swarmlab_logits` first, which under a verifier takes the
logits protocol's channel (stdout) before anything else can print.

The data is an invented language (the one of swarmlab's tinygpt track, ported bit for bit):
a lexicon of made-up words in eight word classes plus `,` `.` and `.\\n`; the next word's
class depends on the previous token's class (a small grammar) and the word within its class
follows a Zipf law whose rank order depends on the previous word's last letter. Text is a
Markov chain over (class, flavour) states, rendered injectively, so its entropy rate in bits
per byte is known exactly (`entropy_floor_bpb`, computed from the generator's own tables).
No model can beat it in expectation, whatever its tokenizer: a tokenization is a function of
the text, so coding the tokens codes the text. Nothing is downloaded: the training text, the
public validation text and any holdout come from seeds.
"""

import bisect
import hashlib
import math
import os
import re
import sys
import time

import swarmlab_logits  # noqa: F401  (first: under a verifier it takes stdout before any print)

HERE = os.path.dirname(os.path.abspath(__file__))
LOCK_FILE = os.path.join(HERE, "requirements.lock")

# ---------------------------------------------------------------------------
# The environment (checked by setup before anything outside the standard library is imported)
# ---------------------------------------------------------------------------

def check_environment(path=LOCK_FILE):
    """Every `name==version` of requirements.lock that applies here installed at that
    version; else exit 1 naming what differs."""
    from importlib import metadata

    wrong = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            spec, _, marker = line.split("#")[0].partition(";")
            if "==" not in spec or not _marker_holds(marker):
                continue
            name, want = (s.strip() for s in spec.split("=="))
            try:
                have = metadata.version(name)
            except metadata.PackageNotFoundError:
                have = None
            if have != want:
                wrong.append(f"{name}: {have or 'not installed'}, the lock pins {want}")
    if wrong:
        sys.exit(f"prepare: {sys.executable} does not match requirements.lock:\n  "
                 + "\n  ".join(wrong)
                 + "\ninstall it: python3 -m venv .venv && .venv/bin/pip install -r "
                   "requirements.lock, then put .venv/bin first on PATH")


def _marker_holds(marker):
    """The lock's environment markers: `key == "value"` clauses joined by `and`."""
    import platform

    here = {"platform_system": platform.system(), "platform_machine": platform.machine()}
    for clause in filter(None, (c.strip() for c in marker.split(" and "))):
        key, _, value = (s.strip() for s in clause.partition("=="))
        if key not in here:
            sys.exit(f"prepare: requirements.lock: unknown marker `{clause}`")
        if here[key] != value.strip('"'):
            return False
    return True


if __name__ == "__main__" and sys.argv[1:] in ([], ["setup"]):
    check_environment()

# Threads, set before numpy and torch load (train.py imports prepare first). numpy's OpenBLAS,
# loaded before torch, made torch's training on 2 cores up to 10x slower; numpy does no linear
# algebra here. torch's OpenMP threads spin while they wait: on cores that other processes
# share, 2 threads trained 5x slower than 1 thread; sleeping waits keep the speed of a free
# machine within reach. The environment can say otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402

# ---------------------------------------------------------------------------
# Constants (fixed: they define the game)
# ---------------------------------------------------------------------------

VOCAB_SIZE = 512         # 256 bytes, 255 merges, 1 special token
CONTEXT = 256            # tokens per evaluation window (the verifier's `eval.context`)
TIME_BUDGET = 60         # training seconds when the harness sets no budget
TRAIN_SEED = 1           # seed of the training text
VAL_SEED = 2             # seed of the public validation text
HOLDOUT_OFFSET = 0x1000_0000  # a holdout seed is shifted by this, as in tinygpt
TRAIN_BYTES = 8 << 20    # bytes of training text
VAL_BYTES = 1 << 17      # bytes of validation (and holdout) text
SEED = int(os.environ.get("SWARMLAB_SEED") or 1337)  # the harness's seed for this run
ENTROPY_FLOOR_BPB = 0.9201547861338463  # Language().entropy_floor_bpb(), as tinygpt's

TOKENIZER_FILE = os.path.join(HERE, "tokenizer.txt")
TOKEN_BYTES_FILE = os.path.join(HERE, "token_bytes.txt")
CACHE_DIR = os.path.join(HERE, "data")

# ---------------------------------------------------------------------------
# Random numbers: SplitMix64, the generator of tinygpt (its output must never change)
# ---------------------------------------------------------------------------

_MASK = (1 << 64) - 1


class Rng:
    """SplitMix64 seeded as tinygpt's `Rng::new`: same seed, same stream."""

    def __init__(self, seed):
        self.state = (seed ^ 0x5DEE_CE66_D1CE_4E5B) & _MASK

    def next_u64(self):
        self.state = (self.state + 0x9E37_79B9_7F4A_7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB) & _MASK
        return z ^ (z >> 31)

    def next_f64(self):
        return (self.next_u64() >> 11) * (1.0 / (1 << 53))

    def below(self, n):
        return (self.next_u64() * n) >> 64


def _sum(xs):
    """Left-to-right float sum (as Rust's `iter().sum()`; Python 3.12's `sum` compensates)."""
    total = 0.0
    for x in xs:
        total += x
    return total


def _cdf(weights):
    total = _sum(weights)
    out, acc = [], 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    return out


# ---------------------------------------------------------------------------
# The language
# ---------------------------------------------------------------------------

LANGUAGE_SEED = 0x7469_6E79_6770_7431
ZIPF_EXPONENT = 1.05
FLAVOURS = 4
ADV, COMMA, STOP, PARA, CLASSES = 4, 8, 9, 10, 11
# (words, min syllables, max syllables): determiner, adjective, noun, verb, adverb,
# preposition, pronoun, conjunction.
WORD_CLASSES = [(7, 1, 1), (120, 2, 3), (400, 1, 3), (250, 1, 3), (50, 2, 3), (14, 1, 2),
                (9, 1, 1), (6, 1, 2)]
# Unnormalised grammar weights: row = previous class, column = next class.
GRAMMAR = [
    # DET  ADJ   NOUN  VERB  ADV   PREP  PRON  CONJ  COMMA STOP  PARA
    [0.0, 0.35, 0.65, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],    # DET
    [0.0, 0.15, 0.78, 0.0, 0.0, 0.0, 0.0, 0.0, 0.07, 0.0, 0.0],   # ADJ
    [0.0, 0.0, 0.0, 0.45, 0.04, 0.15, 0.0, 0.08, 0.10, 0.15, 0.03],  # NOUN
    [0.40, 0.05, 0.0, 0.0, 0.15, 0.15, 0.10, 0.0, 0.03, 0.12, 0.0],  # VERB
    [0.0, 0.15, 0.0, 0.35, 0.0, 0.20, 0.0, 0.0, 0.10, 0.20, 0.0],    # ADV
    [0.60, 0.10, 0.15, 0.0, 0.0, 0.0, 0.15, 0.0, 0.0, 0.0, 0.0],     # PREP
    [0.0, 0.0, 0.0, 0.80, 0.10, 0.05, 0.0, 0.0, 0.0, 0.05, 0.0],     # PRON
    [0.50, 0.0, 0.10, 0.0, 0.10, 0.0, 0.30, 0.0, 0.0, 0.0, 0.0],     # CONJ
    [0.30, 0.0, 0.0, 0.0, 0.10, 0.0, 0.20, 0.40, 0.0, 0.0, 0.0],     # COMMA
    [0.55, 0.05, 0.05, 0.0, 0.05, 0.0, 0.30, 0.0, 0.0, 0.0, 0.0],    # STOP
    [0.55, 0.05, 0.05, 0.0, 0.05, 0.0, 0.30, 0.0, 0.0, 0.0, 0.0],    # PARA
]
ONSETS = ["b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br",
          "st", "tr", "kl", "sh", "th", "gr"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ou"]
CODAS = ["", "", "", "n", "r", "s", "l", "m"]
START = (PARA, 0)


class Language:
    """The one fixed language of this track: lexicon, grammar and word-choice tables."""

    def __init__(self):
        rng = Rng(LANGUAGE_SEED)
        self.spelling, self.cls, self.flavour = [], [], []
        self.members = [[] for _ in range(CLASSES)]
        seen = {}
        for c, (count, lo, hi) in enumerate(WORD_CLASSES):
            while len(self.members[c]) < count:
                syllables = lo + rng.below(hi - lo + 1)
                word = ""
                for _ in range(syllables):
                    word += ONSETS[rng.below(len(ONSETS))]
                    word += VOWELS[rng.below(len(VOWELS))]
                    word += CODAS[rng.below(len(CODAS))]
                if c == ADV:
                    word += "li"
                if word in seen:
                    continue
                seen[word] = len(self.spelling)
                self._add(c, word, ord(word[-1]) % FLAVOURS)
        for c, text in ((COMMA, ","), (STOP, "."), (PARA, ".\n")):
            self._add(c, text, 0)
        self.by_spelling = seen
        self.index_in_class = [0] * len(self.spelling)
        for m in self.members:
            for i, t in enumerate(m):
                self.index_in_class[t] = i
        self.grammar = []
        for row in GRAMMAR:
            total = _sum(row)
            self.grammar.append([w / total for w in row])
        self.grammar_cdf = [_cdf(row) for row in self.grammar]
        self.zipf = []
        for m in self.members:
            w = [1.0 / float(r + 1) ** ZIPF_EXPONENT for r in range(len(m))]
            total = _sum(w)
            self.zipf.append([x / total for x in w])
        self.zipf_cdf = [_cdf(z) for z in self.zipf]
        self.order, self.rank = [], []
        for m in self.members:
            per_flavour, inverse = [], []
            for _ in range(FLAVOURS):
                perm = list(range(len(m)))
                for i in range(len(perm) - 1, 0, -1):
                    j = rng.below(i + 1)
                    perm[i], perm[j] = perm[j], perm[i]
                inv = [0] * len(perm)
                for r, i in enumerate(perm):
                    inv[i] = r
                per_flavour.append(perm)
                inverse.append(inv)
            self.order.append(per_flavour)
            self.rank.append(inverse)
        # The next token for each (state, class, rank) and its rendering after each class.
        self._next = [[[m[self.order[c][f][r]] for r in range(len(m))]
                       for c, m in enumerate(self.members)] for f in range(FLAVOURS)]
        self._rendered = [[self._render(prev, t) for t in range(len(self.spelling))]
                          for prev in range(CLASSES)]

    def _add(self, c, text, flavour):
        self.members[c].append(len(self.spelling))
        self.spelling.append(text)
        self.cls.append(c)
        self.flavour.append(flavour)

    def _render(self, prev_class, t):
        text = self.spelling[t]
        if self.cls[t] >= COMMA:
            return text
        if prev_class in (STOP, PARA):
            text = text[0].upper() + text[1:]
        return text if prev_class == PARA else " " + text

    def prob(self, state, t):
        """P(token t | previous state)."""
        c, f = state
        k = self.cls[t]
        return self.grammar[c][k] * self.zipf[k][self.rank[k][f][self.index_in_class[t]]]

    def generate(self, seed, n_bytes):
        """`n_bytes` of text sampled with `seed` (the last token may be cut)."""
        rng = Rng(seed)
        c, f = START
        parts, size = [], 0
        gcdf, zcdf, nxt, rendered = self.grammar_cdf, self.zipf_cdf, self._next, self._rendered
        cls, flavour, rb = self.cls, self.flavour, bisect.bisect_right
        while size < n_bytes:
            g = gcdf[c]
            k = min(rb(g, rng.next_f64()), len(g) - 1)
            z = zcdf[k]
            t = nxt[f][k][min(rb(z, rng.next_f64()), len(z) - 1)]
            piece = rendered[c][t]
            parts.append(piece)
            size += len(piece)
            c, f = cls[t], flavour[t]
        return "".join(parts)[:n_bytes]

    def decode(self, text):
        """Token ids of complete rendered text; None if it is not in the language."""
        out = []
        for m in re.finditer(r"[A-Za-z]+|\.\n|[,.]| |.", text, re.S):
            s = m.group()
            if s == " ":
                continue
            if s in (",", ".", ".\n"):
                out.append(self.members[{",": COMMA, ".": STOP, ".\n": PARA}[s]][0])
            elif s.isalpha() and s.lower() in self.by_spelling:
                out.append(self.by_spelling[s.lower()])
            else:
                return None
        return out

    def surprisal_bits(self, tokens):
        """Total -log2 probability of tokens under the true generator, from the start."""
        state, bits = START, 0.0
        for t in tokens:
            bits -= math.log2(self.prob(state, t))
            state = (self.cls[t], self.flavour[t])
        return bits

    def entropy_floor_bpb(self):
        """The exact entropy rate of the rendered text, bits per byte: H / L over the
        stationary distribution of the (class, flavour) chain (see the module docs)."""
        n = CLASSES * FLAVOURS
        trans = [[0.0] * n for _ in range(n)]
        entropy, length = [0.0] * n, [0.0] * n
        for c in range(CLASSES):
            for f in range(FLAVOURS):
                s = c * FLAVOURS + f
                for t in range(len(self.spelling)):
                    p = self.prob((c, f), t)
                    if p > 0.0:
                        trans[s][self.cls[t] * FLAVOURS + self.flavour[t]] += p
                        entropy[s] -= p * math.log2(p)
                        length[s] += p * len(self._rendered[c][t])
        pi = [0.0] * n
        pi[START[0] * FLAVOURS + START[1]] = 1.0
        # Lazy power iteration (averaged with the identity) converges for periodic chains too.
        for _ in range(100_000):
            nxt = [0.0] * n
            for s in range(n):
                if pi[s]:
                    for s2 in range(n):
                        nxt[s2] += pi[s] * trans[s][s2]
            nxt = [0.5 * (a + b) for a, b in zip(nxt, pi)]
            delta = _sum(abs(a - b) for a, b in zip(nxt, pi))
            pi = nxt
            if delta < 1e-15:
                break
        h = _sum(p * e for p, e in zip(pi, entropy))
        bytes_per_token = _sum(p * l for p, l in zip(pi, length))
        return h / bytes_per_token


def validation_text(lang, holdout_seed=None):
    """The public validation text, or fresh holdout text from a verifier's secret seed."""
    if holdout_seed is None:
        return lang.generate(VAL_SEED, VAL_BYTES)
    return lang.generate((holdout_seed + HOLDOUT_OFFSET) & _MASK, VAL_BYTES)


# ---------------------------------------------------------------------------
# Tokenizer: byte-level BPE, trained once on the training text
# ---------------------------------------------------------------------------

# A word with its leading space, a run of other non-space bytes, or spaces.
SPLIT_PATTERN = re.compile(rb" ?[A-Za-z]+| ?[^A-Za-z ]+| +")
SPECIAL_TOKENS = ["<|bos|>"]  # reserved; never in the text; 0 bytes
N_MERGES = VOCAB_SIZE - 256 - len(SPECIAL_TOKENS)


def train_merges(text):
    """The BPE merges of `text` (bytes): repeatedly join the most frequent adjacent pair
    within a piece; ties go to the smallest pair. Deterministic."""
    counts = {}
    for piece in SPLIT_PATTERN.findall(text):
        counts[piece] = counts.get(piece, 0) + 1
    words = [(list(piece), n) for piece, n in counts.items()]
    merges = []
    for new_id in range(256, 256 + N_MERGES):
        pairs = {}
        for ids, n in words:
            for pair in zip(ids, ids[1:]):
                pairs[pair] = pairs.get(pair, 0) + n
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        for ids, _ in words:
            i = 0
            while i < len(ids) - 1:
                if (ids[i], ids[i + 1]) == best:
                    ids[i:i + 2] = [new_id]
                i += 1
    return merges


class Tokenizer:
    """Byte-level BPE over pieces of SPLIT_PATTERN, with one cache entry per distinct piece."""

    def __init__(self, merges):
        self.merges = list(merges)
        self.rank = {pair: 256 + i for i, pair in enumerate(self.merges)}
        self.pieces = [bytes([b]) for b in range(256)]
        for a, b in self.merges:
            self.pieces.append(self.pieces[a] + self.pieces[b])
        self.specials = {name: len(self.pieces) + i for i, name in enumerate(SPECIAL_TOKENS)}
        self.vocab_size = len(self.pieces) + len(SPECIAL_TOKENS)
        self._cache = {}

    @classmethod
    def load(cls, path=TOKENIZER_FILE):
        merges = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    _, a, b = line.split()[:3]
                    merges.append((int(a), int(b)))
        return cls(merges)

    def dump(self):
        """tokenizer.txt: one merge per line (`id left right piece`)."""
        lines = [f"# pygpt's BPE merges: id left right, then the token's bytes (escaped); "
                 f"written by `python3 prepare.py tokenizer`\n"]
        for i, (a, b) in enumerate(self.merges):
            lines.append(f"{256 + i} {a} {b} {self.pieces[256 + i]!r}\n")
        return "".join(lines)

    def token_bytes(self):
        """Bytes of text per token: the verifier's table (0 for special tokens)."""
        return [len(p) for p in self.pieces] + [0] * len(SPECIAL_TOKENS)

    def _encode_piece(self, piece):
        ids = list(piece)
        while len(ids) > 1:
            ranked = [(self.rank.get(p, 1 << 30), i) for i, p in enumerate(zip(ids, ids[1:]))]
            r, i = min(ranked)
            if r == 1 << 30:
                break
            ids[i:i + 2] = [r]
        return ids

    def encode(self, text):
        """Token ids of `text` (str or bytes)."""
        if isinstance(text, str):
            text = text.encode("utf-8")
        out, cache = [], self._cache
        for piece in SPLIT_PATTERN.findall(text):
            ids = cache.get(piece)
            if ids is None:
                ids = cache[piece] = self._encode_piece(piece)
            out.extend(ids)
        return out

    def decode(self, ids):
        return b"".join(self.pieces[i] if i < len(self.pieces) else b"" for i in ids)


def train_tokenizer(text=None):
    """The tokenizer that `prepare.py tokenizer` commits: BPE on the whole training text."""
    text = text or Language().generate(TRAIN_SEED, TRAIN_BYTES)
    return Tokenizer(train_merges(text.encode("ascii")))


def load_token_bytes(path=TOKEN_BYTES_FILE):
    with open(path, encoding="ascii") as f:
        return [int(line) for line in f if line.strip()]


# ---------------------------------------------------------------------------
# Data: token arrays, cached under data/ (regenerated when missing or unwritable)
# ---------------------------------------------------------------------------

def _cache_key():
    h = hashlib.sha256()
    for path in (TOKENIZER_FILE, TOKEN_BYTES_FILE):
        with open(path, "rb") as f:
            h.update(f.read())
    h.update(f"{TRAIN_SEED} {TRAIN_BYTES} {VAL_SEED} {VAL_BYTES} v2".encode())
    return h.hexdigest()[:16]


def _cache_path(name):
    return os.path.join(CACHE_DIR, f"{name}-{_cache_key()}.u16")


def _tokens(name, make):
    path = _cache_path(name)
    if os.path.exists(path):
        return np.fromfile(path, dtype="<u2")
    tokens = np.asarray(make(), dtype="<u2")
    try:
        os.makedirs(CACHE_DIR, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        tokens.tofile(tmp)
        os.replace(tmp, path)
    except OSError as e:
        print(f"prepare: not caching {name} tokens ({e})", file=sys.stderr)
    return tokens


def train_tokens():
    """The training text's tokens (uint16 numpy array)."""
    return _tokens("train", lambda: Tokenizer.load().encode(
        Language().generate(TRAIN_SEED, TRAIN_BYTES)))


def val_tokens():
    """The public validation text's tokens (uint16 numpy array)."""
    return _tokens("val", lambda: Tokenizer.load().encode(validation_text(Language())))


def holdout_tokens(seed):
    """Fresh text of the same language from `seed`: what a verifier scores on. Never cached."""
    return np.asarray(Tokenizer.load().encode(validation_text(Language(), seed)), dtype="<u4")


def batches(tokens, batch_size, seq_len, seed=SEED):
    """Endless random (inputs, targets) LongTensor pairs of shape (batch_size, seq_len)."""
    import torch

    data = torch.from_numpy(tokens.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    offsets = torch.arange(seq_len + 1)
    while True:
        starts = torch.randint(len(data) - seq_len - 1, (batch_size, 1), generator=gen)
        rows = data[starts + offsets]
        yield rows[:, :-1], rows[:, 1:]


# ---------------------------------------------------------------------------
# Budget
# ---------------------------------------------------------------------------

class Budget:
    """What the training loop may spend: SWARMLAB_BUDGET_SECONDS (training seconds, the clock
    starting at the first `done` or `progress` call, so start-up is not counted),
    SWARMLAB_BUDGET_STEPS or SWARMLAB_BUDGET_TOKENS; TIME_BUDGET seconds when none is set.
    The loop asks `done(steps, tokens)` before every step."""

    def __init__(self, environ=os.environ):
        self.seconds = self.steps = self.tokens = None
        for key, attr, kind in (("SWARMLAB_BUDGET_SECONDS", "seconds", float),
                                ("SWARMLAB_BUDGET_STEPS", "steps", int),
                                ("SWARMLAB_BUDGET_TOKENS", "tokens", int)):
            value = (environ.get(key) or "").strip().replace("_", "")
            if value:
                try:
                    parsed = kind(value)
                except ValueError:
                    parsed = -1
                if not (parsed > 0 and math.isfinite(parsed)):
                    raise SystemExit(f"invalid {key}={environ[key]!r}: expected a positive number")
                setattr(self, attr, parsed)
                break
        else:
            self.seconds = float(TIME_BUDGET)
        self.start = None

    def elapsed(self):
        """Seconds since the clock started (0 before)."""
        return 0.0 if self.start is None else time.perf_counter() - self.start

    def progress(self, steps, tokens):
        """Fraction of the budget used, in [0, 1]."""
        if self.start is None:
            self.start = time.perf_counter()
        if self.seconds is not None:
            p = self.elapsed() / self.seconds
        elif self.steps is not None:
            p = steps / self.steps
        else:
            p = tokens / self.tokens
        return min(max(p, 0.0), 1.0)

    def done(self, steps, tokens):
        return self.progress(steps, tokens) >= 1.0

    def describe(self):
        if self.seconds is not None:
            return f"{self.seconds:g} s"
        return f"{self.steps} steps" if self.steps is not None else f"{self.tokens} tokens"


def set_threads():
    """SWARMLAB_THREADS when the harness sets it (else torch's default), applied to torch."""
    import torch

    n = int(os.environ.get("SWARMLAB_THREADS") or 0)
    if n > 0:
        torch.set_num_threads(n)
    return torch.get_num_threads()


# ---------------------------------------------------------------------------
# Evaluation (the fixed metric)
# ---------------------------------------------------------------------------

def evaluate_bpb(model, model_context=CONTEXT, batch_size=16):
    """Bits per byte of `model` on the validation text: windows of CONTEXT tokens, each token
    predicted from the tokens before it in its window (pieces of `model_context` when the model
    is shorter), cross-entropy in f64 over the model's logits, special tokens not scored.

    `model` maps token ids (LongTensor [rows, len]) to logits ([rows, len, VOCAB_SIZE]).
    Under a verifier (SWARMLAB_LOGITS=serve) this never returns: the verifier sends its own
    windows and computes the same quantity from the logits itself (docs/eval.md)."""
    return swarmlab_logits.evaluate(
        model, vocab=VOCAB_SIZE, context=model_context,
        local=lambda: swarmlab_logits.bits_per_byte(
            model, val_tokens(), load_token_bytes(), window=CONTEXT, context=model_context,
            batch=batch_size))


# ---------------------------------------------------------------------------
# Setup and the verifier's data command
# ---------------------------------------------------------------------------

def setup():
    """Checks the committed tokenizer files against a tokenizer trained again and caches the
    tokens; when the tokens of exactly these files are cached, an earlier setup checked them
    and this one does not train again (a verifier runs setup in every tree of every job)."""
    t0 = time.perf_counter()
    lang = Language()
    if all(os.path.exists(_cache_path(name)) for name in ("train", "val")):
        tok = Tokenizer.load()
        train = train_tokens()
        print("tokens of these tokenizer files are cached: checked when they were cached")
    else:
        text = lang.generate(TRAIN_SEED, TRAIN_BYTES)
        tok = train_tokenizer(text)
        with open(TOKENIZER_FILE, encoding="utf-8") as f:
            committed = f.read()
        if committed != tok.dump() or load_token_bytes() != tok.token_bytes():
            sys.exit("prepare: the tokenizer trained here differs from tokenizer.txt or "
                     "token_bytes.txt; rewrite them with `python3 prepare.py tokenizer` only if "
                     "the language changed on purpose")
        train = _tokens("train", lambda: tok.encode(text))
    val = _tokens("val", lambda: tok.encode(validation_text(lang)))
    print(f"vocab {tok.vocab_size}, {len(train):,} training tokens "
          f"({TRAIN_BYTES / len(train):.2f} bytes per token), {len(val):,} validation tokens")
    print(f"entropy floor {lang.entropy_floor_bpb():.6f} bits per byte")
    print(f"setup took {time.perf_counter() - t0:.1f}s")


def write_tokens(out=None):
    """`prepare.py tokens`: validation (or with SWARMLAB_EVAL_SEED, holdout) tokens, u32 LE."""
    seed = os.environ.get("SWARMLAB_EVAL_SEED", "").strip()
    if seed:
        try:
            tokens = holdout_tokens(int(seed))
        except ValueError:
            sys.exit(f"invalid SWARMLAB_EVAL_SEED={seed!r}: expected an integer")
    else:
        tokens = val_tokens()
    out = out or sys.stdout.buffer
    out.write(np.asarray(tokens, dtype="<u4").tobytes())
    out.flush()


def write_tokenizer():
    tok = train_tokenizer()
    with open(TOKENIZER_FILE, "w", encoding="utf-8") as f:
        f.write(tok.dump())
    with open(TOKEN_BYTES_FILE, "w", encoding="ascii") as f:
        f.write("".join(f"{n}\n" for n in tok.token_bytes()))
    print(f"wrote {TOKENIZER_FILE} and {TOKEN_BYTES_FILE} ({tok.vocab_size} tokens)")


if __name__ == "__main__":
    commands = {"setup": setup, "tokens": write_tokens, "tokenizer": write_tokenizer}
    command = sys.argv[1] if len(sys.argv) > 1 else "setup"
    if command not in commands or len(sys.argv) > 2:
        sys.exit("usage: python3 prepare.py [setup | tokens | tokenizer]")
    commands[command]()
