//! `swarmlab run --parallel N`: N experiments in flight on one branch, with one results log
//! and one best. Each slot (`slot.rs`) drafts in its own worktree from the best known when
//! it starts, and runs on its own device; this coordinator alone hands out work, writes the
//! journals, decides keep or discard (through `Session::keep_or_discard`, the one place),
//! moves the branch (only ever by fast-forward) and logs.
//!
//! A result that beats the best is kept as it ran when the best has not moved; when it has,
//! git's 3-way merge brings the change onto it, and the merged tree is measured again on the
//! same slot when the merge conflicted or the track asks (`[devices] remeasure`). Devices are
//! compared like for like when the track's metric depends on speed (each measures the
//! baseline once), and a device whose runs keep failing while the others' succeed is taken
//! out. Ctrl-C stops every slot; kill -9 leaves one journal per experiment in flight, which
//! the next start repairs (`recovery.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use swarmlab_agent::Proposer;
use swarmlab_core::spec::{Compare, Remeasure};
use swarmlab_core::usage::Usage;
use swarmlab_core::{short, GitStore, Record, Status};

use super::{pace, retry_seed, Limits, Session, Stop, MAX_EMPTY_PROPOSALS};
use crate::device::Device;
use crate::measure::Measurement;
use crate::pending::Pending;
use crate::slot::{Event, Job, Outcome, RunOrder, Slot};
use crate::status::{clock, is_baseline, Counts};
use crate::worktree::{merge_onto, Merged};
use crate::LoopError;

/// How often the live line is redrawn while nothing happens.
const REDRAW: Duration = Duration::from_millis(200);
/// Failed runs in a row after which a device is taken out, if other devices ran meanwhile.
const RETIRE_AFTER: u32 = 3;
/// How often one result may be merged onto a newer best and measured again.
const MAX_MERGES: u32 = 2;

/// What a slot is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    /// The branch's baseline.
    Baseline,
    /// The baseline again, on a device that has not measured it (compare by device).
    DeviceBaseline,
    Experiment,
}

/// One experiment in flight (or finished and waiting for the baseline).
struct Flight {
    index: u64,
    work: Work,
    /// The best commit the measured tree was built on.
    base: String,
    /// The best commit the change was drafted from.
    drafted_on: String,
    /// The draft's commit, once drafted.
    change: Option<String>,
    hash: Option<u64>,
    started: Instant,
    running: bool,
    journal: Pending,
    /// How often the change was merged onto a newer best and measured again, and what it
    /// measured before.
    merges: u32,
    earlier: Vec<String>,
    description: String,
    usage: Option<Usage>,
}

/// A slot as the coordinator sees it.
struct SlotState {
    /// Its device's name, by which records and baselines are matched.
    key: Option<String>,
    jobs: Sender<Job>,
    /// The slot's worktree, merged into only while the slot is idle.
    tree: GitStore,
    flight: Option<Flight>,
    failures: u32,
    ran: u64,
    retired: bool,
}

/// Everything a parallel run tracks beyond the session's records.
struct Fleet {
    slots: Vec<SlotState>,
    compare: Compare,
    next_index: u64,
    /// Indices handed out and given back by a skipped draft, reused before new ones.
    free: BTreeSet<u64>,
    attempts: BTreeMap<u64, u32>,
    /// Results that finished before the baseline did, with their slot.
    held: Vec<(usize, Flight, Measurement, String)>,
    /// Experiments logged by this run.
    done: u64,
    empty: u32,
    stop: Option<Stop>,
    started: Instant,
    /// The commit every baseline measures: the first kept baseline's, or the tip this run
    /// started at when it measures that baseline itself.
    origin: String,
}

