//! Who may do what: the one table the hub's roles are checked against. An operation that
//! acts for a caller names its [`Action`] and calls [`require`]; the API's handlers check the
//! same action first thing, and its route table documents each route's access from it; the
//! pages ask [`may`] what to offer.
//!
//! Beyond the table: reading (tracks, chains, ideas, ledgers, noise) and adding an idea need
//! a known identity and nothing more; a submission is seen by its submitter, by verifiers and
//! by admins ([`may_see_submission`]). The hub's own command line acts as the operator and is
//! not checked here: it runs on the hub's machine, with its files.

use swarmlab_proto::Role;

use super::error::HubError;
use super::identity::Identity;

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

/// Whether `caller` may see a submission made by `submitter`: a worker sees its own only.
pub fn may_see_submission(caller: &Identity, submitter: &str) -> bool {
    caller.role != Role::Worker || caller.id == submitter
}

/// Whose submissions a list shows `caller`: a worker's own, everyone's (`None`) otherwise.
pub fn submissions_visible_to(caller: &Identity) -> Option<&str> {
    (caller.role == Role::Worker).then_some(caller.id.as_str())
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
        assert!(may_see_submission(&w, "worker-1") && !may_see_submission(&w, "worker-2"));
        assert!(may_see_submission(&v, "worker-2") && may_see_submission(&a, "worker-2"));
        assert_eq!(submissions_visible_to(&w), Some("worker-1"));
        assert_eq!(submissions_visible_to(&a), None);
    }
}
