//! `swarmlab track check`: what was understood, on stdout.

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

use crate::harness::{Track, BIN};

#[test]
fn track_check_prints_what_it_understood() {
    let track = Track::toy();
    let out = track.swarmlab(&["track", "check"]).success();
    let expected = format!(
        "\
track      toy
program    program.md
command    sh train.sh
budget     1s (SWARMLAB_BUDGET_SECONDS=1), timeout 10s, grace 5s
seed       one per experiment
metric     loss (minimize, from summary block)
memory     peak RSS of the process tree
editable   params.txt
trusted    train.sh, toy.awk
eval       stdout: the run prints its metric; insecure: a hub accepts it from untrusted workers
verify     3 reruns (up to 9), alpha 0.01, min_delta 0.002
knob       depth in params.txt: [1, 12] int
knob       dropout in params.txt: [0, 0.5] linear
knob       lr in params.txt: [0.0001, 1] log
knob       momentum in params.txt: [0, 0.999] linear
knob       warmup in params.txt: [0, 1000] int
knob       weight_decay in params.txt: [0.00001, 0.1] log
knob       width in params.txt: one of 16 | 32 | 64 | 128 | 256 | 512
ok: {} is a valid track
",
        track.root_str()
    );
    assert_eq!(out.stdout, expected);
    assert_eq!(out.stderr, "", "the toy track has no warnings");
}

#[test]
fn track_check_into_a_closed_pipe_does_not_panic() {
    // As with `swarmlab track check | head -1` once head has exited.
    let mut fds = [0; 2];
    // SAFETY: pipe fills the two descriptors of the array it is given.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just opened and are owned here alone.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    let track = Track::toy();
    let output = Command::new(BIN)
        .args(["track", "check", track.root_str()])
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .output()
        .expect("swarmlab runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