impl Session {
    /// Runs the loop with one slot per entry of `devices` (`None`: a slot with no device of
    /// its own), each drafting with its own proposer, until a limit or Ctrl-C.
    pub fn run_parallel(
        &mut self,
        limits: Limits,
        devices: Vec<Option<Device>>,
        proposers: Vec<Box<dyn Proposer>>,
    ) -> Result<Stop, LoopError> {
        self.pace = pace::Pace::start(limits.experiments, limits.duration);
        let head = self.head()?;
        let keys: Vec<Option<String>> = devices
            .iter()
            .map(|d| d.as_ref().map(Device::to_string))
            .collect();
        let distinct = keys.iter().collect::<BTreeSet<_>>().len();
        let compare = match distinct {
            1 => Compare::Metric,
            _ => self.spec.devices.compare(&self.spec.run.budget),
        };
        let stop = self.cancel.child();
        let (events_tx, events) = mpsc::channel();
        let mut slots = Vec::new();
        let mut servers = Vec::new();
        for (number, ((device, key), proposer)) in
            devices.into_iter().zip(keys).zip(proposers).enumerate()
        {
            let number = u32::try_from(number).unwrap_or(u32::MAX);
            let slot = Slot::open(
                &self.git,
                &self.spec,
                &self.tag,
                number,
                device.clone(),
                &head,
            )?;
            let (jobs, jobs_rx) = mpsc::channel();
            slots.push(SlotState {
                key,
                jobs,
                tree: slot.tree().clone(),
                flight: None,
                failures: 0,
                ran: 0,
                retired: false,
            });
            servers.push((slot, proposer, jobs_rx));
        }
        self.status.say(&fleet_line(&slots, compare));
        let mut fleet = Fleet {
            slots,
            compare,
            next_index: self.next_index(),
            free: BTreeSet::new(),
            attempts: BTreeMap::new(),
            held: Vec::new(),
            done: 0,
            empty: 0,
            stop: None,
            started: Instant::now(),
            origin: self.reference().map_or(head, |r| r.commit.clone()),
        };
        std::thread::scope(|scope| {
            for (slot, proposer, jobs) in servers {
                let (events, stop) = (events_tx.clone(), stop.clone());
                scope.spawn(move || slot.serve(proposer, &jobs, &events, &stop));
            }
            drop(events_tx);
            let result = self.coordinate(&mut fleet, &events, &limits);
            if result.is_err() {
                // The journals of what is still in flight stay: the next start repairs them.
                stop.cancel();
            }
            drop(fleet);
            result
        })
    }

