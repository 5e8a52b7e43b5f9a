//! The tracks compiled into the binary, which `swarmlab init` writes out.

use crate::cli::TrackName;

/// One file of an embedded track: its path inside the track and its content.
pub struct EmbeddedFile {
    pub path: &'static str,
    pub content: &'static str,
    pub executable: bool,
}

macro_rules! track_file {
    ($track:literal, $path:literal) => {
        EmbeddedFile {
            path: $path,
            content: include_str!(concat!("../../../tracks/", $track, "/", $path)),
            executable: false,
        }
    };
    ($track:literal, $path:literal, executable) => {
        EmbeddedFile {
            path: $path,
            content: include_str!(concat!("../../../tracks/", $track, "/", $path)),
            executable: true,
        }
    };
}

const TOY: &[EmbeddedFile] = &[
    track_file!("toy", "swarmlab.toml"),
    track_file!("toy", "program.md"),
    track_file!("toy", "params.txt"),
    track_file!("toy", "train.sh", executable),
    track_file!("toy", "toy.awk"),
];

const TINYGPT: &[EmbeddedFile] = &[];

const AUTORESEARCH: &[EmbeddedFile] = &[track_file!("autoresearch", "swarmlab.toml")];

/// The files of an embedded track.
pub fn files(track: TrackName) -> &'static [EmbeddedFile] {
    match track {
        TrackName::Toy => TOY,
        TrackName::Tinygpt => TINYGPT,
        TrackName::Autoresearch => AUTORESEARCH,
    }
}

/// The `.gitignore` written with every embedded track.
pub const GITIGNORE: &str = "target/\n";
