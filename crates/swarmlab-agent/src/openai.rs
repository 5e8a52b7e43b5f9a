//! The `openai` proposer: any OpenAI-compatible chat-completions endpoint, hosted or local.
//!
//! The model sees the composed prompt with the editable files' contents and answers with a
//! `DESCRIPTION:` line and SEARCH/REPLACE blocks ([`crate::edits`]). An answer that does not
//! parse or apply is sent back with the error, for a bounded number of repair turns, with the
//! conversation so far. Token usage (and cost, when prices are given) of the last proposal is
//! kept for the harness to log.
//!
//! It must not write outside `files.editable`; endpoint failures that a retry cannot cure
//! (bad key, wrong URL or model, nothing listening) are errors that stop the loop, with a
//! message saying what to fix.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::chat::{ChatClient, ClientParts, Message};
use crate::edits::{self, EditError};
use crate::prompt::{self, EditStyle, PromptLimits};
use crate::{Context, Proposal, ProposeError, Proposer};
use swarmlab_core::usage::{Prices, Usage};

/// The base URL used when none is given.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The environment variable the API key is read from when none is named.
pub const DEFAULT_KEY_ENV: &str = "OPENAI_API_KEY";

const SYSTEM: &str = "You are a careful research engineer improving a program against one \
metric. You answer only in the edit format the user describes.";

/// Everything the `openai` proposer needs; [`OpenAiConfig::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Up to and including the API version, without `/chat/completions`
    /// (default [`DEFAULT_BASE_URL`]; e.g. `http://localhost:8000/v1` for vLLM).
    pub base_url: String,
    pub model: String,
    /// The environment variable holding the API key (default `OPENAI_API_KEY`). When it is
    /// unset no `Authorization` header is sent, which local servers accept.
    pub api_key_env: String,
    /// Limit of one HTTP request, connection included (default 10 min).
    pub timeout: Duration,
    /// Extra attempts after a 429, a 5xx or a dropped connection (default 4).
    pub retries: u32,
    /// Wait before the first retry, doubled each time, unless the server sends `Retry-After`
    /// (default 2 s).
    pub backoff: Duration,
    /// Times a failed answer is sent back with its error (default 2).
    pub repair_turns: u32,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    /// Prices for the cost column of [`Usage`]; `None` leaves the cost out.
    pub prices: Option<Prices>,
    /// Where each proposal's conversation is written as `<index>.chat.json` (relative paths
    /// are taken from the worktree); `None` writes nothing.
    pub log_dir: Option<PathBuf>,
    /// Bounds on the prompt.
    pub limits: PromptLimits,
}

impl OpenAiConfig {
    /// The defaults for `model`.
    pub fn new(model: impl Into<String>) -> OpenAiConfig {
        OpenAiConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            model: model.into(),
            api_key_env: DEFAULT_KEY_ENV.to_string(),
            timeout: Duration::from_secs(600),
            retries: 4,
            backoff: Duration::from_secs(2),
            repair_turns: 2,
            max_tokens: None,
            temperature: None,
            prices: None,
            log_dir: None,
            limits: PromptLimits::default(),
        }
    }
}

/// Asks a chat model for SEARCH/REPLACE edits and applies them to the editable files.
#[derive(Debug)]
pub struct OpenAiProposer {
    client: ChatClient,
    repair_turns: u32,
    log_dir: Option<PathBuf>,
    limits: PromptLimits,
    last_usage: Option<Usage>,
    total_usage: Usage,
}

impl OpenAiProposer {
    /// A proposer for `config`, reading the API key from `config.api_key_env` now. A missing
    /// key is refused only for the default (OpenAI) base URL; an empty model always is.
    pub fn new(config: OpenAiConfig) -> Result<OpenAiProposer, ProposeError> {
        let client = chat_client(&config)?;
        Ok(OpenAiProposer {
            client,
            repair_turns: config.repair_turns,
            log_dir: config.log_dir,
            limits: config.limits,
            last_usage: None,
            total_usage: Usage::default(),
        })
    }

    /// Requests, tokens and cost of every proposal so far.
    pub fn total_usage(&self) -> Usage {
        self.total_usage
    }

