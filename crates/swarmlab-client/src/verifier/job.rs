//! One verification job, from fetch to the hub's final answer, in the order it runs: the
//! trees of head and candidate ([`super::trees`]) with the track's holdout pool taken out,
//! their builds (and a Python track's environment, given to every run), the held-out
//! validation data, the reruns in pairs (one seed per pair, the order alternating, the load
//! of each run noted: [`super::load`]), and the signed report after each pair from the second
//! on ([`super::report`]), for as long as the hub answers `continue`. Each phase is announced
//! to the hub ([`crate::beacon`]) for the pages.
//!
//! A phase that ends the job early says whose fault it is ([`Halt`]); the job sends that as
//! its report. Whatever the candidate's commit causes (a change that fails intake, a tree the
//! track's spec does not fit, a failing setup or build, a run that fails) is the candidate's
//! outcome; only what is the verifier's own (its disk, its sandbox, the head failing) is a
//! `verifier_fault`. It never decides acceptance: the hub's sequential test does.

use std::path::{Path, PathBuf};
use std::time::Instant;

use swarmlab_core::spec::Budget;
use swarmlab_core::TrackSpec;
use swarmlab_loop::one_line;
use swarmlab_proto::{BudgetKind, JobLease, PairLoad, Pairs, ReportResponse, RunOutcome};
use swarmlab_runner::{Cancel, SandboxConfig};

use super::load::LoadMeter;
use super::report::Reporter;
use super::scrub::Scrubber;
use super::trees::{self, Prepared};
use super::{job_dir, prepare_baseline, Me, VerifyOptions};
use crate::beacon::Beacon;
use crate::build::Ready;
use crate::client::HubClient;
use crate::evaluate::{self, Scored, Side};
use crate::lease::Heartbeat;
use crate::mirror::Mirror;
use crate::{random_seed, ClientError};

/// How a job ended: the hub's last answer, and the fault reported when it was ours.
pub(super) struct Ended {
    pub(super) answer: ReportResponse,
    /// Why the verifier reported a `verifier_fault` (unscrubbed, for its own log).
    pub(super) fault: Option<String>,
}

/// Runs one job under a heartbeat that keeps its lease; losing the lease cancels the job.
pub(super) fn run(
    options: &VerifyOptions,
    client: &HubClient,
    mirror: &Mirror,
    me: &Me,
    lease: &JobLease,
    beacon: &Beacon,
    cancel: &Cancel,
) -> Result<Ended, ClientError> {
    let job_cancel = Cancel::new();
    let heartbeat = Heartbeat::start(client, lease, cancel, &job_cancel);
    let mut job = Job {
        options,
        client,
        mirror,
        lease,
        beacon,
        cancel: job_cancel,
        dir: job_dir(options, lease.job_id),
        sandbox: options.sandbox.clone(),
        report: Reporter {
            client,
            me,
            lease,
            hardware_class: &options.hardware_class,
            candidate: Vec::new(),
            head: Vec::new(),
            scrubber: Scrubber::new(&options.dir),
            unsandboxed: options.sandbox.is_none(),
            pairs: None,
        },
    };
    let result = job.run();
    heartbeat.stop();
    result
}

/// Why a job ends before the hub's answer: a report to send, or a failure of our own that
/// leaves the job to be retried.
enum Halt {
    Report(RunOutcome, String),
    Error(ClientError),
}

impl Halt {
    /// The verifier's fault, not the candidate's.
    fn fault(why: String) -> Halt {
        Halt::Report(RunOutcome::VerifierFault, why)
    }
}

impl<E: Into<ClientError>> From<E> for Halt {
    fn from(e: E) -> Self {
        Halt::Error(e.into())
    }
}

/// One leased job and what it has measured so far.
struct Job<'a> {
    options: &'a VerifyOptions,
    client: &'a HubClient,
    mirror: &'a Mirror,
    lease: &'a JobLease,
    beacon: &'a Beacon,
    /// Cancelled when the lease is lost.
    cancel: Cancel,
    /// The job's own folder: setup logs, validation data, runs.
    dir: PathBuf,
    /// The sandbox of the job's runs: the verifier's, with what the track's toolchain adds.
    sandbox: Option<SandboxConfig>,
    report: Reporter<'a>,
}

