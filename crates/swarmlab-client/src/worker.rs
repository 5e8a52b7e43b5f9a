//! `swarmlab work`: the local loop, attached to a hub. The worker syncs the track's verified
//! head, leases an idea, runs experiments against its own measurement of the head, and
//! submits a signed candidate whenever one beats it. When the head moves it starts over on
//! the new head. Hub faults are waited out with backoff; nothing local is lost meanwhile.
//! When its proposer has nothing left to try on the head, it says so once and waits for a
//! new head or an idea in the queue (`idle`), asking the hub less often the longer nothing
//! changes. It tells the hub what it is doing (the crate's `beacon`): the track's page shows
//! it, and a swarm whose workers are all idle on the head with nothing waiting has converged.
//!
//! The worker never decides what counts: the hub's verifiers do. Its claim is a hint.

mod idle;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use swarmlab_core::spec::Budget;
use swarmlab_core::{Record, TrackSpec};
use swarmlab_loop::{Limits, Session, Stop};
use swarmlab_proto::{ActivityReport, IdeaInfo, LeaseDeadline, SubmissionInfo, TrackInfo};
use swarmlab_runner::Cancel;

use crate::beacon::{Beacon, Speaker};
use crate::client::{HubClient, HubError};
use crate::identity::IdentityFile;
use crate::mirror::Mirror;
use crate::submission::Candidate;
use crate::{ClientError, ProposerError};
use swarmlab_core::short;

use self::idle::Idle;

/// Experiments spent on one leased idea before it is marked done and another is leased.
const EXPERIMENTS_PER_IDEA: u64 = 10;

/// Builds the proposer for a round, from the spec of the head it works on.
pub type MakeProposer =
    Box<dyn Fn(&TrackSpec) -> Result<Box<dyn swarmlab_agent::Proposer>, ProposerError>>;

/// What `swarmlab work` was asked to do.
pub struct WorkOptions {
    pub hub: String,
    pub track: String,
    pub dir: PathBuf,
    pub name: String,
    /// The code to register with, on a hub that registers workers by invite.
    pub invite: Option<String>,
    pub seed: u64,
    /// Stop after this many experiments (baselines not counted); `None`: never.
    pub experiments: Option<u64>,
    /// Overrides the track's budget for local runs.
    pub budget: Option<Budget>,
    /// A trusted build of the baseline, copied into the track's build folder when that is
    /// missing, before the first setup.
    pub build_from: Option<PathBuf>,
    /// Set in the environment of every run, over the track's `run.env`: the GPU this worker
    /// hands its runs ([`crate::gpu::Gpu::env`]).
    pub env: Vec<(String, String)>,
    pub make_proposer: MakeProposer,
}

/// One head of the chain being worked on.
struct Round {
    head: String,
    /// The head's place in the chain (the baseline is 0).
    seq: i64,
    session: Session,
    idea: Option<IdeaInfo>,
    /// Experiments run in this round on the current idea.
    on_idea: u64,
    /// The best commit already submitted in this round.
    submitted: Option<String>,
    /// The submission of this round still waiting for its verdict.
    pending: Option<i64>,
    /// The proposer has nothing left to try on this head without a new idea.
    idle: bool,
    /// The worker has said that it is idle on this head (it says it once per head).
    said_idle: bool,
    /// The session's experiment wall seconds already counted into [`Spent`].
    counted_s: f64,
}

/// Wall seconds of the worker's experiments since its last submission: what it tells the
/// hub its search cost (`spent_s` in the claim), so that the hub can weigh verification
/// against it.
#[derive(Debug, Default)]
struct Spent {
    seconds: f64,
}

impl Spent {
    /// Counts what `round`'s session ran since the last count.
    fn count(&mut self, round: &mut Round) {
        let total = round.session.wall_seconds();
        self.seconds += (total - round.counted_s).max(0.0);
        round.counted_s = total;
    }
}

