//! The logits protocol on the wire (docs/eval.md), and moving its bytes within a deadline.
//!
//! All integers and floats are little-endian. The server first writes a handshake: the 8
//! bytes `SWLOGITS`, u32 version 1, u32 vocab. Each request is u32 rows, u32 len, then
//! rows*len u32 tokens; each response is u32 rows, u32 len, then rows*len*vocab f32 logits,
//! row-major. The verifier closes stdin to end the session.
//!
//! Reading and writing interleave in one poll loop, so a server that answers while it still
//! reads cannot deadlock against us; a deadline bounds every wait. This module must not
//! interpret logits.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::time::Instant;

/// The first bytes a server writes.
pub(crate) const MAGIC: &[u8; 8] = b"SWLOGITS";
/// The protocol version this verifier speaks.
pub(crate) const VERSION: u32 = 1;
/// Bytes of the handshake.
pub(crate) const HANDSHAKE_BYTES: usize = 16;
/// Bytes of a request's or a response's header.
pub(crate) const HEADER_BYTES: usize = 8;

/// Why bytes did not move.
#[derive(Debug)]
pub(crate) enum WireError {
    /// The deadline passed; `done` of `wanted` bytes had been read.
    Timeout {
        done: usize,
        wanted: usize,
    },
    /// The server closed its end; `done` of `wanted` bytes had been read.
    Closed {
        done: usize,
        wanted: usize,
    },
    /// More than `max` bytes came.
    TooLong {
        max: usize,
    },
    Io(io::Error),
}

/// The verifier's ends of the server's stdin and stdout, non-blocking.
pub(crate) struct Wire<'a> {
    stdin: &'a mut File,
    stdout: &'a mut File,
    deadline: Instant,
}

impl<'a> Wire<'a> {
    pub(crate) fn new(
        stdin: &'a mut File,
        stdout: &'a mut File,
        deadline: Instant,
    ) -> io::Result<Self> {
        set_nonblocking(stdin)?;
        set_nonblocking(stdout)?;
        Ok(Wire {
            stdin,
            stdout,
            deadline,
        })
    }

    /// Moves the deadline of every later wait to `deadline`.
    pub(crate) fn extend(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    /// Reads exactly `buf.len()` bytes.
    pub(crate) fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), WireError> {
        self.exchange(&[], buf)
    }

    /// Writes all of `request` while reading exactly `response.len()` bytes.
    pub(crate) fn exchange(
        &mut self,
        request: &[u8],
        response: &mut [u8],
    ) -> Result<(), WireError> {
        let (mut sent, mut got) = (0, 0);
        let wanted = response.len();
        while got < wanted || sent < request.len() {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WireError::Timeout { done: got, wanted });
            }
            let mut fds = [
                libc::pollfd {
                    fd: self.stdout.as_raw_fd(),
                    events: if got < wanted { libc::POLLIN } else { 0 },
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.stdin.as_raw_fd(),
                    events: if sent < request.len() {
                        libc::POLLOUT
                    } else {
                        0
                    },
                    revents: 0,
                },
            ];
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
            // SAFETY: two valid pollfds.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) } < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(WireError::Io(err));
            }
            if fds[0].revents != 0 && got < wanted {
                match self.stdout.read(&mut response[got..]) {
                    Ok(0) => return Err(WireError::Closed { done: got, wanted }),
                    Ok(n) => got += n,
                    Err(e) if retry(&e) => {}
                    Err(e) => return Err(WireError::Io(e)),
                }
            }
            if fds[1].revents != 0 && sent < request.len() {
                match self.stdin.write(&request[sent..]) {
                    Ok(n) => sent += n,
                    // The server closed its stdin: whatever it answers, it answers without
                    // the rest of the request, which the read side will show.
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                        return Err(WireError::Closed { done: got, wanted })
                    }
                    Err(e) if retry(&e) => {}
                    Err(e) => return Err(WireError::Io(e)),
                }
            }
        }
        Ok(())
    }
}

fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Reads `stdout` until EOF, within `deadline`; more than `max` bytes is an error
/// ([`WireError::TooLong`]).
pub(crate) fn read_to_end(
    stdout: &mut File,
    deadline: Instant,
    max: usize,
) -> Result<Vec<u8>, WireError> {
    set_nonblocking(stdout).map_err(WireError::Io)?;
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(WireError::Timeout {
                done: out.len(),
                wanted: max,
            });
        }
        let mut fd = libc::pollfd {
            fd: stdout.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut fd, 1, ms) } < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(WireError::Io(err));
        }
        if fd.revents == 0 {
            continue;
        }
        match stdout.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) if out.len() + n > max => return Err(WireError::TooLong { max }),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if retry(&e) => {}
            Err(e) => return Err(WireError::Io(e)),
        }
    }
}

fn set_nonblocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with integer arguments.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A request: the header, then the tokens of every row.
pub(crate) fn encode_request(rows: &[&[u32]]) -> Vec<u8> {
    let len = rows.first().map_or(0, |r| r.len());
    let mut out = Vec::with_capacity(HEADER_BYTES + rows.len() * len * 4);
    out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    for row in rows {
        debug_assert_eq!(row.len(), len, "rows of one request have one length");
        for token in *row {
            out.extend_from_slice(&token.to_le_bytes());
        }
    }
    out
}

/// The u32 at `at` of `bytes`.
pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("a slice of four bytes"))
}

/// The f32 logits of (a row of) a response body, decoded into `out`, whose allocation is
/// reused.
pub(crate) fn decode_logits_into(body: &[u8], out: &mut Vec<f32>) {
    out.clear();
    out.extend(
        body.chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("chunks of four bytes"))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_its_header_then_little_endian_tokens() {
        let bytes = encode_request(&[&[1, 2], &[3, 256]]);
        assert_eq!(bytes.len(), 8 + 16);
        assert_eq!((u32_at(&bytes, 0), u32_at(&bytes, 4)), (2, 2));
        assert_eq!(&bytes[8..12], &[1, 0, 0, 0]);
        assert_eq!(&bytes[20..24], &[0, 1, 0, 0]);
        let mut logits = vec![7.0];
        decode_logits_into(&[0, 0, 128, 63, 0, 0, 0, 192], &mut logits);
        assert_eq!(logits, [1.0, -2.0]);
    }
}
