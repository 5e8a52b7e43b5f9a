//! The caps on what a sandboxed program may consume: processes (cgroup pids), memory (cgroup
//! memory, not the host's OOM killer), CPU seconds (rlimit), and the wall clock (the
//! supervisor outside), each ending the run with the whole sandbox dead and its cgroup gone.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use swarmlab_runner::{run, Cancel, Ending, Exit};
use swarmlab_testkit::sandbox::MIB;

use crate::sandbox::sandboxed;
use crate::support::assert_all_dead;

/// The v1 memory cgroup directory of `pid`, as the host sees it.
fn memory_cgroup(pid: i32) -> Option<PathBuf> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':').skip(1);
        (parts.next()? == "memory").then(|| parts.next().map(str::to_string))?
    })?;
    path.contains("swarmlab-")
        .then(|| PathBuf::from(format!("/sys/fs/cgroup/memory{path}")))
}

#[test]
fn a_fork_bomb_is_bounded_by_the_pids_cap_and_dies_with_the_run() {
    let sb = sandboxed();
    let mut config = sb.config();
    config.max_pids = 32;
    let spec = sb.sh_with(
        config,
        // Every process of the bomb lives on and keeps forking (a shell would exit on its first
        // failed fork), so it fills the cap and stays there until the budget ends it.
        "python3 -c '
import os, time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.05)
'",
        Duration::from_secs(2),
    );
    let mut seen = Vec::new();
    let mut most = 0;
    let mut cgroups = Vec::new();
    let outcome = run(&spec, &Cancel::new(), &mut |_| {
        let now = sb.marked();
        most = most.max(now.len());
        cgroups.extend(now.iter().filter_map(|&p| memory_cgroup(p)));
        seen.extend(now);
    })
    .unwrap();
    assert_eq!(outcome.ending, Ending::TimedOut);
    // bubblewrap's two processes count towards the cap too.
    assert!(most <= 32, "{most} processes at once under a cap of 32");
    assert!(most >= 16, "the bomb never filled the cap: {most}");
    seen.sort_unstable();
    seen.dedup();
    assert_all_dead(&seen);
    assert!(!cgroups.is_empty());
    for cgroup in cgroups {
        assert!(!cgroup.exists(), "{} was left behind", cgroup.display());
    }
}

#[test]
fn a_memory_blowup_is_killed_by_the_memory_cap() {
    let sb = sandboxed();
    let mut config = sb.config();
    config.memory_bytes = 64 * MIB;
    // tail buffers a line that never ends.
    let spec = sb.sh_with(config, "tail /dev/zero", Duration::from_secs(30));
    let outcome = run(&spec, &Cancel::new(), &mut |_| {}).unwrap();
    assert!(outcome.memory_cap_hit, "{outcome:?}");
    // SIGKILL, as bubblewrap reports it.
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(137)));
    assert!(
        outcome.peak_rss_bytes < 80 * MIB,
        "peak {}",
        outcome.peak_rss_bytes
    );
}

#[test]
fn a_spinning_program_is_stopped_by_the_cpu_rlimit() {
    let sb = sandboxed();
    let mut config = sb.config();
    config.cpu_seconds = 1;
    let spec = sb.sh_with(config, "while :; do :; done", Duration::from_secs(30));
    let outcome = run(&spec, &Cancel::new(), &mut |_| {}).unwrap();
    // SIGKILL or SIGXCPU (24), as bubblewrap reports them.
    assert!(
        matches!(outcome.ending, Ending::Exited(Exit::Code(137 | 152))),
        "{:?}",
        outcome.ending
    );
    assert!(outcome.wall < Duration::from_secs(15), "{:?}", outcome.wall);
}

#[test]
fn the_wall_clock_budget_kills_the_whole_sandbox() {
    let sb = sandboxed();
    let spec = sb.sh("sleep 100 & sleep 100 & wait", Duration::from_millis(800));
    let mut seen = Vec::new();
    let outcome = run(&spec, &Cancel::new(), &mut |_| seen.extend(sb.marked())).unwrap();
    assert_eq!(outcome.ending, Ending::TimedOut);
    seen.sort_unstable();
    seen.dedup();
    assert!(seen.len() >= 3, "{seen:?}");
    assert_all_dead(&seen);
    assert!(sb.marked().is_empty());
}
