//! Output capture: order, environment, working directory.

use std::time::Duration;

use swarmlab_runner::{Ending, Exit};
use swarmlab_testkit::scratch::{run_plain, Scratch};

#[test]
fn stdout_and_stderr_land_in_one_log_in_order() {
    let fx = Scratch::new();
    let spec = fx.sh(
        "for i in 1 2 3; do echo out$i; echo err$i >&2; done",
        Duration::from_secs(30),
    );
    let outcome = run_plain(&spec);
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)));
    let expected = "out1\nerr1\nout2\nerr2\nout3\nerr3\n";
    assert_eq!(fx.log(), expected);
    assert_eq!(outcome.log_bytes, expected.len() as u64);
    assert_eq!(outcome.log_elided, 0);
}

#[test]
fn env_and_cwd_are_passed_and_stdin_is_empty() {
    let fx = Scratch::new();
    let mut spec = fx.sh(
        "echo \"foo=$FOO\"; pwd -P; cat; echo \"stdin-done\"",
        Duration::from_secs(30),
    );
    spec.env.push(("FOO".into(), "bar baz".into()));
    let outcome = run_plain(&spec);
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)));
    let cwd = fx.dir.path().canonicalize().unwrap();
    assert_eq!(
        fx.log(),
        format!("foo=bar baz\n{}\nstdin-done\n", cwd.display())
    );
}

#[test]
fn the_log_directory_is_created() {
    let fx = Scratch::new();
    let mut spec = fx.sh("echo hi", Duration::from_secs(30));
    spec.log_path = fx.path("runs/7/log.txt");
    run_plain(&spec);
    assert_eq!(
        std::fs::read_to_string(fx.path("runs/7/log.txt")).unwrap(),
        "hi\n"
    );
}

#[test]
fn tail_reads_the_end_of_a_run_log() {
    let fx = Scratch::new();
    let spec = fx.sh(
        "seq 1 1000; echo '---'; echo 'val_bpb: 0.997'",
        Duration::from_secs(30),
    );
    run_plain(&spec);
    let tail = swarmlab_runner::tail(&fx.path("log"), 32).unwrap();
    assert!(tail.ends_with("---\nval_bpb: 0.997\n"), "{tail:?}");
    assert!(tail.len() <= 32);
}
