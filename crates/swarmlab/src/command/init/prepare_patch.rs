//! The edits that put karpathy/autoresearch's `prepare.py` on a hub, each anchored on lines of
//! autoresearch's own file: `import swarmlab_logits` before the first import, `TIME_BUDGET`
//! read from `SWARMLAB_BUDGET_SECONDS`, and `evaluate_bpb` handing the model to
//! `swarmlab_logits.evaluate` (autoresearch's evaluation kept, unchanged, as
//! `evaluate_bpb_locally`).
//!
//! Text in, text out: it reads and writes no file. An anchor that is missing or not unique is a
//! refusal that names it, never a guess: a file that does not look like autoresearch's is not
//! patched at all.

/// `prepare.py` with the hook, and the constants the track's spec needs.
#[derive(Debug)]
pub struct Patched {
    pub text: String,
    /// `VOCAB_SIZE`: the verifier's vocabulary.
    pub vocab: u32,
    /// `MAX_SEQ_LEN`: the verifier's window.
    pub context: u32,
    /// `TIME_BUDGET` as the clone had it, in seconds: the budget when swarmlab sets none.
    pub budget_seconds: u32,
}

/// The line the hook replaces, and the decorator it must follow.
const EVALUATE: &str = "def evaluate_bpb(model, tokenizer, batch_size):";
const NO_GRAD: &str = "@torch.no_grad()";

/// What `swarmlab_data.py` and the hook use of `prepare.py`, each as the start of a top-level
/// line, with why it is needed.
const USED: &[(&str, &str)] = &[
    ("import os", "the budget is read with os.environ"),
    (
        "MAX_SHARD = ",
        "swarmlab_data.py picks the holdout pool below it",
    ),
    (
        "DATA_DIR = ",
        "swarmlab_data.py reads the validation shard there",
    ),
    (
        "VAL_FILENAME = ",
        "swarmlab_data.py reads the validation shard",
    ),
    (
        "TOKENIZER_DIR = ",
        "swarmlab_data.py names the tokenizer it checks",
    ),
    (
        "def download_single_shard(",
        "swarmlab_data.py downloads the holdout pool with it",
    ),
    (
        "class Tokenizer",
        "swarmlab_data.py tokenizes held-out text with it",
    ),
    (
        "def get_token_bytes(",
        "swarmlab_data.py checks the byte table against it",
    ),
];

/// Patches autoresearch's `prepare.py`, or says why it does not look like it.
pub fn patch_prepare(text: &str) -> Result<Patched, String> {
    let not_autoresearch =
        |why: String| format!("prepare.py does not look like karpathy/autoresearch's: {why}");
    if text
        .lines()
        .any(|l| l.trim_start().starts_with("import swarmlab_logits"))
    {
        return Err(
            "prepare.py already imports swarmlab_logits: this clone is on a hub already".into(),
        );
    }
    for (start, why) in USED {
        unique_line(text, start).map_err(|e| not_autoresearch(format!("{e} ({why})")))?;
    }
    let vocab = constant(text, "VOCAB_SIZE").map_err(not_autoresearch)?;
    let context = constant(text, "MAX_SEQ_LEN").map_err(not_autoresearch)?;
    let (budget_line, budget_seconds) = {
        let (index, line) = unique_line(text, "TIME_BUDGET = ").map_err(not_autoresearch)?;
        (
            index,
            value_of(line, "TIME_BUDGET").map_err(not_autoresearch)?,
        )
    };
    let (hook, _) = unique_line(text, EVALUATE)
        .map_err(|e| not_autoresearch(format!("{e} (the evaluation the verifier's hook wraps)")))?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if hook == 0 || lines[hook - 1].trim_end() != NO_GRAD {
        return Err(not_autoresearch(format!(
            "`{EVALUATE}` is not right after `{NO_GRAD}`"
        )));
    }
    let first_import =
        first_import(&lines).ok_or_else(|| not_autoresearch("it imports nothing".into()))?;

    let mut out = String::with_capacity(text.len() + 2048);
    for (i, line) in lines.iter().enumerate() {
        if i == first_import {
            out.push_str(
                "import swarmlab_logits  # swarmlab: first, so that under a verifier it holds stdout before anything prints\n",
            );
        }
        if i == budget_line {
            out.push_str(&budget(line, budget_seconds));
        } else if i == hook - 1 {
            out.push_str(HOOK);
            out.push_str(line);
        } else if i == hook {
            out.push_str(&line.replacen("def evaluate_bpb(", "def evaluate_bpb_locally(", 1));
        } else {
            out.push_str(line);
        }
    }
    Ok(Patched {
        text: out,
        vocab,
        context,
        budget_seconds,
    })
}

