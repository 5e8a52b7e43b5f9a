//! The wall-clock budget: SIGTERM to the group, the grace, SIGKILL; never dependent on the
//! program behaving.

use std::time::Duration;

use swarmlab_runner::Ending;
use swarmlab_testkit::scratch::{run_plain, Scratch};

use crate::support::assert_all_dead;

#[test]
fn a_program_that_sleeps_forever_times_out_and_its_tree_dies() {
    let fx = Scratch::new();
    let spec = fx.sh(
        "echo $$ > pids; sleep 1000 & echo $! >> pids; wait",
        Duration::from_millis(500),
    );
    let outcome = run_plain(&spec);
    assert_eq!(outcome.ending, Ending::TimedOut);
    assert!(outcome.wall >= spec.timeout, "{:?}", outcome.wall);
    let pids = fx.pids("pids");
    assert_eq!(pids.len(), 2);
    assert_all_dead(&pids);
}

#[test]
fn a_program_that_ignores_sigterm_is_killed_after_the_grace() {
    let fx = Scratch::new();
    let mut spec = fx.sh(
        "trap '' TERM; echo $$ > pids; sleep 1000 & echo $! >> pids; wait",
        Duration::from_secs(1),
    );
    spec.grace = Duration::from_millis(700);
    let outcome = run_plain(&spec);
    assert_eq!(outcome.ending, Ending::TimedOut);
    // It survived SIGTERM, so only SIGKILL after the grace could end it.
    assert!(
        outcome.wall >= spec.timeout + spec.grace,
        "{:?}",
        outcome.wall
    );
    assert_all_dead(&fx.pids("pids"));
}

#[test]
fn sigterm_comes_first_so_a_program_can_clean_up() {
    let fx = Scratch::new();
    let mut spec = fx.sh(
        "trap 'echo got-term; exit 7' TERM; echo ready; sleep 1000 & wait",
        Duration::from_millis(500),
    );
    spec.grace = Duration::from_secs(30);
    let outcome = run_plain(&spec);
    assert_eq!(outcome.ending, Ending::TimedOut);
    assert_eq!(fx.log(), "ready\ngot-term\n");
}

#[test]
fn a_stopped_program_still_times_out() {
    let fx = Scratch::new();
    let mut spec = fx.sh(
        "echo $$ > pids; kill -STOP $$; echo resumed",
        Duration::from_millis(300),
    );
    spec.grace = Duration::from_millis(300);
    let outcome = run_plain(&spec);
    assert_eq!(outcome.ending, Ending::TimedOut);
    assert_all_dead(&fx.pids("pids"));
}
