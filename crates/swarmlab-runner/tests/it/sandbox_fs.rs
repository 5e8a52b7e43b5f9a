//! What the sandboxed program sees of the file system and the environment: a read-only
//! checkout, a writable size-capped scratch, a fresh /tmp, nothing else of the host, and only
//! the environment the spec passes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use swarmlab_runner::{Ending, Exit};
use swarmlab_testkit::sandbox::MIB;
use swarmlab_testkit::scratch::run_plain;

use crate::sandbox::sandboxed;

const BUDGET: Duration = Duration::from_secs(20);

#[test]
fn the_checkout_is_read_only_and_scratch_and_tmp_are_writable() {
    let sb = sandboxed();
    fs::write(sb.checkout.join("data.txt"), "hello\n").unwrap();
    let spec = sb.sh(
        "cat data.txt
         echo changed > data.txt && echo WROTE-CHECKOUT
         touch new-file && echo CREATED-IN-CHECKOUT
         echo kept > /scratch/out && cat /scratch/out
         echo fresh > /tmp/t && cat /tmp/t",
        BUDGET,
    );
    let outcome = run_plain(&spec);
    let log = sb.fx.log();
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)), "{log}");
    assert!(log.starts_with("hello\n"), "{log}");
    assert!(log.contains("Read-only file system"), "{log}");
    assert!(!log.contains("WROTE-CHECKOUT") && !log.contains("CREATED-IN-CHECKOUT"));
    assert!(log.contains("kept\n") && log.contains("fresh\n"), "{log}");
    assert_eq!(
        fs::read_to_string(sb.checkout.join("data.txt")).unwrap(),
        "hello\n"
    );
    assert!(!sb.checkout.join("new-file").exists());
}

#[test]
fn host_paths_that_are_not_bound_cannot_be_read() {
    let sb = sandboxed();
    // Readable by anyone on the host, but outside the checkout.
    let secret = sb.fx.path("secret.txt");
    fs::write(&secret, "the-secret\n").unwrap();
    let spec = sb.sh(
        &format!(
            "cat {} ; ls /root && echo SAW-ROOT; cat /etc/hostname /etc/shadow; ls {}",
            secret.display(),
            env!("CARGO_MANIFEST_DIR"),
        ),
        BUDGET,
    );
    run_plain(&spec);
    let log = sb.fx.log();
    assert!(log.contains("No such file or directory"), "{log}");
    assert!(!log.contains("the-secret"), "{log}");
    assert!(!log.contains("SAW-ROOT"), "{log}");
    assert!(!log.contains("Cargo.toml"), "{log}");
}

#[test]
fn the_environment_holds_only_what_the_spec_passes() {
    let sb = sandboxed();
    let mut spec = sb.sh("", BUDGET);
    spec.command = vec!["env".into()];
    spec.env.push(("FOO".into(), "bar".into()));
    run_plain(&spec);
    let log = sb.fx.log();
    let keys: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k)
        .collect();
    assert!(log.contains("FOO=bar\n"), "{log}");
    for key in &keys {
        assert!(
            ["PATH", "FOO", "SWARMLAB_TEST_MARK", "PWD"].contains(key),
            "{key} leaked into the sandbox: {log}"
        );
    }
    // The host's environment (cargo sets these for tests) did not get in.
    assert!(!log.contains("CARGO") && !log.contains("HOME="), "{log}");
}

#[test]
fn the_scratch_size_cap_stops_a_disk_filling_program() {
    let sb = sandboxed();
    let mut config = sb.config();
    config.scratch_bytes = 4 * MIB;
    let spec = sb.sh_with(
        config,
        "cat /dev/zero > /scratch/fill; echo status $?; du -k /scratch/fill",
        BUDGET,
    );
    let outcome = run_plain(&spec);
    let log = sb.fx.log();
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)), "{log}");
    assert!(log.contains("No space left on device"), "{log}");
    assert!(log.contains("status 1"), "{log}");
    let kib: u64 = log
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(kib <= 4096, "{kib} KiB written");
    assert_eq!(fs::read_dir(&sb.checkout).unwrap().count(), 0);
}

