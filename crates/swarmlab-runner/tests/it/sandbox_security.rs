//! The layers that keep a hostile program in: no network, not root on the host, seccomp
//! denying ptrace, mounts, new namespaces and inet sockets, Landlock denying writes outside
//! the writable paths, and a sandbox that never starts when bubblewrap is missing.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::Duration;

use swarmlab_runner::{run, Cancel, Ending, Exit, RunError, SandboxError};
use swarmlab_testkit::scratch::{run_plain, Scratch};

use crate::sandbox::{host_uid, sandboxed};

const BUDGET: Duration = Duration::from_secs(20);

#[test]
fn a_listener_on_the_host_loopback_cannot_be_reached() {
    let sb = sandboxed();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let spec = sb.sh(
        &format!(
            "python3 -c '
import socket
try:
    socket.create_connection((\"127.0.0.1\", {port}), timeout=2)
    print(\"CONNECTED\")
except OSError as e:
    print(\"refused\", e.errno)
'"
        ),
        BUDGET,
    );
    let outcome = run_plain(&spec);
    let log = sb.fx.log();
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)), "{log}");
    assert!(log.contains("refused"), "{log}");
    assert!(!log.contains("CONNECTED"), "{log}");
    listener.set_nonblocking(true).unwrap();
    let accepted = listener.accept().map(|_| ()).map_err(|e| e.kind());
    assert_eq!(accepted, Err(ErrorKind::WouldBlock));
}

#[test]
fn the_program_runs_as_the_unprivileged_uid_on_the_host() {
    let sb = sandboxed();
    let spec = sb.sh("sleep 0.5; id -u", BUDGET);
    let mut uids = Vec::new();
    let outcome = run(&spec, &Cancel::new(), &mut |_| {
        uids.extend(sb.marked().into_iter().filter_map(host_uid));
    })
    .unwrap();
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)));
    assert!(!uids.is_empty(), "no process of the sandbox was seen");
    assert!(uids.iter().all(|&u| u == 65534), "{uids:?}");
    assert_eq!(sb.fx.log(), "65534\n");
}

#[test]
fn seccomp_denies_ptrace_mount_new_namespaces_and_inet_sockets() {
    let sb = sandboxed();
    let spec = sb.sh(
        "python3 -c '
import ctypes, socket
libc = ctypes.CDLL(None, use_errno=True)
def show(name, r):
    print(name, r, ctypes.get_errno())
show(\"ptrace\", libc.ptrace(0, 0, 0, 0))
show(\"mount\", libc.mount(b\"none\", b\"/tmp\", b\"tmpfs\", 0, None))
show(\"unshare\", libc.unshare(0x10000000))
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    print(\"inet allowed\")
except OSError as e:
    print(\"inet\", e.errno)
a, b = socket.socketpair()
print(\"unix ok\")
'",
        BUDGET,
    );
    let outcome = run_plain(&spec);
    let log = sb.fx.log();
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)), "{log}");
    // EPERM is 1, EAFNOSUPPORT 97. Without the filter PTRACE_TRACEME and a new user
    // namespace would both succeed here.
    for line in [
        "ptrace -1 1",
        "mount -1 1",
        "unshare -1 1",
        "inet 97",
        "unix ok",
    ] {
        assert!(log.contains(line), "expected `{line}` in:\n{log}");
    }
}

#[test]
fn landlock_denies_creating_files_in_the_writable_dev_tmpfs() {
    let sb = sandboxed();
    // bubblewrap's /dev is a tmpfs the sandbox uid owns; only Landlock stops this.
    let spec = sb.sh(
        "touch /dev/planted; echo status $?; touch /dev/shm/ok && echo shm-ok; \
         echo quiet > /dev/null && echo null-ok",
        BUDGET,
    );
    run_plain(&spec);
    let log = sb.fx.log();
    assert!(log.contains("Permission denied"), "{log}");
    assert!(log.contains("status 1"), "{log}");
    assert!(log.contains("shm-ok") && log.contains("null-ok"), "{log}");
}

#[test]
fn the_shim_confines_even_root_outside_bubblewrap() {
    // The shim alone, unsandboxed, as root: only Landlock can refuse root this write.
    let fx = Scratch::new();
    std::fs::create_dir(fx.path("allowed")).unwrap();
    let allowed = fx.path("allowed");
    let mut spec = fx.sh("", BUDGET);
    spec.command = vec![
        env!("CARGO_BIN_EXE_swarmlab-sandbox-shim").into(),
        "--rw".into(),
        allowed.display().to_string(),
        "--".into(),
        "sh".into(),
        "-c".into(),
        "touch allowed/a && echo allowed-ok; touch denied; echo status $?".into(),
    ];
    let outcome = run_plain(&spec);
    let log = fx.log();
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(0)), "{log}");
    assert!(
        log.contains("allowed-ok") && log.contains("status 1"),
        "{log}"
    );
    assert!(log.contains("Permission denied"), "{log}");
    assert!(allowed.join("a").exists());
    assert!(!fx.path("denied").exists());
}

#[test]
fn the_shim_refuses_to_run_a_command_it_cannot_parse() {
    let fx = Scratch::new();
    let mut spec = fx.sh("", BUDGET);
    spec.command = vec![
        env!("CARGO_BIN_EXE_swarmlab-sandbox-shim").into(),
        "--bogus".into(),
        "--".into(),
        "true".into(),
    ];
    let outcome = run_plain(&spec);
    assert_eq!(outcome.ending, Ending::Exited(Exit::Code(125)));
    assert!(
        fx.log().contains("layer `arguments` failed"),
        "{}",
        fx.log()
    );
}

#[test]
fn without_bubblewrap_the_program_never_starts() {
    let sb = sandboxed();
    let mut config = sb.config();
    config.bwrap = "/nonexistent/bwrap".into();
    let spec = sb.sh_with(config, "touch /scratch/x; echo RAN", BUDGET);
    let err = run(&spec, &Cancel::new(), &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, RunError::Sandbox(SandboxError::BwrapMissing { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("/nonexistent/bwrap"), "{err}");
    assert!(!sb.fx.log().contains("RAN"));
}

#[test]
fn a_root_sandbox_uid_is_refused() {
    let sb = sandboxed();
    let mut config = sb.config();
    config.uid = 0;
    let spec = sb.sh_with(config, "echo RAN", BUDGET);
    let err = run(&spec, &Cancel::new(), &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, RunError::Sandbox(SandboxError::Config(_))),
        "{err:?}"
    );
}
