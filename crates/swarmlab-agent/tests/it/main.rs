//! Integration tests of the LLM-agent proposers: `command` driven by fake agents (shell
//! scripts), `openai` against a fake chat-completions server on 127.0.0.1.

mod command;
mod openai;
mod support;
