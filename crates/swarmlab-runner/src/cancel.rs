//! A flag another thread sets to stop a run early (Ctrl-C, a lease lost, a shutdown).
//!
//! It only carries the request; the runner polls it on every tick and does the killing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared cancellation flag. Clones share the flag; once cancelled it stays cancelled.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    /// A child is also cancelled when its parent is.
    parent: Option<Box<Cancel>>,
}

impl Cancel {
    /// A flag that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new flag that is cancelled when this one is, and that can be cancelled on its own
    /// without cancelling this one: one run stopped early while the caller's flag stays up.
    pub fn child(&self) -> Cancel {
        Cancel {
            flag: Arc::default(),
            parent: Some(Box::new(self.clone())),
        }
    }

    /// Asks every run watching this flag to stop: the tree gets SIGTERM, the grace, then
    /// SIGKILL, and the run ends [`crate::Ending::Interrupted`].
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Whether [`Cancel::cancel`] was called on this flag or one of its clones.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst) || self.parent.as_ref().is_some_and(|p| p.is_cancelled())
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

    #[test]
    fn a_child_follows_its_parent_but_not_the_other_way() {
        let parent = Cancel::new();
        let child = parent.child();
        child.cancel();
        assert!(child.is_cancelled() && !parent.is_cancelled());
        let other = parent.child();
        parent.cancel();
        assert!(other.is_cancelled());
    }
}
