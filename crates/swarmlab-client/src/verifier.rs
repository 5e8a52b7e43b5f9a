//! `swarmlab verify`: a trusted verifier. It leases a job, fetches the candidate, checks the
//! change again, lays the trusted files of the track's pinned baseline over both trees, builds
//! them when the track compiles (`build`), and runs candidate and head in turn with seeds of
//! its own choosing, in the sandbox. After each pair from the second on it reports signed
//! measurements, without ever having seen the worker's claim, until the hub's sequential
//! test has its answer.
//!
//! A failure of the candidate is the submission's fault (`crash`, `timeout`); a failure of
//! the head, or of anything here, is the verifier's (`verifier_fault`), retried elsewhere.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use swarmlab_core::spec::SPEC_FILE;
use swarmlab_core::TrackSpec;
use swarmlab_loop::{one_line, Stop};
use swarmlab_proto::{
    signing, IdentityInfo, JobLease, Measurements, ReportRequest, ReportResponse, Role, RunOutcome,
    SigningKey, TrackInfo,
};
use swarmlab_runner::{Cancel, SandboxConfig};

use crate::build::Builds;
use crate::client::{HubClient, HubError};
use crate::evaluate::{self, Scored, Side};
use crate::identity::IdentityFile;
use crate::lease::{remember, resumed, Heartbeat};
use crate::mirror::Mirror;
use crate::{pause, random_seed, ClientError};
use swarmlab_core::short;

/// The largest file a verifier accepts in a candidate's change, as the hub's intake.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// How long the verifier waits between polls of an empty queue.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// What `swarmlab verify` was asked to do.
pub struct VerifyOptions {
    pub hub: String,
    pub dir: PathBuf,
    /// A token from `swarmlab hub add-identity`, bound to this verifier's key on first use.
    pub token: Option<String>,
    pub hardware_class: String,
    /// The sandbox every run goes through; `None` runs candidates unconfined.
    pub sandbox: Option<SandboxConfig>,
    /// Stop after this many jobs; `None`: never.
    pub jobs: Option<u64>,
    /// Overrides the track's budget on both sides (test hubs and demos).
    pub budget: Option<Duration>,
}

/// Who this verifier is to the hub.
struct Me {
    id: String,
    key: SigningKey,
}

