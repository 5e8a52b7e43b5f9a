//! [`GitStore`]: the few git operations the loop needs, each one hardened.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::DiffStat;

/// The empty tree's id: reading attributes from it means no `.gitattributes` in the
/// repository can name a filter or a diff driver for git to run.
const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// The identity of the commits swarmlab makes for experiments.
const AUTHOR_NAME: &str = "swarmlab";
const AUTHOR_EMAIL: &str = "swarmlab@localhost";

/// Settings that keep a repository's own configuration from running anything.
const HARDENING: &[&str] = &[
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "core.attributesFile=/dev/null",
    "core.pager=cat",
    "core.editor=true",
    "core.sshCommand=false",
    "core.askPass=",
    "core.autocrlf=false",
    "diff.external=",
    "credential.helper=",
    "protocol.allow=never",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "log.showSignature=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "advice.detachedHead=false",
];

/// Why a git operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("failed to run git (is it installed?): {0}")]
    Spawn(std::io::Error),
    #[error("`git {command}` failed in {dir}: {stderr}")]
    Failed {
        command: String,
        dir: PathBuf,
        stderr: String,
    },
    #[error("{0} is not the root of a git repository (run `git init` there, or point swarmlab at the repository's top folder)")]
    NotARepository(PathBuf),
    #[error("{path} names a filter or diff driver; swarmlab refuses to run git where a repository's own files could make it execute code")]
    UnsafeAttributes { path: PathBuf },
}

/// A git working tree that swarmlab drives.
#[derive(Debug, Clone)]
pub struct GitStore {
    root: PathBuf,
}

impl GitStore {
    /// Opens the repository whose top-level folder is `root`.
    pub fn open(root: &Path) -> Result<GitStore, GitError> {
        let root = root
            .canonicalize()
            .map_err(|_| GitError::NotARepository(root.to_path_buf()))?;
        let store = GitStore { root: root.clone() };
        let top = store
            .run(&["rev-parse", "--show-toplevel"])
            .map_err(|_| GitError::NotARepository(root.clone()))?;
        if Path::new(top.trim()) != root {
            return Err(GitError::NotARepository(root));
        }
        store.check_info_attributes()?;
        Ok(store)
    }

