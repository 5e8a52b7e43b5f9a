//! The answer format of chat models, SEARCH/REPLACE blocks, and applying it to the worktree.
//!
//! Parsing is strict: an answer is a `DESCRIPTION:` line and one or more blocks, each a file
//! path line, `<<<<<<< SEARCH`, the exact existing lines, `=======`, the replacement lines and
//! `>>>>>>> REPLACE`. Applying is all or nothing: every block is checked (editable path,
//! SEARCH found exactly once) before any file is written. The errors are written to be sent
//! back to the model so it can repair its answer.
//!
//! It must not touch a path outside `files.editable`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path};

use swarmlab_core::spec::Files;

/// The answer format, as the prompt states it to the model.
pub const EDIT_FORMAT: &str = "\
Answer in exactly this format and nothing else. The first line is

DESCRIPTION: <one line, under 100 characters, saying what you changed>

followed by one or more edit blocks. Each block is the file's path alone on a line, then:

<<<<<<< SEARCH
exact existing lines of the file
=======
the lines that replace them
>>>>>>> REPLACE

Rules:
- The path is written exactly as listed above, relative, without quotes.
- The SEARCH lines are copied exactly from the file, whitespace included, and must match
  exactly one place in it: include enough lines to make them unique. Whole lines only.
- Several blocks may edit the same file; they are applied in order.
- To create a new file under an editable path, leave the SEARCH section empty.
- Edit only the editable files.";

const SEARCH: &str = "<<<<<<< SEARCH";
const DIVIDER: &str = "=======";
const REPLACE: &str = ">>>>>>> REPLACE";

/// One SEARCH/REPLACE block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The file, relative to the worktree, as the model wrote it.
    pub path: String,
    /// The exact lines to find, each ending with a newline; empty to create the file.
    pub search: String,
    /// The lines to put in their place, each ending with a newline.
    pub replace: String,
}

/// A parsed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditAnswer {
    /// The one-line description after `DESCRIPTION:`.
    pub description: String,
    /// The blocks, in order.
    pub edits: Vec<Edit>,
}

/// Why an answer could not be parsed or applied; the message is meant for the model too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("the answer has no `DESCRIPTION: ...` line before the first block")]
    NoDescription,
    #[error("the answer has no SEARCH/REPLACE block")]
    NoBlocks,
    #[error("line {line}: `{SEARCH}` must follow a line holding the file path")]
    MissingPath { line: usize },
    #[error("line {line}: `{marker}` outside a SEARCH/REPLACE block")]
    Stray { line: usize, marker: &'static str },
    #[error(
        "line {line}: the block for {path} has no `{DIVIDER}` line between SEARCH and REPLACE"
    )]
    NoDivider { line: usize, path: String },
    #[error("the block for {path} starting at line {line} is not closed by `{REPLACE}`")]
    Unclosed { line: usize, path: String },
    #[error("`{path}` is not a plain relative path inside the track")]
    BadPath { path: String },
    #[error("`{path}` is not editable; only {editable} may change")]
    NotEditable { path: String, editable: String },
    #[error("{path}: the SEARCH text starting with `{first_line}` was not found; copy the lines exactly from the file")]
    NotFound { path: String, first_line: String },
    #[error("{path}: the SEARCH text starting with `{first_line}` matches {count} places; include more lines so it matches exactly one")]
    Ambiguous {
        path: String,
        first_line: String,
        count: usize,
    },
    #[error("{path} does not exist; to create it, leave the SEARCH section empty")]
    MissingFile { path: String },
    #[error("{path} already exists; an empty SEARCH section only creates new files")]
    Exists { path: String },
    #[error("failed to {action} {path}: {message}")]
    Io {
        action: &'static str,
        path: String,
        message: String,
    },
}

impl EditError {
    /// True for errors the model can repair by answering again (everything but I/O).
    pub fn is_repairable(&self) -> bool {
        !matches!(self, EditError::Io { .. })
    }
}

