//! The one place where hub errors become HTTP responses: a status code and a JSON
//! [`ErrorBody`] with a stable code. Body rejections (too large, malformed JSON) go through
//! [`ApiJson`] so they land here too.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use swarmlab_proto::ErrorBody;

use crate::HubError;

impl HubError {
    /// The HTTP status and the stable code of this error.
    pub fn status(&self) -> (StatusCode, &'static str) {
        match self {
            HubError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            HubError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            HubError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            HubError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            HubError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            HubError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            HubError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            HubError::Quota(_) => (StatusCode::TOO_MANY_REQUESTS, "quota"),
            HubError::Spec(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_track"),
            HubError::Git(swarmlab_core::GitError::NotARepository(_)) => {
                (StatusCode::BAD_REQUEST, "not_a_repository")
            }
            HubError::Store(_) | HubError::Git(_) | HubError::Io { .. } | HubError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // Details stay in the hub's log, not in the answer to a client.
            eprintln!("swarmlab hub: internal error: {self}");
            "internal error; see the hub's log".to_string()
        } else {
            self.to_string()
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: code.to_string(),
                message,
            }),
        )
            .into_response();
        match status {
            StatusCode::UNAUTHORIZED => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // A quota frees up when verification catches up, not in a second.
            StatusCode::TOO_MANY_REQUESTS if code == "rate_limited" => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

/// A JSON body whose rejections are [`HubError`]s (413 when over the size limit).
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = HubError;

    async fn from_request(req: Request, state: &S) -> Result<Self, HubError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(HubError::TooLarge)
            }
            Err(rejection) => Err(HubError::BadRequest(rejection.body_text())),
        }
    }
}