    /// Creates a repository at `root` (which must exist) with a first commit of everything in it.
    pub fn init(root: &Path, message: &str) -> Result<GitStore, GitError> {
        let store = GitStore {
            root: root.to_path_buf(),
        };
        store.run(&["init", "--quiet", "--initial-branch=main"])?;
        store.run(&["add", "--all"])?;
        store.commit(message)?;
        GitStore::open(root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `$GIT_DIR/info/attributes` is read even with the attribute source pinned: refuse
    /// when it could switch a filter or diff driver on.
    fn check_info_attributes(&self) -> Result<(), GitError> {
        let path = PathBuf::from(
            self.run(&["rev-parse", "--git-path", "info/attributes"])?
                .trim(),
        );
        let path = if path.is_absolute() {
            path
        } else {
            self.root.join(path)
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let risky = text
            .split_whitespace()
            .any(|w| w.starts_with("filter=") || w.starts_with("diff=") || w.starts_with("merge="));
        if risky {
            return Err(GitError::UnsafeAttributes { path });
        }
        Ok(())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command.current_dir(&self.root);
        command.arg(format!("--attr-source={EMPTY_TREE}"));
        command.arg("--no-pager");
        for setting in HARDENING {
            command.args(["-c", setting]);
        }
        command.args(args);
        command
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_PAGER", "cat")
            .env("GIT_EDITOR", "true")
            .env("GIT_AUTHOR_NAME", AUTHOR_NAME)
            .env("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
            .env("GIT_COMMITTER_NAME", AUTHOR_NAME)
            .env("GIT_COMMITTER_EMAIL", AUTHOR_EMAIL)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_EXTERNAL_DIFF")
            .stdin(Stdio::null());
        command
    }

    fn output(&self, args: &[&str]) -> Result<Output, GitError> {
        self.command(args).output().map_err(GitError::Spawn)
    }

    /// Runs git and returns its stdout; a non-zero exit is an error carrying stderr.
    pub fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let output = self.output(args)?;
        if !output.status.success() {
            return Err(GitError::Failed {
                command: args.join(" "),
                dir: self.root.clone(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The full id of a revision, or `None` when it does not resolve.
    pub fn resolve(&self, rev: &str) -> Result<Option<String>, GitError> {
        let output = self.output(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string()))
    }

    /// The checked-out branch, or `None` on a detached HEAD.
    pub fn current_branch(&self) -> Result<Option<String>, GitError> {
        let output = self.output(&["symbolic-ref", "--quiet", "--short", "HEAD"])?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string()))
    }

    /// Checks out `branch`, creating it at HEAD when it does not exist.
    pub fn switch_to(&self, branch: &str) -> Result<(), GitError> {
        if self.resolve(&format!("refs/heads/{branch}"))?.is_some() {
            self.run(&["checkout", "--quiet", branch])?;
        } else {
            self.run(&["checkout", "--quiet", "-b", branch])?;
        }
        Ok(())
    }

    /// Tracked paths whose content differs from HEAD (staged or not).
    pub fn dirty_tracked(&self) -> Result<Vec<String>, GitError> {
        self.status(&["--untracked-files=no"])
    }

    /// Every path a proposal touched since HEAD: tracked changes and new untracked files
    /// (files ignored by .gitignore and info/exclude excepted).
    pub fn changed_paths(&self) -> Result<Vec<String>, GitError> {
        self.status(&["--untracked-files=all"])
    }

    fn status(&self, extra: &[&str]) -> Result<Vec<String>, GitError> {
        let mut args = vec![
            "status",
            "--porcelain=v1",
            "-z",
            "--no-renames",
            "--ignore-submodules=none",
        ];
        args.extend_from_slice(extra);
        let out = self.run(&args)?;
        Ok(out
            .split('\0')
            .filter(|entry| entry.len() > 3)
            .map(|entry| entry[3..].to_string())
            .collect())
    }

    /// Stages `paths` (changes, additions and deletions) and commits them with `message`.
    /// Returns the new commit's id.
    pub fn commit_paths(&self, paths: &[String], message: &str) -> Result<String, GitError> {
        let mut args = vec!["add", "--all", "--"];
        args.extend(paths.iter().map(String::as_str));
        self.run(&args)?;
        self.commit(message)
    }

    fn commit(&self, message: &str) -> Result<String, GitError> {
        self.run(&[
            "commit",
            "--quiet",
            "--no-verify",
            "--allow-empty",
            "--cleanup=verbatim",
            "-m",
            message,
        ])?;
        self.resolve("HEAD")?
            .ok_or_else(|| GitError::NotARepository(self.root.clone()))
    }

    /// Moves the current branch, the index and the tracked files to `commit`.
    pub fn reset_hard(&self, commit: &str) -> Result<(), GitError> {
        self.run(&["reset", "--quiet", "--hard", commit]).map(drop)
    }

    /// Removes untracked, unignored files under `paths` (what a discarded proposal created).
    pub fn clean(&self, paths: &[String]) -> Result<(), GitError> {
        if paths.is_empty() {
            return Ok(());
        }
        let mut args = vec!["clean", "--quiet", "-d", "--force", "--"];
        args.extend(paths.iter().map(String::as_str));
        self.run(&args).map(drop)
    }

    /// Lines added and removed between two commits.
    pub fn diff_stat(&self, from: &str, to: &str) -> Result<DiffStat, GitError> {
        let out = self.run(&[
            "diff",
            "--no-ext-diff",
            "--no-textconv",
            "--numstat",
            from,
            to,
        ])?;
        let mut stat = DiffStat::default();
        for line in out.lines() {
            let mut parts = line.split('\t');
            let added = parts
                .next()
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(0);
            let removed = parts
                .next()
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(0);
            stat.files += 1;
            stat.insertions += added;
            stat.deletions += removed;
        }
        Ok(stat)
    }

    /// The unified diff between two commits, for prompts and reports.
    pub fn diff(&self, from: &str, to: &str) -> Result<String, GitError> {
        self.run(&[
            "diff",
            "--no-ext-diff",
            "--no-textconv",
            "--no-color",
            from,
            to,
        ])
    }

    /// Points `refs/<name>` at `commit`, so a discarded experiment stays inspectable.
    pub fn keep_ref(&self, name: &str, commit: &str) -> Result<(), GitError> {
        self.run(&["update-ref", name, commit]).map(drop)
    }

    /// Adds patterns to `$GIT_DIR/info/exclude` (local, never committed) unless present.
    pub fn exclude(&self, patterns: &[&str]) -> Result<(), GitError> {
        let path = PathBuf::from(
            self.run(&["rev-parse", "--git-path", "info/exclude"])?
                .trim(),
        );
        let path = if path.is_absolute() {
            path
        } else {
            self.root.join(path)
        };
        let existing = std::fs::read_to_string(&path).unwrap_or_default();
        let missing: Vec<&str> = patterns
            .iter()
            .copied()
            .filter(|p| !existing.lines().any(|l| l.trim() == *p))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut text = existing;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        for p in missing {
            text.push_str(p);
            text.push('\n');
        }
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, text)
        };
        write().map_err(|e| GitError::Failed {
            command: "info/exclude".into(),
            dir: path.clone(),
            stderr: e.to_string(),
        })
    }

    /// The parent of a commit, if it has one.
    pub fn parent_of(&self, commit: &str) -> Result<Option<String>, GitError> {
        self.resolve(&format!("{commit}^"))
    }
}

#[cfg(test)]
mod tests;
