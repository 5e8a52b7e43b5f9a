//! `swarmlab run [DIR]`: the experiment loop.

use anyhow::{bail, Context};
use swarmlab_agent::sweep::Strategy;
use swarmlab_agent::{
    command, CommandProposer, OpenAiConfig, OpenAiProposer, Prices, Proposer, ScriptProposer,
    SweepProposer,
};
use swarmlab_core::TrackSpec;
use swarmlab_runner::Cancel;

use crate::cli::{Pipeline, ProposerArgs, ProposerName, RunArgs};
use crate::session::{Limits, Session, Stop};

pub fn run(args: &RunArgs) -> anyhow::Result<i32> {
    let mut spec = super::load_track(&args.dir)?;
    if let Some(budget) = args.budget {
        spec.override_budget(budget);
    }
    let cancel = crate::interrupt::install();
    let proposer = proposer(&args.proposer, &spec, &cancel)?;
    let limits = Limits {
        experiments: args.experiments,
        duration: args.for_,
    };
    let mut session = Session::open(spec, &args.tag, args.seed, proposer, cancel)?;
    session.set_idea(args.idea.clone());
    let slow_proposer = matches!(
        args.proposer.name,
        ProposerName::Command | ProposerName::Openai
    );
    if args.pipeline == Pipeline::On || (args.pipeline == Pipeline::Auto && slow_proposer) {
        session.enable_pipeline()?;
    }
    if !args.no_setup {
        session.setup()?;
    }
    let stop = session.run(limits)?;
    session.print_summary();
    Ok(match stop {
        Stop::Interrupted => crate::exit::INTERRUPTED,
        _ => 0,
    })
}

/// Agent logs and prompts go here, inside the track (excluded from git).
const AGENT_LOG_DIR: &str = ".swarmlab/agent";

/// The proposer the flags name, logging into the track's agent folder.
pub fn proposer(
    args: &ProposerArgs,
    spec: &TrackSpec,
    cancel: &Cancel,
) -> anyhow::Result<Box<dyn Proposer>> {
    // Absolute, so that drafts made in the side worktree log beside the others.
    let log_dir = std::path::absolute(spec.root.join(AGENT_LOG_DIR))
        .with_context(|| format!("failed to resolve {}", spec.root.display()))?;
    Ok(match args.name {
        ProposerName::Sweep => Box::new(SweepProposer::new(Strategy::Evolution)),
        ProposerName::Random => Box::new(SweepProposer::new(Strategy::Random)),
        ProposerName::Script => {
            Box::new(ScriptProposer::new(args.script.clone().unwrap_or_default()))
        }
        ProposerName::Command => {
            let agent = args.agent.as_deref().unwrap_or_default();
            let argv = match command::preset(agent) {
                Some(argv) => argv,
                None => {
                    split_words(agent).with_context(|| format!("cannot read --agent `{agent}`"))?
                }
            };
            if argv.is_empty() {
                bail!(
                    "--agent is empty; name a preset ({}) or give a command line",
                    command::PRESETS.join(", ")
                );
            }
            let proposer = CommandProposer::new(argv, &log_dir, args.agent_timeout)?
                .with_cancel(cancel.clone())
                .with_grace(spec.run.grace);
            Box::new(proposer)
        }
        ProposerName::Openai => {
            let mut config = OpenAiConfig::new(args.model.clone().unwrap_or_default());
            config.base_url = args.base_url.clone();
            config.api_key_env = args.api_key_env.clone();
            config.retries = args.api_retries;
            config.log_dir = Some(log_dir);
            if let (Some(input), Some(output)) = (args.price_in, args.price_out) {
                config.prices = Some(Prices {
                    input_per_million: input,
                    output_per_million: output,
                });
            }
            Box::new(OpenAiProposer::new(config)?)
        }
    })
}

/// Splits a command line into words the way a POSIX shell would for plain words, single and
/// double quotes and backslashes (no expansions).
fn split_words(line: &str) -> anyhow::Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => bail!("unclosed single quote"),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => w.extend(chars.next()),
                        Some(c) => w.push(c),
                        None => bail!("unclosed double quote"),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split_words;

    #[test]
    fn splits_like_a_shell_without_expansions() {
        assert_eq!(
            split_words(r#"my-agent --msg "two words" 'it''s' a\ b {prompt_file}"#).unwrap(),
            vec![
                "my-agent",
                "--msg",
                "two words",
                "its",
                "a b",
                "{prompt_file}"
            ]
        );
        assert!(split_words("say 'oops").is_err());
        assert!(split_words("").unwrap().is_empty());
    }
}
