//! Integration tests of the evaluation modes against fake trainers, fake logits servers
//! (`tests/fakes/`) and the real tinygpt track. One binary, one module per feature.

mod command;
mod logits;
mod sandbox;
mod tinygpt;
