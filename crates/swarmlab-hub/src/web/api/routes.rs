//! The handlers: authenticate, check the caller's action, parse, call [`Hub`], answer JSON.
//!
//! [`Hub`]: crate::Hub

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use swarmlab_proto::{
    ActivityReport, AddCanaryRequest, AddTrackRequest, CanaryInfo, ClientActivity,
    CreateIdentityRequest, HeadNoise, HubInfo, IdeaInfo, IdentityInfo, IdentityToken, Invite,
    InviteRequest, JobLease, LeaseDeadline, NewIdea, PromoteRequest, PromotionInfo,
    RegisterRequest, ReportRequest, ReportResponse, Role, SubmissionInfo, SubmitRequest,
    TrackCredit, TrackInfo, VerificationCost, API_VERSION,
};

use super::caller::{Anonymous, Caller, ReadCaller};
use super::{ApiJson, AppState};
use crate::domain::roles::Action;
use crate::{HubError, RegistrationMode};

type ApiResult<T> = Result<Json<T>, HubError>;

fn id(text: &str) -> Result<i64, HubError> {
    text.parse()
        .map_err(|_| HubError::BadRequest(format!("`{text}` is not an id")))
}

fn bytes(content_type: &'static str, body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

pub async fn hub_info(_: Anonymous, State(s): State<AppState>) -> ApiResult<HubInfo> {
    let mode = s.hub.config().registration_mode();
    Ok(Json(HubInfo {
        api_version: API_VERSION.to_string(),
        public_key: s.hub.public_key_hex(),
        open_registration: mode == RegistrationMode::Open,
        registration: Some(mode.as_str().to_string()),
    }))
}

pub async fn openapi_doc(_: Anonymous, State(s): State<AppState>) -> Json<serde_json::Value> {
    Json((*s.openapi).clone())
}

pub async fn register(
    caller: Anonymous,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<IdentityToken> {
    // Drawn before the mode is checked: a closed hub answers as often as an open one.
    if !s.registrations.allow(&caller.source) {
        return Err(HubError::RateLimited);
    }
    let invite = req.invite.as_deref();
    Ok(Json(
        s.hub
            .register_worker(&req.name, &req.public_key, invite)
            .await?,
    ))
}

pub async fn create_invite(
    caller: Caller,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<InviteRequest>,
) -> ApiResult<Invite> {
    let me = caller.require(Action::CreateInvite)?;
    let expires_ms = match req.expires.as_deref() {
        Some(text) => {
            let after = swarmlab_core::spec::parse_duration(text)
                .map_err(|e| HubError::BadRequest(format!("expires: {e}")))?;
            let after = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
            Some(s.hub.now().saturating_add(after))
        }
        None => None,
    };
    Ok(Json(s.hub.create_invite(&me.id, expires_ms).await?))
}

pub async fn me(caller: Caller, State(s): State<AppState>) -> ApiResult<IdentityInfo> {
    let me = caller.0;
    let suspended = match me.role {
        Role::Verifier => s.hub.suspension(&me.id).await?,
        _ => None,
    };
    Ok(Json(IdentityInfo {
        identity_id: me.id,
        name: me.name,
        role: me.role,
        public_key: me.public_key,
        suspended,
    }))
}

pub async fn add_canary(
    caller: Caller,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<AddCanaryRequest>,
) -> ApiResult<CanaryInfo> {
    let me = caller.require(Action::AddCanary)?;
    Ok(Json(s.hub.add_canary(&req, &me.id).await?))
}

pub async fn list_canaries(
    caller: Caller,
    State(s): State<AppState>,
) -> ApiResult<Vec<CanaryInfo>> {
    caller.require(Action::ListCanaries)?;
    Ok(Json(s.hub.canaries().await?))
}

pub async fn reinstate(
    caller: Caller,
    State(s): State<AppState>,
    Path(verifier): Path<String>,
) -> ApiResult<IdentityInfo> {
    caller.require(Action::Reinstate)?;
    let who = s.hub.reinstate(&verifier).await?;
    Ok(Json(IdentityInfo {
        identity_id: who.id,
        name: who.name,
        role: who.role,
        public_key: who.public_key,
        suspended: None,
    }))
}

pub async fn create_identity(
    caller: Caller,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<CreateIdentityRequest>,
) -> ApiResult<IdentityToken> {
    caller.require(Action::CreateIdentity)?;
    Ok(Json(
        s.hub
            .create_identity(&req.name, req.role, req.public_key)
            .await?,
    ))
}

pub async fn list_tracks(_: ReadCaller, State(s): State<AppState>) -> ApiResult<Vec<TrackInfo>> {
    Ok(Json(s.hub.list_tracks().await?))
}

pub async fn add_track(
    caller: Caller,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<AddTrackRequest>,
) -> ApiResult<TrackInfo> {
    caller.require(Action::AddTrack)?;
    Ok(Json(s.hub.add_track(&req).await?))
}

pub async fn track(
    _: ReadCaller,
    State(s): State<AppState>,
    Path(track): Path<String>,
) -> ApiResult<TrackInfo> {
    Ok(Json(s.hub.track_info(&track).await?))
}

pub async fn head_bundle(
    _: Caller,
    State(s): State<AppState>,
    Path(track): Path<String>,
) -> Result<Response, HubError> {
    Ok(bytes(
        "application/x-git-bundle",
        s.hub.head_bundle(&track).await?,
    ))
}

pub async fn ledger(
    _: ReadCaller,
    State(s): State<AppState>,
    Path(track): Path<String>,
) -> Result<Response, HubError> {
    let text = s.hub.ledger_text(&track).await?;
    Ok(bytes("application/x-ndjson", text.into_bytes()))
}

pub async fn noise(
    _: ReadCaller,
    State(s): State<AppState>,
    Path(track): Path<String>,
) -> ApiResult<Vec<HeadNoise>> {
    Ok(Json(s.hub.noise(&track).await?))
}

pub async fn credit(
    _: ReadCaller,
    State(s): State<AppState>,
    Path(track): Path<String>,
) -> ApiResult<TrackCredit> {
    Ok(Json(s.hub.credit(&track).await?))
}

pub async fn cost(
    _: ReadCaller,
    State(s): State<AppState>,
    Path(track): Path<String>,
) -> ApiResult<VerificationCost> {
    Ok(Json(s.hub.verification_cost(&track).await?))
}

pub async fn activities(
    _: ReadCaller,
    State(s): State<AppState>,
    Path(track): Path<String>,
) -> ApiResult<Vec<ClientActivity>> {
    Ok(Json(s.hub.activities(&track).await?))
}

pub async fn report_activity(
    caller: Caller,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<ActivityReport>,
) -> ApiResult<serde_json::Value> {
    let me = caller.require(Action::ReportActivity)?;
    s.hub.report_activity(me, &req).await?;
    Ok(Json(serde_json::json!({})))
}

pub async fn report_work(
    caller: Caller,
    State(s): State<AppState>,
    ApiJson(req): ApiJson<ActivityReport>,
) -> ApiResult<serde_json::Value> {
    let me = caller.require(Action::ReportWork)?;
    s.hub.report_activity(me, &req).await?;
    Ok(Json(serde_json::json!({})))
}

pub async fn list_ideas(
    caller: ReadCaller,
    State(s): State<AppState>,
    Path(track): Path<String>,
) -> ApiResult<Vec<IdeaInfo>> {
    Ok(Json(s.hub.ideas(caller.reader(), &track).await?))
}

pub async fn add_idea(
    caller: Caller,
    State(s): State<AppState>,
    Path(track): Path<String>,
    ApiJson(req): ApiJson<NewIdea>,
) -> ApiResult<IdeaInfo> {
    Ok(Json(s.hub.add_idea(&caller.0, &track, &req).await?))
}

pub async fn lease_idea(
    caller: Caller,
    State(s): State<AppState>,
    Path(track): Path<String>,
) -> ApiResult<Option<IdeaInfo>> {
    let me = caller.require(Action::LeaseIdea)?;
    Ok(Json(s.hub.lease_idea(me, &track).await?))
}

pub async fn idea(
    caller: ReadCaller,
    State(s): State<AppState>,
    Path(idea): Path<String>,
) -> ApiResult<IdeaInfo> {
    Ok(Json(s.hub.idea(caller.reader(), id(&idea)?).await?))
}

pub async fn heartbeat_idea(
    caller: Caller,
    State(s): State<AppState>,
    Path(idea): Path<String>,
) -> ApiResult<LeaseDeadline> {
    let me = caller.require(Action::HeartbeatIdea)?;
    Ok(Json(s.hub.heartbeat_idea(me, id(&idea)?).await?))
}

pub async fn finish_idea(
    caller: Caller,
    State(s): State<AppState>,
    Path(idea): Path<String>,
) -> ApiResult<IdeaInfo> {
    let me = caller.require(Action::FinishIdea)?;
    let idea = id(&idea)?;
    s.hub.finish_idea(me, idea).await?;
    Ok(Json(s.hub.idea(me, idea).await?))
}

pub async fn promote(
    caller: Caller,
    State(s): State<AppState>,
    Path(track): Path<String>,
    ApiJson(req): ApiJson<PromoteRequest>,
) -> ApiResult<PromotionInfo> {
    let me = caller.require(Action::Promote)?;
    Ok(Json(s.hub.promote(me, &track, &req.commit).await?))
}

pub async fn submit(
    caller: Caller,
    State(s): State<AppState>,
    Path(track): Path<String>,
    ApiJson(req): ApiJson<SubmitRequest>,
) -> ApiResult<SubmissionInfo> {
    let me = caller.require(Action::Submit)?.clone();
    // Carried to its end even when the client hangs up: a submission is recorded whole or
    // not at all, and its objects leave quarantine only for a recorded one.
    let hub = s.hub.clone();
    let submitted = tokio::spawn(async move { hub.submit(&me, &track, req).await })
        .await
        .map_err(|e| HubError::Internal(format!("the submission's task failed: {e}")))?;
    Ok(Json(submitted?))
}

pub async fn submission(
    caller: ReadCaller,
    State(s): State<AppState>,
    Path(sub): Path<String>,
) -> ApiResult<SubmissionInfo> {
    Ok(Json(s.hub.submission(caller.reader(), id(&sub)?).await?))
}

pub async fn lease_job(caller: Caller, State(s): State<AppState>) -> ApiResult<Option<JobLease>> {
    let me = caller.require(Action::LeaseJob)?;
    Ok(Json(s.hub.lease_job(me).await?))
}

pub async fn heartbeat_job(
    caller: Caller,
    State(s): State<AppState>,
    Path(job): Path<String>,
) -> ApiResult<LeaseDeadline> {
    let me = caller.require(Action::HeartbeatJob)?;
    Ok(Json(s.hub.heartbeat_job(me, id(&job)?).await?))
}

pub async fn job_bundle(
    caller: Caller,
    State(s): State<AppState>,
    Path(job): Path<String>,
) -> Result<Response, HubError> {
    let me = caller.require(Action::FetchJob)?;
    Ok(bytes(
        "application/x-git-bundle",
        s.hub.job_bundle(me, id(&job)?).await?,
    ))
}

pub async fn report(
    caller: Caller,
    State(s): State<AppState>,
    Path(job): Path<String>,
    ApiJson(req): ApiJson<ReportRequest>,
) -> ApiResult<ReportResponse> {
    let me = caller.require(Action::Report)?;
    Ok(Json(s.hub.report(me, id(&job)?, req).await?))
}
