//! The JSON API under `/api/v1`: routes, their roles, and the OpenAPI document built from
//! the same table. Handlers are thin: they authenticate, parse and call [`Hub`]. The
//! dashboard's pages ([`crate::web`]) are mounted beside it, at `/`.

pub mod error;
pub mod openapi;
mod routes;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use serde_json::Value;

pub use error::ApiJson;
pub use openapi::RouteDoc;

use crate::rate_limit::RateLimiter;
use crate::{Hub, HubError};

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub limiter: Arc<RateLimiter>,
    pub openapi: Arc<Value>,
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
        auth: &'static str,
        summary: &'static str,
        handler: MethodRouter<AppState>,
    ) -> Table {
        self.docs.push(RouteDoc {
            method,
            path,
            summary,
            auth,
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
        "none",
        "The hub's API version and ledger key",
        get(hub_info),
    )
    .add(
        "get",
        "/api/v1/openapi.json",
        "none",
        "This document",
        get(openapi_doc),
    )
    .add(
        "post",
        "/api/v1/register",
        "none",
        "A worker registers its ed25519 key and gets a token",
        post(register),
    )
    .add(
        "get",
        "/api/v1/me",
        "any",
        "The identity behind the bearer token",
        get(me),
    )
    .add(
        "post",
        "/api/v1/identities",
        "admin",
        "Create an identity of any role",
        post(create_identity),
    )
    .add(
        "get",
        "/api/v1/tracks",
        "any",
        "List tracks",
        get(list_tracks),
    )
    .add(
        "post",
        "/api/v1/tracks",
        "admin",
        "Add a track from a repository at a baseline",
        post(add_track),
    )
    .add(
        "get",
        "/api/v1/tracks/{track}",
        "any",
        "A track, its rule and its verified chain",
        get(track),
    )
    .add(
        "get",
        "/api/v1/tracks/{track}/bundle",
        "any",
        "A git bundle of the verified head",
        get(head_bundle),
    )
    .add(
        "get",
        "/api/v1/tracks/{track}/ledger",
        "any",
        "The track's signed ledger as JSON lines",
        get(ledger),
    )
    .add(
        "get",
        "/api/v1/tracks/{track}/noise",
        "any",
        "The spread of the head's metric between reruns, per hardware class",
        get(noise),
    )
    .add(
        "get",
        "/api/v1/tracks/{track}/ideas",
        "any",
        "The track's ideas",
        get(list_ideas),
    )
    .add(
        "post",
        "/api/v1/tracks/{track}/ideas",
        "any",
        "Add an idea",
        post(add_idea),
    )
    .add(
        "post",
        "/api/v1/tracks/{track}/ideas/lease",
        "worker",
        "Lease the oldest open idea",
        post(lease_idea),
    )
    .add(
        "get",
        "/api/v1/ideas/{id}",
        "any",
        "An idea and the submissions that tried it",
        get(idea),
    )
    .add(
        "post",
        "/api/v1/ideas/{id}/heartbeat",
        "worker",
        "Extend an idea lease",
        post(heartbeat_idea),
    )
    .add(
        "post",
        "/api/v1/ideas/{id}/done",
        "worker",
        "Mark a leased idea done",
        post(finish_idea),
    )
    .add(
        "post",
        "/api/v1/tracks/{track}/promote",
        "admin",
        "Move the track's main to a commit of its verified chain",
        post(promote),
    )
    .add(
        "post",
        "/api/v1/tracks/{track}/submissions",
        "worker",
        "Submit a signed candidate with its bundle",
        post(submit),
    )
    .add(
        "get",
        "/api/v1/submissions/{id}",
        "any",
        "A submission (its submitter, verifiers and admins only)",
        get(submission),
    )
    .add(
        "post",
        "/api/v1/jobs/lease",
        "verifier",
        "Lease a verification job",
        post(lease_job),
    )
    .add(
        "post",
        "/api/v1/jobs/{id}/heartbeat",
        "verifier",
        "Extend a job lease",
        post(heartbeat_job),
    )
    .add(
        "get",
        "/api/v1/jobs/{id}/bundle",
        "verifier",
        "A git bundle of the job's candidate",
        get(job_bundle),
    )
    .add(
        "post",
        "/api/v1/jobs/{id}/report",
        "verifier",
        "Report signed measurements",
        post(report),
    )
    .add(
        "post",
        "/api/v1/canaries",
        "admin",
        "Make a verified submission a canary: a known answer verifiers are tested with",
        post(add_canary),
    )
    .add(
        "get",
        "/api/v1/canaries",
        "admin",
        "The canaries, with how often verifiers decided each one wrong",
        get(list_canaries),
    )
    .add(
        "post",
        "/api/v1/verifiers/{id}/reinstate",
        "admin",
        "Let a verifier suspended by a canary take jobs again",
        post(reinstate),
    )
}

/// The documented routes.
pub fn route_docs() -> Vec<RouteDoc> {
    table().docs
}

/// The API's router over `hub`, with its body limit and rate limiter, and the dashboard
/// beside it (one rate limiter for both).
pub fn router(hub: Arc<Hub>) -> Result<Router, HubError> {
    let Table { router, docs } = table();
    let config = hub.config().clone();
    let limiter = Arc::new(RateLimiter::new(config.rate_limit, hub.clock.clone()));
    let web = crate::web::router(Arc::new(crate::web::Web::for_hub(
        hub.clone(),
        limiter.clone(),
    )?));
    let state = AppState {
        hub,
        limiter,
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
                crate::web::not_found()
            }
        }))
}
