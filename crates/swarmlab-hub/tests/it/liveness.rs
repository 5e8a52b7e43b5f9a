//! Every submission reaches an end: a job that enough distinct verifiers fault on ends its
//! submission as `unverifiable` (charged to its worker, in the ledger, audited), and intake
//! refuses what it can see cheaply that no verifier could prepare: a file the spec names
//! that is no longer a file, a knob whose pattern no longer matches.

use std::path::Path;

use base64::Engine;
use swarmlab_hub::{audit, HubError};
use swarmlab_proto::{signing, RunOutcome, SubmitRequest};

use swarmlab_testkit::git::git;
use swarmlab_testkit::hub::{Member, TRACK_SPEC as SPEC};

use crate::support::Fixture;

/// Reports a fault on `job` as `v`, with `detail`.
async fn fault(f: &Fixture, v: &Member, job: i64, detail: &str) -> (String, Option<String>) {
    let mut req = f.measurements(v, job, RunOutcome::VerifierFault, &[], &[]);
    req.measurements.detail = Some(detail.into());
    req.signature = signing::sign(&v.key, &req.measurements.signed_bytes());
    let answer = f.hub.report(&v.identity, job, req).await.unwrap();
    (answer.decision, answer.reason)
}

#[tokio::test]
async fn a_job_that_enough_verifiers_fault_on_ends_unverifiable_and_audits() {
    let f = Fixture::with(|c| c.unverifiable_after = 2).await;
    let base = f.baseline.clone();
    let sub = f.submit(&f.w1, &base, "lr = 0.02\nwidth = 64\n").await;
    assert_eq!(sub.status, "queued");

    // One verifier's fault sends the job to another; the first may not take it again.
    let job = f.lease(&f.v1).await.unwrap();
    let answer = fault(&f, &f.v1, job.job_id, "the sandbox would not start").await;
    assert_eq!(answer, ("retry".to_string(), None));
    assert_eq!(
        f.hub
            .submission(&f.w1.identity, sub.id)
            .await
            .unwrap()
            .status,
        "queued"
    );
    assert!(f.lease(&f.v1).await.is_none());

    // A second verifier's fault, a second later, ends it.
    f.clock.advance(1_000);
    let again = f.lease(&f.v2).await.unwrap();
    assert_eq!(again.job_id, job.job_id);
    let answer = fault(&f, &f.v2, job.job_id, "out of disk").await;
    assert_eq!(
        answer,
        ("rejected".to_string(), Some("unverifiable".to_string()))
    );
    assert!(f.lease(&f.v2).await.is_none(), "the job left the queue");

    // The worker sees why; so does an admin.
    let info = f.hub.submission(&f.w1.identity, sub.id).await.unwrap();
    assert_eq!(
        (info.status.as_str(), info.reason.as_deref()),
        ("rejected", Some("unverifiable"))
    );
    let said: Vec<Option<&str>> = info.faults.iter().map(|f| f.detail.as_deref()).collect();
    assert_eq!(
        said,
        [Some("the sandbox would not start"), Some("out of disk")]
    );
    let verifiers: Vec<&str> = info.faults.iter().map(|f| f.verifier.as_str()).collect();
    assert_eq!(verifiers, [&f.v1.identity.id, &f.v2.identity.id]);

    // As for a false claim, the worker's quota went down by one (2 to 1).
    f.submit(&f.w1, &base, "lr = 0.03\nwidth = 64\n").await;
    let (commit, bundle) = f.candidate(
        &base,
        &[crate::support::Edit::Write("params.txt", b"lr = 0.04\n")],
    );
    let claim = f.claim(&f.w1, &base, &commit, 0.9, "over-quota");
    let signature = signing::sign(&f.w1.key, &claim.signed_bytes());
    let req = SubmitRequest {
        claim,
        signature,
        bundle,
        log: String::new(),
    };
    let refused = f.hub.submit(&f.w1.identity, "toy", req).await;
    assert!(matches!(refused, Err(HubError::Quota(_))), "{refused:?}");

    // The ledger records it with both signed faults, and audits.
    let ledger = f.hub.ledger_text("toy").await.unwrap();
    let entry = ledger
        .lines()
        .find(|l| l.contains("\"kind\":\"unverifiable\""))
        .expect("an unverifiable entry");
    assert!(entry.contains(&f.v1.identity.id) && entry.contains(&f.v2.identity.id));
    let report = audit(&ledger, &f.hub.public_key()).unwrap();
    assert_eq!(report.unverifiable, 1);
}

#[tokio::test]
async fn with_fewer_verifiers_than_asked_for_every_one_of_them_faulting_ends_the_job() {
    // Three asked for, two enrolled.
    let f = Fixture::new().await;
    let sub = f
        .submit(&f.w1, &f.baseline.clone(), "lr = 0.05\nwidth = 64\n")
        .await;
    let job = f.lease(&f.v1).await.unwrap();
    fault(&f, &f.v1, job.job_id, "no sandbox").await;
    let job = f.lease(&f.v2).await.unwrap();
    let (decision, reason) = fault(&f, &f.v2, job.job_id, "no sandbox").await;
    assert_eq!(
        (decision.as_str(), reason.as_deref()),
        ("rejected", Some("unverifiable"))
    );
    let info = f.hub.submission(&f.w1.identity, sub.id).await.unwrap();
    assert_eq!(info.reason.as_deref(), Some("unverifiable"));
}

