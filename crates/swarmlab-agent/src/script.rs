//! The `script` proposer: any shell command edits the worktree; the last line it prints is
//! the description. Made for tests and for quick experiments with home-made proposers.

use std::process::{Command, Stdio};

use crate::{Context, Proposal, ProposeError, Proposer};

/// Runs `sh -c COMMAND` in the worktree, with the experiment number in `SWARMLAB_INDEX`.
#[derive(Debug, Clone)]
pub struct ScriptProposer {
    command: String,
}

impl ScriptProposer {
    pub fn new(command: impl Into<String>) -> ScriptProposer {
        ScriptProposer {
            command: command.into(),
        }
    }
}

impl Proposer for ScriptProposer {
    fn name(&self) -> &str {
        "script"
    }

    fn propose(&mut self, ctx: &Context<'_>) -> Result<Proposal, ProposeError> {
        let output = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .current_dir(ctx.worktree)
            .env("SWARMLAB_INDEX", ctx.index.to_string())
            .env("SWARMLAB_SEED", ctx.seed.to_string())
            .env("SWARMLAB_BEST_COMMIT", ctx.best_commit)
            .env("SWARMLAB_IDEA", ctx.idea.unwrap_or(""))
            .stdin(Stdio::null())
            .output()
            .map_err(|source| ProposeError::Io {
                action: "run the script proposer in",
                path: ctx.worktree.to_path_buf(),
                source,
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last_line = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Ok(Proposal::Failed {
                reason: format!("script exited with {}: {}", output.status, stderr.trim()),
            });
        }
        Ok(Proposal::Change {
            description: if last_line.is_empty() {
                "script change".to_string()
            } else {
                last_line.to_string()
            },
        })
    }
}
