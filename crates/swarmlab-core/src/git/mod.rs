//! The git side of the loop, hardened for repositories swarmlab did not write.
//!
//! swarmlab drives the `git` CLI (gix has no `reset --hard`) with a configuration that turns
//! off everything a repository could use to run code: hooks, fsmonitor, filters and diff
//! drivers named in `.gitattributes` (attributes are read from the empty tree), external
//! diff, pagers, editors, credential helpers, signing and any network transport. See
//! docs/git.md for the full list and why each is there.

mod store;

pub use store::{GitError, GitStore};
