//! The presets of the `command` proposer: the exact command line of each known CLI agent, the
//! flags and values of it that the installed CLI's help must list (checked before a run starts,
//! with the help's own output, so that a renamed flag or a broken install is a clear message
//! instead of five failed proposals), and the lines an agent prints when it cannot work (seen
//! while it runs, so that an agent retrying forever without a network is stopped at once
//! instead of at `--agent-timeout`).
//!
//! Why these command lines (each checked against the CLI version in `docs/agents.md`):
//! - `claude -p` runs one prompt and exits; `--permission-mode acceptEdits` lets it edit files
//!   in its working folder without asking, as root too (`--dangerously-skip-permissions` and
//!   `bypassPermissions` refuse to start as root outside a sandbox Claude Code recognises).
//!   Other tools that would ask (a shell command) are refused in print mode; the harness runs
//!   the experiment.
//! - `codex exec` is Codex's non-interactive mode, read-only unless given `--sandbox
//!   workspace-write`.
//! - aider commits by default, which a proposer must never do (`--no-auto-commits
//!   --no-dirty-commits`); the history, cache and `.gitignore` flags keep it from writing into
//!   the worktree, where its files would count as changes outside `files.editable`, and
//!   `--no-detect-urls` from fetching the pages a program.md links to.
//!   `--aiderignore {ignore_file}` hides every path but the editable ones from it: aider adds
//!   any repository file that the prompt or the model's answer names to its chat as editable
//!   (`--yes-always` answers its question), the trusted files named in the prompt included.
//! - `gemini -p` runs one prompt and exits; `--approval-mode yolo` approves its edits, and
//!   `--skip-trust` keeps it from falling back to asking in a folder it has not been told to
//!   trust (every new track and side worktree).
//!
//! It only describes agents and runs their `--help`; it must not run a proposal or edit a
//! worktree.

use std::path::{Path, PathBuf};
use std::time::Duration;

use swarmlab_runner::{Cancel, Ending, Exit, RunError, RunSpec};

/// A known CLI agent.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    pub name: &'static str,
    /// The argv template (placeholders as in [`crate::command`]).
    pub argv: &'static [&'static str],
    /// The command whose output lists the flags of `argv`.
    pub help: &'static [&'static str],
    /// The flags and values of `argv` that the help must name.
    pub checked: &'static [&'static str],
    /// Output lines after which the agent cannot succeed: the proposal stops there.
    pub stalls: &'static [Known],
    /// Output lines of the help run after which the agent cannot edit: the check fails.
    pub broken: &'static [Known],
}

/// A line of an agent's output that swarmlab recognises, and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    /// Text the line contains.
    pub contains: &'static str,
    /// What it means for the user, and what to do.
    pub meaning: &'static str,
}

