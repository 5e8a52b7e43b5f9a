//! [`Mirror`]: a worker's or verifier's local copy of a track's code, fed by the git bundles
//! the hub serves. Bundles are checked by git before anything is unpacked, and every commit
//! received stays reachable under `refs/swarmlab/hub/`.
//!
//! It never talks to the hub and never runs track code.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use swarmlab_core::GitStore;

use crate::ClientError;

/// Where received commits are kept reachable.
const RECEIVED: &str = "refs/swarmlab/hub";

pub struct Mirror {
    git: GitStore,
}

impl Mirror {
    /// Opens the repository at `dir`, creating an empty one when there is none.
    pub fn open_or_init(dir: &Path) -> Result<Mirror, ClientError> {
        std::fs::create_dir_all(dir).map_err(ClientError::io("create", dir))?;
        if !dir.join(".git").exists() {
            let status = Command::new("git")
                .args(["init", "--quiet", "--initial-branch=swarmlab-mirror"])
                .arg(dir)
                .stdin(Stdio::null())
                .status()
                .map_err(|source| ClientError::Spawn {
                    program: "git".into(),
                    source,
                })?;
            if !status.success() {
                return Err(ClientError::Init(dir.to_path_buf()));
            }
        }
        Ok(Mirror {
            git: GitStore::open(dir)?,
        })
    }

    pub fn git(&self) -> &GitStore {
        &self.git
    }

    pub fn root(&self) -> &Path {
        self.git.root()
    }

    /// Whether `commit` is here.
    pub fn has(&self, commit: &str) -> bool {
        self.git
            .run(&["cat-file", "-e", &format!("{commit}^{{commit}}")])
            .is_ok()
    }

    /// Verifies and unpacks a bundle; returns the commits it carried.
    pub fn import(&self, bundle: &[u8]) -> Result<Vec<String>, ClientError> {
        let path = self.scratch_file("incoming.bundle")?;
        std::fs::write(&path, bundle).map_err(ClientError::io("write", &path))?;
        let text = path
            .to_str()
            .ok_or(ClientError::NotUtf8("the mirror's path"))?;
        let unpacked = (|| -> Result<Vec<String>, ClientError> {
            self.git
                .run(&["bundle", "verify", "--quiet", text])
                .map_err(ClientError::Bundle)?;
            let heads = self.git.run(&["bundle", "unbundle", text])?;
            let mut commits = Vec::new();
            for commit in heads.lines().filter_map(|l| l.split_whitespace().next()) {
                self.git.keep_ref(&format!("{RECEIVED}/{commit}"), commit)?;
                commits.push(commit.to_string());
            }
            Ok(commits)
        })();
        let _ = std::fs::remove_file(&path);
        unpacked
    }

    /// Writes a bundle of `commit` for a hub that has `base`.
    pub fn bundle(&self, commit: &str, base: &str) -> Result<Vec<u8>, ClientError> {
        let refname = format!("refs/swarmlab/submit/{commit}");
        self.git.keep_ref(&refname, commit)?;
        let path = self.scratch_file("outgoing.bundle")?;
        let text = path
            .to_str()
            .ok_or(ClientError::NotUtf8("the mirror's path"))?;
        let made = self
            .git
            .run(&[
                "bundle",
                "create",
                "--quiet",
                text,
                &refname,
                &format!("^{base}"),
            ])
            .map_err(ClientError::from)
            .and_then(|_| std::fs::read(&path).map_err(ClientError::io("read", &path)));
        let _ = std::fs::remove_file(&path);
        made
    }

    /// A commit with `tree` of `commit` on `parent`: one change against the hub's head,
    /// whatever local history led to it.
    pub fn squash(&self, commit: &str, parent: &str, message: &str) -> Result<String, ClientError> {
        let out = self.git.run(&[
            "commit-tree",
            &format!("{commit}^{{tree}}"),
            "-p",
            parent,
            "-m",
            message,
        ])?;
        Ok(out.trim().to_string())
    }

    /// The text of `path` at `commit`.
    pub fn show(&self, commit: &str, path: &str) -> Result<String, ClientError> {
        Ok(self.git.run(&["show", &format!("{commit}:{path}")])?)
    }

    /// A detached work tree of `commit` at `dir`. An existing one is switched to `commit` and
    /// cleaned of untracked files but keeps ignored ones (build outputs), so that a compiled
    /// track rebuilds only what changed.
    pub fn worktree(&self, commit: &str, dir: &Path) -> Result<(), ClientError> {
        if dir.join(".git").is_file() {
            let switched = GitStore::open(dir).and_then(|tree| {
                tree.run(&["checkout", "--quiet", "--force", "--detach", commit])?;
                tree.run(&["clean", "-ffdq"])
            });
            if switched.is_ok() {
                return Ok(());
            }
        }
        self.remove_worktree(dir);
        let text = dir
            .to_str()
            .ok_or(ClientError::NotUtf8("the work tree's path"))?;
        self.git.run(&[
            "worktree", "add", "--quiet", "--force", "--detach", text, commit,
        ])?;
        Ok(())
    }

    pub fn remove_worktree(&self, dir: &Path) {
        if let Some(text) = dir.to_str() {
            let _ = self.git.run(&["worktree", "remove", "--force", text]);
        }
        let _ = std::fs::remove_dir_all(dir);
        let _ = self.git.run(&["worktree", "prune"]);
    }

    /// Makes every `trusted` path of `dir` what it is at `baseline`: files are rewritten,
    /// files the baseline lacks are removed.
    pub fn overlay_trusted(
        &self,
        baseline: &str,
        trusted: &[String],
        dir: &Path,
    ) -> Result<(), ClientError> {
        for entry in trusted {
            let target = dir.join(entry);
            if target.is_dir() && !target.is_symlink() {
                std::fs::remove_dir_all(&target)
            } else {
                std::fs::remove_file(&target)
            }
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            })
            .map_err(ClientError::io("clear trusted", &target))?;
            let listed =
                self.git
                    .run(&["ls-tree", "-r", "-z", "--name-only", baseline, "--", entry])?;
            for path in listed.split('\0').filter(|p| !p.is_empty()) {
                let bytes = self.blob(baseline, path)?;
                let out = dir.join(path);
                if let Some(parent) = out.parent() {
                    std::fs::create_dir_all(parent).map_err(ClientError::io("create", parent))?;
                }
                std::fs::write(&out, bytes).map_err(ClientError::io("write", &out))?;
            }
        }
        Ok(())
    }

    fn blob(&self, commit: &str, path: &str) -> Result<Vec<u8>, ClientError> {
        let output = Command::new("git")
            .current_dir(self.root())
            .args(["cat-file", "blob", &format!("{commit}:{path}")])
            .stdin(Stdio::null())
            .output()
            .map_err(|source| ClientError::Spawn {
                program: "git".into(),
                source,
            })?;
        if !output.status.success() {
            return Err(ClientError::Missing {
                path: path.to_string(),
                commit: commit.to_string(),
            });
        }
        Ok(output.stdout)
    }

    fn scratch_file(&self, name: &str) -> Result<PathBuf, ClientError> {
        let dir = PathBuf::from(self.git.run(&["rev-parse", "--absolute-git-dir"])?.trim());
        Ok(dir.join(format!("swarmlab-{}-{name}", std::process::id())))
    }
}
