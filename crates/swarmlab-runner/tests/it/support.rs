//! What the runner's tests check processes with: that a whole tree is dead, a process's
//! group and session. The scratch folder, `sh -c` specs and `alive` are swarmlab-testkit's.

use swarmlab_testkit::scratch::alive;

/// The runner promises the tree is dead when `run` returns, so this checks at once, no polling.
pub fn assert_all_dead(pids: &[i32]) {
    assert!(!pids.is_empty(), "the fake trainer wrote no pids");
    for &pid in pids {
        assert!(!alive(pid), "process {pid} of the tree is still alive");
    }
}

/// Fields 5 and 6 (process group and session) of `/proc/<pid>/stat`.
pub fn group_and_session(pid: i32) -> Option<(i32, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(2);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}
