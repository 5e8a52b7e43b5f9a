//! The code rules of a change, read from git, never from whoever made it: a commit must be
//! the one child of its parent, change something, touch only editable paths, and carry no
//! symlinks, submodules, attribute files, binaries or oversized files.
//!
//! Both sides of the swarm check them: the hub's intake on receipt, a verifier again before
//! it runs anything. Neither side links the other, so the rules live here.

use std::collections::HashMap;

use crate::spec::Files;
use crate::GitStore;

/// File names that steer git itself rather than hold code.
const ATTRIBUTE_FILES: &[&str] = &[".gitattributes", ".gitmodules", ".gitignore", ".mailmap"];

/// Why a change breaks the code rules. [`ChangeRefusal::as_str`] is its name on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChangeRefusal {
    /// Git could not read the received objects.
    #[error("bad_bundle")]
    BadBundle,
    /// The commit is not in the repository.
    #[error("commit_missing")]
    CommitMissing,
    /// The commit's parents are not exactly the parent it claims.
    #[error("not_a_child_of_parent")]
    NotAChildOfParent,
    /// The commit changes nothing.
    #[error("empty_change")]
    EmptyChange,
    /// A path outside `files.editable` changes.
    #[error("outside_editable")]
    OutsideEditable,
    /// A symbolic link is added or changed.
    #[error("symlink")]
    Symlink,
    /// A submodule is added, changed or removed.
    #[error("submodule")]
    Submodule,
    /// A file that steers git (`.gitattributes`, `.gitignore`, ...) or a `.git` path changes.
    #[error("attribute_file")]
    AttributeFile,
    /// A changed file holds a NUL byte.
    #[error("binary_file")]
    BinaryFile,
    /// A changed file is over the size cap.
    #[error("file_too_large")]
    FileTooLarge,
}

impl ChangeRefusal {
    /// The reason's name, as the hub records and reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeRefusal::BadBundle => "bad_bundle",
            ChangeRefusal::CommitMissing => "commit_missing",
            ChangeRefusal::NotAChildOfParent => "not_a_child_of_parent",
            ChangeRefusal::EmptyChange => "empty_change",
            ChangeRefusal::OutsideEditable => "outside_editable",
            ChangeRefusal::Symlink => "symlink",
            ChangeRefusal::Submodule => "submodule",
            ChangeRefusal::AttributeFile => "attribute_file",
            ChangeRefusal::BinaryFile => "binary_file",
            ChangeRefusal::FileTooLarge => "file_too_large",
        }
    }
}

/// One path a commit changes, from `git diff-tree --raw`.
struct Change<'a> {
    old_mode: &'a str,
    new_mode: &'a str,
    new_id: &'a str,
    status: &'a str,
    path: &'a str,
}

/// Parses `git diff-tree -r -z --raw` records: `:<old mode> <new mode> <old id> <new id>
/// <status>` and the path, each ending in NUL.
fn changes(raw: &str) -> Result<Vec<Change<'_>>, ChangeRefusal> {
    let mut fields = raw.split('\0').filter(|f| !f.is_empty());
    let mut out = Vec::new();
    while let (Some(meta), Some(path)) = (fields.next(), fields.next()) {
        let parts: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
        let [old_mode, new_mode, _, new_id, status] = parts[..] else {
            return Err(ChangeRefusal::BadBundle);
        };
        out.push(Change {
            old_mode,
            new_mode,
            new_id,
            status,
            path,
        });
    }
    Ok(out)
}

/// Runs `here` on this thread and `there` on another at the same time: two git runs in the
/// time of the longer. A panic over there counts as a bad bundle.
pub fn together<A, B: Send>(
    here: impl FnOnce() -> A,
    there: impl FnOnce() -> B + Send,
) -> (A, Result<B, ChangeRefusal>) {
    std::thread::scope(|scope| {
        let other = scope.spawn(there);
        let mine = here();
        (mine, other.join().map_err(|_| ChangeRefusal::BadBundle))
    })
}

/// Checks the change from `parent` to `commit` (both in `repo`) against the code rules.
pub fn check_change(
    repo: &GitStore,
    parent: &str,
    commit: &str,
    editable: &[String],
    max_file_bytes: u64,
) -> Result<(), ChangeRefusal> {
    check_change_beside(repo, parent, commit, editable, max_file_bytes, || ())
}

/// [`check_change`], running `beside` at the same time as its last git run (the hub hashes
/// the diff and keeps the commit's ref there).
pub fn check_change_beside<T: Send>(
    repo: &GitStore,
    parent: &str,
    commit: &str,
    editable: &[String],
    max_file_bytes: u64,
    beside: impl FnOnce() -> T + Send,
) -> Result<T, ChangeRefusal> {
    // The commit's parents, then what it changes against its parent. `--always` prints the
    // parents of a commit that changes nothing; a merge or a root commit has the wrong ones.
    // Beside it, every file of the commit with its size.
    let (raw, tree) = together(
        || {
            repo.run(&[
                "diff-tree",
                "--always",
                "--format=%P",
                "-r",
                "-z",
                "--no-renames",
                "--raw",
                commit,
            ])
        },
        || repo.run(&["ls-tree", "-r", "-l", "-z", commit]),
    );
    let raw = raw.map_err(|_| ChangeRefusal::CommitMissing)?;
    let (parents, raw) = raw.split_once('\0').unwrap_or((raw.as_str(), ""));
    if parents.split_whitespace().collect::<Vec<_>>() != [parent] {
        return Err(ChangeRefusal::NotAChildOfParent);
    }
    let changed = changes(raw.trim_start_matches('\n'))?;
    if changed.is_empty() {
        return Err(ChangeRefusal::EmptyChange);
    }
    let files = Files {
        editable: editable.to_vec(),
        trusted: Vec::new(),
    };
    for change in &changed {
        let file = change.path;
        let name = file.rsplit('/').next().unwrap_or(file);
        if ATTRIBUTE_FILES.contains(&name) || file.split('/').any(|c| c == ".git") {
            return Err(ChangeRefusal::AttributeFile);
        }
        if change.old_mode == "160000" || change.new_mode == "160000" {
            return Err(ChangeRefusal::Submodule);
        }
        if change.new_mode == "120000" {
            return Err(ChangeRefusal::Symlink);
        }
        if !files.is_editable(file) {
            return Err(ChangeRefusal::OutsideEditable);
        }
    }
    // Sizes first, so that no oversized blob is ever read.
    let tree = tree?.map_err(|_| ChangeRefusal::BadBundle)?;
    // "<mode> <type> <id> <size>\t<path>" per file.
    let sizes: HashMap<&str, &str> = tree
        .split('\0')
        .filter_map(|entry| {
            let (meta, path) = entry.split_once('\t')?;
            Some((path, meta.split_whitespace().nth(3)?))
        })
        .collect();
    let kept: Vec<&Change> = changed.iter().filter(|c| c.status != "D").collect();
    for change in &kept {
        let size: u64 = sizes
            .get(change.path)
            .and_then(|s| s.parse().ok())
            .ok_or(ChangeRefusal::BadBundle)?;
        if size > max_file_bytes {
            return Err(ChangeRefusal::FileTooLarge);
        }
    }
    let show = || {
        if kept.is_empty() {
            return Ok(String::new());
        }
        let mut args = vec!["show", "--no-textconv"];
        args.extend(kept.iter().map(|c| c.new_id));
        repo.run(&args)
    };
    let (content, beside) = together(show, beside);
    if content
        .map_err(|_| ChangeRefusal::BadBundle)?
        .contains('\0')
    {
        return Err(ChangeRefusal::BinaryFile);
    }
    beside
}
