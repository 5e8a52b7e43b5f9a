//! Who may do what: the one table the hub's roles are checked against. An operation that
//! acts for a caller names its [`Action`] and calls [`require`]; the API's handlers check the
//! same action first thing, and its route table documents each route's access from it; the
//! pages ask [`may`] what to offer.
//!
//! Beyond the table: adding an idea needs a known identity and nothing more; reading
//! (tracks, chains, ideas, ledgers, noise, decided submissions) needs one only where the
//! hub's config closes its public record (`public_read = false`); otherwise anyone may read
//! it (a [`Reader::Anyone`]). A pending submission is seen by its submitter, by verifiers and
//! by admins only ([`may_see_submission`]), and of a decided one that is not on the chain,
//! so is its change ([`may_see_change`]). The hub's own command line acts as the operator
//! and is not checked here: it runs on the hub's machine, with its files.

use swarmlab_proto::Role;

use super::error::HubError;
use super::identity::Identity;
use super::submission::is_pending;
use crate::store::views::SubmissionFilter;

/// Who reads: a known identity, or anyone at all (a reader without an identity, on a hub
/// whose reads are public; the web layer lets none in otherwise).
#[derive(Debug, Clone, Copy)]
pub enum Reader<'a> {
    Anyone,
    Identity(&'a Identity),
}

impl<'a> From<&'a Identity> for Reader<'a> {
    fn from(identity: &'a Identity) -> Reader<'a> {
        Reader::Identity(identity)
    }
}

impl Reader<'_> {
    /// Whether it sees whatever a submission of `submitter` holds: its submitter, a
    /// verifier or an admin.
    fn is_party_to(&self, submitter: &str) -> bool {
        match self {
            Reader::Anyone => false,
            Reader::Identity(me) => me.role != Role::Worker || me.id == submitter,
        }
    }
}

/// What a caller may be allowed to do, each by one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create an identity of any role.
    CreateIdentity,
    /// Make an invite code for a worker to register with.
    CreateInvite,
    /// Add a track from a repository on the hub's machine.
    AddTrack,
    /// Move a track's `main` to a commit of its verified chain.
    Promote,
    /// Make a verified submission a canary.
    AddCanary,
    /// See the canaries and how verifiers fared on them.
    ListCanaries,
    /// Let a verifier suspended by a canary take jobs again.
    Reinstate,
    /// Lease an idea from a track's queue.
    LeaseIdea,
    /// Extend a lease on an idea.
    HeartbeatIdea,
    /// Mark a leased idea done.
    FinishIdea,
    /// Submit a candidate.
    Submit,
    /// Lease a verification job.
    LeaseJob,
    /// Extend a lease on a job.
    HeartbeatJob,
    /// Fetch a leased job's candidate.
    FetchJob,
    /// Report measurements on a leased job.
    Report,
    /// Say what the verifier is doing, for the pages.
    ReportActivity,
    /// Say what the worker is doing (and whether it is idle), for the pages.
    ReportWork,
}

impl Action {
    /// The role that may do it.
    pub fn role(self) -> Role {
        match self {
            Action::CreateIdentity
            | Action::CreateInvite
            | Action::AddTrack
            | Action::Promote
            | Action::AddCanary
            | Action::ListCanaries
            | Action::Reinstate => Role::Admin,
            Action::LeaseIdea
            | Action::HeartbeatIdea
            | Action::FinishIdea
            | Action::Submit
            | Action::ReportWork => Role::Worker,
            Action::LeaseJob
            | Action::HeartbeatJob
            | Action::FetchJob
            | Action::Report
            | Action::ReportActivity => Role::Verifier,
        }
    }
}

/// Whether `caller` may do `action`.
pub fn may(caller: &Identity, action: Action) -> bool {
    caller.role == action.role()
}

/// Refuses (403) unless `caller` may do `action`.
pub fn require(caller: &Identity, action: Action) -> Result<(), HubError> {
    if may(caller, action) {
        return Ok(());
    }
    Err(HubError::Forbidden(format!(
        "this route needs the role {} (you are a {})",
        action.role().as_str(),
        caller.role.as_str()
    )))
}

