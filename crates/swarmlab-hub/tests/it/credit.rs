//! Credit: each head move's ledger entry records who found it, who verified it, the gain as
//! verified and the idea it is credited to; `Hub::credit` (`GET tracks/{track}/credit`)
//! answers the same; the audit recomputes it and names an altered entry; ledgers written
//! before credit still audit.

use swarmlab_hub::{audit, AuditError};
use swarmlab_proto::{
    signing, Claim, Credit, CreditedIdea, EventBody, NewIdea, RunOutcome, SubmissionInfo,
};

use crate::support::{events, resealed, Edit, Fixture, BETTER, HEAD};

/// The gain the test's measurements verify for a minimised metric, worked out here.
fn better_gain() -> f64 {
    HEAD.iter().sum::<f64>() / 3.0 - BETTER.iter().sum::<f64>() / 3.0
}

/// An idea written by `w2` and leased by `w1`.
async fn held_idea(f: &Fixture) -> i64 {
    let idea = f
        .hub
        .add_idea(
            &f.w2.identity,
            "toy",
            &NewIdea {
                text: "widen the model to 96".into(),
                tags: Vec::new(),
                source: None,
            },
        )
        .await
        .unwrap();
    let leased = f.hub.lease_idea(&f.w1.identity, "toy").await.unwrap();
    assert_eq!(leased.map(|i| i.id), Some(idea.id));
    idea.id
}

/// `w1` submits a change of `params.txt` on the head naming `idea` in its signed claim.
async fn submit_naming(f: &Fixture, params: &str, idea: Option<i64>) -> SubmissionInfo {
    let head = f.head().await;
    let (commit, bundle) = f.candidate(&head, &[Edit::Write("params.txt", params.as_bytes())]);
    let claim = Claim {
        idea_id: idea,
        ..f.claim(&f.w1, &head, &commit, 0.9, &format!("n-{commit}"))
    };
    f.submit_claim(&f.w1, claim, bundle).await
}

/// `v1` verifies the next job as clearly better: the head moves.
async fn accept(f: &Fixture) {
    let job = f.lease(&f.v1).await.unwrap();
    let r = f.report(&f.v1, job.job_id, &BETTER, &HEAD).await.unwrap();
    assert_eq!(r.decision, "accepted");
}