    /// Asks, applies, and repairs; `usage` collects what every request cost.
    fn converse(
        &self,
        ctx: &Context<'_>,
        messages: &mut Vec<Message>,
        usage: &mut Usage,
    ) -> Result<Proposal, ProposeError> {
        let mut last_error = None;
        for turn in 0..=self.repair_turns {
            if let Some(err) = &last_error {
                messages.push(Message::user(repair_request(err, turn, self.repair_turns)));
            }
            let answer = self
                .client
                .complete(messages, usage)
                .map_err(|e| ProposeError::Unusable(format!("openai proposer: {e}")))?;
            messages.push(Message::assistant(answer.clone()));
            let applied = edits::parse(&answer).and_then(|parsed| {
                edits::apply(ctx.worktree, &ctx.spec.files, &parsed.edits)
                    .map(|_| parsed.description)
            });
            match applied {
                Ok(description) => return Ok(Proposal::Change { description }),
                Err(err) if !err.is_repairable() => {
                    return Err(ProposeError::Unusable(format!("openai proposer: {err}")))
                }
                Err(err) => last_error = Some(err),
            }
        }
        let err = last_error.map_or_else(String::new, |e| e.to_string());
        Ok(Proposal::Failed {
            reason: format!(
                "the model's edits could not be applied after {} repair turns: {err}",
                self.repair_turns
            ),
        })
    }

    /// Writes the conversation and usage of experiment `index`, best effort: a log that
    /// cannot be written must not lose the proposal.
    fn write_log(&self, ctx: &Context<'_>, messages: &[Message], usage: &Usage) {
        let Some(dir) = &self.log_dir else { return };
        let dir = ctx.worktree.join(dir);
        let log = json!({
            "index": ctx.index,
            "usage": usage,
            "messages": messages
                .iter()
                .map(|m| json!({"role": m.role, "content": m.content}))
                .collect::<Vec<_>>(),
        });
        let _ = std::fs::create_dir_all(&dir).and_then(|_| {
            std::fs::write(
                dir.join(format!("{}.chat.json", ctx.index)),
                serde_json::to_string_pretty(&log).unwrap_or_default(),
            )
        });
    }
}

/// The chat client `config` describes, reading the API key from `config.api_key_env` now. A
/// missing key is refused only for the default (OpenAI) base URL; an empty model always is.
pub(crate) fn chat_client(config: &OpenAiConfig) -> Result<ChatClient, ProposeError> {
    if config.model.trim().is_empty() {
        return Err(ProposeError::Unusable(
            "a chat model is needed: name one with --model".into(),
        ));
    }
    let api_key = std::env::var(&config.api_key_env)
        .ok()
        .filter(|k| !k.trim().is_empty());
    if api_key.is_none() && config.base_url.trim_end_matches('/') == DEFAULT_BASE_URL {
        return Err(ProposeError::Unusable(format!(
            "${} is not set; the OpenAI API needs a key (for a local server give its --base-url)",
            config.api_key_env
        )));
    }
    Ok(ChatClient::new(ClientParts {
        base_url: &config.base_url,
        model: &config.model,
        api_key,
        key_env: &config.api_key_env,
        timeout: config.timeout,
        retries: config.retries,
        backoff: config.backoff,
        max_tokens: config.max_tokens,
        temperature: config.temperature,
        prices: config.prices,
    }))
}

/// What the model is told after a failed answer. Nothing was applied, so it resends all.
fn repair_request(err: &EditError, turn: u32, turns: u32) -> String {
    format!(
        "Your answer could not be applied: {err}\n\nNo file was changed. Answer again with the \
         DESCRIPTION line and the complete set of edit blocks, in exactly the format described \
         above. (Repair turn {turn} of {turns}.)"
    )
}

impl Proposer for OpenAiProposer {
    fn name(&self) -> &str {
        "openai"
    }

    fn propose(&mut self, ctx: &Context<'_>) -> Result<Proposal, ProposeError> {
        let prompt = prompt::compose(ctx, EditStyle::SearchReplace, self.limits)?;
        let mut messages = vec![Message::system(SYSTEM), Message::user(prompt)];
        let mut usage = Usage::default();
        let result = self.converse(ctx, &mut messages, &mut usage);
        self.write_log(ctx, &messages, &usage);
        self.total_usage.merge(&usage);
        self.last_usage = Some(usage);
        result
    }

    /// Requests, tokens and cost of the last proposal (repairs and retries included), also
    /// when it failed.
    fn last_usage(&self) -> Option<Usage> {
        self.last_usage
    }
}