    fn coordinate(
        &mut self,
        fleet: &mut Fleet,
        events: &Receiver<Event>,
        limits: &Limits,
    ) -> Result<Stop, LoopError> {
        loop {
            self.hand_out(fleet, limits)?;
            if fleet.slots.iter().all(|s| s.flight.is_none()) {
                break;
            }
            match events.recv_timeout(REDRAW) {
                Ok(Event::Drafted {
                    slot,
                    index,
                    commit,
                    hash,
                }) => self.drafted(fleet, slot as usize, index, commit, hash)?,
                Ok(Event::Done { slot, outcome }) => self.done(fleet, slot as usize, outcome?)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(LoopError::ProposerPanicked(fleet.next_index))
                }
            }
            self.draw(fleet);
        }
        // Results still waiting for a baseline that never came.
        for (slot, flight, measurement, commit) in std::mem::take(&mut fleet.held) {
            let record = Record {
                status: Status::Interrupted,
                note: Some(
                    "it finished, but the session stopped before the baseline it is compared with"
                        .into(),
                ),
                ..self.parallel_record(fleet, slot, &flight, &commit, &measurement)
            };
            self.finish(record, &self.journal_path(flight.index))?;
        }
        Ok(if self.cancel.is_cancelled() {
            Stop::Interrupted
        } else {
            fleet.stop.unwrap_or(Stop::Limit)
        })
    }

    /// Gives every idle slot its next job, or none when the run is stopping.
    fn hand_out(&mut self, fleet: &mut Fleet, limits: &Limits) -> Result<(), LoopError> {
        if fleet.stop.is_none() {
            let in_flight = fleet
                .slots
                .iter()
                .filter_map(|s| s.flight.as_ref())
                .filter(|f| f.work == Work::Experiment)
                .count() as u64
                + fleet.held.len() as u64;
            if self.cancel.is_cancelled() {
                fleet.stop = Some(Stop::Interrupted);
            } else if limits
                .experiments
                .is_some_and(|n| fleet.done + in_flight >= n)
                || limits
                    .duration
                    .is_some_and(|d| fleet.started.elapsed() >= d)
            {
                fleet.stop = Some(Stop::Limit);
            }
        }
        for k in 0..fleet.slots.len() {
            let slot = &fleet.slots[k];
            if slot.retired || slot.flight.is_some() {
                continue;
            }
            let Some(work) = self.next_work(fleet, k) else {
                continue;
            };
            let base = match (work, self.best_record()) {
                (Work::Experiment, Some(best)) => best.commit.clone(),
                _ => fleet.origin.clone(),
            };
            let index = match work {
                Work::Experiment => fleet.free.pop_first(),
                _ => None,
            }
            .unwrap_or_else(|| {
                fleet.next_index += 1;
                fleet.next_index - 1
            });
            let mut journal = self.pending(index, &base);
            journal.slot = Some(k as u32);
            journal.device = fleet.slots[k].key.clone();
            journal.write(&self.journal_path(index))?;
            let run = self.run_order(index, 0, &journal.marker)?;
            let job = match work {
                Work::Experiment => Job::Draft {
                    index,
                    base: base.clone(),
                    history: self.records.clone(),
                    seed: retry_seed(self.seed, fleet.attempts.get(&index).copied().unwrap_or(0)),
                    idea: self.idea.clone(),
                    run,
                },
                _ => Job::Measure {
                    index,
                    commit: base.clone(),
                    run,
                },
            };
            let slot = &mut fleet.slots[k];
            slot.flight = Some(Flight {
                index,
                work,
                base: base.clone(),
                drafted_on: base,
                change: None,
                hash: None,
                started: Instant::now(),
                running: work != Work::Experiment,
                journal,
                merges: 0,
                earlier: Vec::new(),
                description: String::new(),
                usage: None,
            });
            // A slot that hung up has ended; its flight is never answered, so stop waiting.
            if slot.jobs.send(job).is_err() {
                return Err(LoopError::ProposerPanicked(index));
            }
        }
        Ok(())
    }

    /// What slot `k` should do next, if anything: the baseline first, then (comparing by
    /// device) the baseline once on each device, then experiments until a limit.
    fn next_work(&self, fleet: &Fleet, k: usize) -> Option<Work> {
        if self.cancel.is_cancelled() || fleet.stop == Some(Stop::Interrupted) {
            return None;
        }
        let key = &fleet.slots[k].key;
        let busy = |work: Work, key: Option<&Option<String>>| {
            fleet.slots.iter().any(|s| {
                s.flight
                    .as_ref()
                    .is_some_and(|f| f.work == work && key.is_none_or(|key| &s.key == key))
            })
        };
        let measuring_here =
            busy(Work::Baseline, Some(key)) || busy(Work::DeviceBaseline, Some(key));
        let measured_here = self.device_baseline(&fleet.origin, key).is_some();
        if self.reference().is_none() && !busy(Work::Baseline, None) {
            return Some(Work::Baseline);
        }
        if fleet.compare == Compare::Device && !measured_here {
            return (!measuring_here && fleet.stop.is_none()).then_some(Work::DeviceBaseline);
        }
        fleet.stop.is_none().then_some(Work::Experiment)
    }

    /// A slot drafted a change: it runs unless it repeats one already tried or in flight.
    fn drafted(
        &mut self,
        fleet: &mut Fleet,
        k: usize,
        index: u64,
        commit: String,
        hash: u64,
    ) -> Result<(), LoopError> {
        let twin = swarmlab_agent::memory::already_tried(&self.records, hash)
            .map(|r| r.index)
            .or_else(|| {
                fleet
                    .slots
                    .iter()
                    .filter_map(|s| s.flight.as_ref())
                    .find(|f| f.hash == Some(hash) && f.index != index)
                    .map(|f| f.index)
            });
        let slot = &mut fleet.slots[k];
        let go = twin.is_none() && !self.cancel.is_cancelled();
        if let Some(flight) = slot.flight.as_mut() {
            flight.change = Some(commit);
            flight.hash = Some(hash);
            flight.running = go;
            flight.started = Instant::now();
        }
        if let Some(earlier) = twin {
            self.status.say(&format!(
                "#{index} skipped: the same change as experiment #{earlier}"
            ));
        }
        // A slot that hung up reports it as its job's outcome.
        let _ = slot.jobs.send(Job::Proceed(go));
        Ok(())
    }

    /// A slot finished its job.
    fn done(&mut self, fleet: &mut Fleet, k: usize, outcome: Outcome) -> Result<(), LoopError> {
        let Some(flight) = fleet.slots[k].flight.take() else {
            return Ok(());
        };
        match outcome {
            Outcome::Skip(reason) => {
                self.status
                    .say(&format!("#{} skipped: {reason}", flight.index));
                self.give_back(fleet, &flight)?;
            }
            Outcome::Dropped => self.give_back(fleet, &flight)?,
            Outcome::Invalid {
                description,
                note,
                usage,
            } => {
                let record = Record {
                    status: Status::Invalid,
                    description,
                    note: Some(note),
                    usage,
                    slot: Some(k as u32),
                    device: fleet.slots[k].key.clone(),
                    ..self.blank_record(flight.index, &flight.base)
                };
                self.finish(record, &self.journal_path(flight.index))?;
                fleet.done += 1;
                fleet.empty = 0;
            }
            Outcome::Ran {
                commit,
                description,
                usage,
                measurement,
            } => {
                let flight = Flight {
                    description: if flight.work == Work::Experiment && flight.merges == 0 {
                        description
                    } else {
                        flight.description
                    },
                    usage: usage.or(flight.usage),
                    ..flight
                };
                self.count_run(fleet, k, &measurement);
                self.retire_if_failing(fleet, k);
                match flight.work {
                    Work::Baseline => self.baseline_ran(fleet, k, flight, &measurement)?,
                    Work::DeviceBaseline => {
                        self.device_baseline_ran(fleet, k, flight, &measurement)?
                    }
                    Work::Experiment if self.best_record().is_none() => {
                        fleet.held.push((k, flight, measurement, commit));
                    }
                    Work::Experiment => self.settle(fleet, k, flight, measurement, commit)?,
                }
            }
        }
        Ok(())
    }

    /// A skipped draft: its index goes back, to be tried again with another seed.
    fn give_back(&mut self, fleet: &mut Fleet, flight: &Flight) -> Result<(), LoopError> {
        Pending::clear(&self.journal_path(flight.index))?;
        fleet.free.insert(flight.index);
        *fleet.attempts.entry(flight.index).or_default() += 1;
        if self.cancel.is_cancelled() {
            return Ok(());
        }
        fleet.empty += 1;
        let most = MAX_EMPTY_PROPOSALS.max(fleet.slots.len() as u32);
        if fleet.empty >= most && fleet.stop.is_none() {
            self.status.say(&format!(
                "stopping: {most} proposals in a row were skipped (see the reasons above)"
            ));
            fleet.stop = Some(Stop::NothingToPropose);
        }
        Ok(())
    }

    fn baseline_ran(
        &mut self,
        fleet: &mut Fleet,
        k: usize,
        flight: Flight,
        measurement: &Measurement,
    ) -> Result<(), LoopError> {
        let status = measurement.failure.unwrap_or(Status::Keep);
        let record = Record {
            status,
            description: "baseline".into(),
            proposer: "baseline".into(),
            ..self.parallel_record(fleet, k, &flight, &flight.base, measurement)
        };
        let log = record.log.clone();
        self.finish(record, &self.journal_path(flight.index))?;
        match status {
            Status::Keep => {
                for (k, flight, measurement, commit) in std::mem::take(&mut fleet.held) {
                    self.settle(fleet, k, flight, measurement, commit)?;
                }
                Ok(())
            }
            Status::Interrupted => Ok(()),
            failure => Err(LoopError::BaselineFailed {
                status: failure,
                log: self.spec.root.join(log),
            }),
        }
    }

    fn device_baseline_ran(
        &mut self,
        fleet: &mut Fleet,
        k: usize,
        flight: Flight,
        measurement: &Measurement,
    ) -> Result<(), LoopError> {
        let device = fleet.slots[k]
            .key
            .clone()
            .unwrap_or_else(|| "this slot".into());
        let record = Record {
            status: measurement.failure.unwrap_or(Status::Discard),
            description: format!("baseline on {device}"),
            proposer: "baseline".into(),
            note: measurement.note.clone().or_else(|| {
                Some("the baseline measured on this device, to compare its results like for like; the branch did not move".into())
            }),
            ..self.parallel_record(fleet, k, &flight, &flight.base, measurement)
        };
        self.finish(record, &self.journal_path(flight.index))?;
        Ok(())
    }

    /// Decides what becomes of an experiment that ran, once the baseline is known.
    fn settle(
        &mut self,
        fleet: &mut Fleet,
        k: usize,
        mut flight: Flight,
        measurement: Measurement,
        commit: String,
    ) -> Result<(), LoopError> {
        let best = self.best_record().expect("a baseline was kept").clone();
        let shift = self.shift(fleet, &fleet.slots[k].key, &best);
        let mut status = self.keep_or_discard(&measurement, shift, best.metric);
        let mut note = measurement.note.clone();
        let mut kept = commit.clone();
        if status == Status::Keep && flight.base != best.commit {
            let message = format!(
                "{}\n\nswarmlab experiment {} merged onto #{}",
                flight.description, flight.index, best.index
            );
            let merged = merge_onto(&fleet.slots[k].tree, &commit, &best.commit, &message)?;
            let measured = format!(
                "{} {:.6} on {}",
                self.spec.metric.name,
                measurement.metric().unwrap_or(f64::NAN),
                short(&flight.base)
            );
            match merged {
                Merged::Clean(merged) if self.spec.devices.remeasure == Remeasure::Conflicts => {
                    note = Some(format!(
                        "measured {measured}, then merged cleanly onto the best #{} ({})",
                        best.index,
                        short(&best.commit)
                    ));
                    kept = merged;
                }
                Merged::Clean(merged) | Merged::Conflicted(merged)
                    if flight.merges < MAX_MERGES =>
                {
                    let how = if matches!(self.spec.devices.remeasure, Remeasure::Merges) {
                        "merged"
                    } else {
                        "merged with its conflicts resolved toward this change"
                    };
                    self.status.say(&format!(
                        "#{} beat the best it started from; {how} onto #{}, measuring again",
                        flight.index, best.index
                    ));
                    flight.earlier.push(measured);
                    flight.merges += 1;
                    flight.base = best.commit.clone();
                    return self.remeasure(fleet, k, flight, merged);
                }
                Merged::Empty => {
                    status = Status::Discard;
                    note = Some(format!(
                        "measured {measured}; the best #{} already holds its change",
                        best.index
                    ));
                }
                Merged::Clean(_) | Merged::Conflicted(_) | Merged::Impossible => {
                    status = Status::Discard;
                    note = Some(format!("measured {measured}, better than the best then, but it cannot be merged onto the best #{}", best.index));
                }
            }
        }
        note = with_earlier(note, &flight.earlier);
        if status == Status::Keep {
            self.git.run(&["merge", "--ff-only", "--quiet", &kept])?;
        } else {
            self.git.keep_ref(
                &format!("refs/swarmlab/{}/discarded/{}", self.tag, flight.index),
                &commit,
            )?;
            if status == Status::Interrupted {
                note = Some("stopped by the user while running; the change was dropped".into());
            }
        }
        let drafted = flight.change.as_deref().unwrap_or(&commit);
        let record = Record {
            status,
            description: flight.description.clone(),
            diff: self.git.diff_stat(&flight.drafted_on, drafted)?,
            diff_hash: flight.hash.map(swarmlab_agent::memory::diff_hash_hex),
            usage: flight.usage,
            note: match note {
                _ if fleet.compare == Compare::Metric => note,
                Some(note) => Some(format!("{note}; {}", scale(shift))),
                None => Some(scale(shift)),
            },
            ..self.parallel_record(fleet, k, &flight, &kept, &measurement)
        };
        self.finish(record, &self.journal_path(flight.index))?;
        fleet.done += 1;
        fleet.empty = 0;
        Ok(())
    }

    /// Measures a merged change again on the slot that ran it.
    fn remeasure(
        &mut self,
        fleet: &mut Fleet,
        k: usize,
        mut flight: Flight,
        merged: String,
    ) -> Result<(), LoopError> {
        let mut journal = self.pending(flight.index, &flight.base);
        journal.slot = Some(k as u32);
        journal.device = fleet.slots[k].key.clone();
        journal.write(&self.journal_path(flight.index))?;
        let run = self.run_order(flight.index, flight.merges, &journal.marker)?;
        flight.journal = journal;
        flight.started = Instant::now();
        flight.running = true;
        let slot = &mut fleet.slots[k];
        slot.flight = Some(flight);
        let index = slot.flight.as_ref().map_or(0, |f| f.index);
        slot.jobs
            .send(Job::Measure {
                index,
                commit: merged,
                run,
            })
            .map_err(|_| LoopError::ProposerPanicked(index))
    }

    /// Counts a run toward its slot's streak of failures.
    fn count_run(&self, fleet: &mut Fleet, k: usize, measurement: &Measurement) {
        let slot = &mut fleet.slots[k];
        match measurement.failure {
            Some(status) if status.is_failure() => slot.failures += 1,
            Some(_) => {}
            None => {
                slot.failures = 0;
                slot.ran += 1;
            }
        }
    }

    /// Takes slot `k`'s device out when its last runs all failed while another device's
    /// last run went well: then the device, not the change, is what fails.
    fn retire_if_failing(&mut self, fleet: &mut Fleet, k: usize) {
        let slot = &fleet.slots[k];
        let Some(device) = slot.key.clone().filter(|_| !slot.retired) else {
            return;
        };
        let others_fine = fleet
            .slots
            .iter()
            .any(|s| !s.retired && s.key.as_ref() != Some(&device) && s.failures == 0 && s.ran > 0);
        if slot.failures < RETIRE_AFTER || !others_fine {
            return;
        }
        for slot in fleet
            .slots
            .iter_mut()
            .filter(|s| s.key.as_ref() == Some(&device))
        {
            slot.retired = true;
        }
        let line = format!(
            "{device} taken out: its last {RETIRE_AFTER} runs failed while other devices' runs went well"
        );
        self.status.say(&line);
        self.retired.push(line);
    }

    /// What moves a metric measured on `key` onto the scale of the best's device: the
    /// difference of their baselines (zero when comparing as printed).
    fn shift(&self, fleet: &Fleet, key: &Option<String>, best: &Record) -> f64 {
        if fleet.compare != Compare::Device {
            return 0.0;
        }
        let origin = &fleet.origin;
        match (
            self.device_baseline(origin, &best.device),
            self.device_baseline(origin, key),
        ) {
            (Some(theirs), Some(ours)) => theirs - ours,
            _ => 0.0,
        }
    }

    /// The first kept baseline: what every device baseline measures again.
    fn reference(&self) -> Option<&Record> {
        self.records
            .iter()
            .find(|r| is_baseline(r) && r.status == Status::Keep)
    }

    /// The metric of the baseline at `origin` as measured on device `key`.
    fn device_baseline(&self, origin: &str, key: &Option<String>) -> Option<f64> {
        self.records
            .iter()
            .filter(|r| is_baseline(r) && r.commit == origin && &r.device == key)
            .find_map(|r| r.metric)
    }

    /// A record of what slot `k` ran for `flight`, at `commit`.
    fn parallel_record(
        &self,
        fleet: &Fleet,
        k: usize,
        flight: &Flight,
        commit: &str,
        measurement: &Measurement,
    ) -> Record {
        let proposer = match flight.work {
            Work::Experiment => self.proposer.name().to_string(),
            _ => "baseline".to_string(),
        };
        Record {
            log: format!(
                "{}/run.log",
                self.parallel_run_dir_relative(flight.index, flight.merges)
            ),
            slot: Some(k as u32),
            device: fleet.slots[k].key.clone(),
            ..self.measured_record(flight.index, commit, &flight.base, &proposer, measurement)
        }
    }

    fn journal_path(&self, index: u64) -> std::path::PathBuf {
        Pending::parallel_path(&self.spec.root, &self.tag, index)
    }

    fn parallel_run_dir_relative(&self, index: u64, merges: u32) -> String {
        match merges {
            0 => self.run_dir_relative(index),
            n => format!("{}-merged-{n}", self.run_dir_relative(index)),
        }
    }

    /// The seed, marker and (absolute: slots run elsewhere) folder of a run.
    fn run_order(&self, index: u64, merges: u32, marker: &str) -> Result<RunOrder, LoopError> {
        let dir = self
            .spec
            .root
            .join(self.parallel_run_dir_relative(index, merges));
        Ok(RunOrder {
            seed: self.experiment_seed(index),
            marker: marker.to_string(),
            run_dir: std::path::absolute(&dir).map_err(LoopError::io("resolve", &dir))?,
        })
    }

    /// Redraws the live line: what each slot is doing, the best, the counts.
    fn draw(&mut self, fleet: &Fleet) {
        if !self.status.is_live() {
            return;
        }
        let flights: Vec<(u64, &'static str, Duration)> = fleet
            .slots
            .iter()
            .filter_map(|s| s.flight.as_ref())
            .map(|f| {
                let what = match (f.work, f.running, f.merges) {
                    (Work::Experiment, false, _) => "drafting",
                    (Work::Experiment, true, 0) => "",
                    (Work::Experiment, true, _) => "again",
                    (_, _, _) => "baseline",
                };
                (f.index, what, f.started.elapsed())
            })
            .collect();
        let best = self.best_record().and_then(|r| Some((r.metric?, r.index)));
        let text = fleet_text(&flights, best, self.counts);
        self.status.redraw(&text);
    }
}

