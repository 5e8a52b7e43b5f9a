//! [`GitStore`]: the few git operations the loop needs, each one hardened.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

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
    #[error("`git {command}` in {dir} ran past its deadline and was killed")]
    TimedOut { command: String, dir: PathBuf },
}

/// A git working tree that swarmlab drives.
#[derive(Debug, Clone)]
pub struct GitStore {
    root: PathBuf,
    /// Set for a quarantined view ([`GitStore::quarantined`]).
    env: Vec<(&'static str, OsString)>,
    /// Every git run after it is killed ([`GitStore::with_deadline`]).
    deadline: Option<Instant>,
}

impl GitStore {
    /// Opens the repository whose top-level folder is `root`.
    pub fn open(root: &Path) -> Result<GitStore, GitError> {
        let root = root
            .canonicalize()
            .map_err(|_| GitError::NotARepository(root.to_path_buf()))?;
        let store = GitStore::at(root.clone());
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
        let store = GitStore::at(root.to_path_buf());
        store.run(&["init", "--quiet", "--initial-branch=main"])?;
        store.run(&["add", "--all"])?;
        store.commit(message)?;
        GitStore::open(root)
    }

    fn at(root: PathBuf) -> GitStore {
        GitStore {
            root,
            env: Vec::new(),
            deadline: None,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The repository's object folder (absolute).
    pub fn objects_dir(&self) -> Result<PathBuf, GitError> {
        let path = PathBuf::from(self.run(&["rev-parse", "--git-path", "objects"])?.trim());
        Ok(if path.is_absolute() {
            path
        } else {
            self.root.join(path)
        })
    }

    /// This repository seen through a quarantine, as git's receive-pack does: objects that
    /// git writes go to `objects` (an empty folder), objects it reads come from there or
    /// from the repository's own store, and refs cannot be changed. Whoever made the
    /// quarantine moves its objects into the repository once they are wanted, or deletes it.
    pub fn quarantined(&self, objects: &Path) -> Result<GitStore, GitError> {
        let own = self.objects_dir()?;
        let mut view = self.clone();
        view.env = vec![
            ("GIT_OBJECT_DIRECTORY", objects.as_os_str().to_owned()),
            ("GIT_ALTERNATE_OBJECT_DIRECTORIES", own.into_os_string()),
            ("GIT_QUARANTINE_PATH", objects.as_os_str().to_owned()),
        ];
        Ok(view)
    }

    /// This repository with every git run killed once `deadline` passes, and none started
    /// after it (the run then fails with [`GitError::TimedOut`]): a cap on the time a
    /// request may spend in git. Only git itself is killed: run commands that do their work
    /// in one process (`index-pack`, not `bundle unbundle`).
    pub fn with_deadline(&self, deadline: Instant) -> GitStore {
        let mut view = self.clone();
        view.deadline = Some(deadline);
        view
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
            .env_remove("GIT_OBJECT_DIRECTORY")
            .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
            .env_remove("GIT_QUARANTINE_PATH")
            .stdin(Stdio::null());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    fn output(&self, args: &[&str]) -> Result<Output, GitError> {
        self.output_with(args, None)
    }

    /// Runs git with `input` on its stdin (none: null) and waits, killing it at the deadline.
    fn output_with(&self, args: &[&str], input: Option<&[u8]>) -> Result<Output, GitError> {
        let mut command = self.command(args);
        if self.deadline.is_none() && input.is_none() {
            return command.output().map_err(GitError::Spawn);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(self.timed_out(args));
        }
        if input.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(GitError::Spawn)?;
        // Pipes drain on their own threads, so that neither side waits on a full pipe. A run
        // killed at the deadline leaves them behind: a child of git's may hold the pipes.
        let (stdout, stderr, stdin) =
            (child.stdout.take(), child.stderr.take(), child.stdin.take());
        let input = input.map(<[u8]>::to_vec);
        let writer = std::thread::spawn(move || {
            if let (Some(mut stdin), Some(input)) = (stdin, input) {
                // A child that exits early closes the pipe: its status says why.
                let _ = stdin.write_all(&input);
            }
        });
        let out = std::thread::spawn(move || drain(stdout));
        let err = std::thread::spawn(move || drain(stderr));
        let status = self.wait(&mut child, args)?;
        let _ = writer.join();
        Ok(Output {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        })
    }

    /// Waits for `child`, killing it when the deadline passes.
    fn wait(&self, child: &mut Child, args: &[&str]) -> Result<ExitStatus, GitError> {
        let Some(deadline) = self.deadline else {
            return child.wait().map_err(GitError::Spawn);
        };
        // Short runs are most runs: look often at first, then less.
        let mut pause = Duration::from_micros(100);
        loop {
            if let Some(status) = child.try_wait().map_err(GitError::Spawn)? {
                return Ok(status);
            }
            let now = Instant::now();
            if now >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(self.timed_out(args));
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    fn timed_out(&self, args: &[&str]) -> GitError {
        GitError::TimedOut {
            command: args.join(" "),
            dir: self.root.clone(),
        }
    }

    /// Runs git and returns its stdout; a non-zero exit is an error carrying stderr.
    pub fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let output = self.checked(args, self.output(args)?)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs git with `input` on its stdin and returns its stdout as bytes; a non-zero exit
    /// is an error carrying stderr.
    pub fn run_with_input(&self, args: &[&str], input: &[u8]) -> Result<Vec<u8>, GitError> {
        let output = self.checked(args, self.output_with(args, Some(input))?)?;
        Ok(output.stdout)
    }

    fn checked(&self, args: &[&str], output: Output) -> Result<Output, GitError> {
        if !output.status.success() {
            return Err(GitError::Failed {
                command: args.join(" "),
                dir: self.root.clone(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        Ok(output)
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

/// Everything a pipe holds until its writer closes it.
fn drain(pipe: Option<impl Read>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut out);
    }
    out
}

#[cfg(test)]
mod tests;
