//! `swarmlab sandbox check`: the self-test through the binary, which doubles as the shim.

use crate::harness::swarmlab;

#[test]
fn every_layer_holds_with_the_binary_as_its_own_shim() {
    let out = swarmlab(&["sandbox", "check"], None).success();
    for layer in [
        "landlock",
        "seccomp",
        "network",
        "memory",
        "pids",
        "uid 65534",
    ] {
        assert!(out.stdout.contains(layer), "{layer} missing from:\n{out}");
    }
}

#[test]
fn a_missing_bubblewrap_fails_closed_and_says_what_to_install() {
    let out = swarmlab(&["sandbox", "check", "--bwrap", "/nonexistent/bwrap"], None).fails_with(1);
    assert!(out.stderr.contains("bubblewrap not found"), "{out}");
    assert!(
        out.stderr.contains("apt-get install -y bubblewrap"),
        "{out}"
    );
}