/// How a result was set against the best when devices are compared by their baselines.
fn scale(shift: f64) -> String {
    format!("compared with the best on the best's device, whose baseline differs by {shift:+.6}")
}

/// `4 slots: cuda:0, cuda:1, cuda:2, cuda:3; results compared by each device's baseline`.
fn fleet_line(slots: &[SlotState], compare: Compare) -> String {
    let devices: Vec<String> = slots
        .iter()
        .map(|s| s.key.clone().unwrap_or_else(|| "no device".into()))
        .collect();
    let how = match compare {
        Compare::Metric => "results compared as printed",
        Compare::Device => "results compared by each device's own baseline",
    };
    format!(
        "parallel: {} slots ({}); {how}",
        slots.len(),
        devices.join(", ")
    )
}

/// The live line of a parallel run: `#12 4.1s · #13 drafting 0.3s · #14 again 2.0s | best
/// 1.234567 (#9) | 3 kept, 5 discarded`.
fn fleet_text(
    flights: &[(u64, &str, Duration)],
    best: Option<(f64, u64)>,
    counts: Counts,
) -> String {
    let mut running: Vec<String> = flights
        .iter()
        .map(|(index, what, elapsed)| match *what {
            "" => format!("#{index} {}", clock(*elapsed)),
            what => format!("#{index} {what} {}", clock(*elapsed)),
        })
        .collect();
    running.sort();
    let mut parts = vec![running.join(" · ")];
    if let Some((value, index)) = best {
        parts.push(format!("best {value:.6} (#{index})"));
    }
    if counts.total() > 0 {
        parts.push(counts.to_string());
    }
    parts.join(" | ")
}

/// The note of a change measured more than once: what it measured before its last merge.
fn with_earlier(note: Option<String>, earlier: &[String]) -> Option<String> {
    if earlier.is_empty() {
        return note;
    }
    let before = earlier.join(", then ");
    Some(match note {
        Some(n) => format!("{n}; measured {before} before"),
        None => format!("measured {before}, then merged onto the best and measured again"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_line_shows_every_slot() {
        let flights = [
            (13, "drafting", Duration::from_millis(300)),
            (12, "", Duration::from_millis(4100)),
            (0, "baseline", Duration::from_secs(2)),
        ];
        let counts = Counts {
            keep: 3,
            discard: 5,
            ..Counts::default()
        };
        insta::assert_snapshot!(
            fleet_text(&flights, Some((1.234567, 9)), counts),
            @"#0 baseline 2.0s · #12 4.1s · #13 drafting 0.3s | best 1.234567 (#9) | 3 kept, 5 discarded"
        );
    }
}
