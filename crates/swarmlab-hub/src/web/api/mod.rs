//! The JSON API under `/api/v1`: routes, who may call them (by the actions of
//! `domain::roles`), and the OpenAPI document built from the same table. Handlers are thin:
//! they authenticate, check the caller's action, parse and call [`Hub`]. The dashboard's
//! pages ([`crate::web`]) are mounted beside it, at `/`.

mod caller;
pub mod error;
pub mod openapi;
mod routes;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use serde_json::Value;

pub use error::ApiJson;
pub use openapi::RouteDoc;

use super::caching::{cache_control, Caching};
use super::rate_limit::RateLimiter;
use crate::domain::roles::Action;
use crate::{Hub, HubError, RateLimitConfig};

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub limiter: Arc<RateLimiter>,
    /// Anonymous readers per source address (`anonymous`), shared with the pages.
    pub anonymous: Arc<RateLimiter>,
    /// Registrations per source address (`registration.per_address`).
    pub registrations: Arc<RateLimiter>,
    pub openapi: Arc<Value>,
}

/// Who may call a route. A route's handler checks the same action it is documented with.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// Anyone, before authentication (rate limited by address).
    Anyone,
    /// Anyone where the hub's reads are public (rate limited by address), any known
    /// identity where they are not.
    Read,
    /// Any known identity.
    Signed,
    /// An identity that may do the action (`domain::roles`).
    Act(Action),
}

impl Access {
    /// How the OpenAPI document names it: `none`, `any`, or the role.
    fn doc(self) -> &'static str {
        match self {
            Access::Anyone => "none",
            Access::Read => "public",
            Access::Signed => "any",
            Access::Act(action) => action.role().as_str(),
        }
    }
}

struct Table {
    router: Router<AppState>,
    docs: Vec<RouteDoc>,
}

impl Table {
    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        access: Access,
        summary: &'static str,
        handler: MethodRouter<AppState>,
    ) -> Table {
        self.docs.push(RouteDoc {
            method,
            path,
            summary,
            auth: access.doc(),
        });
        self.router = self.router.route(path, handler);
        Table {
            router: self.router,
            docs: self.docs,
        }
    }
}

