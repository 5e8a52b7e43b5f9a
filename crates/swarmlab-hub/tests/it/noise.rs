//! The noise of a track's metric: the head's reruns from every decisive report, kept per
//! (track, head commit, hardware class), shown for the current head and pooled into the
//! test of later reports on the same head and class.

use swarmlab_hub::HubError;
use swarmlab_proto::{signing, ReportRequest, RunOutcome};
use swarmlab_testkit::hub::Member;

use crate::support::{Fixture, BETTER, HEAD};

/// `candidate` and `head` reruns for `job`, as measured on `class`.
fn on(f: &Fixture, v: &Member, job: i64, class: &str, cand: &[f64], head: &[f64]) -> ReportRequest {
    let mut req = f.measurements(v, job, RunOutcome::Ok, cand, head);
    req.measurements.hardware_class = class.into();
    req.signature = signing::sign(&v.key, &req.measurements.signed_bytes());
    req
}

async fn decision(f: &Fixture, v: &Member, job: i64, req: ReportRequest) -> String {
    f.hub.report(&v.identity, job, req).await.unwrap().decision
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn head_reruns_are_kept_per_hardware_class_for_the_current_head() {
    let f = Fixture::new().await;
    let base = f.baseline.clone();
    assert_eq!(f.hub.noise("toy").await.unwrap(), vec![]);
    f.submit(&f.w1, &base, "lr = 0.1\n").await;
    f.submit(&f.w2, &base, "lr = 0.2\n").await;

    // On cpu: two reruns first (more are needed, nothing kept), then three (decisive: the
    // candidate is clearly worse, whatever its worker claimed).
    let job = f.lease(&f.v1).await.unwrap().job_id;
    let first = on(&f, &f.v1, job, "cpu", &[1.02, 1.01], &[1.0, 0.98]);
    assert_eq!(decision(&f, &f.v1, job, first).await, "continue");
    let all = on(
        &f,
        &f.v1,
        job,
        "cpu",
        &[1.2, 1.21, 1.22],
        &[1.0, 0.98, 1.01],
    );
    assert_eq!(decision(&f, &f.v1, job, all).await, "rejected");
    // On a faster class, with a report that names none refused.
    let job = f.lease(&f.v2).await.unwrap().job_id;
    let nameless = on(&f, &f.v2, job, " ", &[0.5, 0.5], &[0.5, 0.5]);
    assert!(matches!(
        f.hub.report(&f.v2.identity, job, nameless).await,
        Err(HubError::BadRequest(_))
    ));
    let gpu = on(
        &f,
        &f.v2,
        job,
        "a100",
        &[0.5, 0.52, 0.48],
        &[0.5, 0.52, 0.48],
    );
    assert_eq!(decision(&f, &f.v2, job, gpu).await, "rejected");

    let noise = f.hub.noise("toy").await.unwrap();
    let classes: Vec<(&str, &str, u32)> = noise
        .iter()
        .map(|n| (n.hardware_class.as_str(), n.commit.as_str(), n.n))
        .collect();
    assert_eq!(
        classes,
        [("a100", base.as_str(), 3), ("cpu", base.as_str(), 3)]
    );
    assert!(close(noise[0].mean, 0.5) && close(noise[0].sd.unwrap(), 0.02));
    let cpu_mean = (1.0 + 0.98 + 1.01) / 3.0;
    assert!(close(noise[1].mean, cpu_mean), "{noise:?}");

    // The head moves: what was measured of the old head is not the new head's noise.
    f.submit(&f.w1, &base, "lr = 0.3\n").await;
    let job = f.lease(&f.v1).await.unwrap().job_id;
    let win = on(&f, &f.v1, job, "cpu", &BETTER, &HEAD);
    assert_eq!(decision(&f, &f.v1, job, win).await, "accepted");
    assert_eq!(f.hub.noise("toy").await.unwrap(), vec![]);
    let head = f.head().await;
    f.submit(&f.w2, &head, "lr = 0.4\n").await;
    let job = f.lease(&f.v1).await.unwrap().job_id;
    let one = on(&f, &f.v1, job, "cpu", &[0.8, 0.8, 0.8], &[0.79, 0.81, 0.8]);
    assert_eq!(decision(&f, &f.v1, job, one).await, "rejected");
    let noise = f.hub.noise("toy").await.unwrap();
    assert_eq!(noise.len(), 1);
    assert_eq!((noise[0].commit.as_str(), noise[0].n), (head.as_str(), 3));
    assert!(matches!(
        f.hub.noise("nope").await,
        Err(HubError::NotFound(_))
    ));
}

#[tokio::test]
async fn earlier_reports_on_the_same_head_and_class_are_pooled_into_the_test() {
    let f = Fixture::new().await;
    let base = f.baseline.clone();
    for (w, params) in [
        (&f.w1, "lr = 0.1\n"),
        (&f.w2, "lr = 0.2\n"),
        (&f.w1, "lr = 0.3\n"),
        (&f.w2, "lr = 0.4\n"),
    ] {
        f.submit(w, &base, params).await;
    }
    // Two reports on cpu of candidates clearly worse: the head spreads by about 0.022 there.
    let head = [0.975, 1.025, 1.0].repeat(3);
    for _ in 0..2 {
        let job = f.lease(&f.v1).await.unwrap().job_id;
        let req = on(&f, &f.v1, job, "cpu", &[1.2; 9], &head);
        assert_eq!(decision(&f, &f.v1, job, req).await, "rejected");
    }
    // Better by 0.08 on three reruns of each side: on another class, Welch's test on them
    // alone is not significant at alpha / 8 yet...
    let (cand, head) = ([0.90, 0.95, 0.92], [1.0, 1.02, 0.99]);
    let job = f.lease(&f.v1).await.unwrap().job_id;
    let req = on(&f, &f.v1, job, "gpu", &cand, &head);
    assert_eq!(decision(&f, &f.v1, job, req).await, "continue");
    // ...and with the head's earlier reruns on the same class it is.
    let job = f.lease(&f.v1).await.unwrap().job_id;
    let req = on(&f, &f.v1, job, "cpu", &cand, &head);
    assert_eq!(decision(&f, &f.v1, job, req).await, "accepted");
    // The ledger's verdict cites what it pooled, and the audit decides again with it.
    let ledger = f.hub.ledger_text("toy").await.unwrap();
    let cited = ledger
        .lines()
        .filter(|l| l.contains("\"decision\":\"accept\""))
        .find_map(|l| l.split("\"prior\":[").nth(1))
        .map(|rest| rest.split(']').next().unwrap_or_default().to_string());
    assert_eq!(cited.as_deref(), Some("1,2"), "{ledger}");
    let report = swarmlab_hub::audit(&ledger, &f.hub.public_key()).unwrap();
    assert_eq!(report.head_moves, 1);
}