pub fn work(options: WorkOptions, cancel: Cancel) -> Result<Stop, ClientError> {
    let anonymous = HubClient::new(&options.hub, None, cancel.clone());
    let identity = IdentityFile::worker(
        &options.dir,
        &options.hub,
        &options.name,
        options.invite.as_deref(),
        &anonymous,
    )?;
    let (token, worker_id) = identity.credentials()?;
    let key = identity.key()?;
    let client = anonymous.with_token(token);
    let mirror = Mirror::open_or_init(&options.dir.join("track"))?;
    eprintln!(
        "worker {} ({worker_id}) on {} at {}",
        options.name, options.track, options.hub
    );
    let mut round: Option<Round> = None;
    let mut following: Vec<i64> = Vec::new();
    let mut done = 0u64;
    let mut idle = Idle::new();
    let mut spent = Spent::default();
    let beacon = Beacon::start(&client, Speaker::Worker);
    loop {
        if cancel.is_cancelled() {
            return Ok(Stop::Interrupted);
        }
        if options.experiments.is_some_and(|n| done >= n) {
            return Ok(Stop::Limit);
        }
        let track: TrackInfo = match client.get(&format!("tracks/{}", options.track)) {
            Ok(t) => t,
            Err(HubError::Interrupted) => return Ok(Stop::Interrupted),
            Err(e) => return Err(e.into()),
        };
        follow(&client, &mut following);
        if round.as_ref().is_none_or(|r| r.head != track.head) {
            if let Some(old) = round.take() {
                eprintln!(
                    "worker: the head moved {} → {} (chain length {})",
                    short(&old.head),
                    short(&track.head),
                    track.chain.len()
                );
            }
            idle.reset();
            round = Some(start_round(&options, &client, &mirror, &track, &cancel)?);
        }
        let r = round.as_mut().expect("a round was just started");
        beacon.report(activity(&options, r));
        if r.idle {
            // Only an idea (or a new head, above) gives the proposer something new to try.
            if !lease_idea(&options, &client, r) {
                if idle.wait(&cancel) {
                    return Ok(Stop::Interrupted);
                }
                continue;
            }
            r.idle = false;
            idle.reset();
            beacon.report(activity(&options, r));
        }
        let stop = r.session.run(Limits {
            experiments: Some(1),
            duration: None,
        })?;
        spent.count(r);
        match stop {
            Stop::Interrupted => return Ok(Stop::Interrupted),
            Stop::NothingToPropose => {
                go_idle(&options, &client, r);
                beacon.report(activity(&options, r));
                continue;
            }
            Stop::Limit => {}
        }
        done += 1;
        r.on_idea += 1;
        let offered = offer_best(
            (&options, &client, &mirror),
            (&key, &worker_id),
            r,
            &mut spent,
            &mut following,
        );
        match offered {
            Err(e) if e.is_interrupted() => return Ok(Stop::Interrupted),
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        keep_idea(&options, &client, r);
    }
}

/// Submits the round's best when it clears the track's `min_delta`, was not submitted yet,
/// and no submission of this worker waits for its verdict: one submission in flight per
/// worker, so that an improvement found meanwhile is offered after that verdict and the
/// verifiers see the best, not every step to it.
fn offer_best(
    (options, client, mirror): (&WorkOptions, &HubClient, &Mirror),
    (key, worker_id): (&swarmlab_proto::SigningKey, &str),
    r: &mut Round,
    spent: &mut Spent,
    following: &mut Vec<i64>,
) -> Result<(), ClientError> {
    let waiting = r.pending.is_some_and(|id| following.contains(&id));
    let best = r.session.best().cloned();
    let Some(best) = best.filter(|b| b.index > 0 && !waiting && clears_min_delta(r, b)) else {
        return Ok(());
    };
    if r.submitted.as_ref() == Some(&best.commit) {
        return Ok(());
    }
    let submitted = submit(
        options,
        client,
        mirror,
        key,
        worker_id,
        r,
        &best,
        spent.seconds,
    )?;
    if let Some(info) = submitted {
        spent.seconds = 0.0;
        r.submitted = Some(best.commit.clone());
        r.pending = Some(info.id);
        following.push(info.id);
        // The hub marks an idea done when a submission tries it.
        if r.idea.take().is_some() {
            lease_idea(options, client, r);
        }
    }
    Ok(())
}

/// Syncs the head, checks it out and opens a session on a branch of its own.
fn start_round(
    options: &WorkOptions,
    client: &HubClient,
    mirror: &Mirror,
    track: &TrackInfo,
    cancel: &Cancel,
) -> Result<Round, ClientError> {
    if !mirror.has(&track.head) {
        let bundle = client.get_bytes(&format!("tracks/{}/bundle", options.track))?;
        mirror.import(&bundle)?;
        if !mirror.has(&track.head) {
            return Err(ClientError::HeadMissing(track.head.clone()));
        }
    }
    mirror
        .git()
        .run(&["checkout", "--quiet", "--detach", &track.head])
        .map_err(ClientError::Checkout)?;
    let mut spec = swarmlab_loop::load_track(mirror.root())?;
    if let Some(budget) = options.budget {
        spec.override_budget(budget);
    }
    if let (Some(from), Some(dir)) = (&options.build_from, &spec.run.build_dir) {
        seed_build(from, &spec.root.join(dir))?;
    }
    spec.run.env.extend(options.env.iter().cloned());
    let proposer = (options.make_proposer)(&spec).map_err(ClientError::Proposer)?;
    let tag = format!("hub-{}-{}", track.chain.len(), short(&track.head));
    let mut session = Session::open(spec, &tag, options.seed, proposer, cancel.clone())?;
    session.setup()?;
    let seq = track
        .chain
        .iter()
        .find(|e| e.commit == track.head)
        .map_or(track.chain.len() as i64 - 1, |e| e.seq);
    // What the branch held before this session (a resumed round) was counted when it ran.
    let counted_s = session.wall_seconds();
    let mut round = Round {
        head: track.head.clone(),
        seq,
        session,
        idea: None,
        on_idea: 0,
        submitted: None,
        pending: None,
        idle: false,
        said_idle: false,
        counted_s,
    };
    lease_idea(options, client, &mut round);
    Ok(round)
}

/// Leases the oldest open idea of the track for `round`; whether one was leased.
fn lease_idea(options: &WorkOptions, client: &HubClient, round: &mut Round) -> bool {
    let leased: Result<Option<IdeaInfo>, _> = client.post(
        &format!("tracks/{}/ideas/lease", options.track),
        &serde_json::json!({}),
    );
    round.on_idea = 0;
    match leased {
        Ok(Some(idea)) => {
            eprintln!("worker: leased idea #{}: {}", idea.id, idea.text);
            round.session.set_idea(Some(idea.text.clone()));
            round.idea = Some(idea);
            true
        }
        Ok(None) => {
            round.session.set_idea(None);
            false
        }
        Err(e) => {
            eprintln!("worker: no idea leased: {e}");
            false
        }
    }
}

/// The proposer has nothing left to try on the head: an idea it held is done (kept, it
/// would expire and cost the worker its quota), and the worker says once per head that it
/// waits for a new head or an idea.
fn go_idle(options: &WorkOptions, client: &HubClient, round: &mut Round) {
    if let Some(idea) = round.idea.take() {
        let _: Result<IdeaInfo, _> =
            client.post(&format!("ideas/{}/done", idea.id), &serde_json::json!({}));
        eprintln!(
            "worker: idea #{} done after {} experiment(s): the proposer has nothing more to try with it on this head",
            idea.id, round.on_idea
        );
        round.session.set_idea(None);
    }
    round.idle = true;
    if !round.said_idle {
        round.said_idle = true;
        eprintln!("{}", idle_line(options, round));
    }
}

/// What the worker tells the hub it is doing in `round`.
fn activity(options: &WorkOptions, round: &Round) -> ActivityReport {
    let on = format!("head {} (#{})", short(&round.head), round.seq);
    let doing = match (&round.idea, round.idle) {
        (_, true) => format!("nothing left to propose on {on}; waiting for a new head or an idea"),
        (Some(idea), false) => format!("trying idea #{} on {on}", idea.id),
        (None, false) => format!("searching on {on}"),
    };
    ActivityReport {
        track: Some(options.track.clone()),
        doing,
        idle_on: round.idle.then(|| round.head.clone()),
    }
}

/// `worker: head 1a2b3c4 (#3, loss 1.020000): nothing left to propose; ...`, the metric as
/// this worker measured the head.
fn idle_line(options: &WorkOptions, round: &Round) -> String {
    format!(
        "worker: head {} (#{}, {} {}): nothing left to propose; waiting for a new head or an \
         idea (add one on {}/tracks/{}/ideas)",
        short(&round.head),
        round.seq,
        round.session.spec().metric.name,
        fmt_metric(round.session.baseline_metric()),
        options.hub.trim_end_matches('/'),
        options.track
    )
}

/// Heartbeats the leased idea, or marks it done after its share of experiments.
fn keep_idea(options: &WorkOptions, client: &HubClient, round: &mut Round) {
    let Some(idea) = round.idea.clone() else {
        return;
    };
    if round.on_idea >= EXPERIMENTS_PER_IDEA {
        let _: Result<IdeaInfo, _> =
            client.post(&format!("ideas/{}/done", idea.id), &serde_json::json!({}));
        round.idea = None;
        lease_idea(options, client, round);
        return;
    }
    let beat: Result<LeaseDeadline, _> = client.post(
        &format!("ideas/{}/heartbeat", idea.id),
        &serde_json::json!({}),
    );
    if let Err(e) = beat {
        eprintln!("worker: lost the lease on idea #{}: {e}", idea.id);
        round.idea = None;
        round.session.set_idea(None);
    }
}

/// Whether `best` beats the worker's own measurement of the head by more than the track's
/// `min_delta`: a smaller gain cannot pass verification, so it is kept locally but not sent.
fn clears_min_delta(round: &Round, best: &Record) -> bool {
    let spec = round.session.spec();
    match (round.session.baseline_metric(), best.metric) {
        (Some(head), Some(value)) => spec.metric.goal.gain(head, value) > spec.verify.min_delta,
        _ => false,
    }
}

/// Submits `best` as one commit on the head, saying that the search behind it took
/// `spent_s` seconds of experiments. `None` when the hub is not taking it now (over quota):
/// the next improvement will be offered again.
#[allow(clippy::too_many_arguments)]
fn submit(
    options: &WorkOptions,
    client: &HubClient,
    mirror: &Mirror,
    key: &swarmlab_proto::SigningKey,
    worker_id: &str,
    round: &Round,
    best: &Record,
    spent_s: f64,
) -> Result<Option<SubmissionInfo>, ClientError> {
    let spec = round.session.spec();
    let commit = mirror.squash(&best.commit, &round.head, &best.description)?;
    let mut metrics = BTreeMap::new();
    if let Some(value) = best.metric {
        metrics.insert(spec.metric.name.clone(), value);
    }
    let log = std::fs::read(spec.root.join(&best.log)).unwrap_or_default();
    let candidate = Candidate {
        track: &options.track,
        parent: &round.head,
        commit: &commit,
        metrics,
        idea_id: round.idea.as_ref().map(|i| i.id),
        log: &log,
        spent_s: Some(spent_s),
    };
    let baseline = round.session.baseline_metric();
    match candidate.submit(client, mirror, key, worker_id) {
        Ok(info) => {
            eprintln!(
                "worker: submitted #{} {} ({} {} vs {} on the head): {}{}",
                info.id,
                short(&commit),
                spec.metric.name,
                fmt_metric(best.metric),
                fmt_metric(baseline),
                info.status,
                info.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            );
            Ok(Some(info))
        }
        Err(ClientError::Hub(e)) if e.code() == Some("quota") => {
            eprintln!(
                "worker: over quota, {} waits for earlier verdicts",
                short(&commit)
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Prints the verdicts of followed submissions as they arrive.
fn follow(client: &HubClient, following: &mut Vec<i64>) {
    following.retain(
        |id| match client.get::<SubmissionInfo>(&format!("submissions/{id}")) {
            Ok(info) if matches!(info.status.as_str(), "accepted" | "rejected" | "invalid") => {
                eprintln!(
                    "worker: submission #{id} {}{}{}",
                    info.status,
                    info.reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default(),
                    info.reruns
                        .map(|n| format!(" after {n} reruns of each"))
                        .unwrap_or_default()
                );
                false
            }
            Ok(_) => true,
            Err(_) => false,
        },
    );
}

fn fmt_metric(value: Option<f64>) -> String {
    value.map_or_else(|| "?".into(), |v| format!("{v:.6}"))
}

/// Copies the trusted build at `from` to `build` when `build` does not exist yet: the first
/// setup then compiles only what differs. A build never goes the other way (a worker's code
/// is untrusted).
fn seed_build(from: &Path, build: &Path) -> Result<(), ClientError> {
    if build.exists() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    crate::build::copy_tree(from, build)?;
    eprintln!(
        "worker: the build folder starts from {} ({:.1}s)",
        from.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
