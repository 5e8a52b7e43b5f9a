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

use anyhow::Context;
use swarmlab_agent::choice::agent_log_dir;
use swarmlab_agent::{Choice, OpenAiConfig, Prices, Proposer};
use swarmlab_core::TrackSpec;
use swarmlab_runner::{Cancel, SandboxConfig};

use crate::cli::{Cli, Command, ProposerArgs, SandboxCommand, TrackCommand};

/// Runs a parsed command line and returns the exit code.
pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Init(args) => init::init(&args).map(|()| 0),
        Command::Run(args) => run::run(&args),
        Command::Report(args) => report::report(&args),
        Command::Contest(args) if args.evolve.is_some() => contest::evolve(&args),
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

/// The async runtime of a command that serves or opens a hub.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

/// The proposer the flags name, logging into the track's agent folder.
pub fn proposer(
    args: &ProposerArgs,
    spec: &TrackSpec,
    cancel: &Cancel,
) -> anyhow::Result<Box<dyn Proposer>> {
    Ok(choice(args).build(&spec.root, spec.run.grace, cancel)?)
}

/// When `--agent` names a preset, checks it against the installed CLI's `--help` (run in
/// `dir`, its output kept in `dir`'s agent log folder) before any experiment runs, and says
/// which version will work.
pub fn check_agent(args: &ProposerArgs, dir: &std::path::Path) -> anyhow::Result<()> {
    let Some(preset) = choice(args).preset() else {
        return Ok(());
    };
    let checked = preset.check(dir, &agent_log_dir(dir)?)?;
    eprintln!(
        "agent: {} preset, installed {}; its flags are listed by `{}`",
        preset.name,
        checked.version.as_deref().unwrap_or("(version unknown)"),
        preset.help.join(" ")
    );
    Ok(())
}

/// The flags as the agent crate's [`Choice`].
pub fn choice(args: &ProposerArgs) -> Choice {
    let mut openai = OpenAiConfig::new(args.model.clone().unwrap_or_default());
    openai.base_url = args.base_url.clone();
    openai.api_key_env = args.api_key_env.clone();
    openai.retries = args.api_retries;
    if let (Some(input), Some(output)) = (args.price_in, args.price_out) {
        openai.prices = Some(Prices {
            input_per_million: input,
            output_per_million: output,
        });
    }
    Choice {
        kind: args.name,
        script: args.script.clone(),
        agent: args.agent.clone(),
        agent_timeout: args.agent_timeout,
        openai,
    }
}
