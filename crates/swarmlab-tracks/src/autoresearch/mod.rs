//! `swarmlab init --track autoresearch DIR`: puts a clone of karpathy/autoresearch on a hub
//! with the smallest change, as one commit: the trusted hook and the budget in `prepare.py`
//! (`prepare_patch`), `swarmlab_logits.py` (the copy embedded in this binary),
//! `swarmlab_data.py` (the verifier's held-out windows), `token_bytes.txt` (the byte table of
//! the tokenizer this machine's setup trained, `token_table`) and `swarmlab.toml`.
//!
//! Every check comes before the first write; a spec that does not validate after the writes
//! undoes them. It must not touch any other file of the clone, nor commit anything but its own.

mod prepare_patch;
mod token_table;

use std::fs;
use std::path::{Path, PathBuf};

use swarmlab_core::{FileError, GitStore};
use swarmlab_loop::{load_track, LoopError};

use crate::{Embedded, TrackError, SWARMLAB_LOGITS};

/// Where autoresearch's setup keeps the tokenizer's byte table, under the home folder.
const TOKEN_BYTES_PT: &str = ".cache/autoresearch/tokenizer/token_bytes.pt";
/// The verifier's byte table in the track.
const TOKEN_BYTES_TXT: &str = "token_bytes.txt";
const LOGITS_MODULE: &str = "swarmlab_logits.py";

/// One file the commit adds or changes, and what it is, for the message and the summary.
struct Change {
    path: String,
    content: String,
    what: String,
}

/// What the import committed: the commit, and each file it added or changed with what it is.
pub struct Placed {
    pub commit: String,
    pub files: Vec<(String, String)>,
}

/// Puts the clone at `dir` on a hub: patches `prepare.py`, adds the track's files and commits
/// them as one commit. Everything is checked before the first write.
pub fn place_into_clone(dir: &Path) -> Result<Placed, TrackError> {
    for file in ["train.py", "prepare.py"] {
        if !dir.join(file).is_file() {
            return Err(TrackError::Refused(format!(
                "{} has no {file}; --track autoresearch goes into a clone of karpathy/autoresearch (git clone https://github.com/karpathy/autoresearch)",
                dir.display()
            )));
        }
    }
    let git = GitStore::open(dir)?;
    let dirty = git.dirty_tracked()?;
    if !dirty.is_empty() {
        return Err(LoopError::RepositoryState(format!(
            "{} has uncommitted changes ({}); commit or stash them first: swarmlab init makes one commit of its own",
            dir.display(),
            dirty.join(", ")
        ))
        .into());
    }
    let read = |file: &str| {
        let path = dir.join(file);
        fs::read_to_string(&path).map_err(FileError::at("read", &path))
    };
    let original = read("prepare.py")?;
    let patched = prepare_patch::patch_prepare(&original).map_err(TrackError::Refused)?;
    prepare_patch::check_train(&read("train.py")?).map_err(TrackError::Refused)?;
    let table_path = home()?.join(TOKEN_BYTES_PT);
    let table_name = format!("~/{TOKEN_BYTES_PT}");
    let table = token_table::read(&table_path).map_err(|e| {
        TrackError::Refused(format!(
            "cannot read the tokenizer's byte table {}: {e}\n  the verifier scores with the byte table of the tokenizer autoresearch's setup trains: run `uv run prepare.py` in {} first (autoresearch's README, step 2), then swarmlab init again",
            table_path.display(),
            dir.display()
        ))
    })?;
    if table.len() != patched.vocab as usize {
        return Err(TrackError::Refused(format!(
            "{} has {} tokens, but prepare.py's VOCAB_SIZE is {}: run `uv run prepare.py` again to retrain the tokenizer",
            table_path.display(),
            table.len(),
            patched.vocab
        )));
    }

    let changes = changes(&patched, &table, &table_name)?;
    for change in &changes[1..] {
        if dir.join(&change.path).exists() {
            return Err(TrackError::Exists(dir.join(&change.path)));
        }
    }
    write(dir, &changes).inspect_err(|_| undo(dir, &changes, &original))?;
    if let Err(e) = load_track(dir) {
        undo(dir, &changes, &original);
        return Err(e.into());
    }
    let paths: Vec<String> = changes.iter().map(|c| c.path.clone()).collect();
    let commit = git
        .commit_paths(&paths, &message(&changes))
        .inspect_err(|_| {
            let mut reset = vec!["reset", "--quiet", "--"];
            reset.extend(paths.iter().map(String::as_str));
            let _ = git.run(&reset);
            undo(dir, &changes, &original);
        })?;
    Ok(Placed {
        commit,
        files: changes.into_iter().map(|c| (c.path, c.what)).collect(),
    })
}

