//! [`Idle`]: how a worker with nothing left to propose on the head waits for something to
//! change, a new head or an idea in the queue. It asks the hub at an interval that starts at
//! [`FIRST`] and doubles up to [`MOST`], and starts over when something changed: an idea added
//! soon after is leased within seconds, one added later within half a minute, and an idle
//! swarm costs the hub a few requests a minute.
//!
//! It only waits: what to ask the hub and what to do with the answer is the worker's loop.

use std::time::Duration;

use swarmlab_runner::Cancel;

use crate::pause;

/// The first wait after the worker found nothing to do.
pub(super) const FIRST: Duration = Duration::from_secs(2);
/// The longest wait between two looks at the hub.
pub(super) const MOST: Duration = Duration::from_secs(30);

/// The wait before the next look at the hub: [`Idle::wait`] waits it.
#[derive(Debug)]
pub(super) struct Idle {
    next: Duration,
}

impl Idle {
    pub(super) fn new() -> Idle {
        Idle { next: FIRST }
    }

    /// Waits the current interval and doubles the next one, up to [`MOST`]; whether
    /// `cancel` came first.
    pub(super) fn wait(&mut self, cancel: &Cancel) -> bool {
        let cancelled = pause(cancel, self.next);
        self.lengthen();
        cancelled
    }

    /// Nothing changed: the next wait is twice as long, up to [`MOST`].
    fn lengthen(&mut self) {
        self.next = (self.next * 2).min(MOST);
    }

    /// Something changed: the next wait is short again.
    pub(super) fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_half_a_minute_and_starts_over_when_something_changed() {
        let mut idle = Idle::new();
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(idle.next.as_secs());
            idle.lengthen();
        }
        assert_eq!(seen, [2, 4, 8, 16, 30, 30]);
        idle.reset();
        assert_eq!(idle.next, FIRST);
    }

    #[test]
    fn a_cancelled_wait_returns_at_once_and_says_so() {
        let cancel = Cancel::new();
        cancel.cancel();
        let mut idle = Idle::new();
        let started = std::time::Instant::now();
        assert!(idle.wait(&cancel));
        assert!(started.elapsed() < FIRST);
        assert_eq!(idle.next, FIRST * 2);
    }
}
