//! [`HubClient`]: the blocking HTTP client of `swarmlab work` and `swarmlab verify`.
//!
//! It speaks the JSON API under `/api/v1` and sorts every failure into one of two kinds: a
//! fault that may pass (the hub is down, restarting, overloaded, rate limiting) and is
//! retried with capped exponential backoff, and an answer that will not change (a 4xx)
//! which is returned to the caller. It knows nothing of workers or verifiers.

use std::io::Read;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use swarmlab_proto::{ErrorBody, API_VERSION};
use swarmlab_runner::Cancel;

/// The largest body the client reads (bundles included).
const MAX_BODY_BYTES: u64 = 256 << 20;
/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A hub's refusal, or a fault that outlasted the caller's patience.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The hub answered with a 4xx (other than 429): retrying will not help.
    #[error("the hub refused {what}: {message} ({status} {code})")]
    Refused {
        what: String,
        status: u16,
        code: String,
        message: String,
    },
    /// Network down, hub restarting, 5xx or 429.
    #[error("the hub is unreachable for {what}: {message}")]
    Unreachable { what: String, message: String },
    /// Ctrl-C while waiting for the hub.
    #[error("interrupted while talking to the hub")]
    Interrupted,
}

impl HubError {
    /// The hub's error code when it refused (`not_found`, `conflict`, `quota`...).
    pub fn code(&self) -> Option<&str> {
        match self {
            HubError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A client of one hub, with or without a bearer token.
#[derive(Clone)]
pub struct HubClient {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
    cancel: Cancel,
    /// How long faults are retried before [`HubError::Unreachable`] is returned; `None`:
    /// until cancelled (a worker outlives a hub's restart).
    patience: Option<Duration>,
}

impl HubClient {
    /// `hub` is the hub's address, e.g. `http://127.0.0.1:7878`.
    pub fn new(hub: &str, token: Option<String>, cancel: Cancel) -> HubClient {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build();
        HubClient {
            base: format!("{}/api/{API_VERSION}", hub.trim_end_matches('/')),
            token,
            agent,
            cancel,
            patience: None,
        }
    }

    /// A client that gives up on faults after `patience`: for a command a person waits on.
    pub fn with_patience(&self, patience: Duration) -> HubClient {
        HubClient {
            patience: Some(patience),
            ..self.clone()
        }
    }

    pub fn with_token(&self, token: String) -> HubClient {
        HubClient {
            token: Some(token),
            ..self.clone()
        }
    }

    /// `GET` a JSON value, retrying faults.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, HubError> {
        let body = self.call("GET", path, None)?;
        self.decode(path, &body)
    }

    /// `GET` raw bytes (a bundle, a ledger), retrying faults.
    pub fn get_bytes(&self, path: &str) -> Result<Vec<u8>, HubError> {
        self.call("GET", path, None)
    }

    /// `POST` a JSON body and read a JSON answer, retrying faults.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, HubError> {
        let json = serde_json::to_vec(body).expect("request bodies serialise to JSON");
        let answer = self.call("POST", path, Some(&json))?;
        self.decode(path, &answer)
    }

    /// An answer that is not the JSON expected is not retried: whatever answered is not a
    /// swarmlab hub of this API version.
    fn decode<T: DeserializeOwned>(&self, path: &str, body: &[u8]) -> Result<T, HubError> {
        serde_json::from_slice(body).map_err(|e| HubError::Refused {
            what: path.to_string(),
            status: 200,
            code: "not_a_hub".into(),
            message: format!(
                "the answer is not the JSON a swarmlab hub gives ({e}); is {} a hub?",
                self.base
            ),
        })
    }

    /// One request, tried until it gets an answer that is not a fault. Each fault is
    /// reported on stderr with the wait before the next try.
    fn call(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Vec<u8>, HubError> {
        let mut wait = Duration::from_millis(250);
        let start = std::time::Instant::now();
        loop {
            match self.once(method, path, body) {
                Err(HubError::Unreachable { what, message })
                    if self.patience.is_none_or(|p| start.elapsed() + wait <= p) =>
                {
                    eprintln!(
                        "hub: {method} {what} failed ({message}); retrying in {:.1}s",
                        wait.as_secs_f64()
                    );
                    if crate::pause(&self.cancel, wait) {
                        return Err(HubError::Interrupted);
                    }
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
                other => return other,
            }
        }
    }

    fn once(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Vec<u8>, HubError> {
        if self.cancel.is_cancelled() {
            return Err(HubError::Interrupted);
        }
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let mut request = self.agent.request(method, &url);
        if let Some(token) = &self.token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        let result = match body {
            Some(bytes) => request
                .set("Content-Type", "application/json")
                .send_bytes(bytes),
            None => request.call(),
        };
        let unreachable = |message: String| HubError::Unreachable {
            what: path.to_string(),
            message,
        };
        match result {
            Ok(response) => read_body(response).map_err(|e| unreachable(e.to_string())),
            Err(ureq::Error::Status(status, response)) => {
                let text = read_body(response).unwrap_or_default();
                let error: Option<ErrorBody> = serde_json::from_slice(&text).ok();
                let (code, message) = match error {
                    Some(e) => (e.error, e.message),
                    None => (
                        "unknown".to_string(),
                        String::from_utf8_lossy(&text).chars().take(200).collect(),
                    ),
                };
                if status == 429 && code != "quota" || status >= 500 {
                    Err(unreachable(format!("{status} {code}: {message}")))
                } else {
                    Err(HubError::Refused {
                        what: format!("{method} {path}"),
                        status,
                        code,
                        message,
                    })
                }
            }
            Err(ureq::Error::Transport(t)) => Err(unreachable(t.to_string())),
        }
    }
}

fn read_body(response: ureq::Response) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    response
        .into_reader()
        .take(MAX_BODY_BYTES)
        .read_to_end(&mut out)?;
    Ok(out)
}
