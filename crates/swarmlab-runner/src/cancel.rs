//! A flag another thread sets to stop a run early (Ctrl-C, a lease lost, a shutdown).
//!
//! It only carries the request; the runner polls it on every tick and does the killing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared cancellation flag. Clones share the flag; once cancelled it stays cancelled.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every run watching this flag to stop: the tree gets SIGTERM, the grace, then
    /// SIGKILL, and the run ends [`crate::Ending::Interrupted`].
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`Cancel::cancel`] was called on this flag or one of its clones.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag() {
        let a = Cancel::new();
        let b = a.clone();
        assert!(!b.is_cancelled());
        a.cancel();
        assert!(b.is_cancelled());
    }
}
