//! A track's page says the swarm has converged when every worker heard of lately has nothing
//! left to propose on the head, no submission waits for a verdict and no idea waits for a
//! worker; and not a moment before.

use swarmlab_proto::{ActivityReport, Role};
use swarmlab_testkit::http::Client;
use swarmlab_testkit::hub::member;

use crate::dashboard::sign_in;
use crate::demo::Demo;

fn idle_on(head: &str) -> ActivityReport {
    ActivityReport {
        track: Some("toy".into()),
        doing: "nothing left to propose on the head".into(),
        idle_on: Some(head.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_track_page_says_the_swarm_converged_once_every_worker_is_idle_on_the_head_and_nothing_waits(
) {
    let demo = Demo::start().await;
    let addr = demo.addr;
    let viewer = sign_in(addr, &demo.worker.token);
    let page = || Client::new(addr).cookie(&viewer).get("/tracks/toy").body;
    let head = demo.hub.track_info("toy").await.unwrap().head;
    let worker = &demo.worker.identity;
    demo.hub
        .report_activity(worker, &idle_on(&head))
        .await
        .unwrap();
    let body = page();
    assert!(
        body.contains("nothing left to propose on the head"),
        "{body}"
    );
    // A submission waits for its verdict and ideas wait for a worker: not converged.
    assert!(!body.contains("Converged"), "{body}");
    assert_eq!(demo.hub.convergence("toy").await.unwrap(), None);

    // The verdict moves the head; the ideas are all tried.
    demo.verify_pending().await;
    while let Some(idea) = demo.hub.lease_idea(worker, "toy").await.unwrap() {
        demo.hub.finish_idea(worker, idea.id).await.unwrap();
    }
    let info = demo.hub.track_info("toy").await.unwrap();
    assert_ne!(info.head, head, "the pending submission was accepted");
    // The worker is still idle on the old head: it has not seen the new one yet.
    assert_eq!(demo.hub.convergence("toy").await.unwrap(), None);
    demo.hub
        .report_activity(worker, &idle_on(&info.head))
        .await
        .unwrap();
    let converged = demo.hub.convergence("toy").await.unwrap().unwrap();
    let seq = info.chain.last().unwrap().seq;
    assert_eq!((converged.seq, converged.workers), (seq, 1));
    assert!(converged.value.is_some(), "{converged:?}");
    let body = page();
    assert!(body.contains("<strong>Converged</strong>"), "{body}");
    let short = swarmlab_core::short(&info.head);
    assert!(
        body.contains(&format!("<code>{short}</code> (#{seq}")),
        "{body}"
    );
    assert!(
        body.contains("href=\"/tracks/toy/ideas\">Add an idea"),
        "{body}"
    );

    // Another worker still searching: not converged.
    let dave = member(&demo.hub, "dave", Role::Worker, 9).await;
    let searching = ActivityReport {
        track: Some("toy".into()),
        doing: "experiment 3".into(),
        idle_on: None,
    };
    demo.hub
        .report_activity(&dave.identity, &searching)
        .await
        .unwrap();
    assert_eq!(demo.hub.convergence("toy").await.unwrap(), None);
    assert!(!page().contains("Converged"), "{}", page());
}
