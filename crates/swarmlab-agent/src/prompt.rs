//! The prompt an LLM agent gets: the track's instructions (`program.md`), the objective, the
//! budget, which files may change and which must not, a bounded summary of the history, the
//! current best, the idea when one was given, and how to hand back the change.
//!
//! It only reads the worktree; it must not edit files or talk to a model.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use swarmlab_core::{Goal, Status, TrackSpec};

use crate::edits::EDIT_FORMAT;
use crate::memory;
use crate::{Context, ProposeError};

/// How the agent hands back its change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditStyle {
    /// A CLI agent with file tools: it edits the files in place.
    InPlace,
    /// A chat model without tools: the editable files' contents go into the prompt and the
    /// answer is SEARCH/REPLACE blocks (see [`crate::edits`]).
    SearchReplace,
}

/// Bounds on what goes into a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptLimits {
    /// Lines of the history summary.
    pub history_lines: usize,
    /// Bytes of one editable file shown to a chat model; longer files are cut with a note.
    pub file_bytes: usize,
}

impl Default for PromptLimits {
    fn default() -> Self {
        PromptLimits {
            history_lines: memory::DEFAULT_SUMMARY_LINES,
            file_bytes: 100_000,
        }
    }
}

/// Composes the prompt for the experiment `ctx.index`.
pub fn compose(
    ctx: &Context<'_>,
    style: EditStyle,
    limits: PromptLimits,
) -> Result<String, ProposeError> {
    let mut p = String::new();
    let _ = writeln!(
        p,
        "You are the proposer of one experiment in an automated research loop (swarmlab, \
         track `{}`). Make ONE focused change that you expect to improve the metric. The \
         harness, not you, commits the change, runs the experiment under its budget and keeps \
         it only if the metric improves; otherwise it is reverted.",
        ctx.spec.name
    );
    objective(&mut p, ctx);
    files(&mut p, ctx.spec);
    instructions(&mut p, ctx)?;
    history(&mut p, ctx, limits);
    if let Some(idea) = ctx.idea {
        let _ = writeln!(p, "\n## Idea to try\n\n{}", idea.trim());
    }
    hand_back(&mut p, ctx, style, limits)?;
    Ok(p)
}

/// The metric and its direction, the current best, the budget.
fn objective(p: &mut String, ctx: &Context<'_>) {
    let spec = ctx.spec;
    let _ = writeln!(p, "\n## Objective\n");
    let direction = match spec.metric.goal {
        Goal::Minimize => "lower is better",
        Goal::Maximize => "higher is better",
    };
    let _ = writeln!(
        p,
        "- Metric: `{}`, {direction} ({}).",
        spec.metric.name, spec.metric.goal
    );
    if let Some((metric, index)) = best(ctx) {
        let short = swarmlab_core::short(ctx.best_commit);
        let _ = writeln!(
            p,
            "- Current best: {metric:.6} (experiment #{index}, commit {short}); your change \
             starts from it."
        );
    }
    let (budget_var, _) = spec.run.budget.env();
    let _ = writeln!(
        p,
        "- Budget of one experiment: {} (the program reads it from `{budget_var}`); a run \
         past {} is killed and counts as a failure, so keep it fast enough.",
        spec.run.budget,
        swarmlab_core::spec::format_duration(spec.run.timeout)
    );
}

/// Which files may change and which must not.
fn files(p: &mut String, spec: &TrackSpec) {
    let _ = writeln!(p, "\n## Files\n");
    let _ = writeln!(
        p,
        "- You may edit only: {}.",
        code_list(&spec.files.editable)
    );
    if !spec.files.trusted.is_empty() {
        let _ = writeln!(
            p,
            "- Trusted, must not change: {}.",
            code_list(&spec.files.trusted)
        );
    }
    let _ = writeln!(
        p,
        "- A change to any other path makes the whole proposal invalid: it is reverted and \
         never run."
    );
}

/// The track's own `program.md`, when it has one.
fn instructions(p: &mut String, ctx: &Context<'_>) -> Result<(), ProposeError> {
    if let Some(program) = &ctx.spec.program {
        let path = ctx.worktree.join(program);
        let text = fs::read_to_string(&path).map_err(|source| ProposeError::Io {
            action: "read the track's program",
            path,
            source,
        })?;
        let _ = writeln!(p, "\n## Instructions of the track ({program})\n");
        let _ = writeln!(p, "{}", text.trim_end());
    }
    Ok(())
}

