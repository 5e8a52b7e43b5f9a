//! The self-test passes on a machine with every layer, and fails closed, naming the layer,
//! when one is missing.

use swarmlab_runner::sandbox::{self_test, CgroupVersion};
use swarmlab_runner::SandboxError;

use crate::sandbox::Sandboxed;

#[test]
fn the_self_test_passes_with_every_layer() {
    let sb = Sandboxed::new();
    let report = self_test(&sb.config()).unwrap();
    println!("{report}");
    assert!(matches!(
        report.cgroup,
        Some(CgroupVersion::V1 | CgroupVersion::V2)
    ));
    for layer in [
        "uid",
        "network",
        "seccomp",
        "landlock",
        "filesystem",
        "rlimits",
        "pids",
        "memory",
    ] {
        assert!(
            report.layers.iter().any(|l| l.starts_with(layer)),
            "{layer} missing from {report}"
        );
    }
}

#[test]
fn the_self_test_fails_closed_and_names_bubblewrap_when_it_is_missing() {
    let sb = Sandboxed::new();
    let mut config = sb.config();
    config.bwrap = "/nonexistent/bwrap".into();
    let err = self_test(&config).unwrap_err();
    assert!(matches!(err, SandboxError::BwrapMissing { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "bubblewrap not found at /nonexistent/bwrap (install it: apt-get install -y bubblewrap)"
    );
}

#[test]
fn the_self_test_names_the_shim_when_it_cannot_be_opened() {
    let sb = Sandboxed::new();
    let mut config = sb.config();
    config.shim = "/nonexistent/shim".into();
    let err = self_test(&config).unwrap_err();
    assert!(matches!(err, SandboxError::Shim { .. }), "{err:?}");
}

#[test]
fn the_self_test_fails_when_the_shim_applies_no_layer() {
    // `false` as the shim: the sandbox starts but no layer is applied and nothing runs.
    let sb = Sandboxed::new();
    let mut config = sb.config();
    config.shim = "/usr/bin/false".into();
    let err = self_test(&config).unwrap_err();
    assert!(
        matches!(err, SandboxError::Layer { ref layer, .. } if layer == "bwrap"),
        "{err:?}"
    );
}
