//! The code rules of a change, read from git, never from whoever made it: a commit must be
//! the one child of its parent, change something, touch only editable paths, keep every
//! file the baseline's spec names (an editable file, a knob's file) a regular file, leave
//! every knob's pattern matching, and carry no symlinks, submodules, attribute files,
//! binaries or oversized files.
//!
//! Both sides of the swarm check them: the hub's intake on receipt, a verifier again before
//! it runs anything. Neither side links the other, so the rules live here.

use std::collections::HashMap;

use crate::spec::{Files, KnobPlace};
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
    /// A path the baseline's spec names as a file (an entry of `files.editable` that is a
    /// file, or a knob's file) is deleted or replaced by a folder.
    #[error("not_a_file")]
    NotAFile,
    /// A knob's pattern (from the baseline's spec) no longer matches its file.
    #[error("knob_unmatched")]
    KnobUnmatched,
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
            ChangeRefusal::NotAFile => "not_a_file",
            ChangeRefusal::KnobUnmatched => "knob_unmatched",
        }
    }
}

/// What a change is held to, from the baseline's spec: the paths it may touch, the knobs
/// whose patterns must keep matching, and the size cap of a changed file.
#[derive(Debug, Clone)]
pub struct ChangeRules {
    pub editable: Vec<String>,
    pub knobs: Vec<KnobPlace>,
    pub max_file_bytes: u64,
}

impl ChangeRules {
    /// Whether `path` must stay a regular file: an editable entry named exactly, or a
    /// knob's file. (A path inside an editable folder may go.)
    fn keeps_file(&self, path: &str) -> bool {
        self.editable
            .iter()
            .any(|e| e.trim_end_matches('/') == path)
            || self.knobs.iter().any(|k| k.file == path)
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
/// (No knobs: [`check_change_beside`] with [`ChangeRules`] checks them too.)
pub fn check_change(
    repo: &GitStore,
    parent: &str,
    commit: &str,
    editable: &[String],
    max_file_bytes: u64,
) -> Result<(), ChangeRefusal> {
    let rules = ChangeRules {
        editable: editable.to_vec(),
        knobs: Vec::new(),
        max_file_bytes,
    };
    check_change_beside(repo, parent, commit, &rules, || ())
}

/// Checks the change from `parent` to `commit` against `rules`, running `beside` at the
/// same time as its last git run (the hub hashes the diff there).
pub fn check_change_beside<T: Send>(
    repo: &GitStore,
    parent: &str,
    commit: &str,
    rules: &ChangeRules,
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
        editable: rules.editable.clone(),
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
        if change.status == "D" && rules.keeps_file(file) {
            return Err(ChangeRefusal::NotAFile);
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
        if size > rules.max_file_bytes {
            return Err(ChangeRefusal::FileTooLarge);
        }
    }
    // Every changed file's content in one run, file by file.
    let read = || {
        if kept.is_empty() {
            return Ok(Vec::new());
        }
        let ids: String = kept.iter().map(|c| format!("{}\n", c.new_id)).collect();
        repo.run_with_input(&["cat-file", "--batch"], ids.as_bytes())
    };
    let (content, beside) = together(read, beside);
    let content = content.map_err(|_| ChangeRefusal::BadBundle)?;
    let blobs = batch_contents(&content, kept.len())?;
    if blobs.iter().any(|blob| blob.contains(&0)) {
        return Err(ChangeRefusal::BinaryFile);
    }
    for knob in &rules.knobs {
        let Some(i) = kept.iter().position(|c| c.path == knob.file) else {
            // Unchanged: it matches as it did in the parent.
            continue;
        };
        if !knob.matches(&String::from_utf8_lossy(blobs[i])) {
            return Err(ChangeRefusal::KnobUnmatched);
        }
    }
    beside
}

/// Splits `git cat-file --batch` output (`<id> <type> <size>\n<content>\n` per object) into
/// `count` contents, in order.
fn batch_contents(mut out: &[u8], count: usize) -> Result<Vec<&[u8]>, ChangeRefusal> {
    let mut blobs = Vec::with_capacity(count);
    for _ in 0..count {
        let end = out
            .iter()
            .position(|b| *b == b'\n')
            .ok_or(ChangeRefusal::BadBundle)?;
        let header = std::str::from_utf8(&out[..end]).map_err(|_| ChangeRefusal::BadBundle)?;
        let mut fields = header.split(' ');
        let (Some(_), Some("blob"), Some(size)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(ChangeRefusal::BadBundle);
        };
        let size: usize = size.parse().map_err(|_| ChangeRefusal::BadBundle)?;
        let rest = &out[end + 1..];
        if rest.len() < size + 1 {
            return Err(ChangeRefusal::BadBundle);
        }
        blobs.push(&rest[..size]);
        out = &rest[size + 1..];
    }
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// A repository with `model.py` (a knob's file), `data/a.txt` and `eval.py`.
    fn repo() -> (tempfile::TempDir, GitStore, String) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("model.py"), "lr = 0.1\n").unwrap();
        fs::create_dir(dir.path().join("data")).unwrap();
        fs::write(dir.path().join("data/a.txt"), "a\n").unwrap();
        fs::write(dir.path().join("eval.py"), "print(1)\n").unwrap();
        let git = GitStore::init(dir.path(), "baseline").unwrap();
        let base = git.resolve("HEAD").unwrap().unwrap();
        (dir, git, base)
    }

