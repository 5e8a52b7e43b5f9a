//! The pygpt track (`tracks/pygpt`, PyTorch) for the tests that train it: where it is, and
//! the Python environment with its lock installed that those tests run.
//!
//! The environment is `SWARMLAB_TEST_PYTHON` when set (a path that does not exist fails the
//! test); otherwise `target/pygpt-venv`, a venv of `tracks/pygpt/requirements.lock` made here
//! on first use (torch from PyPI: minutes and 6.8 GB, once) and made again only when the lock
//! changes. A file lock lets every test process share the one making it.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The variable naming an interpreter to use instead (`.../bin/python3`).
pub const TEST_PYTHON: &str = "SWARMLAB_TEST_PYTHON";

/// The interpreter a venv is made with: Debian's, which the sandbox's `/usr` also holds.
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// The track's folder in this repository.
pub fn track() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tracks/pygpt")
}

/// The test environment's interpreter: `SWARMLAB_TEST_PYTHON`, or `target/pygpt-venv`'s,
/// made first if its lock is not the track's. Panics, saying why, when neither can be had.
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os(TEST_PYTHON) {
        let python = PathBuf::from(python);
        assert!(
            python.is_file(),
            "{TEST_PYTHON}={} does not exist; unset it to let the tests make target/pygpt-venv",
            python.display()
        );
        return python;
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    std::fs::create_dir_all(&target).expect("target/ can be made");
    venv(
        &target.join("pygpt-venv"),
        &track().join("requirements.lock"),
    )
}

/// The interpreter of the venv at `venv` with `lock` installed, made (under a file lock
/// beside it) when the lock it holds differs.
fn venv(venv: &Path, lock: &Path) -> PathBuf {
    let guard = File::create(venv.with_extension("lock")).expect("the venv's lock file opens");
    // Held until `guard` closes; the kernel lets go of it when a process dies.
    // SAFETY: flock on a descriptor this function owns for the call's duration.
    let locked = unsafe { libc::flock(guard.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(locked, 0, "the venv's lock file locks");
    let python = venv.join("bin/python3");
    let installed = venv.join("requirements.lock");
    let wanted = std::fs::read(lock).expect("tracks/pygpt/requirements.lock is readable");
    if std::fs::read(&installed).ok().as_ref() == Some(&wanted) && python.is_file() {
        return python;
    }
    eprintln!(
        "making {} from {} (torch from PyPI: a few minutes and 6.8 GB, once)",
        venv.display(),
        lock.display()
    );
    if venv.exists() {
        std::fs::remove_dir_all(venv).expect("the stale venv is removed");
    }
    run(Command::new(SYSTEM_PYTHON).arg("-m").arg("venv").arg(venv));
    run(Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--no-input",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(lock));
    // Written last: a venv cut short by a failure or a kill is made again next time.
    std::fs::write(&installed, &wanted).expect("the venv records its lock");
    python
}

#[track_caller]
fn run(command: &mut Command) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("{command:?} did not start: {e}"));
    assert!(
        status.success(),
        "{command:?} failed ({status}); the pygpt tests need {SYSTEM_PYTHON} with venv and PyPI"
    );
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
