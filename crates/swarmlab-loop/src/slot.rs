//! One slot of a parallel run (`swarmlab run --parallel N`): a thread with its own worktree
//! (`.swarmlab/slots/<tag>/<k>`), its own proposer and its own device. Handed a best commit,
//! it drafts a change there, commits it detached, and, once the coordinator agrees, builds
//! and runs it; handed a commit, it runs that as it is (a baseline, or a result merged onto a
//! newer best). On CPU cores the thread pins itself, so every process it starts runs there.
//!
//! A slot decides nothing: whether a draft runs at all (a duplicate), what becomes of a
//! result, the branch, the journals and the log are the coordinator's
//! (`session/parallel.rs`). It reports over a channel and never touches the track's own tree.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};

use swarmlab_agent::Proposer;
use swarmlab_core::results::{JSONL_FILE, TSV_FILE};
use swarmlab_core::usage::Usage;
use swarmlab_core::{GitStore, Record, TrackSpec};
use swarmlab_runner::Cancel;

use crate::device::Device;
use crate::draft::{draft, Draft, Request};
use crate::measure::{build_and_measure, Measurement};
use crate::pending::slots_dir;
use crate::worktree::Worktree;
use crate::LoopError;

/// One slot, ready to serve.
pub struct Slot {
    pub number: u32,
    pub device: Option<Device>,
    /// The track as this slot runs it: rooted at its worktree, its device in the environment.
    spec: TrackSpec,
    tree: GitStore,
}

/// How to run one experiment: its seed, the marker its processes carry, where its log goes.
pub struct RunOrder {
    pub seed: u64,
    pub marker: String,
    pub run_dir: PathBuf,
}

/// What the coordinator asks of a slot.
pub enum Job {
    /// Draft a change from `base` and, once the coordinator agrees, run it.
    Draft {
        index: u64,
        base: String,
        history: Vec<Record>,
        seed: u64,
        idea: Option<String>,
        run: RunOrder,
    },
    /// Run `commit` as it is.
    Measure {
        index: u64,
        commit: String,
        run: RunOrder,
    },
    /// The answer to [`Event::Drafted`]: run the draft, or drop it.
    Proceed(bool),
}

/// What a slot tells the coordinator.
pub enum Event {
    /// A draft is committed in the slot's worktree; the slot waits for [`Job::Proceed`].
    Drafted {
        slot: u32,
        index: u64,
        commit: String,
        hash: u64,
    },
    /// The job is over and the slot is free.
    Done {
        slot: u32,
        outcome: Result<Outcome, LoopError>,
    },
}

/// How a job ended.
pub enum Outcome {
    /// Nothing to run, and why.
    Skip(String),
    /// The proposal changed paths outside `files.editable`; it never ran.
    Invalid {
        description: String,
        note: String,
        usage: Option<Usage>,
    },
    /// The coordinator dropped the draft.
    Dropped,
    /// `commit` ran.
    Ran {
        commit: String,
        description: String,
        usage: Option<Usage>,
        measurement: Measurement,
    },
}

impl Slot {
    /// Opens slot `number` of `tag` at `at`: its worktree (created when missing, furnished
    /// with what the track's setup left in the root) and its view of the track.
    pub fn open(
        main: &GitStore,
        spec: &TrackSpec,
        tag: &str,
        number: u32,
        device: Option<Device>,
        at: &str,
    ) -> Result<Slot, LoopError> {
        let path = slots_dir(&spec.root, tag).join(number.to_string());
        let path = std::path::absolute(&path).map_err(LoopError::io("resolve", &path))?;
        let worktree = Worktree::open_at(main, &path, at)?;
        furnish(main, &path, spec)?;
        let mut spec = spec.clone();
        spec.root = path;
        if let Some(device) = &device {
            spec.run.env.extend(device.env(&spec.devices));
        }
        Ok(Slot {
            number,
            device,
            spec,
            tree: worktree.git().clone(),
        })
    }

    /// The slot's worktree, for the coordinator to merge in while the slot is idle.
    pub fn tree(&self) -> &GitStore {
        &self.tree
    }

