//! One module per subcommand: thin glue between the command line and the library crates
//! (`swarmlab-loop`, `swarmlab-client`, `swarmlab-hub`). A subcommand module is a leaf: none
//! imports another. What two of them share is here: the proposer the flags name, and the
//! sandbox a verifier's flags ask for.

mod audit;
mod check;
mod contest;
mod demo;
mod hub;
mod ideas;
mod init;
mod report;
mod run;
mod sandbox;
mod submit;
mod verify;
mod work;

use anyhow::{bail, Context};
use swarmlab_agent::sweep::Strategy;
use swarmlab_agent::{
    command, preset, CommandProposer, OpenAiConfig, OpenAiProposer, Prices, Proposer,
    ScriptProposer, SweepProposer, TpeProposer,
};
use swarmlab_core::TrackSpec;
use swarmlab_runner::{Cancel, SandboxConfig};

use crate::cli::{Cli, Command, ProposerArgs, ProposerName, SandboxCommand, TrackCommand};

/// Runs a parsed command line and returns the exit code.
pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Init(args) => init::init(&args).map(|()| 0),
        Command::Run(args) => run::run(&args),
        Command::Report(args) => report::report(&args),
        Command::Contest(args) => contest::contest(&args),
        Command::Track {
            command: TrackCommand::Check { dir },
        } => check::check(&dir).map(|()| 0),
        Command::Hub { command } => hub::hub(command).map(|()| 0),
        Command::Ideas(args) => ideas::ideas(&args).map(|()| 0),
        Command::Audit(args) => audit::audit(&args).map(|()| 0),
        Command::Work(args) => work::work(*args),
        Command::Submit(args) => submit::submit(&args),
        Command::Verify(args) => verify::verify(args),
        Command::Demo(args) => demo::demo(&args),
        Command::Sandbox {
            command: SandboxCommand::Check(args),
        } => sandbox::check(&args),
    }
}

/// The sandbox of a verifier as its flags describe it, this binary as its shim; not yet
/// tested (see `swarmlab_client::verifier::test_sandbox_in`).
pub fn sandbox_template(bwrap: &std::path::Path, uid: u32) -> anyhow::Result<SandboxConfig> {
    let me = std::env::current_exe()
        .context("failed to find the swarmlab binary for the sandbox shim")?;
    let mut config = SandboxConfig::new(me, std::env::temp_dir());
    config.shim_args = vec![crate::SANDBOX_SHIM.to_string()];
    config.bwrap = bwrap.to_path_buf();
    config.uid = uid;
    config.gid = uid;
    Ok(config)
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
        ProposerName::Tpe => Box::new(TpeProposer::new()),
        ProposerName::Script => {
            Box::new(ScriptProposer::new(args.script.clone().unwrap_or_default()))
        }
        ProposerName::Command => {
            let agent = args.agent.as_deref().unwrap_or_default();
            let preset = preset::find(agent);
            let argv = match preset {
                Some(preset) => preset.argv(),
                None => command::split_words(agent)
                    .with_context(|| format!("cannot read --agent `{agent}`"))?,
            };
            if argv.is_empty() {
                bail!(
                    "--agent is empty; name a preset ({}) or give a command line",
                    preset_names()
                );
            }
            let proposer = CommandProposer::new(argv, &log_dir, args.agent_timeout)?
                .with_cancel(cancel.clone())
                .with_grace(spec.run.grace)
                .with_stalls(preset.map_or(&[], |p| p.stalls));
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

/// When `--agent` names a preset, checks it against the installed CLI's `--help` (run in
/// `dir`, its output kept in `dir`'s agent log folder) before any experiment runs, and says
/// which version will work.
pub fn check_agent(args: &ProposerArgs, dir: &std::path::Path) -> anyhow::Result<()> {
    let Some(preset) = args
        .agent
        .as_deref()
        .filter(|_| args.name == ProposerName::Command)
        .and_then(preset::find)
    else {
        return Ok(());
    };
    let log_dir = std::path::absolute(dir.join(AGENT_LOG_DIR))
        .with_context(|| format!("failed to resolve {}", dir.display()))?;
    let checked = preset.check(dir, &log_dir)?;
    eprintln!(
        "agent: {} preset, installed {}; its flags are listed by `{}`",
        preset.name,
        checked.version.as_deref().unwrap_or("(version unknown)"),
        preset.help.join(" ")
    );
    Ok(())
}

fn preset_names() -> String {
    preset::PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}
