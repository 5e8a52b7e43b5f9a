//! What swarmlab's test suites and benches share, written once: a blocking HTTP client
//! ([`http`]), git and track repositories ([`git`]), a fake OpenAI-compatible server
//! ([`openai`]), tinygpt built for tests ([`tinygpt`]), the PyTorch track pygpt with its
//! test environment ([`pygpt`]), the real agent CLIs that the presets drive ([`agent_cli`]);
//! behind features, the `Record` builder ([`record`], feature `record`), a scratch folder
//! with `sh -c` run specs ([`scratch`]) and its sandboxed kind ([`sandbox`]) (both feature
//! `runner`), a worker's bundle and signed claim ([`bundle`]) and a seeded hub ([`hub`])
//! (both feature `hub`), and a throwaway PostgreSQL server ([`postgres`]).
//!
//! It is a dev-dependency only: no crate ships it, and none may reach it through a normal
//! dependency (checked by `crates/swarmlab/tests/it/layering.rs`). A crate's own unit tests
//! cannot use the parts that depend on that crate (cargo would build it twice); its
//! integration tests and benches can.

pub mod agent_cli;
#[cfg(feature = "hub")]
pub mod bundle;
#[cfg(feature = "hub")]
pub mod database;
pub mod git;
pub mod http;
#[cfg(feature = "hub")]
pub mod hub;
pub mod openai;
pub mod postgres;
pub mod pygpt;
#[cfg(feature = "record")]
pub mod record;
#[cfg(feature = "runner")]
pub mod sandbox;
#[cfg(feature = "runner")]
pub mod scratch;
pub mod tinygpt;

pub use openai::{closed_port, Canned, FakeServer, Received};
