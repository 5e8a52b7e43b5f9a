//! Descendants that outlive the program or escape its process group are still killed, and a
//! leaked pipe cannot hang the runner.

use std::time::Duration;

use swarmlab_runner::{run, Cancel, Ending, Exit};
use swarmlab_testkit::scratch::{run_plain, Scratch};

use crate::support::{assert_all_dead, group_and_session};

// A timeout this long would turn "the runner waited for the pipe" into a TimedOut ending.
const LONG: Duration = Duration::from_secs(120);

#[test]
fn a_grandchild_holding_the_pipe_does_not_hang_the_run_and_dies() {
    let fx = Scratch::new();
    let spec = fx.sh("sleep 1000 & echo $! > pids; echo started", LONG);
    let outcome = run_plain(&spec);
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)));
    assert_eq!(fx.log(), "started\n");
    assert_all_dead(&fx.pids("pids"));
}

#[test]
fn a_grandchild_that_calls_setsid_is_still_killed() {
    let fx = Scratch::new();
    let spec = fx.sh(
        "echo $$ > root
         setsid sh -c 'echo $$ > escaped; exec sleep 1000' &
         while [ ! -s escaped ]; do sleep 0.01; done
         echo parent-exits",
        LONG,
    );
    let mut escaped_group = None;
    let outcome = run(&spec, &Cancel::new(), &mut |_| {
        if let Ok(text) = std::fs::read_to_string(fx.path("escaped")) {
            if let Ok(pid) = text.trim().parse() {
                escaped_group = escaped_group.or(group_and_session(pid));
            }
        }
    })
    .unwrap();
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)));
    let escaped = fx.pids("escaped");
    let root = fx.pids("root")[0];
    if let Some((pgid, sid)) = escaped_group {
        assert_eq!((pgid, sid), (escaped[0], escaped[0]), "did not escape");
        assert_ne!(pgid, root);
    }
    assert_all_dead(&escaped);
}

#[test]
fn a_daemon_orphaned_before_the_first_scan_is_found_and_killed() {
    let fx = Scratch::new();
    // The middle shell exits at once, so the daemon is reparented to the runner (subreaper)
    // outside the process group before the runner could have seen its parent.
    let spec = fx.sh(
        "sh -c \"setsid sh -c 'echo \\$\\$ > daemon; exec sleep 1000' &\"
         while [ ! -s daemon ]; do sleep 0.01; done
         echo daemonized",
        LONG,
    );
    let outcome = run_plain(&spec);
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)));
    assert_eq!(fx.log(), "daemonized\n");
    assert_all_dead(&fx.pids("daemon"));
}

#[test]
fn a_deep_tree_is_killed_on_timeout() {
    let fx = Scratch::new();
    let spec = fx.sh(
        "sh -c 'sh -c \"sleep 1000 & echo \\$! >> pids; wait\" & echo $! >> pids; wait' &
         echo $! >> pids; echo $$ >> pids; wait",
        Duration::from_millis(800),
    );
    let outcome = run_plain(&spec);
    assert_eq!(outcome.ending, Ending::TimedOut);
    let pids = fx.pids("pids");
    assert_eq!(pids.len(), 4, "{pids:?}");
    assert_all_dead(&pids);
}