/// A bounded summary of the experiments so far.
fn history(p: &mut String, ctx: &Context<'_>, limits: PromptLimits) {
    let spec = ctx.spec;
    let _ = writeln!(p, "\n## History\n");
    p.push_str(&memory::summarize(
        ctx.history,
        &spec.metric.name,
        spec.metric.goal,
        limits.history_lines,
    ));
    let _ = writeln!(
        p,
        "Do not repeat a change that was already tried; build on what was kept."
    );
}

/// How to hand back the change: edits in place, or SEARCH/REPLACE blocks over the editable
/// files shown here.
fn hand_back(
    p: &mut String,
    ctx: &Context<'_>,
    style: EditStyle,
    limits: PromptLimits,
) -> Result<(), ProposeError> {
    match style {
        EditStyle::InPlace => {
            let _ = writeln!(p, "\n## What to do\n");
            let _ = writeln!(
                p,
                "Edit the files in place in the current directory. Do not commit, stash, reset \
                 or switch branches, and do not run the full experiment (the harness does). You \
                 may read any file and run quick checks such as a build. Keep the change small: \
                 one idea, so its effect can be measured.\n\nWhen you are done, print as your \
                 last line:\n\nDESCRIPTION: <one line, under 100 characters, saying what you \
                 changed>"
            );
        }
        EditStyle::SearchReplace => {
            let _ = writeln!(p, "\n## The editable files\n");
            for (path, text) in editable_files(ctx.worktree, &ctx.spec.files.editable)? {
                let (shown, cut) = cut_at(&text, limits.file_bytes);
                let _ = writeln!(p, "{path}\n```\n{shown}```");
                if cut {
                    let _ = writeln!(
                        p,
                        "({path} continues beyond {} bytes; edit only the part shown.)",
                        limits.file_bytes
                    );
                }
                p.push('\n');
            }
            let _ = writeln!(p, "## Answer format\n\n{EDIT_FORMAT}");
        }
    }
    Ok(())
}

/// The metric and experiment number of the best commit, from the history.
fn best(ctx: &Context<'_>) -> Option<(f64, u64)> {
    let kept = |r: &&swarmlab_core::Record| r.status == Status::Keep && r.metric.is_some();
    ctx.history
        .iter()
        .rev()
        .filter(kept)
        .find(|r| r.commit == ctx.best_commit)
        .or_else(|| ctx.history.iter().rev().find(kept))
        .and_then(|r| r.metric.map(|m| (m, r.index)))
}

fn code_list(paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The text files under the editable paths (a directory counts for every file below it,
/// hidden ones skipped), as (relative `/` path, contents), sorted by path. Missing editable
/// paths are skipped: a new file may be created there.
pub(crate) fn editable_files(
    worktree: &Path,
    editable: &[String],
) -> Result<Vec<(String, String)>, ProposeError> {
    let mut files = Vec::new();
    for entry in editable {
        collect(worktree, entry.trim_end_matches('/'), &mut files)?;
    }
    files.sort();
    files.dedup_by(|a, b| a.0 == b.0);
    Ok(files)
}

fn collect(
    worktree: &Path,
    relative: &str,
    out: &mut Vec<(String, String)>,
) -> Result<(), ProposeError> {
    let path = worktree.join(relative);
    let io = |action, source| ProposeError::Io {
        action,
        path: path.clone(),
        source,
    };
    let meta = match fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("inspect", e)),
    };
    if meta.is_dir() {
        let mut names: Vec<String> = fs::read_dir(&path)
            .map_err(|e| io("list", e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        for name in names {
            collect(worktree, &format!("{relative}/{name}"), out)?;
        }
    } else if meta.is_file() {
        let bytes = fs::read(&path).map_err(|e| io("read", e))?;
        // Binary files cannot be edited as text; leave them out.
        if !bytes.contains(&0) {
            if let Ok(text) = String::from_utf8(bytes) {
                out.push((relative.to_string(), text));
            }
        }
    }
    Ok(())
}

/// At most `max` bytes of `text`, cut at a line end, always ending with a newline.
fn cut_at(text: &str, max: usize) -> (String, bool) {
    let (mut shown, cut) = if text.len() <= max {
        (text.to_string(), false)
    } else {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let end = text[..end].rfind('\n').map_or(end, |i| i + 1);
        (text[..end].to_string(), true)
    };
    if !shown.ends_with('\n') {
        shown.push('\n');
    }
    (shown, cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_at_keeps_whole_lines() {
        assert_eq!(cut_at("a\nbb\nccc\n", 6), ("a\nbb\n".to_string(), true));
        assert_eq!(cut_at("a\nbb", 100), ("a\nbb\n".to_string(), false));
    }
}
