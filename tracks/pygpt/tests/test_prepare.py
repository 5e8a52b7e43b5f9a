"""prepare.py: the language (tinygpt's, bit for bit), its entropy floor, the tokenizer and the
files the verifier reads (token_bytes.txt, the tokens on stdout), the budget."""

import hashlib
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

TRACK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TRACK)

import prepare  # noqa: E402

# SHA-256 of texts that tinygpt's own generator (tracks/tinygpt/src/data.rs) writes: the
# validation text and the holdout of seed 42.
TINYGPT_VAL_SHA256 = "37c1e47c8b2758d62b30811ca97e331dc6d0bd7b9dcb59344fdd8eebbd4ad0ce"
TINYGPT_HOLDOUT_42_SHA256 = "c8fa599b9b84805b5f84e60ad656b5e1625ecebe1a367150921aac1c41973f90"


def sha256(text):
    return hashlib.sha256(text.encode("ascii")).hexdigest()


class TheLanguage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lang = prepare.Language()

    def test_is_tinygpts_language_byte_for_byte(self):
        self.assertEqual(sha256(prepare.validation_text(self.lang)), TINYGPT_VAL_SHA256)
        self.assertEqual(sha256(prepare.validation_text(self.lang, 42)), TINYGPT_HOLDOUT_42_SHA256)
        self.assertEqual(len(prepare.validation_text(self.lang, 43)), prepare.VAL_BYTES)

    def test_conditional_distributions_sum_to_one(self):
        for c in range(prepare.CLASSES):
            for f in range(prepare.FLAVOURS):
                total = sum(self.lang.prob((c, f), t) for t in range(len(self.lang.spelling)))
                self.assertAlmostEqual(total, 1.0, places=12)

    def test_rendering_decodes_back_to_the_tokens_of_the_text(self):
        text = self.lang.generate(3, 50_000)
        text = text[:text.rindex(" ")]  # whole tokens only
        tokens = self.lang.decode(text)
        self.assertIsNotNone(tokens)
        self.assertGreater(len(tokens), 5_000)
        self.assertIsNone(self.lang.decode("Zan qq."))

    def test_the_entropy_floor_matches_the_empirical_surprisal(self):
        floor = self.lang.entropy_floor_bpb()
        self.assertAlmostEqual(floor, prepare.ENTROPY_FLOOR_BPB, places=12)
        estimates = []
        for k in range(12):
            text = self.lang.generate(1000 + k, 100_000)
            text = text[:text.rindex(" ")]
            estimates.append(self.lang.surprisal_bits(self.lang.decode(text)) / len(text))
        mean = np.mean(estimates)
        se = np.std(estimates, ddof=1) / math.sqrt(len(estimates))
        self.assertLess(abs(mean - floor), 5 * se + 1e-3, (floor, mean, se))


class TheTokenizer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tok = prepare.Tokenizer.load()
        cls.table = prepare.load_token_bytes()

    def test_the_committed_files_are_what_setup_trains(self):
        trained = prepare.train_tokenizer()
        with open(prepare.TOKENIZER_FILE, encoding="utf-8") as f:
            self.assertEqual(f.read(), trained.dump())
        self.assertEqual(self.table, trained.token_bytes())

    def test_the_byte_table_counts_the_bytes_of_every_token(self):
        self.assertEqual(len(self.table), prepare.VOCAB_SIZE)
        self.assertEqual(self.tok.vocab_size, prepare.VOCAB_SIZE)
        self.assertEqual(self.table[:256], [1] * 256)
        self.assertEqual(self.table[-1], 0, "the special token has no bytes")
        self.assertGreater(max(self.table), 8)
        text = prepare.validation_text(prepare.Language(), 7)
        ids = self.tok.encode(text)
        self.assertEqual(self.tok.decode(ids), text.encode())
        self.assertEqual(sum(self.table[i] for i in ids), len(text))
        self.assertLess(len(ids), len(text) / 2.5, "merges shorten the text")
        self.assertEqual(self.tok.decode(self.tok.encode("any bytes: \x00\xff")),
                         "any bytes: \x00\xff".encode())


class TheTokensCommand(unittest.TestCase):
    def tokens(self, seed=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMLAB_")}
        if seed is not None:
            env["SWARMLAB_EVAL_SEED"] = seed
        return subprocess.run([sys.executable, "prepare.py", "tokens"], cwd=TRACK, env=env,
                              capture_output=True, timeout=120)

    def test_writes_the_validation_tokens_or_a_holdout_as_u32_little_endian(self):
        val = self.tokens()
        self.assertEqual(val.returncode, 0, val.stderr)
        self.assertEqual(np.frombuffer(val.stdout, "<u4").tolist(), prepare.val_tokens().tolist())
        holdout = self.tokens("42")
        self.assertEqual(holdout.returncode, 0, holdout.stderr)
        want = prepare.Tokenizer.load().encode(prepare.validation_text(prepare.Language(), 42))
        self.assertEqual(np.frombuffer(holdout.stdout, "<u4").tolist(), want)
        self.assertNotEqual(holdout.stdout[:4000], val.stdout[:4000])
        bad = self.tokens("forty-two")
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn(b"invalid SWARMLAB_EVAL_SEED='forty-two'", bad.stderr)


class TheBudget(unittest.TestCase):
    def test_reads_one_budget_from_the_environment(self):
        self.assertEqual(prepare.Budget({}).seconds, prepare.TIME_BUDGET)
        steps = prepare.Budget({"SWARMLAB_BUDGET_STEPS": "1_000"})
        self.assertEqual((steps.steps, steps.seconds), (1000, None))
        self.assertEqual(steps.progress(250, 0), 0.25)
        self.assertTrue(steps.done(1000, 0))
        tokens = prepare.Budget({"SWARMLAB_BUDGET_TOKENS": "100"})
        self.assertFalse(tokens.done(5, 99))
        self.assertTrue(tokens.done(5, 100))
        self.assertEqual(prepare.Budget({"SWARMLAB_BUDGET_SECONDS": "2.5"}).describe(), "2.5 s")
        for bad in ("0", "-1", "nan", "soon"):
            with self.assertRaises(SystemExit) as caught:
                prepare.Budget({"SWARMLAB_BUDGET_SECONDS": bad})
            self.assertIn("expected a positive number", str(caught.exception))


class TheEnvironmentCheck(unittest.TestCase):
    def test_names_what_differs_from_the_lock(self):
        with tempfile.NamedTemporaryFile("w", suffix=".lock", delete=False) as f:
            f.write("# comment\nnumpy==0.0.1\nno-such-package==1.0\n"
                    'torch==0.1 ; platform_system == "Plan9"\n')
        try:
            with self.assertRaises(SystemExit) as caught:
                prepare.check_environment(f.name)
        finally:
            os.unlink(f.name)
        message = str(caught.exception)
        self.assertIn(f"numpy: {np.__version__}, the lock pins 0.0.1", message)
        self.assertIn("no-such-package: not installed", message)
        self.assertNotIn("torch", message.split("lock:")[1], "a marker that does not hold")
        prepare.check_environment()  # the environment these tests run in is the lock's


if __name__ == "__main__":
    unittest.main()
