//! The real agent CLIs, for the tests that drive the `command` proposer's presets through
//! them: aider from PyPI (`SWARMLAB_TEST_AIDER` names its executable) and Claude Code, Codex
//! CLI and Gemini CLI from npm (`SWARMLAB_TEST_AGENT_CLIS` names the folder of their
//! executables), installed by `.ci/run` at the versions `docs/agents.md` names; and that
//! table's version of each preset, so a test can hold the installed CLI to it.
//!
//! Without a variable these tests say so and pass (a plain `cargo test` on a machine without
//! the CLIs); with it they must run, so a path that holds nothing fails them. It installs
//! nothing.

use std::path::{Path, PathBuf};

/// The variable naming aider's executable.
pub const TEST_AIDER: &str = "SWARMLAB_TEST_AIDER";
/// The variable naming the folder of `claude`, `codex` and `gemini`.
pub const TEST_AGENT_CLIS: &str = "SWARMLAB_TEST_AGENT_CLIS";

/// The executables that `SWARMLAB_TEST_AGENT_CLIS` must hold.
pub const NPM_CLIS: [&str; 3] = ["claude", "codex", "gemini"];

/// aider's executable; `None`, after a note on stderr, when `SWARMLAB_TEST_AIDER` is not set.
/// Panics when it names nothing.
pub fn aider() -> Option<PathBuf> {
    let Some(path) = std::env::var_os(TEST_AIDER) else {
        eprintln!("skipped: {TEST_AIDER} is not set (.ci/run sets it to aider-chat in a venv)");
        return None;
    };
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{TEST_AIDER}={} is not a file; install aider-chat as .ci/run does",
        path.display()
    );
    Some(path)
}

/// The folder of the npm CLIs; `None`, after a note on stderr, when
/// `SWARMLAB_TEST_AGENT_CLIS` is not set. Panics when one of them is not in it.
pub fn npm_clis() -> Option<PathBuf> {
    let Some(bin) = std::env::var_os(TEST_AGENT_CLIS) else {
        eprintln!(
            "skipped: {TEST_AGENT_CLIS} is not set (.ci/run sets it to the npm executables \
             of Claude Code, Codex CLI and Gemini CLI)"
        );
        return None;
    };
    let bin = PathBuf::from(bin);
    for cli in NPM_CLIS {
        assert!(
            bin.join(cli).is_file(),
            "{TEST_AGENT_CLIS}={} holds no `{cli}`; install the CLIs as .ci/run does",
            bin.display()
        );
    }
    Some(bin)
}

/// `PATH` with `bin` first.
pub fn path_with(bin: &Path) -> String {
    match std::env::var("PATH") {
        Ok(rest) => format!("{}:{rest}", bin.display()),
        Err(_) => format!("{}:/usr/bin:/bin", bin.display()),
    }
}

/// The version `docs/agents.md` says `preset` was checked with, from its row of the presets
/// table.
pub fn documented_version(preset: &str) -> String {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/agents.md");
    let text = std::fs::read_to_string(&docs).expect("docs/agents.md is readable");
    let row = text
        .lines()
        .find(|line| line.starts_with(&format!("| `{preset}` |")))
        .unwrap_or_else(|| panic!("docs/agents.md has no row for the `{preset}` preset"));
    version_in(row).unwrap_or_else(|| panic!("the `{preset}` row names no version: {row}"))
}

/// The last word of a row's last cell before its install command: `| ... | Claude Code
/// 2.1.197 (`npm install ...`) |` gives `2.1.197`.
fn version_in(row: &str) -> Option<String> {
    let last_cell = row.trim_end().trim_end_matches('|').rsplit('|').next()?;
    let before_install = last_cell.split('(').next()?;
    before_install.split_whitespace().last().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_last_word_before_the_install_command() {
        let row = "| `claude` | `claude -p {prompt}` | Claude Code 2.1.197 (`npm install -g x`) |";
        assert_eq!(version_in(row).as_deref(), Some("2.1.197"));
        assert_eq!(
            version_in("| `x` | `x` | aider 0.86.2 |").as_deref(),
            Some("0.86.2")
        );
        assert_eq!(version_in("| `x` | `x` |  |"), None);
    }
}
