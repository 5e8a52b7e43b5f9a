//! The validation tokens of `logits` mode: what a trusted generator writes, a trusted file,
//! or files drawn from a trusted pool of held-out files, decoded as the spec says (one byte
//! per token when the vocabulary fits a byte, else u32 little-endian).
//!
//! The generator is trusted code, but it still runs under the runner (timeout, tree kill,
//! sandbox when asked); its stderr goes to its log and only its stdout is data.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::rng::Rng;

use crate::wire::{self, WireError};
use crate::EvalError;
use swarmlab_runner::Cancel;
use swarmlab_runner::Piped;
use swarmlab_runner::RunSpec;
use swarmlab_runner::{Ending, Exit};

/// Runs `spec` (a trusted generator) with stdin closed and returns what it wrote to stdout, at
/// most `max_bytes`. It must exit with status 0 within its timeout.
pub fn collect_stdout(
    spec: &RunSpec,
    max_bytes: usize,
    cancel: &Cancel,
) -> Result<Vec<u8>, EvalError> {
    let started = Instant::now();
    let mut piped = Piped::start(spec, cancel)?;
    piped.stdin = None;
    let read = wire::read_to_end(&mut piped.stdout, started + spec.timeout, max_bytes);
    let outcome = match read {
        Ok(_) => piped.wait()?,
        Err(_) => piped.stop()?,
    };
    let program = spec.command.join(" ");
    let too_slow = || {
        EvalError::Data(format!(
            "`{program}` did not finish within {:?}",
            spec.timeout
        ))
    };
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(WireError::TooLong { max }) => {
            return Err(EvalError::Data(format!(
                "`{program}` wrote more than {max} bytes"
            )))
        }
        Err(WireError::Io(source)) => {
            return Err(EvalError::Io {
                what: format!("reading the output of `{program}`"),
                source,
            })
        }
        Err(WireError::Timeout { .. } | WireError::Closed { .. }) => return Err(too_slow()),
    };
    match outcome.ending {
        Ending::Exited(Exit::Code(0)) => Ok(bytes),
        Ending::Interrupted => Err(EvalError::Interrupted),
        Ending::TimedOut => Err(too_slow()),
        Ending::Exited(exit) => Err(EvalError::Data(format!(
            "`{program}` failed ({exit:?}); its log ends with:\n{}",
            swarmlab_runner::tail(&spec.log_path, 2000).unwrap_or_default()
        ))),
    }
}

/// The tokens of a data file or a generator's output: one byte per token when `vocab` is at
/// most 256, otherwise u32 little-endian. Every token must be below `vocab`.
pub fn decode_tokens(bytes: &[u8], vocab: u32) -> Result<Vec<u32>, EvalError> {
    let tokens: Vec<u32> = if vocab <= 256 {
        bytes.iter().map(|&b| u32::from(b)).collect()
    } else {
        if bytes.len() % 4 != 0 {
            return Err(EvalError::Data(format!(
                "{} bytes of u32 tokens is not a multiple of 4",
                bytes.len()
            )));
        }
        bytes
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("chunks of four bytes")))
            .collect()
    };
    if let Some(at) = tokens.iter().position(|&t| t >= vocab) {
        return Err(EvalError::Data(format!(
            "token {} at {at} is outside the vocabulary of {vocab}",
            tokens[at]
        )));
    }
    Ok(tokens)
}

/// The tokens of `draw` files picked at random by `seed` among the regular files under `pool`
/// (at any depth, symlinks ignored), each decoded as [`decode_tokens`] says and joined in the
/// order drawn; more than `max_bytes` in all is an error. The pool is trusted; the seed is
/// the verifier's secret, so no run can know which files a job scores.
pub fn holdout_tokens(
    pool: &Path,
    draw: usize,
    vocab: u32,
    seed: u64,
    max_bytes: usize,
) -> Result<Vec<u32>, EvalError> {
    let mut files = Vec::new();
    list_files(pool, &mut files)?;
    files.sort();
    if files.len() < draw || draw == 0 {
        return Err(EvalError::Data(format!(
            "the holdout pool {} holds {} file(s); {draw} are drawn per job",
            pool.display(),
            files.len()
        )));
    }
    let mut tokens = Vec::new();
    let mut read = 0;
    for i in Rng::new(seed).choose(files.len(), draw) {
        let path = &files[i];
        let bytes = std::fs::read(path).map_err(|source| EvalError::Io {
            what: format!("reading the held-out file {}", path.display()),
            source,
        })?;
        read += bytes.len();
        if read > max_bytes {
            return Err(EvalError::Data(format!(
                "the held-out files drawn hold more than {max_bytes} bytes"
            )));
        }
        tokens.extend(
            decode_tokens(&bytes, vocab)
                .map_err(|e| EvalError::Data(format!("held-out file {}: {e}", path.display())))?,
        );
    }
    Ok(tokens)
}

/// The regular files under `dir`, not following symlinks.
fn list_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), EvalError> {
    let io = |source| EvalError::Io {
        what: format!("listing the holdout pool {}", dir.display()),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            list_files(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_or_u32_tokens_within_the_vocabulary() {
        assert_eq!(decode_tokens(b"ab", 256).unwrap(), [97, 98]);
        assert!(decode_tokens(b"ab", 98)
            .unwrap_err()
            .to_string()
            .contains("token 98 at 1 is outside the vocabulary of 98"));
        assert_eq!(decode_tokens(&[1, 1, 0, 0], 300).unwrap(), [257]);
        assert!(decode_tokens(&[1, 1, 0], 300).is_err());
    }

    #[test]
    fn the_holdout_draw_is_distinct_files_chosen_by_the_seed() {
        let pool = tempfile::tempdir().unwrap();
        std::fs::create_dir(pool.path().join("sub")).unwrap();
        for (name, byte) in [("a", b'a'), ("b", b'b'), ("sub/c", b'c'), ("sub/d", b'd')] {
            std::fs::write(pool.path().join(name), [byte; 3]).unwrap();
        }
        std::os::unix::fs::symlink("/etc/passwd", pool.path().join("link")).unwrap();
        let drawn = |seed| holdout_tokens(pool.path(), 2, 256, seed, 1 << 20).unwrap();
        let first = drawn(1);
        assert_eq!(first.len(), 6);
        assert_eq!(first, drawn(1), "the same seed draws the same files");
        assert_ne!(first[0], first[3], "two distinct files");
        let seen: std::collections::BTreeSet<u32> = (0..32).flat_map(drawn).collect();
        assert_eq!(seen, (u32::from(b'a')..=u32::from(b'd')).collect());
        let err = holdout_tokens(pool.path(), 5, 256, 1, 1 << 20).unwrap_err();
        assert!(
            err.to_string().contains("holds 4 file(s); 5 are drawn"),
            "{err}"
        );
        let err = holdout_tokens(pool.path(), 2, 256, 1, 4).unwrap_err();
        assert!(err.to_string().contains("more than 4 bytes"), "{err}");
    }
}
