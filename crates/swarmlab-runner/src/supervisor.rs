//! The supervisor: one loop handles every state change of a running program (exit, tick,
//! budget, cancel, escalation to SIGKILL), then the leftovers of its tree are killed and
//! reaped and the log's EOF awaited.
//!
//! It must never block without a bound: the program's exit arrives from the waiter thread and
//! the log's EOF from the pump thread over one channel read with a timeout, and EOF is awaited
//! only briefly once the program is gone.

use std::io;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::cancel::Cancel;
use crate::child::Waited;
use crate::kill;
use crate::outcome::{Ending, Tick};
use crate::run::Event;
use crate::spec::RunSpec;
use crate::tree::ProcessTree;

/// First memory sample this soon after spawn, so short programs get one.
const FIRST_SAMPLE: Duration = Duration::from_millis(5);
/// Period of memory samples, `on_tick` calls, and budget and cancel checks.
const TICK: Duration = Duration::from_millis(50);
/// How often leftovers are rescanned while the tree is being cleaned up.
const CLEANUP_POLL: Duration = Duration::from_millis(10);
/// After the program is gone and leftovers are killed, how long the log may take to see EOF.
const EOF_WAIT: Duration = Duration::from_secs(1);
/// After SIGKILL, how long to wait for the program before giving up on it (a process stuck
/// in uninterruptible sleep cannot be killed; the waiter thread reaps it whenever it ends).
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Watches one started program until it and its tree are gone.
pub(crate) struct Supervisor<'a> {
    spec: &'a RunSpec,
    tree: ProcessTree,
    rx: Receiver<Event>,
    start: Instant,
    peak_rss: u64,
    log_eof: bool,
    cleaned_up: bool,
}

impl Drop for Supervisor<'_> {
    /// Only on an unwind (a panicking `on_tick`): the tree must not outlive the run.
    fn drop(&mut self) {
        if !self.cleaned_up {
            self.clean_up(false);
        }
    }
}

/// A kill the supervisor decided on: why, and when SIGKILL is (or was) due.
struct Kill {
    ending: Ending,
    sigkill_at: Instant,
    sigkill_sent: bool,
}

impl<'a> Supervisor<'a> {
    pub(crate) fn new(
        spec: &'a RunSpec,
        tree: ProcessTree,
        rx: Receiver<Event>,
        start: Instant,
    ) -> Self {
        Supervisor {
            spec,
            tree,
            rx,
            start,
            peak_rss: 0,
            log_eof: false,
            cleaned_up: false,
        }
    }

    /// The largest summed resident memory of the tree seen so far.
    pub(crate) fn peak_rss(&self) -> u64 {
        self.peak_rss
    }

    /// Whether the log pump has reported EOF.
    pub(crate) fn log_eof(&self) -> bool {
        self.log_eof
    }

    /// The one loop: waits for the program while sampling, enforcing the budget and honouring
    /// cancel. Returns the ending the runner imposed (if any) and the program's exit, or `None`
    /// for the exit if the program survived SIGKILL for [`KILL_WAIT`].
    pub(crate) fn supervise(
        &mut self,
        cancel: &Cancel,
        on_tick: &mut dyn FnMut(&Tick),
    ) -> (Option<Ending>, Option<io::Result<Waited>>) {
        let deadline = self.start + self.spec.timeout;
        let mut next_tick = self.start + FIRST_SAMPLE;
        let mut kill: Option<Kill> = None;
        loop {
            let wake = match &kill {
                None => next_tick.min(deadline),
                Some(k) if !k.sigkill_sent => next_tick.min(k.sigkill_at),
                Some(k) => next_tick.min(k.sigkill_at + KILL_WAIT),
            };
            match self
                .rx
                .recv_timeout(wake.saturating_duration_since(Instant::now()))
            {
                Ok(Event::Exited(waited)) => return (kill.map(|k| k.ending), Some(waited)),
                Ok(Event::LogEof) => self.log_eof = true,
                Err(RecvTimeoutError::Timeout) => {}
                // The waiter holds a sender until it reports, so this means it died.
                Err(RecvTimeoutError::Disconnected) => return (kill.map(|k| k.ending), None),
            }
            let now = Instant::now();
            if now >= next_tick {
                let snapshot = self.tree.scan();
                kill::reap_orphans(&snapshot, self.tree.root());
                self.peak_rss = self.peak_rss.max(snapshot.rss_bytes);
                on_tick(&Tick {
                    elapsed: now - self.start,
                    rss_bytes: snapshot.rss_bytes,
                });
                next_tick += TICK;
                if next_tick <= now {
                    next_tick = now + TICK;
                }
            }
            if kill.is_none() {
                let ending = if cancel.is_cancelled() {
                    Some(Ending::Interrupted)
                } else if now >= deadline {
                    Some(Ending::TimedOut)
                } else {
                    None
                };
                if let Some(ending) = ending {
                    // A stopped process must run to act on SIGTERM.
                    self.signal(&[libc::SIGTERM, libc::SIGCONT]);
                    kill = Some(Kill {
                        ending,
                        sigkill_at: now + self.spec.grace,
                        sigkill_sent: false,
                    });
                }
            }
            if let Some(k) = kill.as_mut() {
                if !k.sigkill_sent && now >= k.sigkill_at {
                    self.signal(&[libc::SIGKILL]);
                    k.sigkill_sent = true;
                } else if k.sigkill_sent && now >= k.sigkill_at + KILL_WAIT {
                    return (Some(k.ending), None);
                }
            }
        }
    }

    fn signal(&mut self, signals: &[i32]) {
        let snapshot = self.tree.scan();
        for &signal in signals {
            kill::signal_tree(&snapshot, self.tree.root(), signal);
        }
    }

    /// Once the program is gone (or on an unwind): SIGKILLs and reaps whatever is left of its
    /// tree until nothing is, and waits for the log's EOF if asked, all within [`EOF_WAIT`].
    pub(crate) fn clean_up(&mut self, wait_for_log: bool) {
        self.cleaned_up = true;
        let until = Instant::now() + EOF_WAIT;
        let mut first = true;
        // A scan of /proc is not atomic: a process read before its parent exited and its
        // parent read after may be seen as nobody's child, and missed. So "gone" must hold on
        // two scans in a row; by the second the orphan has been reparented to us.
        let mut gone_before = false;
        loop {
            let snapshot = self.tree.scan();
            if first {
                // Descendants still running when the program ended count towards its peak.
                self.peak_rss = self.peak_rss.max(snapshot.rss_bytes);
                first = false;
            }
            kill::signal_tree(&snapshot, self.tree.root(), libc::SIGKILL);
            let unreaped = kill::reap_orphans(&snapshot, self.tree.root());
            let gone = snapshot.alive().next().is_none() && unreaped == 0;
            if gone && !gone_before {
                gone_before = true;
                continue;
            }
            gone_before = gone;
            if (gone && (self.log_eof || !wait_for_log)) || Instant::now() >= until {
                return;
            }
            match self.rx.recv_timeout(CLEANUP_POLL) {
                Ok(Event::LogEof) => self.log_eof = true,
                Ok(Event::Exited(_)) | Err(RecvTimeoutError::Timeout) => {}
                // Both helpers are done; only leftovers remain to wait for.
                Err(RecvTimeoutError::Disconnected) => thread::sleep(CLEANUP_POLL),
            }
        }
    }
}
