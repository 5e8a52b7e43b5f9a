//! A blocking client for OpenAI-compatible chat-completions endpoints (OpenAI, vLLM, llama.cpp
//! server, Ollama, OpenRouter, ...): one request per call, retried with exponential backoff on
//! 429 and 5xx (honouring `Retry-After`), with errors that say what to fix.
//!
//! It knows nothing of tracks or edits; it sends messages and returns the answer's text.

use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use swarmlab_core::usage::{Prices, Usage};

/// The longest wait between two attempts, whatever the server asks for.
const MAX_WAIT: Duration = Duration::from_secs(120);

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: &'static str,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Message {
        Message {
            role: "system",
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Message {
        Message {
            role: "user",
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Message {
        Message {
            role: "assistant",
            content: content.into(),
        }
    }
}

/// Why no answer came back.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(
        "the API key was refused by {url} (HTTP {status}); check the key in ${key_env}: {message}"
    )]
    Unauthorized {
        url: String,
        status: u16,
        key_env: String,
        message: String,
    },
    #[error("HTTP 404 from {url}: wrong base URL, or no model `{model}` there: {message}")]
    NotFound {
        url: String,
        model: String,
        message: String,
    },
    #[error("could not connect to {url}: {reason}; is the server running and the base URL right?")]
    Connect { url: String, reason: String },
    #[error("HTTP {status} from {url}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: Box<ChatError> },
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
    #[error("unexpected answer from {url}: {reason}")]
    BadAnswer { url: String, reason: String },
}

impl ChatError {
    /// True for errors another attempt may cure: 429, 5xx, timeouts, dropped connections.
    fn is_transient(&self) -> bool {
        match self {
            ChatError::Status { status, .. } => *status == 429 || *status >= 500,
            ChatError::Transport { .. } => true,
            _ => false,
        }
    }
}

/// How to reach the model.
#[derive(Debug, Clone)]
pub struct ChatClient {
    agent: ureq::Agent,
    url: String,
    model: String,
    api_key: Option<String>,
    key_env: String,
    retries: u32,
    backoff: Duration,
    max_tokens: Option<u32>,
    temperature: Option<f64>,
    prices: Option<Prices>,
}

/// What [`ChatClient::new`] needs; see `OpenAiConfig` for the meaning of each field.
#[derive(Debug, Clone)]
pub(crate) struct ClientParts<'a> {
    pub base_url: &'a str,
    pub model: &'a str,
    pub api_key: Option<String>,
    pub key_env: &'a str,
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub prices: Option<Prices>,
}

impl ChatClient {
    pub(crate) fn new(parts: ClientParts<'_>) -> ChatClient {
        ChatClient {
            agent: ureq::AgentBuilder::new().timeout(parts.timeout).build(),
            url: format!("{}/chat/completions", parts.base_url.trim_end_matches('/')),
            model: parts.model.to_string(),
            api_key: parts.api_key,
            key_env: parts.key_env.to_string(),
            retries: parts.retries,
            backoff: parts.backoff,
            max_tokens: parts.max_tokens,
            temperature: parts.temperature,
            prices: parts.prices,
        }
    }

    /// Sends the conversation and returns the answer's text, adding every request and the
    /// tokens the server reports to `usage`. Transient failures are retried `retries` times.
    pub fn complete(&self, messages: &[Message], usage: &mut Usage) -> Result<String, ChatError> {
        let mut body = json!({
            "model": self.model,
            "messages": messages
                .iter()
                .map(|m| json!({"role": m.role, "content": m.content}))
                .collect::<Vec<_>>(),
        });
        if let Some(n) = self.max_tokens {
            body["max_tokens"] = json!(n);
        }
        if let Some(t) = self.temperature {
            body["temperature"] = json!(t);
        }
        let body = body.to_string();
        let mut attempt = 0;
        loop {
            usage.requests += 1;
            let err = match self.send(&body) {
                Ok(answer) => {
                    let (text, prompt, completion) = self.read_answer(&answer)?;
                    usage.add(prompt, completion, self.prices);
                    return Ok(text);
                }
                Err((err, retry_after)) if err.is_transient() && attempt < self.retries => {
                    let wait = retry_after
                        .unwrap_or_else(|| self.backoff.saturating_mul(1 << attempt.min(16)))
                        .min(MAX_WAIT);
                    thread::sleep(wait);
                    attempt += 1;
                    continue;
                }
                Err((err, _)) => err,
            };
            return Err(if attempt > 0 && err.is_transient() {
                ChatError::GaveUp {
                    attempts: attempt + 1,
                    last: Box::new(err),
                }
            } else {
                err
            });
        }
    }

