//! Entering the branch of a session: refuse uncommitted work, and repair what a killed
//! session left behind (the experiments in flight, one or one per slot, and the processes
//! they left running).
//!
//! Nothing here proposes or runs experiments.

use std::path::PathBuf;

use swarmlab_core::{GitStore, Record, Status};

use super::Session;
use crate::measure::EXPERIMENT_MARK;
use crate::pending::{slots_dir, Pending};
use crate::LoopError;
use swarmlab_core::short;

impl Session {
    pub(super) fn enter_branch(&mut self) -> Result<(), LoopError> {
        let journals = Pending::all(&self.spec.root, &self.tag);
        let on_branch = self.git.current_branch()?.as_deref() == Some(self.branch.as_str());
        if !on_branch {
            self.refuse_if_dirty()?;
            self.git.switch_to(&self.branch)?;
        }
        if !journals.is_empty() {
            self.repair(&journals)?;
            for (path, _) in &journals {
                Pending::clear(path)?;
            }
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

    /// Undoes the experiments that were in flight when a previous session died (one, or one
    /// per slot of a parallel session), and logs them.
    fn repair(&mut self, journals: &[(PathBuf, Result<Pending, String>)]) -> Result<(), LoopError> {
        // Killed after a record was logged but before its journal was cleared, the
        // experiment is complete: its outcome is in the log and the tip is the best record.
        let unlogged: Vec<&Pending> = journals
            .iter()
            .filter_map(|(_, p)| p.as_ref().ok())
            .filter(|p| !self.records.iter().any(|r| r.index == p.index))
            .collect();
        // The tip goes back to the best logged record: a sequential experiment started from
        // it, and a parallel one never moved the branch before its record was logged.
        let parent = match (self.best_record(), unlogged.first()) {
            (Some(best), _) => best.commit.clone(),
            (None, Some(p)) => p.parent.clone(),
            (None, None) => self.head()?,
        };
        let head = self.head()?;
        let survivors: usize = journals
            .iter()
            .filter_map(|(_, p)| p.as_ref().ok())
            .filter(|p| !p.marker.is_empty())
            .map(|p| swarmlab_runner::kill_marked(EXPERIMENT_MARK, &p.marker))
            .sum();
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
        let mut lost: Vec<&Pending> = unlogged.into_iter().filter(|p| p.index > 0).collect();
        lost.sort_by_key(|p| p.index);
        for p in &lost {
            let commit = match p.slot {
                // A slot committed its change in its own worktree.
                Some(slot) => {
                    GitStore::open(&slots_dir(&self.spec.root, &self.tag).join(slot.to_string()))
                        .ok()
                        .and_then(|tree| tree.resolve("HEAD").ok().flatten())
                        .unwrap_or_else(|| p.parent.clone())
                }
                None if head != parent => head.clone(),
                None => parent.clone(),
            };
            let record = Record {
                commit,
                status: Status::Interrupted,
                description: "unfinished when swarmlab stopped".into(),
                note: Some("swarmlab was killed while this experiment was in flight; its change was dropped at the next start".into()),
                slot: p.slot,
                device: p.device.clone(),
                ..self.blank_record(p.index, &p.parent)
            };
            self.append(record)?;
        }
        let what = match journals.len() {
            1 => "an experiment was in flight".to_string(),
            n => format!("{n} experiments were in flight"),
        };
        self.status.say(&format!(
            "repaired: {what} when swarmlab last stopped; {} is back at {}",
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
