//! Verification quotas: a worker's submissions waiting for verification are capped; the cap
//! doubles with each accepted submission and drops by one, never below one, with each false
//! claim and each idea lease let expire.

use std::sync::atomic::{AtomicU32, Ordering};

use swarmlab_hub::HubError;
use swarmlab_proto::{NewIdea, RunOutcome, SubmissionInfo};
use swarmlab_testkit::bundle::Candidate;
use swarmlab_testkit::hub::Member;

use crate::support::{Edit, Fixture, BETTER, HEAD};

/// Submits a change of `params.txt` on `parent`; the hub's answer, refusals included.
async fn try_submit(
    f: &Fixture,
    w: &Member,
    parent: &str,
    params: &str,
) -> Result<SubmissionInfo, HubError> {
    let (commit, bundle) = f.candidate(parent, &[Edit::Write("params.txt", params.as_bytes())]);
    let claim = f.claim(w, parent, &commit, 0.9, &format!("q-{commit}"));
    let req = Candidate {
        claim,
        bundle,
        log: String::new(),
    }
    .signed(&w.key);
    f.hub.submit(&w.identity, "toy", req).await
}

static CHANGES: AtomicU32 = AtomicU32::new(0);

/// How many more submissions `w` may make on `parent` before it is refused.
async fn room(f: &Fixture, w: &Member, parent: &str) -> usize {
    for n in 0.. {
        // Each change different from every other, so none is a duplicate.
        let params = format!("lr = 0.{}1\n", CHANGES.fetch_add(1, Ordering::Relaxed));
        match try_submit(f, w, parent, &params).await {
            Ok(sub) => assert_eq!(sub.status, "queued", "{:?}", sub.reason),
            Err(e) => {
                assert!(matches!(e, HubError::Quota(_)), "{e}");
                assert_eq!(e.status().1, "quota");
                assert_eq!(e.status().0.as_u16(), 429);
                return n;
            }
        }
    }
    unreachable!()
}

/// Leases the next job and reports `candidate` against `head` measurements.
async fn verify(f: &Fixture, candidate: &[f64], head: &[f64]) -> String {
    let job = f.lease(&f.v1).await.unwrap();
    let r = f.report(&f.v1, job.job_id, candidate, head).await.unwrap();
    r.reason.unwrap_or(r.decision)
}

#[tokio::test]
async fn a_worker_at_its_quota_is_refused_and_an_accepted_submission_doubles_it() {
    let f = Fixture::new().await;
    let base = f.baseline.clone();
    assert_eq!(room(&f, &f.w1, &base).await, 2, "the initial quota");
    // Refused before intake: nothing was recorded, so the same claim goes through later.
    let (commit, bundle) = f.candidate(&base, &[Edit::Write("params.txt", b"lr = 7\n")]);
    let claim = f.claim(&f.w1, &base, &commit, 0.9, "refused-once");
    let req = Candidate {
        claim,
        bundle,
        log: String::new(),
    }
    .signed(&f.w1.key);
    assert!(matches!(
        f.hub.submit(&f.w1.identity, "toy", req.clone()).await,
        Err(HubError::Quota(_))
    ));
    // Another worker has its own quota.
    assert_eq!(room(&f, &f.w2, &base).await, 2);

    // One of w1's two is accepted: its quota doubles to 4 with one still waiting.
    assert_eq!(verify(&f, &BETTER, &HEAD).await, "accepted");
    let head = f.head().await;
    assert_eq!(room(&f, &f.w1, &head).await, 3);
    assert!(f.hub.submit(&f.w1.identity, "toy", req).await.is_err());
}

#[tokio::test]
async fn false_claims_and_expired_leases_shrink_the_quota_but_never_below_one() {
    let f = Fixture::with(|c| c.quota.initial = 4).await;
    let base = f.baseline.clone();
    try_submit(&f, &f.w1, &base, "lr = 0.2\n").await.unwrap();
    try_submit(&f, &f.w1, &base, "lr = 0.3\n").await.unwrap();
    // Two false claims: not better, then a crash. 4 - 2 = 2, none waiting.
    assert_eq!(verify(&f, &HEAD, &BETTER).await, "not_better");
    let job = f.lease(&f.v1).await.unwrap();
    let crash = f.measurements(&f.v1, job.job_id, RunOutcome::Crash, &[], &[]);
    f.hub
        .report(&f.v1.identity, job.job_id, crash)
        .await
        .unwrap();

    // An idea lease let expire, returned by the sweep: 2 - 1 = 1.
    let idea = |text: &str| NewIdea {
        text: text.into(),
        tags: Vec::new(),
        source: None,
    };
    for text in ["halve the width", "double the depth"] {
        f.hub
            .add_idea(&f.w2.identity, "toy", &idea(text))
            .await
            .unwrap();
    }
    f.hub
        .lease_idea(&f.w1.identity, "toy")
        .await
        .unwrap()
        .unwrap();
    f.clock.advance(61_000);
    assert_eq!(f.hub.sweep().await.unwrap().ideas, 1);
    assert_eq!(room(&f, &f.w1, &base).await, 1);

    // w2 lets a lease expire and w1 takes the idea over on read: w2's quota drops to 3.
    let held = f
        .hub
        .lease_idea(&f.w2.identity, "toy")
        .await
        .unwrap()
        .unwrap();
    f.clock.advance(61_000);
    let taken = f
        .hub
        .lease_idea(&f.w1.identity, "toy")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.id, held.id);
    assert_eq!(room(&f, &f.w2, &base).await, 3);

    // w1 is at one: another false claim leaves it there.
    assert_eq!(verify(&f, &HEAD, &BETTER).await, "not_better");
    assert_eq!(room(&f, &f.w1, &base).await, 1);
}
