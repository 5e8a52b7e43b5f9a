//! The pygpt track (`tracks/pygpt`, PyTorch) for the tests that train it: where it is, and
//! the Python environment with its lock installed that `.ci/run` makes and names in
//! `SWARMLAB_TEST_PYTHON`.
//!
//! Without the variable these tests say so and pass (a plain `cargo test` on a machine
//! without PyTorch); with it they must run, so a path that does not exist fails them.

use std::path::{Path, PathBuf};

/// The variable naming the test environment's interpreter (`.../bin/python3`).
pub const TEST_PYTHON: &str = "SWARMLAB_TEST_PYTHON";

/// The track's folder in this repository.
pub fn track() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tracks/pygpt")
}

/// The test environment's interpreter; `None`, after a note on stderr, when
/// `SWARMLAB_TEST_PYTHON` is not set. Panics when it names nothing.
pub fn python() -> Option<PathBuf> {
    let Some(python) = std::env::var_os(TEST_PYTHON) else {
        eprintln!(
            "skipped: {TEST_PYTHON} is not set (.ci/run sets it to a venv of tracks/pygpt/requirements.lock)"
        );
        return None;
    };
    let python = PathBuf::from(python);
    assert!(
        python.is_file(),
        "{TEST_PYTHON}={} does not exist; make it as .ci/run does",
        python.display()
    );
    Some(python)
}

/// `PATH` with the folder of `python` first, so that the track's `python3` is it.
pub fn path_with(python: &Path) -> String {
    let bin = python.parent().expect("an interpreter lies in a folder");
    match std::env::var("PATH") {
        Ok(rest) => format!("{}:{rest}", bin.display()),
        Err(_) => format!("{}:/usr/bin:/bin", bin.display()),
    }
}

/// Copies the track's files (not its caches or tests) into `dest`.
pub fn copy_track(dest: &Path) {
    for entry in std::fs::read_dir(track()).expect("tracks/pygpt is readable") {
        let entry = entry.expect("tracks/pygpt lists");
        let name = entry.file_name();
        if entry.path().is_file() {
            std::fs::copy(entry.path(), dest.join(&name)).expect("a track file copies");
        }
    }
}
