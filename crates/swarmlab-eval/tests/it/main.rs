//! Integration tests of the evaluation modes against fake trainers, fake logits servers
//! (`tests/fakes/`), Python runs through pygpt's trusted module and the real tinygpt track.
//! One binary, one module per feature.

mod command;
mod logits;
mod python;
mod sandbox;
mod tinygpt;
