use swarmlab_hub::HubError;
use swarmlab_proto::RunOutcome;

use crate::support::{Edit, Fixture, BETTER, HEAD};

#[tokio::test]
async fn an_expired_job_is_reissued_and_the_first_valid_verdict_wins() {
    let f = Fixture::new().await;
    let sub = f
        .submit(&f.w1, &f.baseline, "lr = 0.02\nwidth = 64\n")
        .await;
    assert_eq!(sub.status, "queued");
    let job = f.lease(&f.v1).await.unwrap();
    assert_eq!(job.candidate, sub.commit);
    assert_eq!(
        f.lease(&f.v2).await,
        None,
        "a leased job is not handed out twice"
    );

    f.clock.advance(601_000);
    let reissued = f.lease(&f.v2).await.unwrap();
    assert_eq!(reissued.job_id, job.job_id);
    // v2 now holds it, so v1's heartbeat fails, but v1's late result still counts if first.
    assert!(matches!(
        f.hub.heartbeat_job(&f.v1.identity, job.job_id).await,
        Err(HubError::Conflict(_))
    ));
    let late = f.report(&f.v1, job.job_id, &BETTER, &HEAD).await.unwrap();
    assert_eq!(late.decision, "accepted");
    let second = f.report(&f.v2, job.job_id, &BETTER, &HEAD).await;
    assert!(matches!(second, Err(HubError::Conflict(_))), "{second:?}");

    let info = f.hub.track_info("toy").await.unwrap();
    assert_eq!(info.chain.len(), 2, "one head move, not two");
    assert_eq!(info.head, sub.commit);
    let ledger = f.hub.ledger_text("toy").await.unwrap();
    assert_eq!(ledger.matches("\"kind\":\"verdict\"").count(), 1);
    assert_eq!(ledger.matches("\"kind\":\"head_move\"").count(), 1);
}

#[tokio::test]
async fn a_verifier_fault_is_retried_elsewhere_and_a_crash_is_final() {
    let f = Fixture::new().await;
    f.submit(&f.w1, &f.baseline, "lr = 0.03\nwidth = 64\n")
        .await;
    let job = f.lease(&f.v1).await.unwrap();
    let fault = f.measurements(&f.v1, job.job_id, RunOutcome::VerifierFault, &[], &[]);
    assert_eq!(
        f.hub
            .report(&f.v1.identity, job.job_id, fault)
            .await
            .unwrap()
            .decision,
        "retry"
    );
    assert_eq!(
        f.lease(&f.v1).await,
        None,
        "not back to the verifier that faulted"
    );
    let job2 = f.lease(&f.v2).await.unwrap();
    assert_eq!(job2.job_id, job.job_id);
    let crash = f.measurements(&f.v2, job.job_id, RunOutcome::Crash, &[], &[]);
    let r = f
        .hub
        .report(&f.v2.identity, job.job_id, crash)
        .await
        .unwrap();
    assert_eq!(
        (r.decision.as_str(), r.reason.as_deref()),
        ("rejected", Some("crash"))
    );
    assert_eq!(f.lease(&f.v1).await, None);
    assert_eq!(f.lease(&f.v2).await, None);
    assert_eq!(f.head().await, f.baseline);
}

