use swarmlab_testkit::bundle::Candidate;

use crate::support::{Edit, Fixture, BETTER, HEAD};

/// Each rule, one fixture, its own reason; nothing reaches a verifier.
#[tokio::test]
async fn each_intake_rule_rejects_with_its_own_reason_before_anything_runs() {
    let f = Fixture::new().await;
    let base = f.baseline.clone();
    let mut cases: Vec<(&str, swarmlab_proto::SubmissionInfo)> = Vec::new();

    let (c, b) = f.candidate(&base, &[Edit::Write("train.sh", b"echo loss: 0\n")]);
    let claim = f.claim(&f.w1, &base, &c, 0.1, "outside");
    cases.push(("outside_editable", f.submit_claim(&f.w1, claim, b).await));

    let (c, b) = f.candidate(&base, &[Edit::Symlink("src/link", "/etc/passwd")]);
    let claim = f.claim(&f.w1, &base, &c, 0.1, "symlink");
    cases.push(("symlink", f.submit_claim(&f.w1, claim, b).await));

    let (c, b) = f.candidate(&base, &[Edit::Gitlink("src/sub")]);
    let claim = f.claim(&f.w1, &base, &c, 0.1, "gitlink");
    cases.push(("submodule", f.submit_claim(&f.w1, claim, b).await));

    let (c, b) = f.candidate(
        &base,
        &[Edit::Write("src/.gitattributes", b"* filter=evil\n")],
    );
    let claim = f.claim(&f.w1, &base, &c, 0.1, "attr");
    cases.push(("attribute_file", f.submit_claim(&f.w1, claim, b).await));

    let (c, b) = f.candidate(&base, &[Edit::Write("src/.gitmodules", b"[submodule]\n")]);
    let claim = f.claim(&f.w1, &base, &c, 0.1, "modules");
    cases.push(("attribute_file", f.submit_claim(&f.w1, claim, b).await));

    let (c, b) = f.candidate(&base, &[Edit::Write("params.txt", b"lr = 0.01\0\x01\x02")]);
    let claim = f.claim(&f.w1, &base, &c, 0.1, "binary");
    cases.push(("binary_file", f.submit_claim(&f.w1, claim, b).await));

    let big = "x = 1\n".repeat(1000);
    let (c, b) = f.candidate(&base, &[Edit::Write("src/big.txt", big.as_bytes())]);
    let claim = f.claim(&f.w1, &base, &c, 0.1, "big");
    cases.push(("file_too_large", f.submit_claim(&f.w1, claim, b).await));

    let (c, b) = f.candidate(&base, &[]);
    let claim = f.claim(&f.w1, &base, &c, 0.1, "empty");
    cases.push(("empty_change", f.submit_claim(&f.w1, claim, b).await));

    // Two commits on the parent: not one child of it.
    let (c1, _) = f.candidate(&base, &[Edit::Write("params.txt", b"lr = 1\n")]);
    let (c2, _) = f.candidate(&c1, &[Edit::Write("params.txt", b"lr = 2\n")]);
    let b = f.bundle_of(&c2, &base);
    let claim = f.claim(&f.w1, &base, &c2, 0.1, "grandchild");
    cases.push((
        "not_a_child_of_parent",
        f.submit_claim(&f.w1, claim, b).await,
    ));

    // The bundle does not carry the claimed commit.
    let (c, b) = f.candidate(&base, &[Edit::Write("params.txt", b"lr = 3\n")]);
    let claim = f.claim(&f.w1, &base, &c.replace(&c[..4], "0000"), 0.1, "missing");
    cases.push(("commit_missing", f.submit_claim(&f.w1, claim, b).await));

    let claim = f.claim(&f.w1, &base, &c, 0.1, "garbage");
    cases.push((
        "bad_bundle",
        f.submit_claim(&f.w1, claim, "bm90IGEgYnVuZGxl".into())
            .await,
    ));

    let claim = f.claim(&f.w1, &"ab".repeat(20), &c, 0.1, "unknown-parent");
    let (_, b) = f.candidate(&base, &[Edit::Write("params.txt", b"lr = 4\n")]);
    cases.push(("parent_unknown", f.submit_claim(&f.w1, claim, b).await));

    let (c, b) = f.candidate(&base, &[Edit::Write("params.txt", b"lr = 5\n")]);
    let mut claim = f.claim(&f.w1, &base, &c, 0.1, "no-metric");
    claim.metrics.clear();
    cases.push((
        "missing_metric",
        f.submit_claim(&f.w1, claim, b.clone()).await,
    ));

    // Signed by w2's key but claiming to be w1.
    let claim = f.claim(&f.w1, &base, &c, 0.1, "forged");
    let forged = Candidate {
        claim,
        bundle: b.clone(),
        log: String::new(),
    }
    .signed(&f.w2.key);
    let forged = f.hub.submit(&f.w1.identity, "toy", forged).await.unwrap();
    cases.push(("bad_signature", forged));

    let claim = f.claim(&f.w2, &base, &c, 0.1, "not-me");
    cases.push((
        "wrong_worker",
        f.submit_claim(&f.w1, claim, b.clone()).await,
    ));

    // A valid one, then the same nonce again.
    let claim = f.claim(&f.w1, &base, &c, 0.1, "once");
    assert_eq!(
        f.submit_claim(&f.w1, claim.clone(), b.clone()).await.status,
        "queued"
    );
    cases.push(("replay", f.submit_claim(&f.w1, claim, b).await));

    for (reason, sub) in &cases {
        assert_eq!(
            (sub.status.as_str(), sub.reason.as_deref()),
            ("invalid", Some(*reason)),
            "case {reason}"
        );
    }
    // Only the one valid submission became a job.
    let job = f.lease(&f.v1).await.unwrap();
    assert_eq!(job.candidate, c);
    assert_eq!(f.lease(&f.v2).await, None);
}

