//! `swarmlab verify`: a trusted verifier. It leases a job, fetches the candidate, checks the
//! change again, lays the trusted files of the track's pinned baseline over both trees, builds
//! them when the track compiles (`build`), and runs candidate and head in turn with seeds of
//! its own choosing, in the sandbox. After each pair from the second on it reports signed
//! measurements, without ever having seen the worker's claim, until the hub's sequential
//! test has its answer.
//!
//! A failure of the candidate is the submission's fault (`crash`, `timeout`); a failure of
//! the head, or of anything here, is the verifier's (`verifier_fault`), retried elsewhere. A
//! verifier that faults on several jobs in a row is broken, not unlucky: it stops taking
//! jobs and says why.
//!
//! Asked to (`--warm TRACK`), it builds a compiled track's baseline before it leases any job,
//! so that its first job starts warm and a demo can seed its workers' builds from that
//! trusted build. It tells the hub what it is doing as it goes (the crate's `beacon`).
//!
//! This file holds the verifier's loop, its warm-up and its enrolment; one job's phases are in
//! `job`, the trees it starts from in `trees`, the load of each run in `load`, its signed
//! report in `report` (details scrubbed of local paths by `scrub`), what it tells the pages
//! through the crate's `beacon`, the self-test in its own folder at start in `sandbox`, and
//! where the verifiers of one command run (one folder, a GPU, or one per device) in `placed`.

mod job;
mod load;
pub mod placed;
mod report;
mod sandbox;
mod scrub;
mod trees;

pub use sandbox::test_sandbox_in;

use std::path::PathBuf;
use std::time::Duration;

use swarmlab_core::short;
use swarmlab_core::spec::Budget;
use swarmlab_loop::{one_line, Stop};
use swarmlab_proto::{IdentityInfo, JobLease, Role, SigningKey, TrackInfo};
use swarmlab_runner::{Cancel, SandboxConfig};

use crate::beacon::{Beacon, Speaker};
use crate::build::{Builds, Ready};
use crate::client::{HubClient, HubError};
use crate::identity::IdentityFile;
use crate::lease::{remember, resumed};
use crate::mirror::Mirror;
use crate::{pause, ClientError};

/// How long the verifier waits between polls of an empty queue.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Faults on this many jobs in a row stop the verifier: each job it faults on goes to
/// another verifier, so a broken one would otherwise lease, fault and release forever.
const FAULTS_IN_A_ROW: u32 = 3;

/// What `swarmlab verify` was asked to do.
pub struct VerifyOptions {
    pub hub: String,
    pub dir: PathBuf,
    /// A token from `swarmlab hub add-identity`, bound to this verifier's key on first use.
    pub token: Option<String>,
    pub hardware_class: String,
    /// Set in the environment of every run of both sides, over the track's `run.env`: the
    /// assigned GPU's `CUDA_VISIBLE_DEVICES` ([`crate::gpu::Gpu::env`]).
    pub env: Vec<(String, String)>,
    /// The sandbox every run goes through; `None` runs candidates unconfined.
    pub sandbox: Option<SandboxConfig>,
    /// Stop after this many jobs; `None`: never.
    pub jobs: Option<u64>,
    /// Overrides the track's budget on both sides (test hubs and demos).
    pub budget: Option<Budget>,
    /// Tracks whose baseline to build before the first job (compiled tracks).
    pub warm: Vec<String>,
    /// The interpreter the environments of Python tracks are made from.
    pub python: PathBuf,
}

impl VerifyOptions {
    /// The verifier's builds, in its folder and sandbox.
    fn builds(&self) -> Builds<'_> {
        Builds {
            dir: &self.dir,
            sandbox: self.sandbox.as_ref(),
            python: &self.python,
        }
    }
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
    let mirror = prepare(&options, &me)?;
    let beacon = Beacon::start(&client, Speaker::Verifier);
    for track in &options.warm {
        beacon.set(Some(track), "building the baseline");
        if let Err(e) = warm(&options, &client, &mirror, track, &cancel) {
            if cancel.is_cancelled() {
                return Ok(Stop::Interrupted);
            }
            return Err(e);
        }
    }
    let mut done = 0u64;
    let mut streak = FaultStreak::default();
    let mut idle = false;
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
            if !idle {
                beacon.set(None, "waiting for a job");
                idle = true;
            }
            if pause(&cancel, IDLE_POLL) {
                return Ok(Stop::Interrupted);
            }
            continue;
        };
        idle = false;
        remember(&options.dir, Some(&lease))?;
        let mut fault = None;
        match job::run(&options, &client, &mirror, &me, &lease, &beacon, &cancel) {
            Ok(ended) => {
                let answer = ended.answer;
                eprintln!(
                    "verifier: job #{} ({}) {}{}{}{}",
                    lease.job_id,
                    short(&lease.candidate),
                    answer.decision,
                    answer.reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                    answer
                        .reruns
                        .map(|n| format!(" after {n} reruns of each"))
                        .unwrap_or_default(),
                    answer
                        .p_value
                        .map(|p| format!(", p = {p:.2e}"))
                        .unwrap_or_default()
                );
                fault = ended.fault;
            }
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
        remember(&options.dir, None)?;
        done += 1;
        streak.after(fault, job_dir(&options, lease.job_id))?;
    }
}

