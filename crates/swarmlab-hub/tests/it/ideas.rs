use swarmlab_hub::{HubError, Reader};
use swarmlab_proto::NewIdea;

use crate::support::{Fixture, HEAD};

fn idea(text: &str) -> NewIdea {
    NewIdea {
        text: text.into(),
        tags: vec!["lr".into()],
        source: None,
    }
}

#[tokio::test]
async fn an_expired_idea_lease_returns_the_idea_on_read_and_by_sweep() {
    let f = Fixture::new().await;
    let a = f
        .hub
        .add_idea(&f.w1.identity, "toy", &idea("raise the learning rate"))
        .await
        .unwrap();
    let leased = f
        .hub
        .lease_idea(&f.w1.identity, "toy")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((leased.id, leased.state.as_str()), (a.id, "leased"));
    assert_eq!(f.hub.lease_idea(&f.w2.identity, "toy").await.unwrap(), None);

    // A heartbeat keeps it; then silence past the deadline loses it.
    f.clock.advance(50_000);
    f.hub.heartbeat_idea(&f.w1.identity, a.id).await.unwrap();
    f.clock.advance(50_000);
    assert_eq!(f.hub.lease_idea(&f.w2.identity, "toy").await.unwrap(), None);
    f.clock.advance(11_000);
    let again = f
        .hub
        .lease_idea(&f.w2.identity, "toy")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.id, again.lease_holder.as_deref()),
        (a.id, Some(f.w2.identity.id.as_str()))
    );
    assert!(matches!(
        f.hub.heartbeat_idea(&f.w1.identity, a.id).await,
        Err(HubError::Conflict(_))
    ));

    // The sweep returns expired leases without anyone reading.
    f.clock.advance(61_000);
    let swept = f.hub.sweep().await.unwrap();
    assert_eq!(swept.ideas, 1);
    assert_eq!(
        f.hub.idea(&f.w1.identity, a.id).await.unwrap().state,
        "open"
    );
}

#[tokio::test]
async fn a_near_duplicate_idea_is_flagged_and_an_idea_links_its_submissions() {
    let f = Fixture::new().await;
    let a = f
        .hub
        .add_idea(
            &f.w1.identity,
            "toy",
            &idea("Double the model width to 128 units"),
        )
        .await
        .unwrap();
    let b = f
        .hub
        .add_idea(
            &f.w2.identity,
            "toy",
            &idea("double the model width to 128 units!"),
        )
        .await
        .unwrap();
    let c = f
        .hub
        .add_idea(&f.w2.identity, "toy", &idea("use cosine decay"))
        .await
        .unwrap();
    assert_eq!(a.duplicate_of, None);
    assert_eq!(b.duplicate_of, Some(a.id));
    assert_eq!(c.duplicate_of, None);

    let leased = f
        .hub
        .lease_idea(&f.w1.identity, "toy")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(leased.id, a.id);
    let (commit, bundle) = f.candidate(
        &f.baseline,
        &[crate::support::Edit::Write(
            "params.txt",
            b"lr = 0.01\nwidth = 128\n",
        )],
    );
    let mut claim = f.claim(&f.w1, &f.baseline, &commit, 0.9, "idea-1");
    claim.idea_id = Some(a.id);
    let sub = f.submit_claim(&f.w1, claim, bundle).await;
    assert_eq!(sub.status, "queued");
    let mine = f.hub.idea(&f.w1.identity, a.id).await.unwrap();
    assert_eq!(
        (mine.state.as_str(), mine.submissions.clone()),
        ("done", vec![sub.id])
    );
    // A pending submission is listed only to those who may see it.
    let theirs = f.hub.idea(&f.w2.identity, a.id).await.unwrap();
    assert_eq!(theirs.submissions, Vec::<i64>::new());
    let anyone = f.hub.ideas(Reader::Anyone, "toy").await.unwrap();
    assert!(
        anyone.iter().all(|i| i.submissions.is_empty()),
        "{anyone:?}"
    );
    let verifier = f.hub.idea(&f.v1.identity, a.id).await.unwrap();
    assert_eq!(verifier.submissions, vec![sub.id]);
    // Once decided it is listed to anyone.
    let job = f.lease(&f.v1).await.unwrap();
    f.report(&f.v1, job.job_id, &HEAD, &HEAD).await.unwrap();
    let anyone = f.hub.idea(Reader::Anyone, a.id).await.unwrap();
    assert_eq!(anyone.submissions, vec![sub.id]);
}

/// Heartbeats that arrive together are committed together; each still gets its own answer,
/// including two for the same lease from different workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_sent_at_once_each_get_their_own_answer() {
    let f = Fixture::new().await;
    let mut held = Vec::new();
    for text in ["widen the first layer", "shorten the warmup"] {
        f.hub
            .add_idea(&f.w1.identity, "toy", &idea(text))
            .await
            .unwrap();
        let leased = f.hub.lease_idea(&f.w1.identity, "toy").await.unwrap();
        held.push(leased.unwrap().id);
    }
    let mut sent = Vec::new();
    for _ in 0..20 {
        for (who, id, extended) in [
            (&f.w1, held[0], true),
            (&f.w2, held[0], false),
            (&f.w1, held[1], true),
            (&f.w1, 9_999, false),
        ] {
            let (hub, who) = (f.hub.clone(), who.identity.clone());
            let beat = tokio::spawn(async move { hub.heartbeat_idea(&who, id).await });
            sent.push((id, extended, beat));
        }
    }
    for (id, extended, beat) in sent {
        match beat.await.unwrap() {
            Ok(_) => assert!(extended, "idea {id} extended for the wrong worker"),
            Err(HubError::Conflict(_)) => assert!(!extended, "idea {id} refused its holder"),
            Err(e) => panic!("idea {id}: {e}"),
        }
    }
}

#[tokio::test]
async fn an_idea_keeps_its_source_and_a_bad_source_is_refused() {
    let f = Fixture::new().await;
    let source = swarmlab_proto::IdeaSource {
        document: "papers/warmup.txt".into(),
        passage: "a longer warmup stabilises small models".into(),
    };
    let sourced = NewIdea {
        source: Some(source.clone()),
        ..idea("lengthen the warmup")
    };
    let added = f
        .hub
        .add_idea(&f.w1.identity, "toy", &sourced)
        .await
        .unwrap();
    assert_eq!(added.source.as_ref(), Some(&source));
    let read = f.hub.idea(&f.w2.identity, added.id).await.unwrap();
    assert_eq!(read.source, Some(source));
    let listed = f.hub.ideas(&f.w2.identity, "toy").await.unwrap();
    assert_eq!(listed[0].source, read.source);

    let unquoted = NewIdea {
        source: Some(swarmlab_proto::IdeaSource {
            document: "papers/warmup.txt".into(),
            passage: "  ".into(),
        }),
        ..idea("shorten the warmup")
    };
    assert!(matches!(
        f.hub.add_idea(&f.w1.identity, "toy", &unquoted).await,
        Err(HubError::BadRequest(_))
    ));
}