/// What the commit holds: `prepare.py` first, then the files it adds.
fn changes(
    patched: &prepare_patch::Patched,
    table: &[u32],
    table_name: &str,
) -> Result<Vec<Change>, TrackError> {
    let mut changes = vec![
        Change {
            path: "prepare.py".into(),
            content: patched.text.clone(),
            what: "import swarmlab_logits first; TIME_BUDGET from SWARMLAB_BUDGET_SECONDS; evaluate_bpb hands the model to swarmlab_logits.evaluate, which serves a verifier or runs autoresearch's own evaluation (now evaluate_bpb_locally, unchanged)".into(),
        },
        Change {
            path: LOGITS_MODULE.into(),
            content: SWARMLAB_LOGITS.into(),
            what: "swarmlab's logits protocol, served from the training process (trusted)".into(),
        },
    ];
    for file in Embedded::Autoresearch.files() {
        let (content, what) = match file.path {
            swarmlab_core::spec::SPEC_FILE => (
                spec(file.content, patched)?,
                "the track: train.py editable, the rest trusted, eval mode logits".to_string(),
            ),
            "swarmlab_data.py" => (
                file.content.to_string(),
                "the verifier's windows of held-out text, and the check of the byte table".into(),
            ),
            other => (file.content.to_string(), format!("{other} of the track")),
        };
        changes.push(Change {
            path: file.path.into(),
            content,
            what,
        });
    }
    changes.push(Change {
        path: TOKEN_BYTES_TXT.into(),
        content: token_table::text(table),
        what: format!(
            "the verifier's byte table: {} tokens, from {table_name}",
            table.len()
        ),
    });
    Ok(changes)
}

/// The embedded spec with the clone's vocabulary, window and budget (autoresearch's own are
/// the spec's; a fork may differ), the timeouts grown with a longer budget.
fn spec(text: &str, patched: &prepare_patch::Patched) -> Result<String, TrackError> {
    let budget = patched.budget_seconds;
    let mut out = text.to_string();
    for (section, key, value) in [
        ("run", "budget", duration(budget)),
        (
            "run",
            "timeout",
            duration(budget.saturating_mul(2).max(600)),
        ),
        ("eval", "vocab", patched.vocab.to_string()),
        ("eval", "context", patched.context.to_string()),
    ] {
        out = set(&out, section, key, &value).ok_or_else(|| {
            TrackError::Refused(format!(
                "the embedded autoresearch spec has no `{section}.{key}`"
            ))
        })?;
    }
    // Only while the server trains again (a program in `eval.serve`) has [eval] a timeout.
    let serving = duration(budget.saturating_mul(3).max(900));
    Ok(set(&out, "eval", "timeout", &serving).unwrap_or(out))
}

/// Seconds as the spec writes them: "5m", "90s".
fn duration(seconds: u32) -> String {
    if seconds % 60 == 0 {
        format!("\"{}m\"", seconds / 60)
    } else {
        format!("\"{seconds}s\"")
    }
}

/// `text` with the value of `key` in `[section]` set to `value` (TOML), its comment kept;
/// `None` when the section has no such line.
fn set(text: &str, section: &str, key: &str, value: &str) -> Option<String> {
    let header = format!("[{section}]");
    let prefix = format!("{key} = ");
    let mut in_section = false;
    let mut found = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.starts_with('[') {
            in_section = line.trim_end() == header;
        }
        match line.strip_prefix(&prefix) {
            Some(rest) if in_section && !found => {
                found = true;
                let (old, comment) = rest.split_once('#').unwrap_or((rest, ""));
                if old.trim() == value {
                    out.push_str(line);
                } else if comment.is_empty() {
                    out.push_str(&format!("{prefix}{value}\n"));
                } else {
                    out.push_str(&format!("{prefix}{value}  #{comment}"));
                }
            }
            _ => out.push_str(line),
        }
    }
    found.then_some(out)
}

fn message(changes: &[Change]) -> String {
    let mut text = String::from(
        "swarmlab: put autoresearch on a hub\n\nWritten by `swarmlab init --track autoresearch`: the smallest change that lets a\nswarmlab verifier compute val_bpb itself from the model's logits.\n\n",
    );
    for change in changes {
        text.push_str(&wrap(&format!("- {}: {}", change.path, change.what)));
    }
    text
}