/// Checks that `train.py` takes its budget and its evaluation from `prepare.py`, so that the
/// hook is what scores it.
pub fn check_train(text: &str) -> Result<(), String> {
    let imports = text.lines().any(|l| {
        l.starts_with("from prepare import")
            && l.contains("TIME_BUDGET")
            && l.contains("evaluate_bpb")
    });
    if !imports {
        return Err("train.py does not look like karpathy/autoresearch's: no `from prepare import` of TIME_BUDGET and evaluate_bpb (the budget and the hook live in prepare.py)".into());
    }
    if !text
        .lines()
        .any(|l| !l.starts_with("from ") && l.contains("evaluate_bpb(model"))
    {
        return Err("train.py does not look like karpathy/autoresearch's: it never calls evaluate_bpb(model, ...), so the verifier's hook would never run".into());
    }
    Ok(())
}

/// The wrapper put before autoresearch's `@torch.no_grad()` evaluation.
const HOOK: &str = r#"def evaluate_bpb(model, tokenizer, batch_size):
    """swarmlab's trusted hook: under a swarmlab verifier (SWARMLAB_LOGITS=serve) the model
    answers the verifier's windows of held-out text with its logits, the verifier computes bits
    per byte itself, and the process ends here. Otherwise autoresearch's own evaluation below,
    unchanged. Added by `swarmlab init --track autoresearch`."""
    return swarmlab_logits.evaluate(
        model, vocab=VOCAB_SIZE, context=MAX_SEQ_LEN,
        local=lambda: evaluate_bpb_locally(model, tokenizer, batch_size))


"#;

/// The budget line: `SWARMLAB_BUDGET_SECONDS` when set, the clone's value otherwise; the
/// line's own comment kept.
fn budget(line: &str, seconds: u32) -> String {
    let comment = line
        .find('#')
        .map(|i| line[i..].trim_end().to_string())
        .unwrap_or_else(|| "# training time budget in seconds".into());
    format!(
        "TIME_BUDGET = float(os.environ.get(\"SWARMLAB_BUDGET_SECONDS\") or {seconds})  {comment}; swarmlab's --budget sets it\n"
    )
}

/// The one top-level line that starts with `start`: its index and text.
fn unique_line<'a>(text: &'a str, start: &str) -> Result<(usize, &'a str), String> {
    let mut found = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with(start));
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(one),
        (None, _) => Err(format!("no line starts with `{}`", start.trim_end())),
        (Some(_), Some(_)) => Err(format!(
            "more than one line starts with `{}`",
            start.trim_end()
        )),
    }
}

/// The integer value of a top-level `NAME = value` line.
fn constant(text: &str, name: &str) -> Result<u32, String> {
    let (_, line) = unique_line(text, &format!("{name} = "))?;
    value_of(line, name)
}

