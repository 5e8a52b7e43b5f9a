//! One module per subcommand: thin glue between the command line and the library crates.

mod audit;
mod check;
mod demo;
mod hub;
pub mod init;
pub mod report;
mod run;
mod sandbox;
mod submit;
mod verify;
mod work;

use crate::cli::{Cli, Command, SandboxCommand, TrackCommand};

/// Runs a parsed command line and returns the exit code.
pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Init(args) => init::init(&args).map(|()| 0),
        Command::Run(args) => run::run(&args),
        Command::Report(args) => report::report(&args).map(|()| 0),
        Command::Track {
            command: TrackCommand::Check { dir },
        } => check::check(&dir).map(|()| 0),
        Command::Hub { command } => hub::hub(command).map(|()| 0),
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

/// Loads a track and prints its warnings to stderr.
pub fn load_track(dir: &std::path::Path) -> anyhow::Result<swarmlab_core::TrackSpec> {
    match swarmlab_core::TrackSpec::load(dir) {
        Ok((spec, warnings)) => {
            warnings.iter().for_each(|w| eprintln!("warning: {w}"));
            Ok(spec)
        }
        Err(error) => {
            if let swarmlab_core::SpecError::Invalid { warnings, .. } = &error {
                warnings.iter().for_each(|w| eprintln!("warning: {w}"));
            }
            Err(error.into())
        }
    }
}
