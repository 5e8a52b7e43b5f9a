//! [`Swarm`]: the clients one program runs as its child processes (`swarmlab demo`: workers
//! and a verifier, each a [`ClientProcess`]), and the watch that shows the chain they grow,
//! and says when they have converged, until a limit, an interrupt, or the end of every child.
//!
//! It starts the commands it is given and reads the chain and the convergence through the
//! functions it is given: it builds no command line and never talks to a hub itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use swarmlab_proto::TrackInfo;
use swarmlab_runner::Cancel;

use crate::process::ClientProcess;
use crate::{pause, ClientError};

/// How often the watch reads the chain.
const WATCH_POLL: Duration = Duration::from_millis(500);

/// Child processes of one program, logging to one folder.
pub struct Swarm {
    children: Vec<ClientProcess>,
    logs: PathBuf,
}

/// When a watch ends before an interrupt.
pub struct Watch {
    /// The swarm's start: chain lines show the time since.
    pub started: Instant,
    /// Watch this long at most.
    pub for_: Option<Duration>,
    /// End once the chain has more than this many commits after the baseline.
    pub commits: Option<u32>,
}

/// What a watch saw.
#[derive(Debug, Clone, Default)]
pub struct Watched {
    /// When the chain first grew, since the swarm's start.
    pub first_commit: Option<Duration>,
    /// The child that ended on its own, which ended the watch.
    pub ended: Option<String>,
    /// When the swarm last converged, since the swarm's start.
    pub converged: Option<Duration>,
}

impl Swarm {
    /// No children yet; their logs go to `logs`.
    pub fn new(logs: &Path) -> Swarm {
        Swarm {
            children: Vec::new(),
            logs: logs.to_path_buf(),
        }
    }

    /// Starts `command` as the child `name` (see [`ClientProcess::spawn`]).
    pub fn spawn(&mut self, name: &str, command: Command) -> Result<(), ClientError> {
        self.children
            .push(ClientProcess::spawn(name, command, &self.logs)?);
        Ok(())
    }

    /// Waits until `ready` says so, calling `tick` every `every` meanwhile; `false` when
    /// `cancel` or the end of every child came first.
    pub fn wait_until(
        &mut self,
        cancel: &Cancel,
        every: Duration,
        mut ready: impl FnMut() -> bool,
        mut tick: impl FnMut(),
    ) -> bool {
        let mut next = Instant::now() + every;
        loop {
            if ready() {
                return true;
            }
            if pause(cancel, WATCH_POLL) || self.children.iter_mut().all(ClientProcess::has_ended) {
                return false;
            }
            if Instant::now() >= next {
                tick();
                next += every;
            }
        }
    }

    /// Prints each commit the chain gains, read with `chain`, and the line `converged`
    /// gives while the swarm has converged (once each time it converges), until `cancel`, a
    /// limit of `watch`, or a child ends on its own (the children of a swarm run until
    /// stopped: one that ends has failed, and the swarm cannot go on without it), and says
    /// what it saw.
    pub fn watch<E>(
        &mut self,
        watch: &Watch,
        cancel: &Cancel,
        mut chain: impl FnMut() -> Result<TrackInfo, E>,
        mut converged: impl FnMut() -> Result<Option<String>, E>,
    ) -> Result<Watched, E> {
        let mut seen = 0usize;
        let mut watched = Watched::default();
        let mut said: Option<String> = None;
        loop {
            if pause(cancel, WATCH_POLL) {
                return Ok(watched);
            }
            if watch.for_.is_some_and(|d| watch.started.elapsed() >= d) {
                return Ok(watched);
            }
            let info = chain()?;
            if info.chain.len() > 1 && watched.first_commit.is_none() {
                watched.first_commit = Some(watch.started.elapsed());
            }
            if watch.commits.is_some_and(|n| info.chain.len() > n as usize) {
                return Ok(watched);
            }
            for entry in info.chain.iter().skip(seen.max(1)) {
                println!(
                    "[{:>5.1}s] chain #{}: head {} (submission #{})",
                    watch.started.elapsed().as_secs_f64(),
                    entry.seq,
                    swarmlab_core::short(&entry.commit),
                    entry.submission_id.unwrap_or_default()
                );
            }
            seen = info.chain.len();
            let now = converged()?;
            if let Some(line) = now.as_ref().filter(|l| said.as_ref() != Some(*l)) {
                println!("[{:>5.1}s] {line}", watch.started.elapsed().as_secs_f64());
                watched.converged = Some(watch.started.elapsed());
            }
            said = now;
            let ended = self
                .children
                .iter_mut()
                .find_map(|c| c.has_ended().then(|| c.name().to_string()));
            if let Some(name) = ended {
                eprintln!("the {name} stopped; see {}", self.logs.display());
                watched.ended = Some(name);
                return Ok(watched);
            }
        }
    }

    /// Stops every child (see [`ClientProcess::stop`]).
    pub fn stop(mut self) {
        self.children.iter_mut().for_each(ClientProcess::stop);
    }
}