/// What a case does to the tree.
type Edit = Box<dyn FnOnce(&Path)>;

/// Commits what `edit` does to the tree of `dir` on `parent`; the commit and a bundle of it
/// (base64).
fn commit_on(dir: &Path, parent: &str, edit: impl FnOnce(&Path)) -> (String, String) {
    git(dir, &["checkout", "-q", "--detach", parent]);
    edit(dir);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "change"]);
    let commit = git(dir, &["rev-parse", "HEAD"]);
    git(dir, &["branch", "-f", "candidate", &commit]);
    let path = dir.join(".git/candidate.bundle");
    let bundle = path.to_str().unwrap();
    git(
        dir,
        &[
            "bundle",
            "create",
            "-q",
            bundle,
            "candidate",
            &format!("^{parent}"),
        ],
    );
    let bytes = std::fs::read(&path).unwrap();
    (
        commit,
        base64::engine::general_purpose::STANDARD.encode(bytes),
    )
}

#[tokio::test]
async fn intake_refuses_a_file_the_spec_names_that_is_gone_and_a_knob_that_no_longer_matches() {
    let f = Fixture::new().await;
    // A second track whose spec has a knob in `params.txt`.
    let dir = f.tmp.path().join("knobbed");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let spec = SPEC.replace("name = \"toy\"", "name = \"knobbed\"")
        + "\n[knobs]\nlr = { file = \"params.txt\", pattern = 'lr = (?P<v>[0-9.]+)', range = [0.001, 1.0], scale = \"log\" }\n";
    std::fs::write(dir.join("swarmlab.toml"), spec).unwrap();
    std::fs::write(dir.join("train.sh"), "echo loss: 1\n").unwrap();
    std::fs::write(dir.join("params.txt"), "lr = 0.01\nwidth = 64\n").unwrap();
    std::fs::write(dir.join("src/model.txt"), "layers = 2\n").unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "baseline"]);
    let base = git(&dir, &["rev-parse", "HEAD"]);
    f.hub
        .add_track(&swarmlab_proto::AddTrackRequest {
            repo: dir.display().to_string(),
            baseline: "main".into(),
        })
        .await
        .unwrap();

    let cases: [(&str, Edit); 4] = [
        (
            "not_a_file",
            Box::new(|d| std::fs::remove_file(d.join("params.txt")).unwrap()),
        ),
        (
            "not_a_file",
            Box::new(|d| {
                std::fs::remove_file(d.join("params.txt")).unwrap();
                std::fs::create_dir(d.join("params.txt")).unwrap();
                std::fs::write(d.join("params.txt/lr"), "lr = 0.02\n").unwrap();
            }),
        ),
        (
            "knob_unmatched",
            Box::new(|d| std::fs::write(d.join("params.txt"), "learning_rate = 0.02\n").unwrap()),
        ),
        (
            "queued",
            Box::new(|d| std::fs::write(d.join("params.txt"), "lr = 0.02\nwidth = 64\n").unwrap()),
        ),
    ];
    for (i, (expect, edit)) in cases.into_iter().enumerate() {
        let (commit, bundle) = commit_on(&dir, &base, edit);
        let mut claim = f.claim(&f.w1, &base, &commit, 0.9, &format!("k{i}"));
        claim.track = "knobbed".into();
        let signature = signing::sign(&f.w1.key, &claim.signed_bytes());
        let req = SubmitRequest {
            claim,
            signature,
            bundle,
            log: String::new(),
        };
        let info = f.hub.submit(&f.w1.identity, "knobbed", req).await.unwrap();
        let got = info.reason.as_deref().unwrap_or(info.status.as_str());
        assert_eq!(got, expect, "case {i}");
    }
}

#[tokio::test]
async fn a_job_left_waiting_when_the_rule_changes_ends_at_the_next_sweep() {
    let f = Fixture::new().await;
    let sub = f
        .submit(&f.w1, &f.baseline.clone(), "lr = 0.06\nwidth = 64\n")
        .await;
    let job = f.lease(&f.v1).await.unwrap();
    fault(&f, &f.v1, job.job_id, "no sandbox").await;
    f.hub.sweep().await.unwrap();
    let waiting = f.hub.submission(&f.w1.identity, sub.id).await.unwrap();
    assert_eq!(waiting.status, "queued");
    // The same hub, restarted asking for one fault only: the job ends.
    let mut config = f.hub.config().clone();
    config.unverifiable_after = 1;
    let restarted = swarmlab_hub::Hub::open(config, f.clock.clone())
        .await
        .unwrap();
    restarted.sweep().await.unwrap();
    let ended = restarted.submission(&f.w1.identity, sub.id).await.unwrap();
    assert_eq!(ended.reason.as_deref(), Some("unverifiable"));
    let ledger = restarted.ledger_text("toy").await.unwrap();
    assert_eq!(
        audit(&ledger, &restarted.public_key())
            .unwrap()
            .unverifiable,
        1
    );
}
