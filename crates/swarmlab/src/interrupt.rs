//! Ctrl-C and SIGTERM: the first asks the loop to stop (the experiment in flight is killed and
//! logged as interrupted); the second exits at once. A server instead stops at the first,
//! through [`signalled`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use swarmlab_runner::Cancel;

static CANCEL: OnceLock<Cancel> = OnceLock::new();
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    if SIGNALS.fetch_add(1, Ordering::SeqCst) > 0 {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(crate::exit::INTERRUPTED) };
    }
    if let Some(cancel) = CANCEL.get() {
        cancel.cancel();
    }
}

/// Installs the handlers once and returns the cancel flag they set.
pub fn install() -> Cancel {
    let cancel = CANCEL.get_or_init(Cancel::new).clone();
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only touches atomics and calls _exit.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    cancel
}

/// Ends at the first Ctrl-C or SIGTERM: a server's shutdown. It listens from the call on (in
/// a runtime), so a signal sent right after is not missed.
pub fn signalled() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use anyhow::Context;
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("failed to listen for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("failed to listen for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