/// Every preset, in the order the help lists them.
pub const PRESETS: [Preset; 4] = [
    Preset {
        name: "claude",
        argv: &[
            "claude",
            "-p",
            "{prompt}",
            "--permission-mode",
            "acceptEdits",
        ],
        help: &["claude", "--help"],
        checked: &["-p", "--permission-mode", "acceptEdits"],
        stalls: &[],
        broken: &[],
    },
    Preset {
        name: "codex",
        argv: &["codex", "exec", "--sandbox", "workspace-write", "{prompt}"],
        help: &["codex", "exec", "--help"],
        checked: &["--sandbox", "workspace-write"],
        stalls: &[Known {
            contains: "Reconnecting... waiting for network",
            meaning: "codex cannot reach its model provider (no network, or a base_url \
                      nothing answers at)",
        }],
        broken: &[Known {
            contains: "could not create PATH aliases",
            meaning: "codex could not create its sandbox helper (it refuses to while \
                      CODEX_HOME lies in a temporary folder such as /tmp), so every command \
                      it runs, its edits included, fails; set CODEX_HOME to a folder outside \
                      /tmp",
        }],
    },
    Preset {
        name: "aider",
        argv: &[
            "aider",
            "--yes-always",
            "--no-auto-commits",
            "--no-dirty-commits",
            "--no-gitignore",
            "--no-check-update",
            "--no-show-release-notes",
            "--no-analytics",
            "--no-detect-urls",
            "--no-pretty",
            "--no-stream",
            "--map-tokens",
            "0",
            "--chat-history-file",
            "/dev/null",
            "--input-history-file",
            "/dev/null",
            "--aiderignore",
            "{ignore_file}",
            "--message-file",
            "{prompt_file}",
            "{files}",
        ],
        help: &["aider", "--help"],
        checked: &[
            "--yes-always",
            "--no-auto-commits",
            "--no-dirty-commits",
            "--no-gitignore",
            "--no-check-update",
            "--no-show-release-notes",
            "--no-analytics",
            "--no-detect-urls",
            "--no-pretty",
            "--no-stream",
            "--map-tokens",
            "--chat-history-file",
            "--input-history-file",
            "--aiderignore",
            "--message-file",
        ],
        stalls: &[],
        broken: &[],
    },
    Preset {
        name: "gemini",
        argv: &[
            "gemini",
            "-p",
            "{prompt}",
            "--approval-mode",
            "yolo",
            "--skip-trust",
        ],
        help: &["gemini", "--help"],
        checked: &["-p", "--approval-mode", "yolo", "--skip-trust"],
        // Offline it retries each request with backoff for minutes; the fourth failure in a
        // row (after about 40 s) is the sign.
        stalls: &[Known {
            contains: "Attempt 4 failed. Retrying with backoff... Error: exception TypeError: \
                       fetch failed",
            meaning: "gemini cannot reach its model (no network, or a GOOGLE_GEMINI_BASE_URL \
                      nothing answers at)",
        }],
        broken: &[],
    },
];

/// How long the installed CLI's `--help` (or `--version`) may take: aider imports for
/// seconds on a busy machine.
const HELP_TIMEOUT: Duration = Duration::from_secs(60);

/// The preset called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// What checking a preset against the installed CLI found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The CLI's own `--version` line, when it printed one.
    pub version: Option<String>,
}

/// Why a preset cannot run with the installed CLI.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error(
        "agent `{program}` not found on PATH; install it (docs/agents.md names the package) or \
         give --agent a command line with its full path"
    )]
    NotFound { program: String },
    #[error("`{command}` {ending}, so the `{preset}` preset cannot be checked; log {}{tail}", log.display())]
    HelpFailed {
        preset: &'static str,
        command: String,
        ending: String,
        log: PathBuf,
        tail: String,
    },
    #[error(
        "the `{preset}` preset passes {} but `{command}` of the installed {} does not list {}; \
         update it (docs/agents.md names the version each preset was checked with) or give \
         --agent a command line that fits it (its help is in {})",
        list(missing),
        version.as_deref().unwrap_or(preset),
        if missing.len() == 1 { "it" } else { "them" },
        log.display()
    )]
    Disagrees {
        preset: &'static str,
        command: String,
        missing: Vec<&'static str>,
        version: Option<String>,
        log: PathBuf,
    },
    #[error("{meaning} (`{command}` printed `{line}`)")]
    Broken {
        command: String,
        line: &'static str,
        meaning: &'static str,
    },
    #[error("failed to run `{command}`: {source}")]
    Run { command: String, source: RunError },
}

impl Preset {
    /// The argv template as owned strings.
    pub fn argv(&self) -> Vec<String> {
        self.argv.iter().map(|s| s.to_string()).collect()
    }

