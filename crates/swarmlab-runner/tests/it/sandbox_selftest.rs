//! The self-test passes on a machine with every layer, and fails closed, naming the layer,
//! when one is missing: bubblewrap or the shim, or each layer in turn, removed where the
//! sandbox applies it (`SandboxConfig::remove_layer`, in test builds only).

use swarmlab_runner::sandbox::{self_test, CgroupVersion, Layer};
use swarmlab_runner::{SandboxConfig, SandboxError};

use crate::sandbox::sandboxed;

#[test]
fn the_self_test_passes_with_every_layer() {
    let sb = sandboxed();
    let report = self_test(&sb.config()).unwrap();
    println!("{report}");
    assert!(matches!(
        report.cgroup,
        Some(CgroupVersion::V1 | CgroupVersion::V2)
    ));
    for layer in Layer::ALL.map(Layer::name) {
        assert!(
            report.layers.iter().any(|l| l.starts_with(layer)),
            "{layer} missing from {report}"
        );
    }
}

#[test]
fn the_self_test_fails_closed_and_names_bubblewrap_when_it_is_missing() {
    let sb = sandboxed();
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
    let sb = sandboxed();
    let mut config = sb.config();
    config.shim = "/nonexistent/shim".into();
    let err = self_test(&config).unwrap_err();
    assert!(matches!(err, SandboxError::Shim { .. }), "{err:?}");
}

#[test]
fn the_self_test_fails_when_the_shim_applies_no_layer() {
    // `false` as the shim: the sandbox starts but no layer is applied and nothing runs.
    let sb = sandboxed();
    let mut config = sb.config();
    config.shim = "/usr/bin/false".into();
    let err = self_test(&config).unwrap_err();
    assert!(
        matches!(err, SandboxError::Layer { ref layer, .. } if layer == "bwrap"),
        "{err:?}"
    );
}

/// The detail of the self-test's error with `layer` removed from `config`'s sandbox (the
/// `selftest-faults` feature, on in these tests only), after checking that it names the layer.
fn fails_without(mut config: SandboxConfig, layer: Layer, name: &str) -> String {
    config.remove_layer = Some(layer);
    match self_test(&config) {
        Ok(report) => panic!("the self-test passed without the {name} layer:\n{report}"),
        Err(SandboxError::Layer { layer, detail }) if layer == name => detail,
        Err(err) => panic!("the self-test did not name the {name} layer: {err}"),
    }
}

#[test]
fn the_self_test_names_the_uid_when_the_sandbox_runs_as_root() {
    let sb = sandboxed();
    fails_without(sb.config(), Layer::Uid, "uid");
}

#[test]
fn the_self_test_names_the_network_when_the_namespace_is_shared() {
    let sb = sandboxed();
    let detail = fails_without(sb.config(), Layer::Network, "network");
    // Seen from outside, so a host with no interface but loopback is no blind spot.
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert!(detail.contains(&*host.to_string_lossy()), "{detail}");
}

#[test]
fn the_self_test_names_seccomp_when_no_filter_is_installed() {
    let sb = sandboxed();
    fails_without(sb.config(), Layer::Seccomp, "seccomp");
}

#[test]
fn the_self_test_names_landlock_when_no_ruleset_is_enforced() {
    let sb = sandboxed();
    fails_without(sb.config(), Layer::Landlock, "landlock");
}

#[test]
fn the_self_test_names_the_filesystem_when_it_is_bound_writable() {
    let sb = sandboxed();
    let detail = fails_without(sb.config(), Layer::Filesystem, "filesystem");
    // The checkout's own mount, though neither Landlock nor the sandbox uid may write there.
    assert!(detail.contains("/checkout is mounted rw"), "{detail}");
}

#[test]
fn the_self_test_names_the_rlimits_when_none_is_set() {
    let sb = sandboxed();
    let mut config = sb.config();
    // Removed, it is never set; whatever the host's limit is, finite or not, exceeds it.
    config.nproc = 1;
    let detail = fails_without(config, Layer::Rlimits, "rlimits");
    assert!(detail.starts_with("RLIMIT_NPROC is"), "{detail}");
}

#[test]
fn the_self_test_names_the_pids_cap_when_it_is_not_set() {
    let sb = sandboxed();
    fails_without(sb.config(), Layer::Pids, "pids");
}

#[test]
fn the_self_test_names_the_memory_cap_when_it_is_not_set() {
    let sb = sandboxed();
    fails_without(sb.config(), Layer::Memory, "memory");
}
