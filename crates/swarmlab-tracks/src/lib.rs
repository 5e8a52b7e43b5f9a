//! The tracks compiled into swarmlab, which `swarmlab init` and `swarmlab demo` write out
//! ([`Embedded`]), and the import that puts a clone of karpathy/autoresearch on a hub as one
//! commit ([`autoresearch`]).
//!
//! It writes only into the folder it is given and prints nothing: the binary says what it did.

pub mod autoresearch;
mod embedded;
mod error;

pub use embedded::{write_reference_spec, Embedded, EmbeddedFile, SWARMLAB_LOGITS};
pub use error::TrackError;
