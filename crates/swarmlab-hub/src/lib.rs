//! The swarmlab hub: the coordinator that lets many untrusted workers submit candidate
//! commits which trusted verifiers re-run, so that only significant, reproduced
//! improvements extend a track's verified chain.
//!
//! Three layers, each a folder, each calling only the one below it:
//!
//! - [`web`]: the JSON API under `/api/v1`, the dashboard at `/`, server-sent events,
//!   sessions, rate limits and the [`Server`]. It parses, renders and answers; every change
//!   goes through [`Hub`], every page reads the store's read side.
//! - [`domain`]: [`Hub`] and its operations, and the rules they apply: who may do what
//!   (`roles`), intake, acceptance (the verdict, in one file), the chain, the ledger and its
//!   [`audit`]. It decides; it writes no SQL and speaks no HTTP.
//! - [`store`]: the only place that writes. Each state transition is one transaction; the
//!   hub's signing key lives there and signs ledger entries as they are appended. It records
//!   what the domain decided and decides nothing itself.
//!
//! The hub runs nothing but git: verifiers run the candidates.

pub mod domain;
pub mod store;
pub mod web;

pub use domain::audit::{audit, AuditError, AuditReport};
pub use domain::clock::{Clock, ManualClock, SystemClock};
pub use domain::config::{
    AnonymousConfig, ConfigError, HubConfig, RateLimitConfig, RegistrationMode,
};
pub use domain::error::HubError;
pub use domain::event::{EventKind, HubEvent};
pub use domain::hub::Hub;
pub use domain::identity::Identity;
pub use domain::roles::Reader;
pub use web::embedded::{Closing, EmbeddedHub, Seed, Seeded};
pub use web::server::{serve, Server};
