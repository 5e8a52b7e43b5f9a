//! Entering the branch of a session: refuse uncommitted work, and repair what a killed
//! session left behind (the experiment in flight, the processes it left running).
//!
//! Nothing here proposes or runs experiments.

use swarmlab_core::{Record, Status};

use super::Session;
use crate::measure::EXPERIMENT_MARK;
use crate::pending::Pending;
use crate::LoopError;
use swarmlab_core::short;

impl Session {
    pub(super) fn enter_branch(&mut self) -> Result<(), LoopError> {
        let pending_path = Pending::path(&self.spec.root, &self.tag);
        let pending = Pending::read(&pending_path);
        let on_branch = self.git.current_branch()?.as_deref() == Some(self.branch.as_str());
        if !on_branch {
            self.refuse_if_dirty()?;
            self.git.switch_to(&self.branch)?;
        }
        if let Some(pending) = pending {
            self.repair(pending)?;
            Pending::clear(&pending_path)?;
        }
        if let Some(best) = self.best_record().map(|r| r.commit.clone()) {
            let head = self.head()?;
            if head != best {
                return Err(LoopError::RepositoryState(format!(
                    "branch {} is at {} but its last kept experiment is {}; someone committed on it outside swarmlab. Reset it (git reset --hard {}) or run with another --tag",
                    self.branch,
                    short(&head),
                    short(&best),
                    short(&best)
                )));
            }
        }
        self.refuse_if_dirty()
    }

    /// Undoes an experiment that was in flight when a previous session died, and logs it.
    fn repair(&mut self, pending: Result<Pending, String>) -> Result<(), LoopError> {
        // Killed after the record was logged but before the journal was cleared, the
        // experiment is complete: its outcome is in the log and the tip is the best record.
        let logged = match &pending {
            Ok(p) => self.records.iter().any(|r| r.index == p.index),
            Err(_) => false,
        };
        let parent = match (&pending, self.best_record()) {
            (Ok(p), _) if !logged => p.parent.clone(),
            (_, Some(best)) => best.commit.clone(),
            (_, None) => self.head()?,
        };
        let head = self.head()?;
        let survivors = match &pending {
            Ok(p) if !p.marker.is_empty() => {
                swarmlab_runner::kill_marked(EXPERIMENT_MARK, &p.marker)
            }
            _ => 0,
        };
        if survivors > 0 {
            let noun = if survivors == 1 {
                "process"
            } else {
                "processes"
            };
            self.status.say(&format!(
                "repaired: killed {survivors} {noun} the unfinished experiment left running"
            ));
        }
        // Only editable paths can hold the dead experiment's change: restore those, keep the rest.
        self.git.run(&["reset", "--quiet", "--mixed", &parent])?;
        let editable = self.spec.files.editable.clone();
        let mut checkout = vec!["checkout", &parent, "--"];
        checkout.extend(editable.iter().map(String::as_str));
        self.git.run(&checkout)?;
        self.git.clean(&editable)?;
        if let (Ok(p), false) = (&pending, logged) {
            if p.index > 0 {
                let record = Record {
                    commit: if head != parent { head.clone() } else { parent.clone() },
                    status: Status::Interrupted,
                    description: "unfinished when swarmlab stopped".into(),
                    note: Some("swarmlab was killed while this experiment was in flight; its change was dropped at the next start".into()),
                    ..self.blank_record(p.index, &parent)
                };
                self.append(record)?;
            }
        }
        self.status.say(&format!(
            "repaired: an experiment was in flight when swarmlab last stopped; {} is back at {}",
            self.branch,
            short(&parent)
        ));
        Ok(())
    }

    fn refuse_if_dirty(&self) -> Result<(), LoopError> {
        let dirty = self.git.dirty_tracked()?;
        if dirty.is_empty() {
            return Ok(());
        }
        Err(LoopError::RepositoryState(format!(
            "{} has uncommitted changes in {}; commit or stash them first (swarmlab never overwrites your work)",
            self.spec.root.display(),
            dirty.join(", ")
        )))
    }
}
