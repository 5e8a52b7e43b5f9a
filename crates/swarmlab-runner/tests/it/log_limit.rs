//! A program that writes far more than the log limit: head kept, middle elided, tail kept,
//! runner memory bounded.

use std::time::Duration;

use swarmlab_runner::{Ending, Exit, LOG_TAIL_BYTES};
use swarmlab_testkit::scratch::{run_plain, Scratch};

fn high_water_mark_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn a_huge_log_keeps_head_and_tail_with_a_marker() {
    let fx = Scratch::new();
    const TOTAL: u64 = 200_000_000;
    let mut spec = fx.sh(
        &format!("yes 'step 1 loss 2.345 lr 0.001' | head -c {TOTAL}; echo; echo LAST-LINE"),
        Duration::from_secs(120),
    );
    spec.log_limit = 4 << 20;
    let before = high_water_mark_bytes();
    let outcome = run_plain(&spec);
    let after = high_water_mark_bytes();
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)));
    assert_eq!(outcome.log_bytes, TOTAL + 1 + 10);

    let log = std::fs::read(fx.path("log")).unwrap();
    let size = log.len() as u64;
    assert!(
        size <= spec.log_limit + LOG_TAIL_BYTES as u64 + 64,
        "log is {size} bytes"
    );
    assert!(log.starts_with(b"step 1 loss 2.345 lr 0.001\n"));
    assert!(log.ends_with(b"\nLAST-LINE\n"));
    let marker = format!("[swarmlab: {} bytes elided]\n", outcome.log_elided);
    let text = String::from_utf8(log).unwrap();
    let at = text.find(&marker).expect("marker line present");
    // The marker follows the head on a line of its own (a newline is added when the head
    // ends mid-line).
    let added = at as u64 - spec.log_limit;
    assert!(added <= 1, "marker at {at}");
    assert_eq!(&text[at - 1..at], "\n");
    // Every byte is either kept or counted as elided.
    assert_eq!(
        size - marker.len() as u64 - added + outcome.log_elided,
        outcome.log_bytes
    );
    // The tail starts on a whole line.
    assert!(text[at + marker.len()..].starts_with("step 1 loss"));
    // Copying 200 MB must not grow the runner by anything like it.
    assert!(
        after.saturating_sub(before) < 64 << 20,
        "runner high-water mark grew from {before} to {after}"
    );
}