/// The verifier's mirror of the hubs' repositories, once its files are readable by the
/// sandbox's user; says who and where it is.
fn prepare(options: &VerifyOptions, me: &Me) -> Result<Mirror, ClientError> {
    if options.sandbox.is_some() {
        // The sandbox's uid reads the trees, builds and runs this verifier writes: whatever
        // the caller's umask, they are readable by others (they hold the hub's public code;
        // the identity file sets its own mode).
        // SAFETY: umask has no preconditions and cannot fail.
        unsafe { libc::umask(0o022) };
    }
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
    Ok(mirror)
}

/// The verifier's own faults in a row, and the folder of the last faulted job, kept for
/// whoever looks into it until the next job ends.
#[derive(Default)]
struct FaultStreak {
    faults: u32,
    kept: Option<PathBuf>,
}

impl FaultStreak {
    /// After a job whose folder is `dir`: `fault` says why the verifier faulted on it, if it
    /// did. [`FAULTS_IN_A_ROW`] faults stop the verifier.
    fn after(&mut self, fault: Option<String>, dir: PathBuf) -> Result<(), ClientError> {
        if let Some(old) = self.kept.take() {
            let _ = std::fs::remove_dir_all(old);
        }
        let Some(last) = fault else {
            self.faults = 0;
            let _ = std::fs::remove_dir_all(dir);
            return Ok(());
        };
        self.faults += 1;
        if self.faults >= FAULTS_IN_A_ROW {
            return Err(ClientError::Faulting {
                jobs: self.faults,
                last,
                dir,
            });
        }
        self.kept = Some(dir);
        Ok(())
    }
}

/// Builds `track`'s baseline into its snapshot (docs/security.md, "Builds"), as the first
/// job would; a track that compiles nothing needs nothing.
fn warm(
    options: &VerifyOptions,
    client: &HubClient,
    mirror: &Mirror,
    track: &str,
    cancel: &Cancel,
) -> Result<(), ClientError> {
    let info: TrackInfo = client.get(&format!("tracks/{track}"))?;
    if !mirror.has(&info.baseline) {
        mirror.import(&client.get_bytes(&format!("tracks/{track}/bundle"))?)?;
        if !mirror.has(&info.baseline) {
            return Err(ClientError::HeadMissing(info.baseline));
        }
    }
    eprintln!("verifier: preparing the baseline of {track}");
    prepare_baseline(options, mirror, track, &info.baseline, cancel)?;
    eprintln!("verifier: the baseline of {track} is ready");
    Ok(())
}

/// Prepares `baseline`, the pinned baseline of `track`, for its jobs: its tree, its
/// environment, and its snapshot when the track compiles, built unless it is kept already
/// (docs/security.md, "Builds"). Says so when it built one.
fn prepare_baseline(
    options: &VerifyOptions,
    mirror: &Mirror,
    track: &str,
    baseline: &str,
    cancel: &Cancel,
) -> Result<Ready, ClientError> {
    let ready = options.builds().prepare(mirror, track, baseline, cancel)?;
    if let Some(took) = ready.built {
        eprintln!(
            "verifier: the baseline of {track} is built ({:.0}s)",
            took.as_secs_f64()
        );
    }
    Ok(ready)
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
    cpu_class(&model, cpus)
}

/// `cpu-<model>-x<cpus>`, the model without its trademark marks, in letters, digits and
/// single dashes: `Intel(R) Xeon(R) Processor` on 2 CPUs is `cpu-Intel-Xeon-Processor-x2`.
fn cpu_class(model: &str, cpus: usize) -> String {
    let model = model
        .replace("(R)", " ")
        .replace("(TM)", " ")
        .replace("(tm)", " ");
    format!("cpu-{}-x{cpus}", crate::gpu::class_word(&model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_class_reads_as_its_model_and_count() {
        assert_eq!(
            cpu_class("Intel(R) Xeon(R) Processor", 2),
            "cpu-Intel-Xeon-Processor-x2"
        );
        assert_eq!(
            cpu_class("AMD EPYC 7B13 64-Core Processor", 8),
            "cpu-AMD-EPYC-7B13-64-Core-Processor-x8"
        );
    }
}
