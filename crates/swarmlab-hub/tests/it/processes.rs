//! Two hubs on one PostgreSQL database (`SWARMLAB_TEST_DATABASE_URL`), sharing the data
//! folder as two processes share a volume: a head moved through one is the other's head
//! once its notice arrives, the other's event stream hears it, and writes through both at
//! once leave one ledger that audits. On SQLite one hub holds the database: nothing to test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use swarmlab_hub::{audit, EventKind, Hub};
use swarmlab_proto::NewIdea;

use crate::support::{Edit, Fixture, BETTER, HEAD};

#[tokio::test(flavor = "multi_thread")]
async fn a_head_moved_through_one_hub_is_the_others_and_both_write_one_ledger() {
    if std::env::var(swarmlab_testkit::database::ENV).is_err() {
        return;
    }
    let f = Fixture::new().await;
    let other = Arc::new(
        Hub::open(f.hub.config().clone(), f.clock.clone())
            .await
            .unwrap(),
    );
    let base = f.baseline.clone();
    assert_eq!(f.head().await, base);
    let mut heard = f.hub.events().subscribe();

    // Submitted through the first, leased and decided through the other.
    let (commit, bundle) = f.candidate(&base, &[Edit::Write("params.txt", b"lr = 0.02\n")]);
    f.submit_claim(&f.w1, f.claim(&f.w1, &base, &commit, 0.8, "a"), bundle)
        .await;
    let job = other.lease_job(&f.v1.identity).await.unwrap().unwrap();
    let req = f.measurements(
        &f.v1,
        job.job_id,
        swarmlab_proto::RunOutcome::Ok,
        &BETTER,
        &HEAD,
    );
    let decided = other.report(&f.v1.identity, job.job_id, req).await.unwrap();
    assert_eq!(decided.decision, "accepted");

    let deadline = Instant::now() + Duration::from_secs(10);
    while f.head().await != commit {
        assert!(
            Instant::now() < deadline,
            "the first hub never saw the head move"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let head_event = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match heard.recv().await {
                Ok(e) if e.kind == EventKind::Head => return e,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("the first hub's listeners heard the head move");
    assert_eq!(head_event.track, "toy");

    // Ideas through both at once: every one added, one ledger.
    let mut adds = Vec::new();
    for i in 0..40 {
        let hub = if i % 2 == 0 {
            f.hub.clone()
        } else {
            other.clone()
        };
        let who = f.w1.identity.clone();
        adds.push(tokio::spawn(async move {
            let idea = NewIdea {
                text: format!("idea number {i} of forty, each its own words {}", i * 7919),
                tags: Vec::new(),
                source: None,
            };
            hub.add_idea(&who, "toy", &idea).await.unwrap().id
        }));
    }
    // And submissions, each an entry of the ledger.
    let mut submits = Vec::new();
    for (i, w) in [&f.w1, &f.w2, &f.w1, &f.w2].into_iter().enumerate() {
        let params = format!("lr = 0.0{}\nwidth = {}\n", i + 3, 64 + i);
        let (c, bundle) = f.candidate(&commit, &[Edit::Write("params.txt", params.as_bytes())]);
        let request = swarmlab_testkit::bundle::Candidate {
            claim: f.claim(w, &commit, &c, 0.8, &format!("both-{i}")),
            bundle,
            log: "loss: 0.8\n".into(),
        }
        .signed(&w.key);
        let hub = if i % 2 == 0 {
            f.hub.clone()
        } else {
            other.clone()
        };
        let who = w.identity.clone();
        submits.push(tokio::spawn(async move {
            hub.submit(&who, "toy", request).await.unwrap().id
        }));
    }
    let mut ids = Vec::new();
    for add in adds {
        ids.push(add.await.unwrap());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    let mut submitted = Vec::new();
    for submit in submits {
        submitted.push(submit.await.unwrap());
    }
    submitted.sort_unstable();
    submitted.dedup();
    assert_eq!(submitted.len(), 4);
    let text = f.hub.ledger_text("toy").await.unwrap();
    assert_eq!(other.ledger_text("toy").await.unwrap(), text);
    audit(&text, &f.hub.public_key()).unwrap();
}