#[tokio::test]
async fn sequential_testing_asks_for_more_reruns_until_clear() {
    let f = Fixture::new().await;
    let sub = f
        .submit(&f.w1, &f.baseline, "lr = 0.04\nwidth = 64\n")
        .await;
    let job = f.lease(&f.v1).await.unwrap();
    // Two noisy reruns do not settle it at alpha / 2.
    let r = f
        .report(&f.v1, job.job_id, &[0.95, 1.02], &[1.0, 0.98])
        .await
        .unwrap();
    assert_eq!(r.decision, "continue");
    // Three: better on average, not significantly; promising, so more are asked for, up to
    // the track's max_reruns (three times its reruns).
    let (mut c, mut h) = (vec![0.95, 1.02, 1.0], vec![1.0, 0.98, 1.01]);
    let r = f.report(&f.v1, job.job_id, &c, &h).await.unwrap();
    assert_eq!((r.decision.as_str(), r.reruns), ("continue", Some(3)));
    let more = |c: &mut Vec<f64>, h: &mut Vec<f64>| {
        c.push(if c.len() % 2 == 1 { 0.96 } else { 1.03 });
        h.push(if h.len() % 2 == 1 { 1.01 } else { 0.99 });
    };
    while c.len() < 8 {
        more(&mut c, &mut h);
        let r = f.report(&f.v1, job.job_id, &c, &h).await.unwrap();
        assert_eq!(r.decision, "continue", "after {} reruns", c.len());
    }
    more(&mut c, &mut h);
    let r = f.report(&f.v1, job.job_id, &c, &h).await.unwrap();
    assert_eq!(
        (r.decision.as_str(), r.reason.as_deref(), r.reruns),
        ("rejected", Some("not_better"), Some(9))
    );
    let sub = f.hub.submission(&f.w1.identity, sub.id).await.unwrap();
    assert_eq!((sub.status.as_str(), sub.reruns), ("rejected", Some(9)));
}

#[tokio::test]
async fn measurements_signed_by_someone_else_are_refused() {
    let f = Fixture::new().await;
    f.submit(&f.w1, &f.baseline, "lr = 0.05\nwidth = 64\n")
        .await;
    let job = f.lease(&f.v1).await.unwrap();
    let mut req = f.measurements(&f.v1, job.job_id, RunOutcome::Ok, &BETTER, &HEAD);
    req.signature = swarmlab_proto::signing::sign(&f.v2.key, &req.measurements.signed_bytes());
    assert!(matches!(
        f.hub.report(&f.v1.identity, job.job_id, req).await,
        Err(HubError::BadRequest(_))
    ));
    // v2 never held the job.
    assert!(matches!(
        f.report(&f.v2, job.job_id, &BETTER, &HEAD).await,
        Err(HubError::Forbidden(_))
    ));
    assert_eq!(f.head().await, f.baseline);
}

/// The verifier never sees the claim; the hub compares it with the measurements after the
/// report, and a clear gain claimed but not measured is `not_reproduced`.
#[tokio::test]
async fn a_claimed_gain_the_verifier_does_not_measure_is_not_reproduced() {
    let f = Fixture::new().await;
    let base = f.baseline.clone();
    let same = [1.0, 1.01, 0.99];
    // Claimed 0.9 against a head measured at 1.0, measured at 1.0 itself.
    let (commit, bundle) = f.candidate(&base, &[Edit::Write("params.txt", b"lr = 0.5\n")]);
    let claim = f.claim(&f.w1, &base, &commit, 0.9, "bold");
    let bold = f.submit_claim(&f.w1, claim, bundle).await;
    // Claimed 1.0, no gain: an honest miss.
    let (commit, bundle) = f.candidate(&base, &[Edit::Write("params.txt", b"lr = 0.6\n")]);
    let claim = f.claim(&f.w2, &base, &commit, 1.0, "modest");
    let modest = f.submit_claim(&f.w2, claim, bundle).await;

    for (sub, reason) in [(&bold, "not_reproduced"), (&modest, "not_better")] {
        let job = f.lease(&f.v1).await.unwrap();
        let r = f.report(&f.v1, job.job_id, &same, &same).await.unwrap();
        assert_eq!(
            (r.decision.as_str(), r.reason.as_deref()),
            ("rejected", Some(reason))
        );
        let stored = f.hub.submission(&f.v1.identity, sub.id).await.unwrap();
        assert_eq!(stored.reason.as_deref(), Some(reason));
    }
    let ledger = f.hub.ledger_text("toy").await.unwrap();
    assert!(ledger.contains("\"reason\":\"not_reproduced\""), "{ledger}");
}
