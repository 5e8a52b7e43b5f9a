//! Drains the program's output pipe into the log on its own thread.
//!
//! The pipe is always drained, even when the log can no longer be written, so the program is
//! never blocked by a full pipe. It must not wait forever for EOF: an escaped process may hold
//! the write end, so the supervisor can raise `stop`, after which only what is already in the
//! pipe is read.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crate::log::{LogStats, LogWriter};
use crate::run::Event;

const CHUNK: usize = 64 << 10;
const POLL_MS: libc::c_int = 20;
/// After `stop`, at most this much more is read, so an escaped writer cannot keep us here.
const DRAIN_AFTER_STOP: usize = 4 << 20;

/// Copies `read` into `log` until EOF (or `stop`), finishes the log, sends [`Event::LogEof`]
/// and returns the log's totals.
pub(crate) fn pump_in_thread(
    read: OwnedFd,
    log: LogWriter<File>,
    stop: Arc<AtomicBool>,
    events: Sender<Event>,
) -> io::Result<JoinHandle<io::Result<LogStats>>> {
    thread::Builder::new()
        .name("swarmlab-log".into())
        .spawn(move || {
            let result = pump(File::from(read), log, &stop);
            let _ = events.send(Event::LogEof);
            result
        })
}

fn pump(mut pipe: File, mut log: LogWriter<File>, stop: &AtomicBool) -> io::Result<LogStats> {
    let mut buf = vec![0u8; CHUNK];
    let mut error = None;
    let mut drained_after_stop = 0;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if stopping && drained_after_stop >= DRAIN_AFTER_STOP {
            break;
        }
        match readable(&pipe, if stopping { 0 } else { POLL_MS }) {
            Ok(true) => {}
            Ok(false) if stopping => break,
            Ok(false) => continue,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        let n = match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        if stopping {
            drained_after_stop += n;
        }
        // After a failed write keep draining, so the program never blocks on a full pipe.
        if error.is_none() {
            if let Err(e) = log.write(&buf[..n]) {
                error = Some(e);
            }
        }
    }
    let stats = log.finish();
    match error {
        Some(e) => Err(e),
        None => stats,
    }
}

/// Whether the pipe has data or EOF within `timeout_ms`.
fn readable(pipe: &File, timeout_ms: libc::c_int) -> io::Result<bool> {
    let mut fd = libc::pollfd {
        fd: pipe.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    match unsafe { libc::poll(&mut fd, 1, timeout_ms) } {
        -1 => {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(err)
            }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}
