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
    let code = match command::dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", exit::render(&error));
            exit::code_of(&error)
        }
    };
    std::process::exit(code);
}