    /// Runs the installed CLI's help in `cwd` (its output kept in `log_dir`) and checks that
    /// it names every flag and value of the preset; also asks for its version.
    pub fn check(&self, cwd: &Path, log_dir: &Path) -> Result<Checked, PresetError> {
        let help_log = log_dir.join(format!("{}.help.log", self.name));
        let help = run_quietly(self.name, self.help, cwd, &help_log)?;
        let missing: Vec<&'static str> = self
            .checked
            .iter()
            .copied()
            .filter(|word| !names(&help, word))
            .collect();
        let version = run_quietly(
            self.name,
            &[self.argv[0], "--version"],
            cwd,
            &log_dir.join(format!("{}.version.log", self.name)),
        )
        .ok()
        .and_then(|out| version_line(&out));
        if !missing.is_empty() {
            return Err(PresetError::Disagrees {
                preset: self.name,
                command: self.help.join(" "),
                missing,
                version,
                log: help_log,
            });
        }
        if let Some(known) = self.broken.iter().find(|k| help.contains(k.contains)) {
            return Err(PresetError::Broken {
                command: self.help.join(" "),
                line: known.contains,
                meaning: known.meaning,
            });
        }
        Ok(Checked { version })
    }
}

/// Runs `command` with a short timeout; its output, or why it failed.
fn run_quietly(
    preset: &'static str,
    command: &[&str],
    cwd: &Path,
    log: &Path,
) -> Result<String, PresetError> {
    let shown = command.join(" ");
    let argv = command.iter().map(|s| s.to_string()).collect();
    let spec = RunSpec::new(argv, cwd, log, HELP_TIMEOUT);
    let outcome =
        swarmlab_runner::run(&spec, &Cancel::new(), &mut |_| {}).map_err(|e| match e {
            RunError::CommandNotFound { .. } => PresetError::NotFound {
                program: command[0].to_string(),
            },
            source => PresetError::Run {
                command: shown.clone(),
                source,
            },
        })?;
    let output = swarmlab_runner::tail(log, 256 * 1024).unwrap_or_default();
    let ending = match outcome.ending {
        Ending::Exited(Exit::Code(0)) => return Ok(output),
        Ending::Exited(Exit::Code(code)) => format!("exited with code {code}"),
        Ending::Exited(Exit::Signal(signal)) => format!("was killed by signal {signal}"),
        Ending::TimedOut => format!("did not finish in {}s", HELP_TIMEOUT.as_secs()),
        Ending::Interrupted => "was interrupted".to_string(),
    };
    let last: Vec<&str> = output.lines().rev().take(5).collect();
    let tail = if last.is_empty() {
        String::new()
    } else {
        let lines: Vec<&str> = last.into_iter().rev().collect();
        format!(":\n  {}", lines.join("\n  "))
    };
    Err(PresetError::HelpFailed {
        preset,
        command: shown,
        ending,
        log: log.to_path_buf(),
        tail,
    })
}

/// Whether `help` names `word` as a whole flag or value: not as part of a longer one
/// (`--sandbox` is not named by `--sandbox-mode`, `yolo` is by `"yolo"`).
fn names(help: &str, word: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    help.match_indices(word).any(|(at, _)| {
        let before = help[..at].chars().next_back();
        let after = help[at + word.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// The last non-empty line of a `--version` output (a CLI may print warnings first).
fn version_line(output: &str) -> Option<String> {
    output
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(80).collect())
}

fn list(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_and_choice_of_a_preset_is_checked() {
        for preset in PRESETS {
            assert_eq!(preset.argv[0], preset.help[0], "{}", preset.name);
            for arg in preset.argv.iter().filter(|a| a.starts_with('-')) {
                assert!(preset.checked.contains(arg), "{}: {arg}", preset.name);
            }
            for word in preset.checked {
                assert!(preset.argv.contains(word), "{}: {word}", preset.name);
            }
        }
    }

    #[test]
    fn a_flag_is_named_only_as_a_whole_word() {
        let help = "  -p, --print   Print\n  --sandbox-mode <M>  [choices: \"yolo\", \"plan\"]";
        assert!(names(help, "-p"));
        assert!(names(help, "yolo"));
        assert!(!names(help, "--sandbox"));
        assert!(!names(help, "--print-all"));
        assert!(!names(help, "pla"));
    }

    #[test]
    fn the_version_is_the_last_line_printed() {
        let out = "WARNING: proceeding\ncodex-cli 0.171.0\n\n";
        assert_eq!(version_line(out).as_deref(), Some("codex-cli 0.171.0"));
        assert_eq!(version_line(" \n"), None);
    }
}