    /// One request: the body of a 2xx answer, or the error and the `Retry-After` wait.
    fn send(&self, body: &str) -> Result<String, (ChatError, Option<Duration>)> {
        let mut request = self
            .agent
            .post(&self.url)
            .set("Content-Type", "application/json");
        if let Some(key) = &self.api_key {
            request = request.set("Authorization", &format!("Bearer {key}"));
        }
        match request.send_string(body) {
            Ok(response) => response.into_string().map_err(|e| {
                let reason = format!("reading the answer failed: {e}");
                (self.transport(reason), None)
            }),
            Err(ureq::Error::Status(status, response)) => {
                let retry_after = response
                    .header("Retry-After")
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64);
                let message = server_message(&response.into_string().unwrap_or_default());
                let url = self.url.clone();
                let err = match status {
                    401 | 403 => ChatError::Unauthorized {
                        url,
                        status,
                        key_env: self.key_env.clone(),
                        message,
                    },
                    404 => ChatError::NotFound {
                        url,
                        model: self.model.clone(),
                        message,
                    },
                    _ => ChatError::Status {
                        url,
                        status,
                        message,
                    },
                };
                Err((err, retry_after))
            }
            Err(ureq::Error::Transport(t)) => {
                let reason = t.to_string();
                let err = match t.kind() {
                    ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns => {
                        ChatError::Connect {
                            url: self.url.clone(),
                            reason,
                        }
                    }
                    _ => self.transport(reason),
                };
                Err((err, None))
            }
        }
    }

    fn transport(&self, reason: String) -> ChatError {
        ChatError::Transport {
            url: self.url.clone(),
            reason,
        }
    }

    /// The text of `choices[0].message.content` and the token counts of `usage`.
    fn read_answer(&self, body: &str) -> Result<(String, u64, u64), ChatError> {
        let bad = |reason: String| ChatError::BadAnswer {
            url: self.url.clone(),
            reason,
        };
        let value: Value =
            serde_json::from_str(body).map_err(|e| bad(format!("not JSON ({e})")))?;
        let text = value
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no choices[0].message.content".into()))?;
        let tokens = |key: &str| {
            value
                .pointer(&format!("/usage/{key}"))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        Ok((
            text.to_string(),
            tokens("prompt_tokens"),
            tokens("completion_tokens"),
        ))
    }
}

/// The server's own words: `error.message` of an OpenAI-style error body, else the start of
/// the body.
fn server_message(body: &str) -> String {
    let parsed = serde_json::from_str::<Value>(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/message").or_else(|| v.get("error")))
        .and_then(Value::as_str);
    match message {
        Some(m) => m.to_string(),
        None if body.trim().is_empty() => "(empty body)".to_string(),
        None => body.trim().chars().take(300).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_message_reads_openai_errors_and_falls_back_to_the_body() {
        assert_eq!(
            server_message(r#"{"error":{"message":"Incorrect API key provided","type":"x"}}"#),
            "Incorrect API key provided"
        );
        assert_eq!(
            server_message(r#"{"error":"model not loaded"}"#),
            "model not loaded"
        );
        assert_eq!(server_message("Bad Gateway\n"), "Bad Gateway");
        assert_eq!(server_message(""), "(empty body)");
    }
}
