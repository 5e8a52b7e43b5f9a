//! `command` mode: the artifact a training run wrote is taken out of its run directory and a
//! trusted evaluator from the baseline computes the metric from it.
//!
//! The artifact is copied, not bound: the candidate controls its run directory, so every
//! component is opened without following symlinks, only a regular file is accepted, and its
//! size is capped. The evaluator is an ordinary run (sandboxed when its spec says so); its
//! output is the only place the caller may read the metric from.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

use crate::EvalError;
use swarmlab_runner::Cancel;
use swarmlab_runner::RunOutcome;
use swarmlab_runner::RunSpec;

/// The variable that gives the evaluator the artifact's path.
pub const ARTIFACT_VAR: &str = "SWARMLAB_ARTIFACT";
/// How much of the end of the evaluator's log [`CommandOutput::output`] holds.
const OUTPUT_TAIL_BYTES: usize = 256 << 10;

/// What the evaluator did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// How its run ended; a failure is the caller's to classify.
    pub outcome: RunOutcome,
    /// The end of its log (stdout and stderr): where the metric is read from.
    pub output: String,
}

/// Copies the file at `relative` under `run_dir` (what a training run wrote) to `dest`, a new
/// read-only file. Refuses what [`check_artifact`] refuses. Returns the bytes copied.
pub fn stage_artifact(
    run_dir: &Path,
    relative: &str,
    dest: &Path,
    max_bytes: u64,
) -> Result<u64, EvalError> {
    let (mut source, _) = open_artifact(run_dir, relative, max_bytes)?;
    let unfit = |why: String| EvalError::Artifact(format!("`{relative}`: {why}"));
    let io_error = |source| EvalError::Io {
        what: format!("copying the artifact to {}", dest.display()),
        source,
    };
    let mut out = File::options()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(io_error)?;
    // Bounded even if the file grew after the check.
    let copied = io::copy(&mut (&mut source).take(max_bytes + 1), &mut out).map_err(io_error)?;
    if copied > max_bytes {
        return Err(unfit(format!("grew past the {max_bytes} bytes allowed")));
    }
    out.flush().map_err(io_error)?;
    // Readable by the evaluator's sandbox uid whatever the verifier's umask; never changed.
    out.set_permissions(std::fs::Permissions::from_mode(0o444))
        .map_err(io_error)?;
    Ok(copied)
}

/// Checks that the run left a regular file at `relative` under `run_dir`, reached without
/// leaving `run_dir` or following a symlink, of at most `max_bytes`; returns its size. In
/// `logits` mode the server reads it in place, so this is all the verifier needs.
pub fn check_artifact(run_dir: &Path, relative: &str, max_bytes: u64) -> Result<u64, EvalError> {
    open_artifact(run_dir, relative, max_bytes).map(|(_, size)| size)
}

fn open_artifact(run_dir: &Path, relative: &str, max_bytes: u64) -> Result<(File, u64), EvalError> {
    let unfit = |why: String| EvalError::Artifact(format!("`{relative}`: {why}"));
    let parts: Vec<&std::ffi::OsStr> = Path::new(relative)
        .components()
        .map(|c| match c {
            Component::Normal(part) => Ok(part),
            _ => Err(unfit(
                "must be a relative path inside the run directory".into(),
            )),
        })
        .collect::<Result<_, _>>()?;
    let Some((file, dirs)) = parts.split_last() else {
        return Err(unfit("is empty".into()));
    };
    let mut dir =
        open_at(None, run_dir.as_os_str(), libc::O_DIRECTORY).map_err(|source| EvalError::Io {
            what: format!("opening the run directory {}", run_dir.display()),
            source,
        })?;
    for part in dirs {
        dir = open_at(Some(&dir), part, libc::O_DIRECTORY | libc::O_NOFOLLOW).map_err(|e| {
            unfit(format!(
                "cannot open directory `{}` without following links: {e}",
                part.to_string_lossy()
            ))
        })?;
    }
    // O_NONBLOCK: a FIFO left in its place must not block the verifier.
    let fd = open_at(Some(&dir), file, libc::O_NOFOLLOW | libc::O_NONBLOCK).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            unfit("the run did not write it".into())
        } else {
            unfit(format!("cannot open it without following links: {e}"))
        }
    })?;
    let source = File::from(fd);
    let meta = source.metadata().map_err(|e| unfit(e.to_string()))?;
    if !meta.file_type().is_file() {
        return Err(unfit("is not a regular file".into()));
    }
    if meta.len() > max_bytes {
        return Err(unfit(format!(
            "has {} bytes, more than the {max_bytes} allowed",
            meta.len()
        )));
    }
    Ok((source, meta.len()))
}

fn open_at(dir: Option<&OwnedFd>, name: &std::ffi::OsStr, flags: i32) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let name =
        CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let at = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: a valid C string and descriptor; the result is checked before it is owned.
    let fd = unsafe { libc::openat(at, name.as_ptr(), flags | libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openat returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Runs the trusted evaluator `evaluator` with `SWARMLAB_ARTIFACT` set to `artifact` (an
/// absolute path, e.g. from [`stage_artifact`]); sandboxed, the artifact is bound read-only
/// at the same path. Any ending is an `Ok`: the caller reads the metric from
/// [`CommandOutput::output`] and classifies the run.
pub fn evaluate_command(
    evaluator: &RunSpec,
    artifact: &Path,
    cancel: &Cancel,
) -> Result<CommandOutput, EvalError> {
    if !artifact.is_absolute() {
        return Err(EvalError::Config(format!(
            "the artifact path {} is not absolute",
            artifact.display()
        )));
    }
    let mut spec = evaluator.clone();
    spec.env
        .push((ARTIFACT_VAR.into(), artifact.display().to_string()));
    if let Some(sandbox) = spec.sandbox.as_mut() {
        sandbox.read_only.push(artifact.to_path_buf());
    }
    let outcome = swarmlab_runner::run(&spec, cancel, &mut |_| {})?;
    let output = swarmlab_runner::tail(&spec.log_path, OUTPUT_TAIL_BYTES).map_err(|source| {
        EvalError::Io {
            what: format!("reading the evaluator's log {}", spec.log_path.display()),
            source,
        }
    })?;
    Ok(CommandOutput { outcome, output })
}