    fn rules() -> ChangeRules {
        ChangeRules {
            editable: vec!["model.py".into(), "data/".into()],
            knobs: TrackSpec::knob_places(
                "[knobs]\nlr = { file = \"model.py\", pattern = 'lr = (?P<v>[0-9.]+)', range = [0.01, 1.0] }\n",
            )
            .unwrap(),
            max_file_bytes: 1 << 20,
        }
    }

    /// Commits what `edit` does to the tree on top of `base`, and checks it.
    fn check(edit: impl FnOnce(&std::path::Path)) -> Result<(), ChangeRefusal> {
        let (dir, git, base) = repo();
        edit(dir.path());
        git.run(&["add", "--all"]).unwrap();
        git.run(&["commit", "--quiet", "-m", "change"]).unwrap();
        let commit = git.resolve("HEAD").unwrap().unwrap();
        check_change_beside(&git, &base, &commit, &rules(), || ())
    }

    use crate::TrackSpec;

    #[test]
    fn a_knob_turned_passes_and_one_whose_pattern_no_longer_matches_does_not() {
        assert_eq!(
            check(|d| fs::write(d.join("model.py"), "lr = 0.2\n").unwrap()),
            Ok(())
        );
        assert_eq!(
            check(|d| fs::write(d.join("model.py"), "learning_rate = 0.2\n").unwrap()),
            Err(ChangeRefusal::KnobUnmatched)
        );
    }

    #[test]
    fn a_file_the_spec_names_must_stay_a_file() {
        assert_eq!(
            check(|d| fs::remove_file(d.join("model.py")).unwrap()),
            Err(ChangeRefusal::NotAFile)
        );
        assert_eq!(
            check(|d| {
                fs::remove_file(d.join("model.py")).unwrap();
                fs::create_dir(d.join("model.py")).unwrap();
                fs::write(d.join("model.py/x"), "lr = 0.2\n").unwrap();
            }),
            Err(ChangeRefusal::NotAFile)
        );
        // A file inside an editable folder may go.
        assert_eq!(
            check(|d| {
                fs::remove_file(d.join("data/a.txt")).unwrap();
                fs::write(d.join("data/b.txt"), "b\n").unwrap();
            }),
            Ok(())
        );
    }

    #[test]
    fn a_binary_among_several_files_is_found() {
        assert_eq!(
            check(|d| {
                fs::write(d.join("model.py"), "lr = 0.3\n").unwrap();
                fs::write(d.join("data/b.bin"), b"x\0y").unwrap();
            }),
            Err(ChangeRefusal::BinaryFile)
        );
    }
}
