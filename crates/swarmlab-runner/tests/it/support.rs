//! What the runner's tests check processes with: whether a pid is alive, that a whole tree
//! is dead, a process's group and session. The scratch folder and `sh -c` specs are
//! swarmlab-testkit's.

/// Whether `pid` is a running (not exited) process.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(')').unwrap().1.split_whitespace().next();
            !matches!(state, Some("Z" | "X"))
        }
        Err(_) => false,
    }
}

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
