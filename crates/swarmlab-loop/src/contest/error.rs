//! [`ContestError`]: why a contest cannot start or go on. Input the user gave wrongly (a
//! program file, a count, a name) is told apart from a track that has no program to replace,
//! so that the binary maps each to its exit code; the loop's own failures pass through.

use std::path::PathBuf;

use crate::LoopError;

/// A failure of `swarmlab contest`.
#[derive(Debug, thiserror::Error)]
pub enum ContestError {
    /// The command line named something wrong; the message says what to give instead.
    #[error("{0}")]
    Input(String),
    #[error("cannot read program file {}: {source}; give the path of a markdown file of instructions", path.display())]
    ProgramFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The track names no program file for its runs to replace.
    #[error("the track at {} names no program file; add `program = \"program.md\"` under [track] in its swarmlab.toml", dir.display())]
    NoProgram { dir: PathBuf },
    #[error("{0}")]
    Loop(#[from] LoopError),
}
