//! Cancelling a run from outside: same kill sequence, ending `Interrupted`.

use std::time::Duration;

use swarmlab_runner::{run, Cancel, Ending};
use swarmlab_testkit::scratch::Scratch;

use crate::support::assert_all_dead;

#[test]
fn cancel_during_a_run_interrupts_it_and_kills_the_tree() {
    let fx = Scratch::new();
    let spec = fx.sh(
        "echo $$ > pids; sleep 1000 & echo $! >> pids; echo ready; wait",
        Duration::from_secs(60),
    );
    let cancel = Cancel::new();
    let mut ticks = 0;
    let outcome = run(&spec, &cancel, &mut |_| {
        ticks += 1;
        if std::fs::read_to_string(fx.path("log")).is_ok_and(|l| l.contains("ready")) {
            cancel.cancel();
        }
    })
    .unwrap();
    assert_eq!(outcome.ending, Ending::Interrupted);
    assert!(ticks > 0);
    let pids = fx.pids("pids");
    assert_eq!(pids.len(), 2);
    assert_all_dead(&pids);
}

#[test]
fn a_run_cancelled_before_it_starts_ends_interrupted() {
    let fx = Scratch::new();
    let spec = fx.sh("sleep 1000", Duration::from_secs(60));
    let cancel = Cancel::new();
    cancel.cancel();
    let outcome = run(&spec, &cancel, &mut |_| {}).unwrap();
    assert_eq!(outcome.ending, Ending::Interrupted);
}

#[test]
fn a_panicking_callback_still_kills_the_tree() {
    let fx = Scratch::new();
    let spec = fx.sh(
        "echo $$ > pids; sleep 1000 & echo $! >> pids; echo ready; wait",
        Duration::from_secs(60),
    );
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(&spec, &Cancel::new(), &mut |_| {
            if std::fs::read_to_string(fx.path("log")).is_ok_and(|l| l.contains("ready")) {
                panic!("callback failed");
            }
        })
    }));
    assert!(result.is_err());
    let pids = fx.pids("pids");
    assert_eq!(pids.len(), 2);
    assert_all_dead(&pids);
}