/// The credit of each head move in the track's ledger, with its line.
fn ledger_credits(text: &str) -> Vec<(usize, Option<Credit>)> {
    events(text)
        .into_iter()
        .enumerate()
        .filter_map(|(i, (_, e))| match e {
            EventBody::HeadMove { credit, .. } => Some((i + 1, credit)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_head_move_credits_its_finder_verifier_gain_and_named_idea_in_ledger_and_api() {
    let f = Fixture::new().await;
    let idea = held_idea(&f).await;
    let sub = submit_naming(&f, "lr = 0.02\nwidth = 96\n", Some(idea)).await;
    assert_eq!(sub.idea_id, Some(idea));
    accept(&f).await;

    let text = f.hub.ledger_text("toy").await.unwrap();
    let named: Vec<Option<i64>> = events(&text)
        .into_iter()
        .filter_map(|(_, e)| match e {
            EventBody::Submission { idea_id, .. } => Some(idea_id),
            _ => None,
        })
        .collect();
    assert_eq!(named, [Some(idea)]);
    let credits = ledger_credits(&text);
    assert_eq!(credits.len(), 1);
    let credit = credits[0]
        .1
        .clone()
        .expect("the head move records its credit");
    assert_eq!(credit.finder, f.w1.identity.id);
    assert_eq!(credit.verifiers, vec![f.v1.identity.id.clone()]);
    assert!(
        (credit.gain - better_gain()).abs() < 1e-12,
        "{}",
        credit.gain
    );
    assert_eq!(
        credit.idea,
        Some(CreditedIdea {
            id: idea,
            author: f.w2.identity.id.clone(),
        })
    );
    let report = audit(&text, &f.hub.public_key()).unwrap();
    assert_eq!((report.credited, report.credited_to_ideas), (1, 1));
    assert!(
        report
            .counts()
            .contains("1 head moves (1 credited, 1 to an idea)"),
        "{}",
        report.counts()
    );

    // The API gives the same record and adds it up per identity.
    let api = f.hub.credit("toy").await.unwrap();
    assert_eq!(api.head_moves.len(), 1);
    let moved = &api.head_moves[0];
    assert_eq!(
        (moved.chain_seq, moved.commit.as_str(), moved.submission_id),
        (1, sub.commit.as_str(), sub.id)
    );
    assert_eq!(moved.credit, credit);
    let party = |id: &str| {
        api.parties
            .iter()
            .find(|p| p.identity == id)
            .unwrap_or_else(|| panic!("{id} in {:?}", api.parties))
            .clone()
    };
    let finder = party(&f.w1.identity.id);
    assert_eq!((finder.improvements, finder.gain), (1, credit.gain));
    assert_eq!(finder.ideas_credited, 0);
    let author = party(&f.w2.identity.id);
    assert_eq!((author.ideas_credited, author.idea_gain), (1, credit.gain));
    assert_eq!(author.improvements, 0);
    assert_eq!(party(&f.v1.identity.id).verifications, 1);
    // The finder, with the most gain, comes first.
    assert_eq!(api.parties[0].identity, f.w1.identity.id);
    assert!(matches!(
        f.hub.credit("nope").await,
        Err(swarmlab_hub::HubError::NotFound(_))
    ));
}

#[tokio::test]
async fn an_idea_the_submission_did_not_name_is_not_credited() {
    let f = Fixture::new().await;
    let idea = held_idea(&f).await;
    // Held, but the claim names none; then a claim naming an idea the track does not have.
    submit_naming(&f, "lr = 0.02\nwidth = 96\n", None).await;
    accept(&f).await;
    let stranger = submit_naming(&f, "lr = 0.02\nwidth = 97\n", Some(idea + 40)).await;
    assert_eq!(stranger.idea_id, None, "only the track's ideas are named");
    accept(&f).await;

    let text = f.hub.ledger_text("toy").await.unwrap();
    let credits = ledger_credits(&text);
    assert_eq!(credits.len(), 2);
    for (line, credit) in &credits {
        let credit = credit.as_ref().unwrap();
        assert_eq!((line, &credit.idea), (line, &None));
        assert_eq!(credit.finder, f.w1.identity.id);
    }
    let report = audit(&text, &f.hub.public_key()).unwrap();
    assert_eq!((report.credited, report.credited_to_ideas), (2, 0));
    let api = f.hub.credit("toy").await.unwrap();
    assert!(api.head_moves.iter().all(|m| m.credit.idea.is_none()));
    assert!(api.parties.iter().all(|p| p.ideas_credited == 0));
    let finder = api
        .parties
        .iter()
        .find(|p| p.identity == f.w1.identity.id)
        .unwrap();
    assert_eq!(finder.improvements, 2);
}

#[tokio::test]
async fn a_change_already_on_the_chain_earns_its_idea_nothing() {
    let f = Fixture::new().await;
    let idea = held_idea(&f).await;
    let params = "lr = 0.02\nwidth = 96\n";
    submit_naming(&f, params, None).await;
    accept(&f).await;
    // The same change again, on the old parent, naming the idea: intake refuses it as a
    // duplicate, so nothing is credited to the idea.
    let (commit, bundle) =
        f.candidate(&f.baseline, &[Edit::Write("params.txt", params.as_bytes())]);
    let claim = Claim {
        idea_id: Some(idea),
        ..f.claim(&f.w2, &f.baseline, &commit, 0.9, "again")
    };
    let again = f.submit_claim(&f.w2, claim, bundle).await;
    assert_eq!(
        (again.status.as_str(), again.reason.as_deref()),
        ("rejected", Some("duplicate"))
    );
    let api = f.hub.credit("toy").await.unwrap();
    assert_eq!(api.head_moves.len(), 1);
    assert!(api.parties.iter().all(|p| p.ideas_credited == 0));

    // A ledger in which such a change did move the head (as a hub without the duplicate
    // check could write): the audit holds its idea to no credit.
    let text = f.hub.ledger_text("toy").await.unwrap();
    let genuine = events(&text);
    let hub = signing::signing_key(&[41; 32]);
    let rule = genuine
        .iter()
        .find_map(|(_, e)| match e {
            EventBody::Verdict { rule, .. } => Some(*rule),
            _ => None,
        })
        .unwrap();
    let first_move = genuine
        .iter()
        .position(|(_, e)| matches!(e, EventBody::HeadMove { .. }))
        .unwrap();
    let (diff_hash, to) = match (&genuine[first_move - 2].1, &genuine[first_move].1) {
        (EventBody::Submission { diff_hash, .. }, EventBody::HeadMove { to, .. }) => {
            (diff_hash.clone(), to.clone())
        }
        other => panic!("not a submission, verdict, head move: {other:?}"),
    };
    let repeat = |credited: Option<CreditedIdea>| {
        let mut events = genuine.clone();
        let at = events.last().unwrap().0;
        events.push((
            at,
            EventBody::Submission {
                submission_id: 90,
                worker: f.w2.identity.id.clone(),
                parent: to.clone(),
                commit: "c2".into(),
                diff_hash: diff_hash.clone(),
                status: "queued".into(),
                reason: None,
                claim_signature: String::new(),
                idea_id: Some(idea),
            },
        ));
        let m = f.measurements(&f.v1, 91, RunOutcome::Ok, &BETTER, &HEAD);
        events.push((
            at,
            EventBody::Verdict {
                verdict_id: 92,
                submission_id: 90,
                candidate: "c2".into(),
                base: to.clone(),
                decision: "accept".into(),
                reason: None,
                p_value: None,
                rule,
                measurements: m.measurements,
                verifier_signature: m.signature,
                prior: Vec::new(),
            },
        ));
        let verdict_seq = events.len() as u64 - 1;
        events.push((
            at,
            EventBody::HeadMove {
                from: to.clone(),
                to: "c2".into(),
                submission_id: 90,
                verdict_seq,
                credit: Some(Credit {
                    finder: f.w2.identity.id.clone(),
                    verifiers: vec![f.v1.identity.id.clone()],
                    gain: better_gain(),
                    idea: credited,
                }),
            },
        ));
        (resealed(&events, &hub), events.len())
    };
    let (honest, _) = repeat(None);
    let report = audit(&honest, &hub.verifying_key()).unwrap();
    assert_eq!((report.credited, report.credited_to_ideas), (2, 0));
    let (credited, line) = repeat(Some(CreditedIdea {
        id: idea,
        author: f.w2.identity.id.clone(),
    }));
    let err = audit(&credited, &hub.verifying_key()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "line {line}: the head move's credit does not match the ledger: it credits idea \
             {idea} by `{}`, but the change of its submission (which named idea {idea}) was \
             already on the chain",
            f.w2.identity.id
        )
    );
}

#[tokio::test]
async fn an_altered_credit_fails_the_audit_naming_its_line() {
    let f = Fixture::new().await;
    let idea = held_idea(&f).await;
    submit_naming(&f, "lr = 0.02\nwidth = 96\n", Some(idea)).await;
    accept(&f).await;
    let text = f.hub.ledger_text("toy").await.unwrap();
    let genuine = events(&text);
    let hub = signing::signing_key(&[42; 32]);
    audit(&resealed(&genuine, &hub), &hub.verifying_key()).unwrap();
    let line = ledger_credits(&text)[0].0;

    let altered = |change: &dyn Fn(&mut Option<Credit>)| {
        let mut events = genuine.clone();
        if let EventBody::HeadMove { credit, .. } = &mut events[line - 1].1 {
            change(credit);
        }
        audit(&resealed(&events, &hub), &hub.verifying_key()).unwrap_err()
    };
    let finder = altered(&|c| c.as_mut().unwrap().finder = f.w2.identity.id.clone());
    assert_eq!(
        finder.to_string(),
        format!(
            "line {line}: the head move's credit does not match the ledger: it credits `{}` \
             with finding it, but submission 1 was made by `{}`",
            f.w2.identity.id, f.w1.identity.id
        )
    );
    let verifier = altered(&|c| c.as_mut().unwrap().verifiers = vec![f.v2.identity.id.clone()]);
    assert!(
        verifier
            .to_string()
            .contains("the verdict it cites was reported by"),
        "{verifier}"
    );
    let gain = altered(&|c| c.as_mut().unwrap().gain *= 2.0);
    assert!(
        gain.to_string()
            .contains("but the cited verdict's measurements give"),
        "{gain}"
    );
    let dropped_idea = altered(&|c| c.as_mut().unwrap().idea = None);
    assert!(
        dropped_idea.to_string().contains(&format!(
            "it credits no idea, but its submission named idea {idea}"
        )),
        "{dropped_idea}"
    );
    // Another idea than the one named (its author is the hub's word: ideas are not entries).
    let other_idea = altered(&|c| c.as_mut().unwrap().idea.as_mut().unwrap().id += 1);
    assert!(
        matches!(&other_idea, AuditError::Credit { line: l, why }
            if *l == line && why.ends_with(&format!("but its submission named idea {idea}"))),
        "{other_idea}"
    );
    let none = altered(&|c| *c = None);
    assert_eq!(
        none.to_string(),
        format!(
            "line {line}: the head move's credit does not match the ledger: it records no \
             credit, which every head move of a format 3 ledger must"
        )
    );
}

#[tokio::test]
async fn ledgers_written_before_credit_still_audit() {
    let f = Fixture::new().await;
    let idea = held_idea(&f).await;
    submit_naming(&f, "lr = 0.02\nwidth = 96\n", Some(idea)).await;
    accept(&f).await;
    let genuine = events(&f.hub.ledger_text("toy").await.unwrap());
    let hub = signing::signing_key(&[43; 32]);
    // As a format 2 hub wrote it: no idea on the submission, no credit on the move.
    let mut old = genuine.clone();
    for (_, e) in &mut old {
        match e {
            EventBody::TrackCreated { format, .. } => *format = 2,
            EventBody::Submission { idea_id, .. } => *idea_id = None,
            EventBody::HeadMove { credit, .. } => *credit = None,
            _ => {}
        }
    }
    let text = resealed(&old, &hub);
    assert!(
        !text.contains("credit") && !text.contains("idea_id"),
        "{text}"
    );
    let report = audit(&text, &hub.verifying_key()).unwrap();
    assert_eq!((report.head_moves, report.credited), (1, 0));
    assert!(
        report.counts().contains("1 head moves (0 credited)"),
        "{}",
        report.counts()
    );
    // The same ledger continued by a newer hub: the move credited, its submission's entry
    // older than the idea it named. The rest of the credit is checked as strictly.
    let mut continued = old.clone();
    let credit_line = continued
        .iter()
        .position(|(_, e)| matches!(e, EventBody::HeadMove { .. }))
        .unwrap();
    let EventBody::HeadMove { credit, .. } = &genuine[credit_line].1 else {
        unreachable!()
    };
    continued[credit_line].1 = genuine[credit_line].1.clone();
    let report = audit(&resealed(&continued, &hub), &hub.verifying_key()).unwrap();
    assert_eq!((report.credited, report.credited_to_ideas), (1, 1));
    if let EventBody::HeadMove { credit: c, .. } = &mut continued[credit_line].1 {
        *c = credit.clone().map(|c| Credit {
            finder: f.w2.identity.id.clone(),
            ..c
        });
    }
    assert!(matches!(
        audit(&resealed(&continued, &hub), &hub.verifying_key()),
        Err(AuditError::Credit { line, .. }) if line == credit_line + 1
    ));
}
