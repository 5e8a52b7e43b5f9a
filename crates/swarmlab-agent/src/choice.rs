//! [`Choice`]: the proposer a command line names (`--proposer` and its settings), made into
//! a [`Proposer`] that logs into the track's agent folder. It reads no flags (the binary's
//! clap definitions do) and runs nothing; a preset's check against the installed CLI is
//! [`Preset::check`]'s.

use std::path::{Path, PathBuf};
use std::time::Duration;

use swarmlab_runner::Cancel;

use crate::command::{split_words, UnclosedQuote};
use crate::preset::{self, Preset};
use crate::sweep::Strategy;
use crate::{
    CommandProposer, OpenAiConfig, OpenAiProposer, ProposeError, Proposer, ScriptProposer,
    SweepProposer, TpeProposer,
};

/// Agent logs and prompts go here, inside the track (excluded from git).
pub const AGENT_LOG_DIR: &str = ".swarmlab/agent";

/// Which proposer makes each change (the value of the binary's `--proposer`: these doc
/// lines are its help).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Kind {
    /// Turn the track's [knobs] with a (1+1)-evolution strategy (no LLM)
    Sweep,
    /// Draw every knob uniformly at random (a baseline for comparisons)
    Random,
    /// Turn the track's [knobs] where a Tree-structured Parzen Estimator, fitted to every
    /// experiment so far, expects better results (no LLM)
    Tpe,
    /// Run a shell command that edits the files; its last output line is the description
    Script,
    /// Run a coding agent (Claude Code, Codex, aider, Gemini CLI, or any command), see --agent
    Command,
    /// Ask a model behind an OpenAI-compatible chat API for search/replace edits, see --model
    Openai,
}

impl Kind {
    /// Whether it edits text as it is told (an agent, a model), so that a proposal takes
    /// long enough to be worth drafting beside the run before it.
    pub fn is_slow(self) -> bool {
        matches!(self, Kind::Command | Kind::Openai)
    }
}

/// A proposer and its settings, as `--proposer` and the flags beside it give them.
#[derive(Debug, Clone)]
pub struct Choice {
    pub kind: Kind,
    /// The shell command of the script proposer.
    pub script: Option<String>,
    /// The command proposer's agent: a preset's name or a command line.
    pub agent: Option<String>,
    pub agent_timeout: Duration,
    /// The openai proposer's model, API, retries and prices; its log folder is set by
    /// [`Choice::build`].
    pub openai: OpenAiConfig,
}

/// Why the chosen proposer cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ChoiceError {
    #[error("cannot read --agent `{agent}`")]
    AgentWords {
        agent: String,
        #[source]
        source: UnclosedQuote,
    },
    #[error("--agent is empty; name a preset ({0}) or give a command line")]
    EmptyAgent(String),
    #[error("failed to resolve {}", .path.display())]
    Resolve {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Kept as the source, so that whoever walks the chain finds it.
    #[error("{0}")]
    Propose(#[source] ProposeError),
}

impl Choice {
    /// Whether it can write a file as it is told (a program for a contest), as a script, an
    /// agent or a model can and the knob proposers cannot.
    pub fn writes_text(&self) -> bool {
        match self.kind {
            Kind::Script => self.script.is_some(),
            Kind::Command | Kind::Openai => true,
            Kind::Sweep | Kind::Random | Kind::Tpe => false,
        }
    }

    /// The preset the command proposer's agent names, if it names one.
    pub fn preset(&self) -> Option<&'static Preset> {
        let agent = self.agent.as_deref().filter(|_| self.kind == Kind::Command);
        agent.and_then(preset::find)
    }

    /// The proposer, logging into `root`'s agent folder ([`agent_log_dir`]); a command
    /// proposer stops on `cancel` and gives its agent `grace` between SIGTERM and SIGKILL.
    pub fn build(
        &self,
        root: &Path,
        grace: Duration,
        cancel: &Cancel,
    ) -> Result<Box<dyn Proposer>, ChoiceError> {
        let log_dir = agent_log_dir(root)?;
        Ok(match self.kind {
            Kind::Sweep => Box::new(SweepProposer::new(Strategy::Evolution)),
            Kind::Random => Box::new(SweepProposer::new(Strategy::Random)),
            Kind::Tpe => Box::new(TpeProposer::new()),
            Kind::Script => Box::new(ScriptProposer::new(self.script.clone().unwrap_or_default())),
            Kind::Command => {
                let agent = self.agent.as_deref().unwrap_or_default();
                let preset = preset::find(agent);
                let argv = match preset {
                    Some(preset) => preset.argv(),
                    None => split_words(agent).map_err(|source| ChoiceError::AgentWords {
                        agent: agent.to_string(),
                        source,
                    })?,
                };
                if argv.is_empty() {
                    return Err(ChoiceError::EmptyAgent(preset_names()));
                }
                let proposer = CommandProposer::new(argv, &log_dir, self.agent_timeout)
                    .map_err(ChoiceError::Propose)?
                    .with_cancel(cancel.clone())
                    .with_grace(grace)
                    .with_stalls(preset.map_or(&[], |p| p.stalls));
                Box::new(proposer)
            }
            Kind::Openai => {
                let mut config = self.openai.clone();
                config.log_dir = Some(log_dir);
                Box::new(OpenAiProposer::new(config).map_err(ChoiceError::Propose)?)
            }
        })
    }
}

/// The agent folder of the track in `root`, absolute, so that drafts made in a side
/// worktree log beside the others.
pub fn agent_log_dir(root: &Path) -> Result<PathBuf, ChoiceError> {
    std::path::absolute(root.join(AGENT_LOG_DIR)).map_err(|source| ChoiceError::Resolve {
        path: root.to_path_buf(),
        source,
    })
}

fn preset_names() -> String {
    preset::PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(kind: Kind, agent: Option<&str>) -> Choice {
        Choice {
            kind,
            script: None,
            agent: agent.map(str::to_string),
            agent_timeout: Duration::from_secs(60),
            openai: OpenAiConfig::new("m"),
        }
    }

    #[test]
    fn a_command_line_that_does_not_read_or_is_empty_is_refused_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = Cancel::new();
        let build = |c: Choice| c.build(dir.path(), Duration::from_secs(1), &cancel).err();
        let unclosed = build(choice(Kind::Command, Some("agent 'x"))).unwrap();
        assert_eq!(unclosed.to_string(), "cannot read --agent `agent 'x`");
        assert!(matches!(unclosed, ChoiceError::AgentWords { .. }));
        let empty = build(choice(Kind::Command, Some("  "))).unwrap();
        assert!(empty
            .to_string()
            .starts_with("--agent is empty; name a preset (claude"));
        assert!(build(choice(Kind::Command, Some("my-agent {prompt}"))).is_none());
        assert!(build(choice(Kind::Tpe, None)).is_none());
    }

    #[test]
    fn only_the_command_proposer_names_a_preset() {
        assert_eq!(
            choice(Kind::Command, Some("claude"))
                .preset()
                .map(|p| p.name),
            Some("claude")
        );
        assert!(choice(Kind::Command, Some("my-agent")).preset().is_none());
        assert!(choice(Kind::Script, Some("claude")).preset().is_none());
    }
}
