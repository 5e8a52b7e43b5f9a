//! Signals and reaping for a run's process tree, and the subreaper setting that makes
//! orphans of the tree come back to us.
//!
//! It must never `waitpid(-1)`: the host program may have children of its own. Only pids the
//! tree scan found (and that are our children) are reaped.

use std::sync::Once;

use crate::tree::Snapshot;

/// Makes this process the child subreaper (once per process), so descendants orphaned by the
/// program are reparented to us instead of init, where we can still see, kill and reap them.
/// On kernels without it the runner still works, with escaped orphans harder to find.
pub(crate) fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument and touches no memory.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0);
        }
    });
}

/// Sends `signal` to the program's process group (while it provably still has a live member,
/// so the group id cannot have been reused) and to every live member of the tree, including
/// those that left the group.
pub(crate) fn signal_tree(snapshot: &Snapshot, pgid: i32, signal: i32) {
    if snapshot.alive().any(|p| p.pgid == pgid) {
        send(-pgid, signal);
    }
    for p in snapshot.alive() {
        send(p.pid, signal);
    }
}

/// Reaps the zombies of the tree that are our children (orphans reparented to us), except the
/// program itself, which the waiter thread owns. Returns how many were left unreaped.
pub(crate) fn reap_orphans(snapshot: &Snapshot, root: i32) -> usize {
    let me = std::process::id() as i32;
    let mut left = 0;
    for p in snapshot.members.iter().filter(|p| p.zombie && p.ppid == me) {
        if p.pid == root {
            continue;
        }
        let mut status = 0;
        // SAFETY: waitpid on one specific pid with WNOHANG; status is a valid out pointer.
        let reaped = unsafe { libc::waitpid(p.pid, &mut status, libc::WNOHANG) };
        if reaped != p.pid {
            left += 1;
        }
    }
    left
}

/// `kill(2)`; a target that is already gone is not an error worth reporting.
pub(crate) fn send(pid: i32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, signal);
    }
}
