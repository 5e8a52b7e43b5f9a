//! Integration tests of the runner against fake trainers (`sh -c` scripts and `python3 -c`).
//! One binary, one module per feature.

mod cancel;
mod errors;
mod exit;
mod log_limit;
mod memory;
mod output;
mod support;
mod timeout;
mod tree;