/// Every route, in the order the OpenAPI document lists them.
fn table() -> Table {
    use routes::*;
    Table {
        router: Router::new(),
        docs: Vec::new(),
    }
    .add(
        "get",
        "/api/v1/hub",
        Access::Anyone,
        "The hub's API version and ledger key",
        get(hub_info),
    )
    .add(
        "get",
        "/api/v1/openapi.json",
        Access::Anyone,
        "This document",
        get(openapi_doc),
    )
    .add(
        "post",
        "/api/v1/register",
        Access::Anyone,
        "A worker registers its ed25519 key (and an invite code, by the hub's mode) and gets a token",
        post(register),
    )
    .add(
        "post",
        "/api/v1/invites",
        Access::Act(Action::CreateInvite),
        "An invite code for one worker to register with",
        post(create_invite),
    )
    .add(
        "get",
        "/api/v1/me",
        Access::Signed,
        "The identity behind the bearer token",
        get(me),
    )
    .add(
        "post",
        "/api/v1/identities",
        Access::Act(Action::CreateIdentity),
        "Create an identity of any role",
        post(create_identity),
    )
    .add(
        "get",
        "/api/v1/tracks",
        Access::Read,
        "List tracks",
        get(list_tracks),
    )
    .add(
        "post",
        "/api/v1/tracks",
        Access::Act(Action::AddTrack),
        "Add a track from a repository at a baseline",
        post(add_track),
    )
    .add(
        "get",
        "/api/v1/tracks/{track}",
        Access::Read,
        "A track, its rule and its verified chain",
        get(track),
    )
    .add(
        "get",
        "/api/v1/tracks/{track}/bundle",
        Access::Signed,
        "A git bundle of the verified head",
        get(head_bundle),
    )
    .add(
        "get",
        "/api/v1/tracks/{track}/ledger",
        Access::Read,
        "The track's signed ledger as JSON lines",
        get(ledger),
    )
    .add(
        "get",
        "/api/v1/tracks/{track}/noise",
        Access::Read,
        "The spread of the head's metric between reruns, per hardware class",
        get(noise),
    )
    .add(
        "get",
        "/api/v1/tracks/{track}/credit",
        Access::Read,
        "Who the track's head moves are credited to: per identity the improvements found and their verified gain, the verifications done and the ideas credited; and each head move's credit",
        get(credit),
    )
    .add(
        "get",
        "/api/v1/tracks/{track}/cost",
        Access::Read,
        "What verification has cost the track: verifier device-seconds, per accepted commit, and their share of all device-seconds",
        get(cost),
    )
    .add(
        "get",
        "/api/v1/tracks/{track}/activity",
        Access::Read,
        "What the verifiers and workers of the track are doing now",
        get(activities),
    )
    .add(
        "get",
        "/api/v1/tracks/{track}/ideas",
        Access::Read,
        "The track's ideas",
        get(list_ideas),
    )
    .add(
        "post",
        "/api/v1/tracks/{track}/ideas",
        Access::Signed,
        "Add an idea",
        post(add_idea),
    )
    .add(
        "post",
        "/api/v1/tracks/{track}/ideas/lease",
        Access::Act(Action::LeaseIdea),
        "Lease the oldest open idea",
        post(lease_idea),
    )
    .add(
        "get",
        "/api/v1/ideas/{id}",
        Access::Read,
        "An idea and the submissions that tried it",
        get(idea),
    )
    .add(
        "post",
        "/api/v1/ideas/{id}/heartbeat",
        Access::Act(Action::HeartbeatIdea),
        "Extend an idea lease",
        post(heartbeat_idea),
    )
    .add(
        "post",
        "/api/v1/ideas/{id}/done",
        Access::Act(Action::FinishIdea),
        "Mark a leased idea done",
        post(finish_idea),
    )
    .add(
        "post",
        "/api/v1/tracks/{track}/promote",
        Access::Act(Action::Promote),
        "Move the track's main to a commit of its verified chain",
        post(promote),
    )
    .add(
        "post",
        "/api/v1/tracks/{track}/submissions",
        Access::Act(Action::Submit),
        "Submit a signed candidate with its bundle",
        post(submit),
    )
    .add(
        "get",
        "/api/v1/submissions/{id}",
        Access::Read,
        "A submission: a pending one to its submitter, verifiers and admins only",
        get(submission),
    )
    .add(
        "post",
        "/api/v1/jobs/lease",
        Access::Act(Action::LeaseJob),
        "Lease a verification job",
        post(lease_job),
    )
    .add(
        "post",
        "/api/v1/jobs/{id}/heartbeat",
        Access::Act(Action::HeartbeatJob),
        "Extend a job lease",
        post(heartbeat_job),
    )
    .add(
        "get",
        "/api/v1/jobs/{id}/bundle",
        Access::Act(Action::FetchJob),
        "A git bundle of the job's candidate",
        get(job_bundle),
    )
    .add(
        "post",
        "/api/v1/jobs/{id}/report",
        Access::Act(Action::Report),
        "Report signed measurements",
        post(report),
    )
    .add(
        "post",
        "/api/v1/verifiers/activity",
        Access::Act(Action::ReportActivity),
        "Say what this verifier is doing now, for the pages",
        post(report_activity),
    )
    .add(
        "post",
        "/api/v1/workers/activity",
        Access::Act(Action::ReportWork),
        "Say what this worker is doing now, and whether it has nothing left to propose on the head, for the pages",
        post(report_work),
    )
    .add(
        "post",
        "/api/v1/canaries",
        Access::Act(Action::AddCanary),
        "Make a verified submission a canary: a known answer verifiers are tested with",
        post(add_canary),
    )
    .add(
        "get",
        "/api/v1/canaries",
        Access::Act(Action::ListCanaries),
        "The canaries, with how often verifiers decided each one wrong",
        get(list_canaries),
    )
    .add(
        "post",
        "/api/v1/verifiers/{id}/reinstate",
        Access::Act(Action::Reinstate),
        "Let a verifier suspended by a canary take jobs again",
        post(reinstate),
    )
}

/// The documented routes.
pub fn route_docs() -> Vec<RouteDoc> {
    table().docs
}

/// The API's router over `hub`, with its body limit, rate limiters and caching headers,
/// and the dashboard beside it (the same rate limiters for both).
pub fn router(hub: Arc<Hub>) -> Result<Router, HubError> {
    let Table { router, docs } = table();
    let config = hub.config().clone();
    let limiter = Arc::new(RateLimiter::new(config.rate_limit, hub.clock.clone()));
    let anonymous = Arc::new(RateLimiter::new(
        config.anonymous.rate_limit(),
        hub.clock.clone(),
    ));
    let caching = Caching::for_hub(&config);
    let web = super::router(Arc::new(super::Web::for_hub(
        hub.clone(),
        limiter.clone(),
        anonymous.clone(),
    )?));
    let registration = config.registration;
    let registrations = RateLimitConfig {
        burst: registration.per_address,
        per_second: registration.per_address_per_hour / 3600.0,
    };
    let state = AppState {
        registrations: Arc::new(RateLimiter::new(registrations, hub.clock.clone())),
        hub,
        limiter,
        anonymous,
        openapi: Arc::new(openapi::document(&docs)),
    };
    Ok(router
        .layer(DefaultBodyLimit::max(config.max_request_bytes))
        .with_state(state)
        .merge(web)
        .fallback(|uri: axum::http::Uri| async move {
            if uri.path().starts_with("/api/") {
                HubError::NotFound("route".into()).into_response()
            } else {
                super::not_found()
            }
        })
        .layer(from_fn_with_state(caching, cache_control)))
}
