//! Canaries: known answers among the verification jobs. A maintainer marks a decided
//! submission as one a verifier should `accept` (a clear improvement) or `reject` (a cheat);
//! the hub hands it to each verifier now and then, replayed onto its base as a fresh commit,
//! with an id from the jobs' counter and the track's usual lease. Nothing in the lease tells
//! it from a real job: its candidate is a commit no public page shows, just as a rebased
//! candidate is. A canary's verdict moves no head and shows nowhere public; a wrong one
//! (`acceptance::canary_passed`) suspends the verifier in the transaction that records it,
//! and its recent verdicts are verified again by others (the store's `standing.rs`). A
//! maintainer reinstates it.

use swarmlab_proto::{AddCanaryRequest, CanaryInfo, JobLease};

use super::error::HubError;
use super::hub::{blocking, random_bytes, Hub};
use super::identity::Identity;

/// How a canary should be decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A clear improvement: a verifier should accept it.
    Accept,
    /// A cheat or a loss: a verifier should reject it.
    Reject,
}

impl Expect {
    /// `accept` or `reject`.
    pub fn parse(text: &str) -> Option<Expect> {
        match text {
            "accept" => Some(Expect::Accept),
            "reject" => Some(Expect::Reject),
            _ => None,
        }
    }

    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Accept => "accept",
            Expect::Reject => "reject",
        }
    }
}

/// A submission whose right verdict is known, handed to verifiers to test them.
#[derive(Debug, Clone, PartialEq)]
pub struct Canary {
    pub id: i64,
    pub track: String,
    pub submission_id: i64,
    /// The commit whose tree is verified, against `base`.
    pub candidate: String,
    pub base: String,
    pub expect: Expect,
}

impl Hub {
    /// Makes a verified submission a canary; `by` is the maintainer.
    pub async fn add_canary(
        &self,
        req: &AddCanaryRequest,
        by: &str,
    ) -> Result<CanaryInfo, HubError> {
        if req.note.len() > 1000 {
            return Err(HubError::BadRequest(
                "a canary's note is at most 1000 bytes".into(),
            ));
        }
        let expect = Expect::parse(&req.expect).ok_or_else(|| {
            HubError::Conflict(format!(
                "a canary expects `accept` or `reject`, not `{}`",
                req.expect
            ))
        })?;
        Ok(self
            .store
            .add_canary(req.submission_id, expect, &req.note, by, self.now())
            .await?)
    }

    /// Every active canary, with how verifiers fared on it.
    pub async fn canaries(&self) -> Result<Vec<CanaryInfo>, HubError> {
        Ok(self.store.canaries().await?)
    }

    /// Why a verifier is suspended, if it is.
    pub async fn suspension(&self, verifier: &str) -> Result<Option<String>, HubError> {
        Ok(self.store.suspension(verifier).await?)
    }

    /// Lets a suspended verifier take jobs again; its re-checked verdicts stay re-checked.
    /// Returns the verifier.
    pub async fn reinstate(&self, verifier: &str) -> Result<Identity, HubError> {
        let who = self
            .store
            .identity(verifier)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("identity `{verifier}`")))?;
        self.store.reinstate(verifier, self.now()).await?;
        Ok(who)
    }

    /// A canary job for the caller when it is due one and there are canaries.
    pub(crate) async fn lease_canary(
        &self,
        caller: &Identity,
        now: i64,
        deadline: i64,
    ) -> Result<Option<JobLease>, HubError> {
        let every = u64::from(self.config.canary.every);
        if every == 0 {
            return Ok(None);
        }
        let pick = u64::from_le_bytes(random_bytes::<8>()?);
        let Some(canary) = self.store.canary_due(&caller.id, pick).await? else {
            return Ok(None);
        };
        // The same tree on the same base, as a commit no one has seen: a rebase onto the base
        // it already has.
        let repo = self.repo(&canary.track)?;
        let (candidate, base) = (canary.candidate.clone(), canary.base.clone());
        let fresh = blocking(move || super::chain::rebase(&repo, &candidate, &base, &base))
            .await?
            .ok_or_else(|| HubError::Internal(format!("canary {} no longer replays", canary.id)))?;
        let gap = u64::from_le_bytes(random_bytes::<8>()?);
        let next = 1 + gap % (2 * every - 1);
        let next = u32::try_from(next).unwrap_or(u32::MAX);
        let lease = self
            .store
            .lease_canary(&caller.id, &canary, &fresh, now, deadline, next)
            .await?;
        Ok(Some(lease))
    }
}
