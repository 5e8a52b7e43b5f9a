//! Starts the program in its own process group with its output on one pipe, and waits for it
//! on a dedicated thread. A program started plainly dies with swarmlab: `PR_SET_PDEATHSIG`
//! SIGKILLs it when the thread that forked it ends, and that thread is the supervisor's, which
//! outlives the program's whole tree unless swarmlab itself dies (kill -9). The sandbox gets the
//! same from bubblewrap's `--die-with-parent`. What the program started itself may survive it;
//! the marker finds those (`leftover`).
//!
//! It must not decide anything about budgets or killing; the supervisor in `run` does.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;
use std::thread::{self, JoinHandle};

use crate::error::RunError;
use crate::outcome::Exit;
use crate::run::Event;
use crate::sandbox::{Launch, SandboxError};
use crate::spec::RunSpec;
use crate::tree::MARKER_VAR;

/// How the program's own process ended, as `wait4` saw it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Waited {
    pub exit: Exit,
    /// The kernel's peak resident memory of the process (and the children it reaped).
    pub max_rss_bytes: u64,
}

/// The caller's ends of a piped program's stdin and stdout.
#[derive(Debug)]
pub(crate) struct Pipes {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
}

/// A started program: its pid (also its process group id), the read end of the pipe that
/// carries its output to the log, and in piped mode the caller's ends of its stdin and stdout.
pub(crate) struct Spawned {
    pub pid: i32,
    pub output: OwnedFd,
    pub pipes: Option<Pipes>,
}

/// Starts the program, or bubblewrap for it when `sandbox` is given. Its stdout and stderr go
/// to the log pipe and its stdin is null; `piped` instead gives the caller its stdin and its
/// stdout, and only stderr goes to the log.
pub(crate) fn spawn(
    spec: &RunSpec,
    marker: &str,
    sandbox: Option<&Launch>,
    piped: bool,
) -> Result<Spawned, RunError> {
    let (read, write) = pipe().map_err(RunError::Pipe)?;
    // The Command owns the only copies of the program's ends in this process; it is dropped
    // at the end of this function so that each pipe reaches EOF when the program's tree
    // closes it.
    let mut command = match sandbox {
        None => plain(spec)?,
        Some(launch) => sandboxed(launch),
    };
    let pipes = if piped {
        let (stdin_read, stdin_write) = pipe().map_err(RunError::Pipe)?;
        let (stdout_read, stdout_write) = pipe().map_err(RunError::Pipe)?;
        command
            .stdin(Stdio::from(stdin_read))
            .stdout(Stdio::from(stdout_write))
            .stderr(Stdio::from(write));
        Some(Pipes {
            stdin: stdin_write,
            stdout: stdout_read,
        })
    } else {
        let stderr = write.try_clone().map_err(RunError::Pipe)?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(write))
            .stderr(Stdio::from(stderr));
        None
    };
    command.env(MARKER_VAR, marker).process_group(0);
    let child = command.spawn().map_err(|source| match sandbox {
        Some(launch) if source.kind() == io::ErrorKind::NotFound => {
            RunError::Sandbox(SandboxError::BwrapMissing {
                path: launch.bwrap.clone(),
            })
        }
        Some(_) => RunError::Sandbox(SandboxError::Enter(source)),
        None => spawn_error(spec, source),
    })?;
    // The waiter thread reaps the pid with wait4; the Child handle is never waited on.
    let pid = i32::try_from(child.id()).expect("pids fit in pid_t");
    Ok(Spawned {
        pid,
        output: read,
        pipes,
    })
}

/// The program itself, in its working directory, with the inherited environment plus the
/// spec's.
fn plain(spec: &RunSpec) -> Result<Command, RunError> {
    let (program, args) = spec.command.split_first().ok_or(RunError::EmptyCommand)?;
    if !spec.cwd.is_dir() {
        return Err(RunError::MissingCwd {
            cwd: spec.cwd.clone(),
        });
    }
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k, v)));
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the hook only makes async-signal-safe system calls (prctl, getppid, _exit).
    unsafe {
        command.pre_exec(move || {
            die_with_parent(parent);
            Ok(())
        });
    }
    Ok(command)
}

/// In the forked child: asks for SIGKILL when the forking thread ends, and ends now when the
/// parent died before the request was made (the child was already reparented).
fn die_with_parent(parent: libc::pid_t) {
    // SAFETY: prctl with integer arguments, getppid and _exit are async-signal-safe.
    unsafe {
        let signal = libc::SIGKILL as libc::c_ulong;
        if libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0) != 0 || libc::getppid() != parent {
            libc::_exit(127);
        }
    }
}

/// bubblewrap with the sandbox's arguments; only the marker is in its own environment (the
/// program's is set by `--setenv` inside).
fn sandboxed(launch: &Launch) -> Command {
    let mut command = Command::new(&launch.bwrap);
    command.args(&launch.args).env_clear().current_dir("/");
    // SAFETY: the hook only makes async-signal-safe system calls (see `Launch::pre_exec`).
    unsafe {
        command.pre_exec(launch.pre_exec());
    }
    command
}

fn spawn_error(spec: &RunSpec, source: io::Error) -> RunError {
    let program = spec.command[0].clone();
    let cwd = spec.cwd.clone();
    if source.kind() == io::ErrorKind::NotFound {
        RunError::CommandNotFound { program, cwd }
    } else {
        RunError::Spawn {
            program,
            cwd,
            source,
        }
    }
}

/// A pipe whose both ends are close-on-exec, so no other program inherits them by accident.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both are fresh descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Waits for `pid` with `wait4` on its own thread and sends the result as [`Event::Exited`].
pub(crate) fn wait_in_thread(pid: i32, events: Sender<Event>) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("swarmlab-wait-{pid}"))
        .spawn(move || {
            let _ = events.send(Event::Exited(wait(pid)));
        })
}

/// Blocks until `pid` ends and reaps it.
pub(crate) fn wait(pid: i32) -> io::Result<Waited> {
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain data, valid when zeroed.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waits for one specific pid; both out pointers are valid.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            let exit = if libc::WIFSIGNALED(status) {
                Exit::Signal(libc::WTERMSIG(status))
            } else {
                Exit::Code(libc::WEXITSTATUS(status))
            };
            // Linux reports ru_maxrss in KiB.
            let max_rss_bytes = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
            return Ok(Waited {
                exit,
                max_rss_bytes,
            });
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