#[test]
fn the_file_size_rlimit_stops_one_huge_file_with_sigxfsz() {
    let sb = sandboxed();
    let mut config = sb.config();
    config.fsize_bytes = MIB;
    let spec = sb.sh_with(
        config,
        "cat /dev/zero > /scratch/fill; echo status $?; du -k /scratch/fill",
        BUDGET,
    );
    let outcome = run_plain(&spec);
    let log = sb.fx.log();
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)), "{log}");
    // 128 + SIGXFSZ (25).
    assert!(log.contains("status 153"), "{log}");
    assert!(log.contains("1024\t/scratch/fill"), "{log}");
}

#[test]
fn a_host_scratch_keeps_what_the_run_wrote_for_the_next_run() {
    let sb = sandboxed();
    let host = sb.fx.path("run-dir");
    fs::create_dir(&host).unwrap();
    std::os::unix::fs::chown(&host, Some(65534), Some(65534)).unwrap();
    let mut config = sb.config();
    config.scratch_host = Some(host.clone());
    let spec = sb.sh_with(
        config.clone(),
        "echo weights > /scratch/model.bin && echo WROTE",
        BUDGET,
    );
    let outcome = run_plain(&spec);
    assert_eq!(
        outcome.ending,
        Ending::Exited(Exit::Code(0)),
        "{}",
        sb.fx.log()
    );
    assert_eq!(
        fs::read_to_string(host.join("model.bin")).unwrap(),
        "weights\n"
    );

    // A second sandbox over the same directory reads it.
    let spec = sb.sh_with(config, "cat /scratch/model.bin", BUDGET);
    run_plain(&spec);
    assert_eq!(sb.fx.log(), "weights\n");
}

#[test]
fn nothing_a_run_writes_is_visible_to_the_next_run() {
    let sb = sandboxed();
    let first = sb.sh(
        "echo left > /scratch/left && echo left > /tmp/left && echo left > /dev/shm/left && echo WROTE",
        BUDGET,
    );
    run_plain(&first);
    assert!(sb.fx.log().contains("WROTE"), "{}", sb.fx.log());
    let second = sb.sh(
        "ls /scratch /tmp /dev/shm; cat /scratch/left /tmp/left /dev/shm/left && echo SAW-LEFTOVERS",
        BUDGET,
    );
    run_plain(&second);
    let log = sb.fx.log();
    assert!(!log.contains("SAW-LEFTOVERS"), "{log}");
    assert!(!log.contains("left\n"), "{log}");
}

#[test]
fn a_bound_device_is_the_only_host_device_the_program_sees() {
    // Stand-ins for an assigned GPU's nodes (no GPU here): files bound as devices at their
    // own paths, and a sibling that is not bound.
    let sb = sandboxed();
    let dev = sb.fx.path("dev");
    fs::create_dir(&dev).unwrap();
    fs::set_permissions(&dev, fs::Permissions::from_mode(0o755)).unwrap();
    for node in ["nvidia1", "nvidiactl", "nvidia0"] {
        fs::write(dev.join(node), format!("{node}\n")).unwrap();
        fs::set_permissions(dev.join(node), fs::Permissions::from_mode(0o666)).unwrap();
    }
    let mut config = sb.config();
    config.devices = vec![dev.join("nvidia1"), dev.join("nvidiactl")];
    let spec = sb.sh_with(
        config,
        &format!(
            "cat {0}/nvidia1 {0}/nvidiactl; echo more >> {0}/nvidia1 && echo WROTE-DEVICE; cat {0}/nvidia0; echo /dev: $(ls /dev)",
            dev.display()
        ),
        BUDGET,
    );
    let outcome = run_plain(&spec);
    let log = sb.fx.log();
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)), "{log}");
    assert!(
        log.starts_with("nvidia1\nnvidiactl\nWROTE-DEVICE\n"),
        "{log}"
    );
    assert!(
        log.contains("No such file or directory"),
        "the unbound node: {log}"
    );
    assert!(!log.contains("nvidia0\n"), "{log}");
    let listing = log.lines().find(|l| l.starts_with("/dev: ")).unwrap();
    assert!(
        listing.contains(" null ") && !listing.contains("nvidia"),
        "{log}"
    );
}