    /// Serves jobs until the coordinator hangs up. A panicking proposer ends the slot after
    /// its job is reported as failed.
    pub fn serve(
        &self,
        mut proposer: Box<dyn Proposer>,
        jobs: &Receiver<Job>,
        events: &Sender<Event>,
        cancel: &Cancel,
    ) {
        while let Ok(job) = jobs.recv() {
            let index = match &job {
                Job::Draft { index, .. } | Job::Measure { index, .. } => *index,
                Job::Proceed(_) => continue,
            };
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                self.pin()?;
                match job {
                    Job::Draft {
                        index,
                        base,
                        history,
                        seed,
                        idea,
                        run,
                    } => {
                        let request = Request {
                            spec: &self.spec,
                            history: &history,
                            index,
                            seed,
                            idea: idea.as_deref(),
                            best_commit: &base,
                            cancel,
                        };
                        self.experiment(&mut *proposer, &request, &run, jobs, events)
                    }
                    Job::Measure { commit, run, .. } => {
                        self.reset(&commit)?;
                        Ok(Outcome::Ran {
                            description: String::new(),
                            usage: None,
                            measurement: self.measure(&run, cancel)?,
                            commit,
                        })
                    }
                    Job::Proceed(_) => unreachable!("answers are taken above"),
                }
            }));
            let (outcome, panicked) = match outcome {
                Ok(outcome) => (outcome, false),
                Err(_) => (Err(LoopError::ProposerPanicked(index)), true),
            };
            let done = Event::Done {
                slot: self.number,
                outcome,
            };
            if events.send(done).is_err() || panicked {
                return;
            }
        }
    }

    /// Drafts from `request.best_commit`, commits, asks the coordinator, and runs.
    fn experiment(
        &self,
        proposer: &mut dyn Proposer,
        request: &Request<'_>,
        run: &RunOrder,
        jobs: &Receiver<Job>,
        events: &Sender<Event>,
    ) -> Result<Outcome, LoopError> {
        let base = request.best_commit;
        self.reset(base)?;
        let (description, touched, usage) = match draft(&self.tree, proposer, request)? {
            Draft::Skip(reason) => return Ok(Outcome::Skip(reason)),
            // In parallel a failed proposal counts as a skip: the slot drafts again.
            Draft::Failed(reason) => {
                return Ok(Outcome::Skip(format!("the proposer failed: {reason}")))
            }
            Draft::Invalid {
                description,
                note,
                usage,
            } => {
                return Ok(Outcome::Invalid {
                    description,
                    note,
                    usage,
                })
            }
            Draft::Ready {
                description,
                touched,
                usage,
            } => (description, touched, usage),
        };
        let message = format!(
            "{description}\n\nswarmlab experiment {} ({}, slot {})",
            request.index,
            proposer.name(),
            self.number
        );
        let commit = self.tree.commit_paths(&touched, &message)?;
        let hash = swarmlab_agent::memory::normalised_diff_hash(&self.tree.diff(base, &commit)?);
        let drafted = Event::Drafted {
            slot: self.number,
            index: request.index,
            commit: commit.clone(),
            hash,
        };
        if events.send(drafted).is_err() {
            return Ok(Outcome::Dropped);
        }
        let go = loop {
            match jobs.recv() {
                Ok(Job::Proceed(go)) => break go,
                Ok(_) => continue,
                Err(_) => break false,
            }
        };
        if !go {
            self.reset(base)?;
            return Ok(Outcome::Dropped);
        }
        Ok(Outcome::Ran {
            measurement: self.measure(run, request.cancel)?,
            commit,
            description,
            usage,
        })
    }

    fn measure(&self, run: &RunOrder, cancel: &Cancel) -> Result<Measurement, LoopError> {
        build_and_measure(
            &self.spec,
            run.seed,
            &run.marker,
            &run.run_dir,
            cancel,
            &mut |_, _| {},
        )
    }

    /// Puts the worktree at `commit`, with nothing of an earlier draft left.
    fn reset(&self, commit: &str) -> Result<(), LoopError> {
        self.tree.reset_hard(commit)?;
        self.tree.run(&["clean", "--quiet", "-d", "--force"])?;
        Ok(())
    }

    fn pin(&self) -> Result<(), LoopError> {
        match &self.device {
            Some(device) => device
                .pin_this_thread()
                .map_err(LoopError::io("pin a slot to", device.to_string())),
            None => Ok(()),
        }
    }
}

/// Gives a slot's worktree what the track's setup left in the root that git does not track:
/// the build folder is copied (each slot builds its own edits, from where the setup's build
/// left off), and every other ignored entry at the top is linked (data, caches).
fn furnish(main: &GitStore, tree: &Path, spec: &TrackSpec) -> Result<(), LoopError> {
    let listed = main.run(&[
        "ls-files",
        "--others",
        "--ignored",
        "--exclude-standard",
        "--directory",
        "--no-empty-directory",
    ])?;
    let own = [
        ".swarmlab",
        TSV_FILE,
        JSONL_FILE,
        "progress.svg",
        "summary.md",
    ];
    let build_dir = spec.run.build_dir.as_deref().map(|d| d.split('/').next());
    let mut linked = Vec::new();
    for entry in listed.lines().map(|l| l.trim_end_matches('/')) {
        if entry.is_empty() || entry.contains('/') || own.contains(&entry) {
            continue;
        }
        let (from, to) = (main.root().join(entry), tree.join(entry));
        if to.symlink_metadata().is_ok() {
            continue;
        }
        if build_dir == Some(Some(entry)) {
            copy_tree(&from, &to)?;
        } else {
            let from = std::path::absolute(&from).map_err(LoopError::io("resolve", &from))?;
            std::os::unix::fs::symlink(&from, &to).map_err(LoopError::io("link", &to))?;
            linked.push(format!("/{entry}"));
        }
    }
    // A link is a file to git, which a folder's pattern (`data/`) does not ignore.
    let linked: Vec<&str> = linked.iter().map(String::as_str).collect();
    main.exclude(&linked)?;
    Ok(())
}

/// Copies a folder, links as links.
fn copy_tree(from: &Path, to: &Path) -> Result<(), LoopError> {
    std::fs::create_dir_all(to).map_err(LoopError::io("create", to))?;
    for entry in std::fs::read_dir(from).map_err(LoopError::io("read", from))? {
        let entry = entry.map_err(LoopError::io("read", from))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(LoopError::io("read", &source))?;
        if kind.is_symlink() {
            let link = std::fs::read_link(&source).map_err(LoopError::io("read", &source))?;
            std::os::unix::fs::symlink(link, &target).map_err(LoopError::io("link", &target))?;
        } else if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else {
            std::fs::copy(&source, &target).map_err(LoopError::io("copy", &source))?;
        }
    }
    Ok(())
}
