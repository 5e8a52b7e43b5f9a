//! [`ClientProcess`]: a client (`swarmlab work`, `swarmlab verify`) run as a child process of
//! one program, as `swarmlab demo` runs a swarm on one machine. Each child has its own process
//! group (Ctrl-C reaches only the parent, which then stops each child once), its stderr goes
//! to a log file, and its status lines are relayed to stdout.
//!
//! It knows nothing of what the child does and never talks to a hub.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ClientError;

/// How long a child gets to stop after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(20);
/// The stderr lines relayed to stdout (every line goes to the log).
const SHOWN: [&str; 4] = ["worker: ", "verifier: ", "error: ", "warning: "];

/// A child process and the thread relaying its output.
pub struct ClientProcess {
    name: String,
    child: Child,
    relay: Option<std::thread::JoinHandle<()>>,
}

impl ClientProcess {
    /// Starts `command` in its own process group, its stderr going to `logs/NAME.log` and its
    /// status lines to stdout, labelled with `name`.
    pub fn spawn(
        name: &str,
        mut command: Command,
        logs: &Path,
    ) -> Result<ClientProcess, ClientError> {
        use std::os::unix::process::CommandExt;
        let log_path = logs.join(format!("{name}.log"));
        let mut log =
            std::fs::File::create(&log_path).map_err(ClientError::io("create", &log_path))?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().map_err(|source| ClientError::Start {
            name: name.to_string(),
            source,
        })?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let label = name.to_string();
        let relay = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
                if SHOWN.iter().any(|p| line.starts_with(p)) {
                    println!("  {label:>9} | {line}");
                }
            }
        });
        Ok(ClientProcess {
            name: name.to_string(),
            child,
            relay: Some(relay),
        })
    }

    /// The name it was started with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the child has ended.
    pub fn has_ended(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    /// SIGTERM to the child alone (it stops its own runs cleanly), a grace, then SIGKILL to its
    /// whole process group.
    pub fn stop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if self.has_ended() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !self.has_ended() {
            eprintln!("{} ignored SIGTERM; killing it", self.name);
            // SAFETY: as above.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = self.child.wait();
        }
        if let Some(relay) = self.relay.take() {
            let _ = relay.join();
        }
    }
}
