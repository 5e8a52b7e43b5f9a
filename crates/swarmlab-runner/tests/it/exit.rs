//! How the program's own exit is reported.

use std::time::Duration;

use swarmlab_runner::{Ending, Exit};
use swarmlab_testkit::scratch::{run_plain, Scratch};

#[test]
fn a_non_zero_exit_code_is_reported() {
    let fx = Scratch::new();
    let outcome = run_plain(&fx.sh("echo failing; exit 3", Duration::from_secs(30)));
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(3)));
    assert_eq!(fx.log(), "failing\n");
}

#[test]
fn death_by_its_own_signal_is_reported() {
    let fx = Scratch::new();
    let outcome = run_plain(&fx.sh("kill -KILL $$", Duration::from_secs(30)));
    assert_eq!(outcome.ending, Ending::Exited(Exit::Signal(libc::SIGKILL)));
    let outcome = run_plain(&fx.sh("kill -SEGV $$", Duration::from_secs(30)));
    assert_eq!(outcome.ending, Ending::Exited(Exit::Signal(libc::SIGSEGV)));
}
