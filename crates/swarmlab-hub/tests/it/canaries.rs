//! Canaries: known answers among the jobs. A verifier that decides one wrong is suspended and
//! its verdicts are verified again by others; a canary moves no head and leaves no public
//! trace.

use swarmlab_hub::{audit, HubError};
use swarmlab_proto::{signing, AddCanaryRequest, EventBody, RunOutcome};
use swarmlab_testkit::git::git;

use crate::support::{events, resealed, Fixture, BETTER, HEAD};

async fn fixture() -> Fixture {
    // A canary before a verifier's first job, then after every real job.
    Fixture::with(|c| c.canary.every = 1).await
}

fn canary(submission_id: i64, expect: &str) -> AddCanaryRequest {
    AddCanaryRequest {
        submission_id,
        expect: expect.into(),
        note: format!("known {expect}"),
    }
}

fn tree(f: &Fixture, commit: &str) -> String {
    let repo = f.hub.config().track_repo("toy");
    git(&repo, &["rev-parse", &format!("{commit}^{{tree}}")])
}

#[tokio::test]
async fn a_verifier_that_gets_a_canary_wrong_is_suspended_and_its_verdicts_are_rechecked() {
    let f = fixture().await;
    // Before any canary exists, v1 decides two submissions: it accepts s1 and rejects s3,
    // whatever they are (it does not run anything: it reports what it likes).
    let s1 = f
        .submit(&f.w1, &f.baseline, "lr = 0.02\nwidth = 64\n")
        .await;
    let job = f.lease(&f.v1).await.unwrap();
    assert_eq!(job.candidate, s1.commit);
    assert_eq!(
        f.report(&f.v1, job.job_id, &BETTER, &HEAD)
            .await
            .unwrap()
            .decision,
        "accepted"
    );
    let s3 = f.submit(&f.w2, &s1.commit, "lr = 0.03\nwidth = 64\n").await;
    let job = f.lease(&f.v1).await.unwrap();
    assert_eq!(job.candidate, s3.commit);
    assert_eq!(
        f.report(&f.v1, job.job_id, &HEAD, &HEAD)
            .await
            .unwrap()
            .decision,
        "rejected"
    );
    // v2 rejects s2 honestly; a maintainer knows s2 is a cheat and makes it a canary.
    let s2 = f.submit(&f.w2, &s1.commit, "lr = 9\nwidth = 64\n").await;
    let job = f.lease(&f.v2).await.unwrap();
    assert_eq!(job.candidate, s2.commit);
    f.report(&f.v2, job.job_id, &HEAD, &HEAD).await.unwrap();
    let added = f
        .hub
        .add_canary(&canary(s2.id, "reject"), "admin")
        .await
        .unwrap();
    assert_eq!((added.checks, added.failures), (0, 0));
    let head = f.head().await;
    assert_eq!(head, s1.commit);
    let ledger_before = f.hub.ledger_text("toy").await.unwrap();

    // v1 is due a canary: the cheat's tree on its base, under a commit no one has seen.
    let lease = f.lease(&f.v1).await.unwrap();
    assert_ne!(lease.candidate, s2.commit);
    assert_eq!(tree(&f, &lease.candidate), tree(&f, &s2.commit));
    assert_eq!(lease.base, s1.commit);
    assert!(f.hub.job_bundle(&f.v1.identity, lease.job_id).await.is_ok());
    // It accepts the cheat, and is answered as for any job.
    let answer = f.report(&f.v1, lease.job_id, &BETTER, &HEAD).await.unwrap();
    assert_eq!(answer.decision, "accepted");
    assert_eq!(f.head().await, head, "a canary never moves the head");

    // Suspended: no more jobs, no more reports.
    let refused = f.hub.lease_job(&f.v1.identity).await;
    assert!(
        matches!(refused, Err(HubError::Forbidden(ref why)) if why.contains("suspended")),
        "{refused:?}"
    );
    let why = f.hub.suspension(&f.v1.identity.id).await.unwrap().unwrap();
    assert!(
        why.contains(&format!("canary job {}", lease.job_id)),
        "{why}"
    );
    let info = &f.hub.canaries().await.unwrap()[0];
    assert_eq!((info.checks, info.failures), (1, 1));

    // The ledger says so, with v1's signed measurements, and still audits.
    let ledger = f.hub.ledger_text("toy").await.unwrap();
    let added_lines = &ledger[ledger_before.len()..];
    assert_eq!(added_lines.lines().count(), 1, "{added_lines}");
    assert!(added_lines.contains("\"kind\":\"verifier_suspended\""));
    assert!(added_lines.contains(&f.v1.identity.id));
    let report = audit(&ledger, &f.hub.public_key()).unwrap();
    assert_eq!(report.suspensions, 1);
    // A hub that went on recording v1's verdicts would be caught, though v1 signed them:
    // here its earlier verdict, recorded again after the suspension.
    let hub = signing::signing_key(&[77; 32]);
    let mut rewritten = events(&ledger);
    let suspended_at = rewritten.len();
    let verdict = rewritten
        .iter()
        .find(|(_, e)| matches!(e, EventBody::Verdict { .. }))
        .cloned()
        .unwrap();
    rewritten.push(verdict);
    assert_eq!(
        audit(&resealed(&rewritten, &hub), &hub.verifying_key())
            .unwrap_err()
            .to_string(),
        format!(
            "line {}: a report signed by `{}`, suspended at line {suspended_at} and not reinstated",
            suspended_at + 1,
            f.v1.identity.id
        )
    );

    // v1's two verdicts are verified again, by v2, after v2's own canary (which it passes).
    let own = f.lease(&f.v2).await.unwrap();
    assert_eq!(tree(&f, &own.candidate), tree(&f, &s2.commit));
    assert_eq!(
        f.report(&f.v2, own.job_id, &HEAD, &HEAD)
            .await
            .unwrap()
            .decision,
        "rejected"
    );
    let recheck = f.lease(&f.v2).await.unwrap();
    assert_eq!(
        (recheck.candidate.as_str(), recheck.base.as_str()),
        (s1.commit.as_str(), f.baseline.as_str())
    );
    // s1 does not hold up: it stays on the chain, disputed.
    assert_eq!(
        f.report(&f.v2, recheck.job_id, &HEAD, &HEAD)
            .await
            .unwrap()
            .decision,
        "rejected"
    );
    let s1_now = f.hub.submission(&f.w1.identity, s1.id).await.unwrap();
    assert_eq!(s1_now.status, "accepted");
    assert!(s1_now.disputed_by.is_some());
    assert_eq!(f.head().await, s1.commit);
    // s3 was a real gain that v1 turned down: the re-check (after v2's next canary) moves
    // the head to it.
    let own = f.lease(&f.v2).await.unwrap();
    assert_eq!(tree(&f, &own.candidate), tree(&f, &s2.commit));
    f.report(&f.v2, own.job_id, &HEAD, &HEAD).await.unwrap();
    let recheck = f.lease(&f.v2).await.unwrap();
    assert_eq!(recheck.candidate, s3.commit);
    assert_eq!(
        f.report(&f.v2, recheck.job_id, &BETTER, &HEAD)
            .await
            .unwrap()
            .decision,
        "accepted"
    );
    assert_eq!(f.head().await, s3.commit);
    assert_eq!(f.hub.suspension(&f.v2.identity.id).await.unwrap(), None);
    let ledger = f.hub.ledger_text("toy").await.unwrap();
    assert_eq!(audit(&ledger, &f.hub.public_key()).unwrap().head, s3.commit);

    // A maintainer reinstates v1, and the ledger says so.
    f.hub.reinstate(&f.v1.identity.id).await.unwrap();
    let ledger = f.hub.ledger_text("toy").await.unwrap();
    assert!(matches!(
        events(&ledger).last(),
        Some((_, EventBody::VerifierReinstated { verifier })) if verifier == &f.v1.identity.id
    ));
    audit(&ledger, &f.hub.public_key()).unwrap();
    assert!(f.hub.lease_job(&f.v1.identity).await.is_ok());
    assert!(matches!(
        f.hub.reinstate(&f.v1.identity.id).await,
        Err(HubError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_canary_decided_right_leaves_no_public_trace_and_a_fault_is_no_failure() {
    let f = fixture().await;
    let s1 = f
        .submit(&f.w1, &f.baseline, "lr = 0.02\nwidth = 64\n")
        .await;
    let job = f.lease(&f.v1).await.unwrap();
    f.report(&f.v1, job.job_id, &BETTER, &HEAD).await.unwrap();
    assert_eq!(f.head().await, s1.commit);
    f.hub
        .add_canary(&canary(s1.id, "accept"), "admin")
        .await
        .unwrap();
    let ledger = f.hub.ledger_text("toy").await.unwrap();

    // v2 confirms the known improvement: answered "accepted", and nothing moves.
    let lease = f.lease(&f.v2).await.unwrap();
    assert_eq!(lease.base, f.baseline);
    assert!(lease.job_id > job.job_id, "numbered like any job");
    assert_eq!(
        f.report(&f.v2, lease.job_id, &[0.97, 1.03], &[1.0, 1.02])
            .await
            .unwrap()
            .decision,
        "continue"
    );
    f.hub
        .heartbeat_job(&f.v2.identity, lease.job_id)
        .await
        .unwrap();
    assert_eq!(
        f.report(&f.v2, lease.job_id, &BETTER, &HEAD)
            .await
            .unwrap()
            .decision,
        "accepted"
    );
    assert_eq!(f.head().await, s1.commit);
    assert_eq!(f.hub.ledger_text("toy").await.unwrap(), ledger);
    assert_eq!(
        f.hub
            .submission(&f.w1.identity, s1.id)
            .await
            .unwrap()
            .status,
        "accepted"
    );
    assert_eq!(f.hub.suspension(&f.v2.identity.id).await.unwrap(), None);
    let second = f.report(&f.v2, lease.job_id, &BETTER, &HEAD).await;
    assert!(matches!(second, Err(HubError::Conflict(_))), "{second:?}");

    // v1 is due one too; its fault (a broken machine, say) is no wrong answer.
    let lease = f.lease(&f.v1).await.unwrap();
    let fault = f.measurements(&f.v1, lease.job_id, RunOutcome::VerifierFault, &[], &[]);
    let answer = f
        .hub
        .report(&f.v1.identity, lease.job_id, fault)
        .await
        .unwrap();
    assert_eq!(answer.decision, "retry");
    assert_eq!(f.hub.suspension(&f.v1.identity.id).await.unwrap(), None);
    let info = &f.hub.canaries().await.unwrap()[0];
    assert_eq!((info.checks, info.failures), (1, 0));

    // Not due again before a real job, and there is none.
    assert_eq!(f.lease(&f.v1).await, None);
}

#[tokio::test]
async fn a_canary_needs_a_verified_submission_and_a_known_answer() {
    let f = fixture().await;
    let queued = f
        .submit(&f.w1, &f.baseline, "lr = 0.02\nwidth = 64\n")
        .await;
    let err = f
        .hub
        .add_canary(&canary(queued.id, "reject"), "admin")
        .await;
    assert!(matches!(err, Err(HubError::NotFound(_))), "{err:?}");
    let job = f.lease(&f.v1).await.unwrap();
    f.report(&f.v1, job.job_id, &HEAD, &HEAD).await.unwrap();
    let err = f.hub.add_canary(&canary(queued.id, "maybe"), "admin").await;
    assert!(matches!(err, Err(HubError::Conflict(_))), "{err:?}");
    assert!(f
        .hub
        .add_canary(&canary(queued.id, "reject"), "admin")
        .await
        .is_ok());
    // The verifier that submitted nothing gets it; none is handed out with `every = 0`.
    let off = Fixture::with(|c| c.canary.every = 0).await;
    let s = off
        .submit(&off.w1, &off.baseline, "lr = 0.02\nwidth = 64\n")
        .await;
    let job = off.lease(&off.v1).await.unwrap();
    off.report(&off.v1, job.job_id, &HEAD, &HEAD).await.unwrap();
    off.hub
        .add_canary(&canary(s.id, "reject"), "admin")
        .await
        .unwrap();
    assert_eq!(off.lease(&off.v2).await, None);
}

#[tokio::test]
async fn an_expired_canary_job_ends_and_goes_to_no_one_else() {
    let f = fixture().await;
    let s = f
        .submit(&f.w1, &f.baseline, "lr = 0.02\nwidth = 64\n")
        .await;
    let job = f.lease(&f.v1).await.unwrap();
    f.report(&f.v1, job.job_id, &HEAD, &HEAD).await.unwrap();
    f.hub
        .add_canary(&canary(s.id, "reject"), "admin")
        .await
        .unwrap();
    let lease = f.lease(&f.v2).await.unwrap();
    f.clock.advance(601_000);
    f.hub.sweep().await.unwrap();
    let late = f.report(&f.v2, lease.job_id, &BETTER, &HEAD).await;
    assert!(matches!(late, Err(HubError::Conflict(_))), "{late:?}");
    assert_eq!(f.hub.suspension(&f.v2.identity.id).await.unwrap(), None);
    // v1 gets a canary job of its own, never v2's.
    let own = f.lease(&f.v1).await.unwrap();
    assert_ne!(own.job_id, lease.job_id);
    assert!(matches!(
        f.hub.job_bundle(&f.v1.identity, lease.job_id).await,
        Err(HubError::Forbidden(_))
    ));
}
