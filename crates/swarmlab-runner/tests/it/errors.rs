//! The runner's own failures: clear errors, never a panic.

use std::time::Duration;

use swarmlab_runner::{run, Cancel, RunError, RunSpec};
use swarmlab_testkit::scratch::Scratch;

fn start(spec: &RunSpec) -> RunError {
    run(spec, &Cancel::new(), &mut |_| {}).unwrap_err()
}

#[test]
fn a_missing_command_names_the_command_and_the_cwd() {
    let fx = Scratch::new();
    let mut spec = fx.sh("", Duration::from_secs(5));
    spec.command = vec!["swarmlab-no-such-trainer".into(), "--fast".into()];
    let err = start(&spec);
    assert!(matches!(err, RunError::CommandNotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("`swarmlab-no-such-trainer` not found"),
        "{message}"
    );
    assert!(
        message.contains(&fx.dir.path().display().to_string()),
        "{message}"
    );
}

#[test]
fn a_missing_cwd_is_named() {
    let fx = Scratch::new();
    let mut spec = fx.sh("true", Duration::from_secs(5));
    spec.cwd = fx.path("nope");
    let message = start(&spec).to_string();
    assert_eq!(
        message,
        format!(
            "working directory {} does not exist",
            fx.path("nope").display()
        )
    );
}

#[test]
fn an_empty_command_is_refused() {
    let fx = Scratch::new();
    let mut spec = fx.sh("true", Duration::from_secs(5));
    spec.command.clear();
    assert!(matches!(start(&spec), RunError::EmptyCommand));
}

#[test]
fn a_log_that_cannot_be_created_is_named() {
    let fx = Scratch::new();
    std::fs::write(fx.path("file"), "").unwrap();
    let mut spec = fx.sh("true", Duration::from_secs(5));
    spec.log_path = fx.path("file/log");
    let err = start(&spec);
    assert!(matches!(err, RunError::CreateLog { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&format!(
        "failed to create log file {}",
        fx.path("file/log").display()
    )));
}