enum State {
    Outside,
    Search { path: String, start: usize },
    Replace { path: String, start: usize },
}

/// Parses an answer strictly (see the module doc). Code fences (lines starting with three
/// backticks) outside blocks are ignored.
pub fn parse(answer: &str) -> Result<EditAnswer, EditError> {
    let lines: Vec<&str> = answer.lines().collect();
    let mut description = None;
    let mut edits = Vec::new();
    let mut state = State::Outside;
    let mut search = String::new();
    let mut replace = String::new();
    for (i, line) in lines.iter().enumerate() {
        let number = i + 1;
        let marker = line.trim();
        state = match state {
            State::Outside => {
                if marker == SEARCH {
                    let path =
                        path_before(&lines, i).ok_or(EditError::MissingPath { line: number })?;
                    search.clear();
                    replace.clear();
                    State::Search {
                        path,
                        start: number,
                    }
                } else if marker == DIVIDER || marker == REPLACE {
                    return Err(EditError::Stray {
                        line: number,
                        marker: if marker == DIVIDER { DIVIDER } else { REPLACE },
                    });
                } else {
                    if description.is_none() && edits.is_empty() {
                        if let Some(rest) = marker.strip_prefix("DESCRIPTION:") {
                            let rest = rest.trim();
                            if !rest.is_empty() {
                                description = Some(rest.to_string());
                            }
                        }
                    }
                    State::Outside
                }
            }
            State::Search { path, start } => {
                if marker == DIVIDER {
                    State::Replace { path, start }
                } else if marker == REPLACE || marker == SEARCH {
                    return Err(EditError::NoDivider { line: number, path });
                } else {
                    search.push_str(line);
                    search.push('\n');
                    State::Search { path, start }
                }
            }
            State::Replace { path, start } => {
                if marker == REPLACE {
                    edits.push(Edit {
                        path,
                        search: std::mem::take(&mut search),
                        replace: std::mem::take(&mut replace),
                    });
                    State::Outside
                } else if marker == SEARCH || marker == DIVIDER {
                    return Err(EditError::Unclosed { line: start, path });
                } else {
                    replace.push_str(line);
                    replace.push('\n');
                    State::Replace { path, start }
                }
            }
        };
    }
    match state {
        State::Outside => {}
        State::Search { path, start } | State::Replace { path, start } => {
            return Err(EditError::Unclosed { line: start, path })
        }
    }
    let description = description.ok_or(EditError::NoDescription)?;
    if edits.is_empty() {
        return Err(EditError::NoBlocks);
    }
    Ok(EditAnswer { description, edits })
}

/// The path line of a block that starts at `lines[i]`: the line before, or the one before a
/// code fence just before it; surrounding backticks are dropped.
fn path_before(lines: &[&str], i: usize) -> Option<String> {
    let mut j = i.checked_sub(1)?;
    if lines[j].trim_start().starts_with("```") {
        j = j.checked_sub(1)?;
    }
    let path = lines[j].trim().trim_matches('`').trim();
    let is_marker = [SEARCH, DIVIDER, REPLACE].contains(&path) || path.starts_with("```");
    (!path.is_empty() && !is_marker && !path.starts_with("DESCRIPTION:")).then(|| path.to_string())
}

