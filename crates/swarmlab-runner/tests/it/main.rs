//! Integration tests of the runner against fake trainers (`sh -c` scripts and `python3 -c`).
//! One binary, one module per feature.

mod cancel;
mod errors;
mod exit;
mod log_limit;
mod memory;
mod output;
mod piped;
mod sandbox;
mod sandbox_fs;
mod sandbox_limits;
mod sandbox_security;
mod sandbox_selftest;
mod support;
mod timeout;
mod tree;
