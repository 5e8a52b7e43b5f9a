use crate::support::{Edit, Fixture, BETTER, HEAD};

#[tokio::test]
async fn of_two_winners_on_one_head_only_one_advances_and_the_other_is_reverified() {
    let f = Fixture::new().await;
    let base = f.baseline.clone();
    let (ca, ba) = f.candidate(
        &base,
        &[Edit::Write("params.txt", b"lr = 0.02\nwidth = 64\n")],
    );
    let a = f
        .submit_claim(&f.w1, f.claim(&f.w1, &base, &ca, 0.8, "a"), ba)
        .await;
    let (cb, bb) = f.candidate(&base, &[Edit::Write("src/model.txt", b"layers = 3\n")]);
    let b = f
        .submit_claim(&f.w2, f.claim(&f.w2, &base, &cb, 0.8, "b"), bb)
        .await;
    let ja = f.lease(&f.v1).await.unwrap();
    let jb = f.lease(&f.v2).await.unwrap();
    assert_eq!(
        (ja.candidate.as_str(), jb.candidate.as_str()),
        (ca.as_str(), cb.as_str())
    );

    assert_eq!(
        f.report(&f.v1, ja.job_id, &BETTER, &HEAD)
            .await
            .unwrap()
            .decision,
        "accepted"
    );
    let rb = f.report(&f.v2, jb.job_id, &BETTER, &HEAD).await.unwrap();
    assert_eq!(rb.decision, "reverify");
    assert_eq!(
        f.head().await,
        ca,
        "only the first winner advanced the head"
    );

    let b = f.hub.submission(&f.v1.identity, b.id).await.unwrap();
    assert_eq!(b.status, "queued");
    assert_eq!(b.base.as_deref(), Some(ca.as_str()));
    let rebased = b.candidate.clone().unwrap();
    assert_ne!(
        rebased, cb,
        "never merged blindly: a new commit on the new head"
    );
    let again = f.lease(&f.v1).await.unwrap();
    assert_eq!(
        (again.candidate.as_str(), again.base.as_str()),
        (rebased.as_str(), ca.as_str())
    );
    assert_eq!(
        f.report(&f.v1, again.job_id, &BETTER, &HEAD)
            .await
            .unwrap()
            .decision,
        "accepted"
    );
    let info = f.hub.track_info("toy").await.unwrap();
    assert_eq!(info.head, rebased);
    assert_eq!(
        info.chain
            .iter()
            .map(|e| e.commit.clone())
            .collect::<Vec<_>>(),
        vec![base, ca, rebased]
    );
    assert_eq!(
        f.hub.submission(&f.w1.identity, a.id).await.unwrap().status,
        "accepted"
    );
}

#[tokio::test]
async fn a_conflicting_loser_is_rejected_not_merged() {
    let f = Fixture::new().await;
    let base = f.baseline.clone();
    f.submit(&f.w1, &base, "lr = 0.02\nwidth = 64\n").await;
    let b = f.submit(&f.w2, &base, "lr = 0.03\nwidth = 64\n").await;
    let ja = f.lease(&f.v1).await.unwrap();
    let jb = f.lease(&f.v2).await.unwrap();
    f.report(&f.v1, ja.job_id, &BETTER, &HEAD).await.unwrap();
    f.report(&f.v2, jb.job_id, &BETTER, &HEAD).await.unwrap();
    let b = f.hub.submission(&f.v1.identity, b.id).await.unwrap();
    assert_eq!(
        (b.status.as_str(), b.reason.as_deref()),
        ("rejected", Some("rebase_conflict"))
    );
    assert_eq!(f.hub.track_info("toy").await.unwrap().chain.len(), 2);
}
