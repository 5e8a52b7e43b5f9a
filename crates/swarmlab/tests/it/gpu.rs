//! `--gpu N` on `verify` and `work`: a GPU the machine does not have is refused before
//! anything starts. No GPU machine runs these tests: finding a GPU, its nodes and its
//! environment are tested on fake driver files (`swarmlab-client`'s `gpu`), and binding device
//! nodes into the sandbox on fake device files (`swarmlab-runner`'s `sandbox_fs`).

use crate::harness::swarmlab;

#[test]
fn a_gpu_the_machine_lacks_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().to_str().unwrap();
    // Port 9 (discard) has no hub: the GPU is checked before the hub is asked anything.
    let hub = "http://127.0.0.1:9";
    let verify = [
        "verify",
        "--hub",
        hub,
        "--dir",
        dir,
        "--sandbox",
        "off",
        "--gpu",
        "99",
    ];
    let work = [
        "work", "--hub", hub, "--dir", dir, "--track", "t", "--gpu", "99",
    ];
    for args in [&verify[..], &work[..]] {
        let out = swarmlab(args, None).fails_with(1);
        assert!(
            out.stderr
                .starts_with("error: no NVIDIA GPU 99 on this machine: "),
            "{out}"
        );
    }
    let out = swarmlab(&["verify", "--hub", hub, "--gpu", "zero"], None).fails_with(2);
    assert!(
        out.stderr.contains("invalid value 'zero' for '--gpu <N>'"),
        "{out}"
    );
}
