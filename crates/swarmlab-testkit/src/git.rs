//! Git for tests: [`git`] runs git in a folder with the machine's own configuration shut out
//! (no system or global config, so no hooks, signing or templates of the developer's) and a
//! fixed identity, and [`Repo`] is a repository a test owns: write files, commit them, name
//! commits.
//!
//! It drives the throwaway repositories of tests and benches; swarmlab itself runs git only
//! through `swarmlab_core::git`, hardened against a repository's own files as well.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The identity of every commit a test makes.
const NAME: &str = "test";
const EMAIL: &str = "test@example.com";

/// A `git` command in `dir` with the test settings, for the caller that pipes or streams
/// (most call [`git`]).
pub fn command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", NAME)
        .env("GIT_AUTHOR_EMAIL", EMAIL)
        .env("GIT_COMMITTER_NAME", NAME)
        .env("GIT_COMMITTER_EMAIL", EMAIL)
        .args([
            "-c",
            "commit.gpgSign=false",
            "-c",
            "core.hooksPath=/dev/null",
        ])
        .stdin(Stdio::null());
    command
}

/// Runs `git ARGS` in `dir` and returns its trimmed stdout; panics, with git's stderr, when
/// git fails.
#[track_caller]
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = command(dir).args(args).output().expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A git repository a test owns, at `root`.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
}

impl Repo {
    /// Creates `root` with `files` (path, content) in it, a repository on branch `main`, and
    /// a first commit of everything.
    pub fn init(root: &Path, files: &[(&str, &str)], message: &str) -> Repo {
        std::fs::create_dir_all(root).expect("a folder for the repository");
        let repo = Repo::open(root);
        for (path, content) in files {
            repo.write(path, content);
        }
        repo.git(&["init", "-q", "-b", "main"]);
        repo.commit_all(message);
        repo
    }

    /// The repository (or the folder to `git init`) at `root`.
    pub fn open(root: &Path) -> Repo {
        Repo {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// See [`git`].
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.root, args)
    }

    /// Writes `content` to `path` in the working tree, creating its folders.
    pub fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let path = self.root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("a folder in the repository");
        }
        std::fs::write(&path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Stages everything and commits it (an empty commit too); the new commit's id.
    pub fn commit_all(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    /// Checks out `parent` (detached), writes `files` and commits them; the new commit's id.
    pub fn commit_on(&self, parent: &str, files: &[(&str, &[u8])], message: &str) -> String {
        self.git(&["checkout", "-q", "--detach", parent]);
        for (path, content) in files {
            self.write(path, content);
        }
        self.commit_all(message)
    }

    /// The id of the commit checked out.
    pub fn head(&self) -> String {
        self.rev("HEAD")
    }

    /// The id of the commit `rev` names.
    pub fn rev(&self, rev: &str) -> String {
        self.git(&["rev-parse", "--verify", rev])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_commits_what_is_written_as_the_test_identity() {
        let tmp = std::env::temp_dir().join(format!("testkit-git-{}", std::process::id()));
        let repo = Repo::init(&tmp.join("r"), &[("a/b.txt", "one\n")], "first");
        let first = repo.head();
        let second = repo.commit_on(&first, &[("a/b.txt", b"two\n")], "second");
        assert_ne!(first, second);
        assert_eq!(repo.rev("HEAD~1"), first);
        assert_eq!(
            repo.git(&["show", "-s", "--format=%an <%ae>"]),
            "test <test@example.com>"
        );
        assert_eq!(repo.git(&["show", "HEAD:a/b.txt"]), "two");
        std::fs::remove_dir_all(tmp).unwrap();
    }
}