fn value_of(line: &str, name: &str) -> Result<u32, String> {
    let value = line
        .split_once('=')
        .map(|(_, v)| v.split('#').next().unwrap_or("").trim())
        .unwrap_or("");
    value
        .replace('_', "")
        .parse::<u32>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{name}` is `{value}`, not a positive integer"))
}

/// The index of the first top-level `import` or `from` line after the module's docstring.
fn first_import(lines: &[&str]) -> Option<usize> {
    let mut in_docstring = false;
    for (i, line) in lines.iter().enumerate() {
        let quotes = line.matches("\"\"\"").count();
        if in_docstring {
            in_docstring = quotes % 2 == 0;
            continue;
        }
        if quotes % 2 == 1 {
            in_docstring = true;
            continue;
        }
        if line.starts_with("import ") || line.starts_with("from ") {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of autoresearch's prepare.py the patch relies on, in its order.
    const PREPARE: &str = r#""""
One-time data preparation.

import this, from that: not code
"""

import os
import sys
import torch

MAX_SEQ_LEN = 2048       # context length
TIME_BUDGET = 300        # training time budget in seconds (5 minutes)
DATA_DIR = "data"
TOKENIZER_DIR = "tok"
MAX_SHARD = 6542
VAL_FILENAME = "val"
VOCAB_SIZE = 8192

def download_single_shard(index):
    pass

class Tokenizer:
    pass

def get_token_bytes(device="cpu"):
    pass

@torch.no_grad()
def evaluate_bpb(model, tokenizer, batch_size):
    return 1.0
"#;

    #[test]
    fn the_hook_wraps_the_evaluation_and_the_budget_reads_the_environment() {
        let patched = patch_prepare(PREPARE).unwrap();
        assert_eq!(
            (patched.vocab, patched.context, patched.budget_seconds),
            (8192, 2048, 300)
        );
        let text = &patched.text;
        assert!(text.contains(
            "\"\"\"\n\nimport swarmlab_logits  # swarmlab: first, so that under a verifier it holds stdout before anything prints\nimport os\n"
        ), "{text}");
        assert!(text.contains(
            "TIME_BUDGET = float(os.environ.get(\"SWARMLAB_BUDGET_SECONDS\") or 300)  # training time budget in seconds (5 minutes); swarmlab's --budget sets it\n"
        ));
        assert!(text.contains(
            "local=lambda: evaluate_bpb_locally(model, tokenizer, batch_size))\n\n\n@torch.no_grad()\ndef evaluate_bpb_locally(model, tokenizer, batch_size):\n    return 1.0\n"
        ), "{text}");
        assert_eq!(text.matches("def evaluate_bpb(").count(), 1);
        // Nothing else moves: removing what was added gives the original back.
        let restored = text
            .replace("import swarmlab_logits  # swarmlab: first, so that under a verifier it holds stdout before anything prints\n", "")
            .replace(HOOK, "")
            .replace("evaluate_bpb_locally", "evaluate_bpb")
            .replace(
                "float(os.environ.get(\"SWARMLAB_BUDGET_SECONDS\") or 300)  # training time budget in seconds (5 minutes); swarmlab's --budget sets it",
                "300        # training time budget in seconds (5 minutes)",
            );
        assert_eq!(restored, PREPARE);
    }

    #[test]
    fn a_file_unlike_autoresearchs_is_refused_naming_the_anchor() {
        let cases = [
            (PREPARE.replace("@torch.no_grad()\n", ""), "is not right after `@torch.no_grad()`"),
            (PREPARE.replace("def evaluate_bpb(model, tokenizer, batch_size)", "def evaluate(model)"), "no line starts with `def evaluate_bpb(model, tokenizer, batch_size):`"),
            (PREPARE.replace("TIME_BUDGET = 300", "TIME_BUDGET = 5 * 60"), "`TIME_BUDGET` is `5 * 60`, not a positive integer"),
            (PREPARE.replace("VOCAB_SIZE = 8192", "VOCAB_SIZE = 8192\nVOCAB_SIZE = 4096"), "more than one line starts with `VOCAB_SIZE =`"),
            (PREPARE.replace("def get_token_bytes(", "def token_bytes("), "no line starts with `def get_token_bytes(` (swarmlab_data.py checks the byte table against it)"),
        ];
        for (text, expected) in cases {
            let error = patch_prepare(&text).unwrap_err();
            assert!(
                error.starts_with("prepare.py does not look like karpathy/autoresearch's: "),
                "{error}"
            );
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn a_patched_file_is_not_patched_twice() {
        let once = patch_prepare(PREPARE).unwrap().text;
        let error = patch_prepare(&once).unwrap_err();
        assert!(error.contains("already imports swarmlab_logits"), "{error}");
    }

    #[test]
    fn train_must_take_its_budget_and_evaluation_from_prepare() {
        let train = "from prepare import MAX_SEQ_LEN, TIME_BUDGET, evaluate_bpb\nval_bpb = evaluate_bpb(model, tokenizer, 8)\n";
        assert_eq!(check_train(train), Ok(()));
        let own_budget = train.replace("TIME_BUDGET, ", "");
        assert!(check_train(&own_budget)
            .unwrap_err()
            .contains("no `from prepare import` of TIME_BUDGET"));
        let no_call = "from prepare import TIME_BUDGET, evaluate_bpb\nval_bpb = 0.9\n";
        assert!(check_train(no_call)
            .unwrap_err()
            .contains("never calls evaluate_bpb"));
    }
}
