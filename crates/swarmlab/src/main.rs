//! The `swarmlab` binary: parse the command line, run the command, report an error once and
//! exit with a documented code (see `exit.rs`).

mod cli;
mod command;
mod exit;
mod interrupt;

use clap::Parser;

/// The hidden first argument that turns the binary into the sandbox shim: the runner starts
/// it inside bubblewrap to apply Landlock, seccomp and rlimits before the real program.
pub const SANDBOX_SHIM: &str = "__sandbox-shim";

fn main() {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == SANDBOX_SHIM)
    {
        swarmlab_runner::sandbox::shim_main(std::env::args_os().skip(2));
    }
    let cli = cli::Cli::parse();
    if !matches!(cli.command, cli::Command::Run(_)) {
        // A closed stdout (`swarmlab track check | head -1`) ends a printing command quietly,
        // as it would any Unix tool. `run` keeps ignoring SIGPIPE: the loop must not die of it.
        // SAFETY: restoring the default disposition before any thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let code = match command::dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", exit::render(&error));
            exit::code_of(&error)
        }
    };
    std::process::exit(code);
}