/// Whether `reader` may see a submission made by `submitter`, now in `status`, on a hub
/// whose reads are `public` or not. Its submitter, verifiers and admins always may. On a
/// public hub anyone may once it is decided; a pending one stays theirs. On a closed hub a
/// worker sees its own only. Whoever may not is told it does not exist (404), so that ids
/// are not confirmed.
pub fn may_see_submission(reader: Reader, submitter: &str, status: &str, public: bool) -> bool {
    reader.is_party_to(submitter) || (public && !is_pending(status))
}

/// Whether `reader`, who may see a submission of `submitter` in `status`, may also see its
/// change and its run log: its submitter, verifiers and admins; anyone else only once it
/// is accepted (its change is on the chain, for all to read).
pub fn may_see_change(reader: Reader, submitter: &str, status: &str) -> bool {
    reader.is_party_to(submitter) || status == "accepted"
}

/// Which submissions a list shows `reader` ([`may_see_submission`] for a list): everyone's
/// to verifiers and admins; on a public hub the decided ones of everyone, with a worker's
/// own pending ones; on a closed hub a worker's own.
pub fn submissions_visible_to(reader: Reader<'_>, public: bool) -> SubmissionFilter<'_> {
    match reader {
        Reader::Identity(me) if me.role != Role::Worker => SubmissionFilter::All,
        Reader::Identity(me) if public => SubmissionFilter::Decided(Some(me.id.as_str())),
        Reader::Identity(me) => SubmissionFilter::Worker(me.id.as_str()),
        Reader::Anyone => SubmissionFilter::Decided(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(role: Role) -> Identity {
        Identity {
            id: format!("{}-1", role.as_str()),
            name: "x".into(),
            role,
            public_key: None,
        }
    }

    #[test]
    fn each_role_does_its_own_work_and_sees_what_it_should() {
        let (w, v, a) = (
            identity(Role::Worker),
            identity(Role::Verifier),
            identity(Role::Admin),
        );
        assert!(may(&w, Action::Submit) && !may(&v, Action::Submit));
        assert!(may(&v, Action::Report) && !may(&a, Action::Report));
        assert!(may(&a, Action::Promote) && !may(&w, Action::Promote));
        // Each says what it is doing on its own route.
        assert!(may(&w, Action::ReportWork) && !may(&v, Action::ReportWork));
        assert!(may(&v, Action::ReportActivity) && !may(&w, Action::ReportActivity));
        let refused = require(&w, Action::AddTrack).unwrap_err().to_string();
        assert_eq!(
            refused,
            "this route needs the role admin (you are a worker)"
        );
        for public in [false, true] {
            let sees = |r: Reader, who, status| may_see_submission(r, who, status, public);
            assert!(sees((&w).into(), "worker-1", "queued"));
            assert!(!sees((&w).into(), "worker-2", "queued"));
            assert!(sees((&v).into(), "worker-2", "verifying"));
            assert!(sees((&a).into(), "worker-2", "reverify"));
            assert!(!sees(Reader::Anyone, "worker-2", "queued"));
            assert_eq!(sees((&w).into(), "worker-2", "rejected"), public);
            assert_eq!(sees(Reader::Anyone, "worker-2", "accepted"), public);
            assert_eq!(sees(Reader::Anyone, "worker-2", "invalid"), public);
        }
        assert_eq!(
            submissions_visible_to((&w).into(), false),
            SubmissionFilter::Worker("worker-1")
        );
        assert_eq!(
            submissions_visible_to((&w).into(), true),
            SubmissionFilter::Decided(Some("worker-1"))
        );
        assert_eq!(
            submissions_visible_to(Reader::Anyone, true),
            SubmissionFilter::Decided(None)
        );
        assert_eq!(
            submissions_visible_to((&a).into(), true),
            SubmissionFilter::All
        );
    }

    #[test]
    fn a_change_not_on_the_chain_stays_with_those_party_to_it() {
        let (w, v) = (identity(Role::Worker), identity(Role::Verifier));
        assert!(may_see_change((&w).into(), "worker-1", "rejected"));
        assert!(may_see_change((&v).into(), "worker-2", "rejected"));
        assert!(!may_see_change((&w).into(), "worker-2", "rejected"));
        assert!(!may_see_change(Reader::Anyone, "worker-2", "invalid"));
        assert!(may_see_change(Reader::Anyone, "worker-2", "accepted"));
    }
}
