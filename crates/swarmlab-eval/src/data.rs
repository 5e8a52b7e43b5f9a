//! The validation tokens of `logits` mode: what a trusted generator writes, or a trusted file,
//! decoded as the spec says (one byte per token when the vocabulary fits a byte, else u32
//! little-endian).
//!
//! The generator is trusted code, but it still runs under the runner (timeout, tree kill,
//! sandbox when asked); its stderr goes to its log and only its stdout is data.

use std::time::Instant;

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
}