impl Job<'_> {
    fn run(&mut self) -> Result<Ended, ClientError> {
        match self.phases() {
            Ok(answer) => Ok(Ended {
                answer,
                fault: None,
            }),
            Err(Halt::Report(outcome, why)) => {
                let answer = self.report.send(outcome, Some(why.clone()))?;
                let fault = (outcome == RunOutcome::VerifierFault).then_some(why);
                Ok(Ended { answer, fault })
            }
            Err(Halt::Error(e)) => Err(e),
        }
    }

    fn phases(&mut self) -> Result<ReportResponse, Halt> {
        self.doing("fetching and checking the candidate".into());
        let ([mut head, mut candidate], baseline) = self.trees()?;
        for spec in [&head, &candidate] {
            evaluate::hide_holdout(spec).map_err(|e| Halt::fault(e.to_string()))?;
        }
        let ready = self.build(&baseline, &head, &candidate)?;
        if let Some(python) = &ready.python {
            if let Some(took) = python.made_in {
                eprintln!(
                    "verifier: job #{} made the Python environment {} in {:.1}s",
                    self.lease.job_id,
                    python.root.display(),
                    took.as_secs_f64()
                );
            }
            let sandboxed = self.sandbox.is_some();
            python.apply(&mut head, sandboxed);
            python.apply(&mut candidate, sandboxed);
            if let Some(config) = &mut self.sandbox {
                python.bind(config);
            }
        }
        self.doing("making the validation data".into());
        let tokens = self.validation_data(&head, &ready.baseline)?;
        self.reruns(&head, &candidate, tokens.as_deref())
    }

    /// Tells the hub what this job is doing now.
    fn doing(&self, what: String) {
        self.beacon.set(
            Some(&self.lease.track),
            format!("job #{}: {what}", self.lease.job_id),
        );
    }

    /// Head and candidate checked out with the baseline's trusted files; with the baseline.
    fn trees(&self) -> Result<([TrackSpec; 2], String), Halt> {
        // The trees outlive the job: the next job's setup rebuilds only what changed.
        let trees = [
            self.options.dir.join("trees").join("head"),
            self.options.dir.join("trees").join("candidate"),
        ];
        let prepared = trees::prepare(self.client, self.mirror, self.lease, &trees, self.options);
        let ([head, candidate], baseline) = match prepared {
            Ok(prepared) => prepared,
            Err(Prepared::Candidate(why)) => return Err(Halt::Report(RunOutcome::Crash, why)),
            // The hub refused (the lease is gone) or cannot be reached: no one's fault to
            // report; the job ends here and the hub leases it again.
            Err(Prepared::Fault(e @ ClientError::Hub(_))) => return Err(Halt::Error(e)),
            Err(Prepared::Fault(e)) => return Err(Halt::fault(one_line(&e))),
        };
        if !head.eval.accepts_untrusted() {
            let why = "the track reads its metric from the candidate's own output (eval.mode = \"stdout\" without insecure = true)";
            return Err(Halt::fault(why.into()));
        }
        Ok(([head, candidate], baseline))
    }

    /// Builds both trees from the baseline's snapshot: the head's failure is ours, the
    /// candidate's its own. Returns what the runs need of the toolchain.
    fn build(
        &self,
        baseline: &str,
        head: &TrackSpec,
        candidate: &TrackSpec,
    ) -> Result<Ready, Halt> {
        let builds = self.options.builds();
        let started = Instant::now();
        if head.run.build_dir.is_some() {
            self.doing("preparing the baseline's build".into());
        }
        let track = &self.lease.track;
        let prepared = prepare_baseline(self.options, self.mirror, track, baseline, &self.cancel);
        let ready = match prepared {
            Ok(ready) => ready,
            Err(_) if self.cancel.is_cancelled() => return Err(ClientError::LeaseLost.into()),
            Err(e) => {
                let why = format!("preparing the build: {}", one_line(&e));
                return Err(Halt::fault(why));
            }
        };
        for (is_head, spec) in [(true, head), (false, candidate)] {
            if spec.run.setup.is_some() || spec.run.build.is_some() {
                let name = if is_head { "head" } else { "candidate" };
                self.doing(format!("building the {name}"));
            }
            let log = self.dir.join(if is_head {
                "head-setup.log"
            } else {
                "candidate-setup.log"
            });
            // The outer error is ours (copying the build, starting the sandbox); the inner
            // one the steps' own failure.
            let built = builds
                .build(&ready, spec, &log, &self.cancel)
                .map_err(|e| Halt::fault(one_line(&e)))?;
            if let Err(why) = built {
                if self.cancel.is_cancelled() {
                    return Err(ClientError::LeaseLost.into());
                }
                return Err(if is_head {
                    Halt::fault(format!("the head's setup failed: {why}"))
                } else {
                    Halt::Report(RunOutcome::Crash, format!("setup failed: {why}"))
                });
            }
        }
        if head.run.setup.is_some() || head.run.build.is_some() {
            eprintln!(
                "verifier: job #{} built in {:.1}s",
                self.lease.job_id,
                started.elapsed().as_secs_f64()
            );
        }
        Ok(ready)
    }

    /// The validation tokens in logits mode, on a holdout seed of the verifier's own; a
    /// holdout pool is read from `baseline`, the track's baseline tree, which no run sees.
    fn validation_data(&self, head: &TrackSpec, baseline: &Path) -> Result<Option<Vec<u32>>, Halt> {
        let holdout = random_seed()?;
        evaluate::tokens(
            head,
            baseline,
            &self.dir.join("data"),
            holdout,
            self.sandbox.as_ref(),
            &self.cancel,
        )
        .map_err(|e| Halt::fault(format!("validation data: {e}")))
    }

    /// Runs candidate and head in pairs, one fresh seed per pair, reporting after each pair
    /// from the second on, until the hub's answer is no longer `continue` (at most the
    /// lease's `max_reruns` pairs).
    fn reruns(
        &mut self,
        head: &TrackSpec,
        candidate: &TrackSpec,
        tokens: Option<&[u32]>,
    ) -> Result<ReportResponse, Halt> {
        let asked = self.lease.reruns.max(2);
        let cap = self.lease.max_reruns.unwrap_or(asked).max(asked);
        self.report.pairs = Some(Pairs {
            seeds: Vec::new(),
            budget: budget_kind(&head.run.budget),
            load: Vec::new(),
        });
        for i in 0..cap {
            let seed = random_seed()?;
            // Alternate the order so that neither side always runs on a warmer machine.
            let order = if i % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            let mut load = [None, None];
            for is_head in order {
                let name = if is_head { "head" } else { "candidate" };
                let which = if i < asked {
                    format!("{} of {asked}", i + 1)
                } else {
                    format!("{} (more asked for, up to {cap})", i + 1)
                };
                self.doing(format!("rerun {which}: the {name}"));
                let spec = if is_head { head } else { candidate };
                let meter = LoadMeter::start();
                self.rerun(i, seed, is_head, spec, tokens)?;
                load[usize::from(is_head)] = Some(meter.finish());
            }
            if let (Some(pairs), [Some(candidate), Some(head)]) = (&mut self.report.pairs, load) {
                pairs.seeds.push(seed);
                pairs.load.push(PairLoad { candidate, head });
            }
            if i >= 1 {
                let answer = self.report.send(RunOutcome::Ok, None)?;
                if answer.decision != "continue" {
                    return Ok(answer);
                }
            }
        }
        Err(ClientError::Reruns(cap).into())
    }

    /// Run `i` of one side, its metric added to the report; a failure ends the job.
    fn rerun(
        &mut self,
        i: u32,
        seed: u64,
        is_head: bool,
        spec: &TrackSpec,
        tokens: Option<&[u32]>,
    ) -> Result<(), Halt> {
        let name = if is_head { "head" } else { "candidate" };
        let side = Side {
            spec,
            seed,
            marker: format!("verify-{}-{i}-{name}", self.lease.job_id),
            run_dir: self.dir.join("runs").join(format!("{name}-{i}")),
            sandbox: self.sandbox.as_ref(),
        };
        let scored = evaluate::score(&side, tokens, &self.cancel);
        if self.cancel.is_cancelled() {
            return Err(ClientError::LeaseLost.into());
        }
        match (is_head, scored) {
            (true, Ok(Scored::Metric(v))) => self.report.head.push(v),
            (false, Ok(Scored::Metric(v))) => self.report.candidate.push(v),
            (true, Ok(Scored::Failed { why, .. })) => {
                return Err(Halt::fault(format!("the head failed: {why}")));
            }
            (false, Ok(Scored::Failed { timeout, why })) => {
                let outcome = if timeout {
                    RunOutcome::Timeout
                } else {
                    RunOutcome::Crash
                };
                return Err(Halt::Report(outcome, why));
            }
            (false, Err(e)) if e.blames_candidate() => {
                return Err(Halt::Report(RunOutcome::Crash, e.to_string()));
            }
            (_, Err(e)) => return Err(Halt::fault(format!("{name}: {e}"))),
        }
        Ok(())
    }
}

/// What a budget counts, as the report says it.
fn budget_kind(budget: &Budget) -> BudgetKind {
    match budget {
        Budget::Time(_) => BudgetKind::Time,
        Budget::Steps(_) => BudgetKind::Steps,
        Budget::Tokens(_) => BudgetKind::Tokens,
    }
}