/// A bullet wrapped at 72 columns, its later lines indented under the first word.
fn wrap(bullet: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in bullet.split(' ') {
        if !line.trim().is_empty() && line.len() + 1 + word.len() > 72 {
            out.push_str(line.trim_end());
            out.push('\n');
            line = "  ".into();
        } else if !line.is_empty() && !line.ends_with("  ") {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn write(dir: &Path, changes: &[Change]) -> Result<(), TrackError> {
    for change in changes {
        let path = dir.join(&change.path);
        fs::write(&path, &change.content).map_err(FileError::at("write", &path))?;
    }
    Ok(())
}

/// Puts `prepare.py` back and removes the files added, after a failed write or check.
fn undo(dir: &Path, changes: &[Change], original: &str) {
    let _ = fs::write(dir.join("prepare.py"), original);
    for change in &changes[1..] {
        let _ = fs::remove_file(dir.join(&change.path));
    }
}

/// The home folder, as Python's `os.path.expanduser("~")` finds it for autoresearch.
fn home() -> Result<PathBuf, TrackError> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            TrackError::Refused(
                "HOME is not set: cannot find autoresearch's tokenizer under ~/.cache/autoresearch"
                    .into(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patched(vocab: u32, context: u32, budget_seconds: u32) -> prepare_patch::Patched {
        prepare_patch::Patched {
            text: String::new(),
            vocab,
            context,
            budget_seconds,
        }
    }

    fn embedded_spec() -> &'static str {
        Embedded::Autoresearch
            .files()
            .iter()
            .find(|f| f.path == swarmlab_core::spec::SPEC_FILE)
            .expect("the autoresearch track embeds its spec")
            .content
    }

    #[test]
    fn autoresearchs_own_constants_leave_the_spec_as_it_is() {
        let text = embedded_spec();
        assert_eq!(spec(text, &patched(8192, 2048, 300)).unwrap(), text);
    }

    #[test]
    fn a_forks_constants_are_written_into_their_sections() {
        let text = spec(embedded_spec(), &patched(4096, 1024, 600)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let after = |header: &str, key: &str| {
            let start = lines.iter().position(|l| *l == header).unwrap();
            lines[start..]
                .iter()
                .find(|l| l.starts_with(key))
                .unwrap()
                .to_string()
        };
        assert_eq!(
            after("[run]", "budget = "),
            "budget = \"10m\"  # prepare.TIME_BUDGET reads SWARMLAB_BUDGET_SECONDS"
        );
        assert_eq!(after("[run]", "timeout = "), "timeout = \"20m\"");
        assert_eq!(
            after("[eval]", "vocab = "),
            "vocab = 4096  # prepare.VOCAB_SIZE"
        );
        assert!(after("[eval]", "context = ").starts_with("context = 1024  # prepare.MAX_SEQ_LEN"));
    }

    #[test]
    fn a_value_is_set_in_its_own_section_with_its_comment_kept() {
        let text = "[run]\ntimeout = \"10m\"  # run\n\n[eval]\ntimeout = \"15m\"  # serving\n";
        assert_eq!(
            set(text, "eval", "timeout", "\"30m\"").unwrap(),
            "[run]\ntimeout = \"10m\"  # run\n\n[eval]\ntimeout = \"30m\"  # serving\n"
        );
        assert_eq!(set(text, "verify", "timeout", "\"1m\""), None);
    }

    #[test]
    fn a_spec_whose_run_serves_has_no_eval_timeout_to_grow() {
        let text: String = embedded_spec()
            .lines()
            .filter(|l| !l.starts_with("timeout = \"15m\""))
            .map(|l| format!("{l}\n"))
            .collect();
        let out = spec(&text, &patched(8192, 2048, 600)).unwrap();
        let timeouts = out.lines().filter(|l| l.starts_with("timeout = ")).count();
        assert_eq!(timeouts, 1, "{out}");
        assert!(out.contains("timeout = \"20m\""));
    }

    #[test]
    fn the_message_is_wrapped_at_72_columns() {
        let text = wrap("- prepare.py: one two three four five six seven eight nine ten eleven twelve thirteen fourteen");
        assert_eq!(
            text,
            "- prepare.py: one two three four five six seven eight nine ten eleven\n  twelve thirteen fourteen\n"
        );
        assert!(text.lines().all(|l| l.len() <= 72));
    }
}