#[tokio::test]
async fn a_bundle_over_the_cap_is_invalid() {
    let f = Fixture::with(|c| c.max_bundle_bytes = 64).await;
    let (c, b) = f.candidate(&f.baseline, &[Edit::Write("params.txt", b"lr = 9\n")]);
    let claim = f.claim(&f.w1, &f.baseline, &c, 0.1, "big-bundle");
    let sub = f.submit_claim(&f.w1, claim, b).await;
    assert_eq!(sub.reason.as_deref(), Some("bundle_too_large"));
}

#[tokio::test]
async fn the_same_normalised_diff_again_is_a_duplicate_and_the_first_wins() {
    let f = Fixture::new().await;
    let first = f
        .submit(&f.w1, &f.baseline, "lr = 0.02\nwidth = 64\n")
        .await;
    // Another worker, another commit, the same change up to whitespace.
    let again = f
        .submit(&f.w2, &f.baseline, "lr  =  0.02\nwidth = 64\n")
        .await;
    assert_eq!(first.status, "queued");
    assert_eq!(
        (again.status.as_str(), again.reason.as_deref()),
        ("rejected", Some("duplicate"))
    );
    // Other workers never see pending content.
    assert!(f.hub.submission(&f.w2.identity, first.id).await.is_err());
    assert!(f.hub.submission(&f.w1.identity, first.id).await.is_ok());
    assert!(f.hub.submission(&f.v1.identity, first.id).await.is_ok());
}

#[tokio::test]
async fn a_parent_too_far_behind_is_stale_and_a_recent_one_is_rebased() {
    let f = Fixture::with(|c| c.stale_depth = 1).await;
    // Move the head twice.
    let mut parent = f.baseline.clone();
    for (i, text) in ["a = 1\n", "b = 2\n"].iter().enumerate() {
        let path = format!("src/f{i}.txt");
        let (c, b) = f.candidate(&parent, &[Edit::Write(&path, text.as_bytes())]);
        let claim = f.claim(&f.w1, &parent, &c, 0.1, &format!("move-{i}"));
        assert_eq!(f.submit_claim(&f.w1, claim, b).await.status, "queued");
        let job = f.lease(&f.v1).await.unwrap();
        assert_eq!(
            f.report(&f.v1, job.job_id, &BETTER, &HEAD)
                .await
                .unwrap()
                .decision,
            "accepted"
        );
        parent = c;
    }
    let stale = f.submit(&f.w2, &f.baseline, "lr = 0.5\nwidth = 64\n").await;
    assert_eq!(
        (stale.status.as_str(), stale.reason.as_deref()),
        ("rejected", Some("stale"))
    );

    let chain = f.hub.track_info("toy").await.unwrap().chain;
    let one_behind = chain[chain.len() - 2].commit.clone();
    let recent = f.submit(&f.w2, &one_behind, "lr = 0.6\nwidth = 64\n").await;
    assert_eq!(recent.status, "queued");
    assert_eq!(
        recent.base.as_deref(),
        Some(parent.as_str()),
        "verified against the head"
    );
    assert_ne!(
        recent.candidate.as_deref(),
        Some(recent.commit.as_str()),
        "rebased"
    );
}
