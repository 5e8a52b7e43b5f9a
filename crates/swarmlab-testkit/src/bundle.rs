//! What a worker sends a hub for one candidate, made as a worker makes it: a git bundle of the
//! commit for a hub that has its parent ([`bundle`]), a claim ([`claim`]), and the two with
//! a log, signed with the worker's key ([`Candidate::signed`]).
//!
//! It builds honest submissions; a test that attacks the hub changes the parts itself.

use std::collections::BTreeMap;

use base64::Engine;
use swarmlab_proto::signing::{self, SigningKey};
use swarmlab_proto::{Claim, SubmitRequest};

use crate::git::Repo;

/// The log a candidate's run printed, unless a test says otherwise.
const LOG: &str = "loss: 0.9\n";

/// The bytes of a git bundle of `commit` of `repo` for a hub that has `base`. The commit is
/// kept by a ref, as the worker's mirror keeps what it submits.
pub fn bundle(repo: &Repo, commit: &str, base: &str) -> Vec<u8> {
    let refname = format!("refs/swarmlab/submit/{commit}");
    repo.git(&["update-ref", &refname, commit]);
    let file = tempfile::Builder::new()
        .suffix(".bundle")
        .tempfile()
        .expect("a temporary file");
    let path = file.path().to_str().expect("temporary paths are UTF-8");
    repo.git(&[
        "bundle",
        "create",
        "-q",
        path,
        &refname,
        &format!("^{base}"),
    ]);
    std::fs::read(path).expect("git wrote the bundle")
}

/// The claim of `worker_id` that `commit` on `parent` scores a loss of 0.9 on the track `toy`
/// (the test track of [`crate::hub`]), with a nonce of its own.
pub fn claim(parent: &str, commit: &str, worker_id: &str) -> Claim {
    Claim {
        track: "toy".into(),
        parent: parent.into(),
        commit: commit.into(),
        metrics: BTreeMap::from([("loss".to_string(), 0.9)]),
        idea_id: None,
        worker_id: worker_id.into(),
        nonce: format!("nonce-{commit}"),
        spent_s: None,
    }
}

/// A submission before it is signed; change any part, then [`Candidate::signed`].
#[derive(Debug, Clone)]
pub struct Candidate {
    pub claim: Claim,
    /// The bundle, base64.
    pub bundle: String,
    pub log: String,
}

impl Candidate {
    /// `commit` of `repo`, bundled for a hub whose head is `parent`, with [`claim`]'s claim
    /// and the log `loss: 0.9`.
    pub fn new(repo: &Repo, parent: &str, commit: &str, worker_id: &str) -> Candidate {
        Candidate {
            claim: claim(parent, commit, worker_id),
            bundle: base64::engine::general_purpose::STANDARD.encode(bundle(repo, commit, parent)),
            log: LOG.into(),
        }
    }

    /// The request the worker sends, its claim signed with `key`.
    pub fn signed(self, key: &SigningKey) -> SubmitRequest {
        SubmitRequest {
            signature: signing::sign(key, &self.claim.signed_bytes()),
            claim: self.claim,
            bundle: self.bundle,
            log: self.log,
        }
    }
}
