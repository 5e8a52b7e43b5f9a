//! The `swarmlab` binary: parse the command line, run the command, report an error once and
//! exit with a documented code (see `exit.rs`).

mod cli;
mod command;
mod exit;
mod interrupt;
mod session;
mod tracks;

use clap::Parser;

fn main() {
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
