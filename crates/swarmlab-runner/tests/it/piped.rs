//! A piped program: the caller writes its stdin and reads its stdout while the runner
//! supervises it as any run (timeout, tree kill, sandbox), and its stderr goes to the log.

use std::io::{Read, Write};
use std::time::Duration;

use swarmlab_runner::{Cancel, Ending, Exit, Piped, RunError};
use swarmlab_testkit::scratch::Scratch;

use crate::sandbox::sandboxed;
use crate::support::assert_all_dead;

const BUDGET: Duration = Duration::from_secs(20);

#[test]
fn the_caller_talks_to_the_program_and_its_stderr_goes_to_the_log() {
    let fx = Scratch::new();
    let spec = fx.sh("echo starting >&2; tr a-z A-Z; echo done >&2", BUDGET);
    let mut piped = Piped::start(&spec, &Cancel::new()).unwrap();
    piped.stdin.as_mut().unwrap().write_all(b"hello\n").unwrap();
    piped.stdin = None;
    let mut out = String::new();
    piped.stdout.read_to_string(&mut out).unwrap();
    let outcome = piped.wait().unwrap();
    assert_eq!(out, "HELLO\n");
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)));
    assert_eq!(fx.log(), "starting\ndone\n");
}

#[test]
fn stop_kills_a_program_that_ignores_eof_and_its_tree() {
    let fx = Scratch::new();
    let pids = fx.path("pids");
    let mut spec = fx.sh(
        &format!(
            "sleep 1000 & echo $! > {0}; echo $$ >> {0}; echo ready; wait",
            pids.display()
        ),
        BUDGET,
    );
    spec.grace = Duration::from_millis(200);
    let mut piped = Piped::start(&spec, &Cancel::new()).unwrap();
    let mut ready = [0u8; 6];
    piped.stdout.read_exact(&mut ready).unwrap();
    let outcome = piped.stop().unwrap();
    assert_eq!(outcome.ending, Ending::Interrupted);
    assert_all_dead(&fx.pids("pids"));
}

#[test]
fn the_timeout_still_holds_and_a_parent_cancel_reaches_the_run() {
    let fx = Scratch::new();
    let mut spec = fx.sh("sleep 1000", Duration::from_millis(300));
    spec.grace = Duration::from_millis(100);
    let piped = Piped::start(&spec, &Cancel::new()).unwrap();
    assert_eq!(piped.wait().unwrap().ending, Ending::TimedOut);

    let spec = fx.sh("sleep 1000", BUDGET);
    let cancel = Cancel::new();
    let piped = Piped::start(&spec, &cancel).unwrap();
    cancel.cancel();
    assert_eq!(piped.wait().unwrap().ending, Ending::Interrupted);
}

#[test]
fn a_program_that_cannot_start_is_the_runners_error() {
    let fx = Scratch::new();
    let mut spec = fx.sh("", BUDGET);
    spec.command = vec!["no-such-program-swarmlab".into()];
    let err = Piped::start(&spec, &Cancel::new()).unwrap_err();
    assert!(matches!(err, RunError::CommandNotFound { .. }), "{err}");
}

#[test]
fn a_sandboxed_program_is_piped_too() {
    let sb = sandboxed();
    let spec = sb.sh("read line; echo \"got $line\"; id -u >&2", BUDGET);
    let mut piped = Piped::start(&spec, &Cancel::new()).unwrap();
    piped.stdin.as_mut().unwrap().write_all(b"ping\n").unwrap();
    let mut out = String::new();
    piped.stdin = None;
    piped.stdout.read_to_string(&mut out).unwrap();
    assert_eq!(piped.wait().unwrap().ending, Ending::Exited(Exit::Code(0)));
    assert_eq!(out, "got ping\n");
    assert_eq!(sb.fx.log(), "65534\n");
}