/// Applies `edits` to the files under `worktree`, all or nothing, and returns the paths
/// written. A block for a path outside `files.editable` is an error and nothing is written.
pub fn apply(worktree: &Path, files: &Files, edits: &[Edit]) -> Result<Vec<String>, EditError> {
    // path -> (contents before, contents after); None when the file does not exist.
    let mut staged: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for edit in edits {
        let path = clean_path(&edit.path)?;
        if !files.is_editable(&path) {
            return Err(EditError::NotEditable {
                path,
                editable: files
                    .editable
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if !staged.contains_key(&path) {
            let current = read(worktree, &path)?;
            staged.insert(path.clone(), (current.clone(), current));
        }
        let entry = staged.get_mut(&path).expect("staged just above");
        entry.1 = Some(replace_once(&path, entry.1.as_deref(), edit)?);
    }
    let mut written = Vec::new();
    for (path, (before, after)) in staged {
        let Some(after) = after else { continue };
        if before.as_deref() == Some(after.as_str()) {
            continue;
        }
        let full = worktree.join(&path);
        let io = |action, e: std::io::Error| EditError::Io {
            action,
            path: path.clone(),
            message: e.to_string(),
        };
        if let Some(parent) = full.parent() {
            fs::create_dir_all(parent).map_err(|e| io("create the directory of", e))?;
        }
        fs::write(&full, after).map_err(|e| io("write", e))?;
        written.push(path);
    }
    Ok(written)
}

/// The path as a normal `/`-separated relative path, or an error for absolute paths, `..`
/// and other escapes.
fn clean_path(path: &str) -> Result<String, EditError> {
    let bad = || EditError::BadPath {
        path: path.to_string(),
    };
    if path.contains('\\') {
        return Err(bad());
    }
    let mut parts = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str().ok_or_else(bad)?),
            Component::CurDir => {}
            _ => return Err(bad()),
        }
    }
    if parts.is_empty() {
        return Err(bad());
    }
    Ok(parts.join("/"))
}

fn read(worktree: &Path, path: &str) -> Result<Option<String>, EditError> {
    let full = worktree.join(path);
    match fs::symlink_metadata(&full) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(EditError::Io {
                action: "inspect",
                path: path.to_string(),
                message: e.to_string(),
            })
        }
        // Writing through a symlink could reach outside the editable paths.
        Ok(meta) if !meta.is_file() => {
            return Err(EditError::BadPath {
                path: path.to_string(),
            })
        }
        Ok(_) => {}
    }
    fs::read_to_string(&full)
        .map(Some)
        .map_err(|e| EditError::Io {
            action: "read",
            path: path.to_string(),
            message: e.to_string(),
        })
}

/// `content` with the edit's SEARCH lines replaced, checking they occur exactly once.
fn replace_once(path: &str, content: Option<&str>, edit: &Edit) -> Result<String, EditError> {
    let content = match (content, edit.search.is_empty()) {
        (None, true) => return Ok(edit.replace.clone()),
        (None, false) => {
            return Err(EditError::MissingFile {
                path: path.to_string(),
            })
        }
        (Some(_), true) => {
            return Err(EditError::Exists {
                path: path.to_string(),
            })
        }
        (Some(content), false) => content,
    };
    // Compare whole lines: give the last line its newline back for the search.
    let had_newline = content.is_empty() || content.ends_with('\n');
    let text = if had_newline {
        content.to_string()
    } else {
        format!("{content}\n")
    };
    let starts = line_start_matches(&text, &edit.search);
    let first_line = edit.search.lines().next().unwrap_or("").trim().to_string();
    match starts.as_slice() {
        [] => Err(EditError::NotFound {
            path: path.to_string(),
            first_line,
        }),
        [at] => {
            let mut out = String::with_capacity(text.len() + edit.replace.len());
            out.push_str(&text[..*at]);
            out.push_str(&edit.replace);
            out.push_str(&text[at + edit.search.len()..]);
            if !had_newline && out.ends_with('\n') {
                out.pop();
            }
            Ok(out)
        }
        many => Err(EditError::Ambiguous {
            path: path.to_string(),
            first_line,
            count: many.len(),
        }),
    }
}

/// Every offset where `needle` occurs in `text` at the start of a line, overlaps included.
fn line_start_matches(text: &str, needle: &str) -> Vec<usize> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(needle) {
        let at = from + i;
        if at == 0 || text.as_bytes()[at - 1] == b'\n' {
            found.push(at);
        }
        // Advance one character to find overlapping occurrences too.
        from = at + text[at..].chars().next().map_or(1, char::len_utf8);
        if from >= text.len() {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests;
