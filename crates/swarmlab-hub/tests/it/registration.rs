//! Identities that cost something: registration by mode (open, invite codes, closed), and
//! the pool that bounds what all workers without an accepted submission may ask of
//! verifiers together, however many identities they are.

use swarmlab_hub::{HubError, RegistrationMode};
use swarmlab_proto::signing;

use crate::support::{Fixture, BETTER, HEAD};

fn key(seed: u8) -> String {
    signing::public_key_hex(&signing::signing_key(&[seed; 32]))
}

#[tokio::test]
async fn registration_follows_the_mode_and_an_invite_code_is_used_once() {
    let open = Fixture::new().await;
    assert!(open.hub.register_worker("a", &key(20), None).await.is_ok());

    let closed = Fixture::with(|c| c.registration.mode = RegistrationMode::Closed).await;
    let refused = closed.hub.register_worker("a", &key(20), None).await;
    assert!(
        matches!(refused, Err(HubError::Forbidden(ref why)) if why.contains("closed")),
        "{refused:?}"
    );

    let f = Fixture::with(|c| c.registration.mode = RegistrationMode::Invite).await;
    let refused = f.hub.register_worker("a", &key(20), None).await;
    assert!(
        matches!(refused, Err(HubError::Forbidden(ref why)) if why.contains("invite")),
        "{refused:?}"
    );
    let invite = f.hub.create_invite("admin", None).await.unwrap();
    assert!(invite.code.starts_with("sli_"));
    let forged = f.hub.register_worker("a", &key(20), Some("sli_00")).await;
    assert!(matches!(forged, Err(HubError::Forbidden(_))), "{forged:?}");
    let token = f
        .hub
        .register_worker("a", &key(20), Some(&invite.code))
        .await
        .unwrap();
    assert!(f.hub.authenticate(&token.token).await.is_ok());
    let again = f
        .hub
        .register_worker("b", &key(21), Some(&invite.code))
        .await;
    assert!(
        matches!(again, Err(HubError::Forbidden(ref why)) if why.contains("used")),
        "{again:?}"
    );

    // A code that expires is refused once its time is up.
    let soon = f
        .hub
        .create_invite("admin", Some(f.hub.now() + 1_000))
        .await
        .unwrap();
    f.clock.advance(2_000);
    let late = f.hub.register_worker("c", &key(22), Some(&soon.code)).await;
    assert!(matches!(late, Err(HubError::Forbidden(_))), "{late:?}");
}

#[tokio::test]
async fn workers_without_an_accepted_submission_share_one_pool_until_their_work_is_verified() {
    let f = Fixture::with(|c| c.quota.unproven_pool = 3).await;
    let base = f.baseline.clone();
    let first = f.submit(&f.w1, &base, "lr = 0.02\nwidth = 64\n").await;
    f.submit(&f.w1, &base, "lr = 0.03\nwidth = 64\n").await;
    f.submit(&f.w2, &base, "lr = 0.04\nwidth = 64\n").await;
    // w2 is under its own cap of 2, but the pool of unproven workers is full.
    let (commit, bundle) = f.candidate(
        &base,
        &[crate::support::Edit::Write(
            "src/model.txt",
            b"layers = 3\n",
        )],
    );
    let claim = f.claim(&f.w2, &base, &commit, 0.9, "pool");
    let signature = signing::sign(&f.w2.key, &claim.signed_bytes());
    let req = swarmlab_proto::SubmitRequest {
        claim,
        signature,
        bundle,
        log: String::new(),
    };
    let refused = f.hub.submit(&f.w2.identity, "toy", req.clone()).await;
    assert!(
        matches!(refused, Err(HubError::Quota(ref why)) if why.contains("at most 3")),
        "{refused:?}"
    );

    // w1's first submission is verified and accepted: w1 leaves the pool, which has room.
    let job = f.lease(&f.v1).await.unwrap();
    assert_eq!(job.candidate, first.commit);
    let answer = f.report(&f.v1, job.job_id, &BETTER, &HEAD).await.unwrap();
    assert_eq!(answer.decision, "accepted");
    let info = f.hub.submit(&f.w2.identity, "toy", req).await.unwrap();
    assert_eq!(info.status, "queued", "{:?}", info.reason);
}
