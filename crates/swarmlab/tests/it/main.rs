//! Integration tests of the `swarmlab` binary, one module per feature, all through the real
//! binary (see `harness`). The fake trainer's behaviour is picked by `params.txt`, which the
//! script proposer rewrites for each experiment.

mod harness;
mod hubs;

mod hub;

mod agents;
mod attacks;
mod attacks_tinygpt;
mod budget;
mod canaries;
mod check;
mod dashboard;
mod failures;
mod layering;
mod pipeline;
mod proposals;
mod repository;
mod resume;
mod sandbox;
mod spec;
mod swarm;
mod swarm_tinygpt;
mod tinygpt;
mod toy;