pub fn verify(options: VerifyOptions, cancel: Cancel) -> Result<Stop, ClientError> {
    let anonymous = HubClient::new(&options.hub, None, cancel.clone());
    let identity = enroll(&options, &anonymous)?;
    let (token, id) = identity.credentials()?;
    let me = Me {
        id,
        key: identity.key()?,
    };
    let client = anonymous.with_token(token);
    let mirror = Mirror::open_or_init(&options.dir.join("repo"))?;
    eprintln!(
        "verifier {} at {} (hardware class {}, {})",
        me.id,
        options.hub,
        options.hardware_class,
        if options.sandbox.is_some() {
            "sandboxed"
        } else {
            "NOT sandboxed"
        }
    );
    let mut done = 0u64;
    loop {
        if cancel.is_cancelled() {
            return Ok(Stop::Interrupted);
        }
        if options.jobs.is_some_and(|n| done >= n) {
            return Ok(Stop::Limit);
        }
        let lease = match resumed(&options.dir, &client) {
            Some(lease) => Some(lease),
            None => {
                match client.post::<_, Option<JobLease>>("jobs/lease", &serde_json::json!({})) {
                    Ok(lease) => lease,
                    Err(HubError::Interrupted) => return Ok(Stop::Interrupted),
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let Some(lease) = lease else {
            if pause(&cancel, IDLE_POLL) {
                return Ok(Stop::Interrupted);
            }
            continue;
        };
        remember(&options.dir, Some(&lease))?;
        match run_job(&options, &client, &mirror, &me, &lease, &cancel) {
            Ok(answer) => eprintln!(
                "verifier: job #{} ({}) {}{}{}",
                lease.job_id,
                short(&lease.candidate),
                answer.decision,
                answer.reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                answer
                    .p_value
                    .map(|p| format!(", p = {p:.2e}"))
                    .unwrap_or_default()
            ),
            Err(e) if cancel.is_cancelled() => {
                // The lease is kept: a restarted verifier resumes the job.
                eprintln!(
                    "verifier: job #{} interrupted: {}",
                    lease.job_id,
                    one_line(&e)
                );
                return Ok(Stop::Interrupted);
            }
            Err(e) => eprintln!(
                "verifier: job #{} abandoned: {}",
                lease.job_id,
                one_line(&e)
            ),
        }
        let _ = std::fs::remove_dir_all(job_dir(&options, lease.job_id));
        remember(&options.dir, None)?;
        done += 1;
    }
}

/// The identity in the verifier's folder; on first start its key is created and the
/// admin's token bound to it.
fn enroll(options: &VerifyOptions, client: &HubClient) -> Result<IdentityFile, ClientError> {
    let mut identity = match IdentityFile::load(&options.dir)? {
        Some(identity) => identity,
        None => {
            let identity = IdentityFile::generate(&options.hub, Role::Verifier)?;
            identity.save(&options.dir)?;
            identity
        }
    };
    if identity.token.is_some() && options.token.is_none() {
        return Ok(identity);
    }
    let Some(token) = options.token.clone() else {
        return Err(ClientError::NotEnrolled {
            public_key: identity.public_key_hex()?,
        });
    };
    let me: IdentityInfo = client
        .with_token(token.clone())
        .get("me")
        .map_err(ClientError::Token)?;
    if me.role != Role::Verifier {
        return Err(ClientError::NotAVerifier(me.role.as_str()));
    }
    if me.public_key.as_deref() != Some(identity.public_key_hex()?.as_str()) {
        return Err(ClientError::OtherKey {
            public_key: identity.public_key_hex()?,
        });
    }
    identity.identity_id = Some(me.identity_id);
    identity.token = Some(token);
    identity.save(&options.dir)?;
    Ok(identity)
}

fn job_dir(options: &VerifyOptions, job: i64) -> PathBuf {
    options.dir.join("jobs").join(job.to_string())
}

/// One job, from fetch to the hub's final answer.
fn run_job(
    options: &VerifyOptions,
    client: &HubClient,
    mirror: &Mirror,
    me: &Me,
    lease: &JobLease,
    cancel: &Cancel,
) -> Result<ReportResponse, ClientError> {
    let job_cancel = Cancel::new();
    let heartbeat = Heartbeat::start(client, lease, cancel, &job_cancel);
    let dir = job_dir(options, lease.job_id);
    // The trees outlive the job: the next job's setup rebuilds only what changed.
    let trees = [
        options.dir.join("trees").join("head"),
        options.dir.join("trees").join("candidate"),
    ];
    let result = (|| {
        let prepared = prepare(client, mirror, lease, &trees, options.budget);
        let mut report = Reporter {
            client,
            me,
            lease,
            hardware_class: &options.hardware_class,
            candidate: Vec::new(),
            head: Vec::new(),
        };
        let ([head_spec, candidate_spec], baseline) = match prepared {
            Ok(prepared) => prepared,
            Err(Prepared::Candidate(why)) => return report.send(RunOutcome::Crash, Some(why)),
            Err(Prepared::Fault(e)) => {
                return report.send(RunOutcome::VerifierFault, Some(one_line(&e)))
            }
        };
        if !head_spec.eval.accepts_untrusted() {
            let why = "the track reads its metric from the candidate's own output (eval.mode = \"stdout\" without insecure = true)";
            return report.send(RunOutcome::VerifierFault, Some(why.into()));
        }
        let builds = Builds {
            dir: &options.dir,
            sandbox: options.sandbox.as_ref(),
        };
        let started = Instant::now();
        let ready = match builds.prepare(mirror, &baseline, &job_cancel) {
            Ok(ready) => ready,
            Err(_) if job_cancel.is_cancelled() => return Err(ClientError::LeaseLost),
            Err(e) => {
                return report.send(
                    RunOutcome::VerifierFault,
                    Some(format!("preparing the build: {}", one_line(&e))),
                )
            }
        };
        for (is_head, spec) in [(true, &head_spec), (false, &candidate_spec)] {
            let log = dir.join(if is_head {
                "head-setup.log"
            } else {
                "candidate-setup.log"
            });
            let built = match builds.build(&ready, spec, &log, &job_cancel) {
                Ok(built) => built,
                Err(e) => {
                    return report.send(RunOutcome::VerifierFault, Some(one_line(&e)));
                }
            };
            if let Err(why) = built {
                if job_cancel.is_cancelled() {
                    return Err(ClientError::LeaseLost);
                }
                return if is_head {
                    report.send(
                        RunOutcome::VerifierFault,
                        Some(format!("the head's setup failed: {why}")),
                    )
                } else {
                    report.send(RunOutcome::Crash, Some(format!("setup failed: {why}")))
                };
            }
        }
        if head_spec.run.setup.is_some() || head_spec.run.build.is_some() {
            eprintln!(
                "verifier: job #{} built in {:.1}s",
                lease.job_id,
                started.elapsed().as_secs_f64()
            );
        }
        let holdout = random_seed()?;
        let data_dir = dir.join("data");
        let tokens = match evaluate::tokens(
            &head_spec,
            &data_dir,
            holdout,
            options.sandbox.as_ref(),
            &job_cancel,
        ) {
            Ok(tokens) => tokens,
            Err(e) => {
                return report.send(
                    RunOutcome::VerifierFault,
                    Some(format!("validation data: {e}")),
                )
            }
        };
        let reruns = lease.reruns.max(2);
        for i in 0..reruns {
            let seed = random_seed()?;
            // Alternate the order so that neither side always runs on a warmer machine.
            let order = if i % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for is_head in order {
                let (name, spec) = if is_head {
                    ("head", &head_spec)
                } else {
                    ("candidate", &candidate_spec)
                };
                let side = Side {
                    spec,
                    seed,
                    marker: format!("verify-{}-{i}-{name}", lease.job_id),
                    run_dir: dir.join("runs").join(format!("{name}-{i}")),
                    sandbox: options.sandbox.as_ref(),
                };
                let scored = evaluate::score(&side, tokens.as_deref(), &job_cancel);
                if job_cancel.is_cancelled() {
                    return Err(ClientError::LeaseLost);
                }
                match (is_head, scored) {
                    (true, Ok(Scored::Metric(v))) => report.head.push(v),
                    (false, Ok(Scored::Metric(v))) => report.candidate.push(v),
                    (true, Ok(Scored::Failed { why, .. })) => {
                        return report.send(
                            RunOutcome::VerifierFault,
                            Some(format!("the head failed: {why}")),
                        );
                    }
                    (false, Ok(Scored::Failed { timeout, why })) => {
                        let outcome = if timeout {
                            RunOutcome::Timeout
                        } else {
                            RunOutcome::Crash
                        };
                        return report.send(outcome, Some(why));
                    }
                    (false, Err(e)) if e.blames_candidate() => {
                        return report.send(RunOutcome::Crash, Some(e.to_string()));
                    }
                    (_, Err(e)) => {
                        return report
                            .send(RunOutcome::VerifierFault, Some(format!("{name}: {e}")));
                    }
                }
            }
            if i >= 1 {
                let answer = report.send(RunOutcome::Ok, None)?;
                if answer.decision != "continue" {
                    return Ok(answer);
                }
            }
        }
        Err(ClientError::Reruns(reruns))
    })();
    heartbeat.stop();
    result
}

/// Why a job could not be set up: the candidate's fault, or ours.
enum Prepared {
    Candidate(String),
    Fault(ClientError),
}

impl<E: Into<ClientError>> From<E> for Prepared {
    fn from(e: E) -> Self {
        Prepared::Fault(e.into())
    }
}

/// Fetches the job, re-checks the change, checks out head and candidate with the baseline's
/// trusted files over both, and loads the baseline's spec for each; with the track's
/// baseline commit.
fn prepare(
    client: &HubClient,
    mirror: &Mirror,
    lease: &JobLease,
    trees: &[PathBuf; 2],
    budget: Option<Duration>,
) -> Result<([TrackSpec; 2], String), Prepared> {
    let track: TrackInfo = client.get(&format!("tracks/{}", lease.track))?;
    let bundle = client.get_bytes(&format!("jobs/{}/bundle", lease.job_id))?;
    mirror.import(&bundle)?;
    for commit in [&lease.base, &lease.candidate, &track.baseline] {
        if !mirror.has(commit) {
            return Err(Prepared::Fault(ClientError::JobMissing(commit.clone())));
        }
    }
    let spec_text = mirror.show(&track.baseline, SPEC_FILE)?;
    let trusted_at =
        |tree: &Path, commit: &str, trusted: &[String]| -> Result<TrackSpec, ClientError> {
            mirror.worktree(commit, tree)?;
            mirror.overlay_trusted(&track.baseline, trusted, tree)?;
            let (mut spec, _) = TrackSpec::parse(tree, &spec_text)
                .map_err(|(_, message)| ClientError::BaselineSpec(message))?;
            if let Some(budget) = budget {
                spec.override_budget(budget);
            }
            Ok(spec)
        };
    // The spec is the baseline's, and so is the list of trusted files it names.
    let head = trusted_at(&trees[0], &lease.base, &[SPEC_FILE.to_string()])?;
    let mut trusted = head.files.trusted.clone();
    trusted.push(SPEC_FILE.to_string());
    mirror.overlay_trusted(&track.baseline, &trusted, &trees[0])?;
    swarmlab_core::change::check_change(
        mirror.git(),
        &lease.base,
        &lease.candidate,
        &head.files.editable,
        MAX_FILE_BYTES,
    )
    .map_err(|why| Prepared::Candidate(format!("the change fails intake: {why}")))?;
    let candidate = trusted_at(&trees[1], &lease.candidate, &trusted)?;
    Ok(([head, candidate], track.baseline))
}

/// Builds, signs and sends the measurements so far.
struct Reporter<'a> {
    client: &'a HubClient,
    me: &'a Me,
    lease: &'a JobLease,
    hardware_class: &'a str,
    candidate: Vec<f64>,
    head: Vec<f64>,
}

impl Reporter<'_> {
    fn send(
        &self,
        outcome: RunOutcome,
        detail: Option<String>,
    ) -> Result<ReportResponse, ClientError> {
        if let (RunOutcome::VerifierFault, Some(why)) = (outcome, &detail) {
            eprintln!("verifier: job #{} fault: {why}", self.lease.job_id);
        }
        let measurements = Measurements {
            job_id: self.lease.job_id,
            verifier_id: self.me.id.clone(),
            hardware_class: self.hardware_class.to_string(),
            outcome,
            candidate: self.candidate.clone(),
            head: self.head.clone(),
            detail: detail.map(|d| d.chars().take(2000).collect()),
        };
        let request = ReportRequest {
            signature: signing::sign(&self.me.key, &measurements.signed_bytes()),
            measurements,
        };
        Ok(self
            .client
            .post(&format!("jobs/{}/report", self.lease.job_id), &request)?)
    }
}

/// A name for this machine's hardware, so that the hub compares like with like: the CPU
/// model and the number of CPUs.
pub fn hardware_class() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model: String = model
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("cpu-{}-x{cpus}", model.trim_matches('-'))
}
