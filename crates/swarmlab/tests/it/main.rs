//! Integration tests of the `swarmlab` binary, one module per feature, all through the real
//! binary (see `harness`). The fake trainer's behaviour is picked by `params.txt`, which the
//! script proposer rewrites for each experiment.

mod harness;
mod hubs;
mod idle;

mod hub;
mod hub_liveness;
mod hub_processes;

mod agent_clis;
mod agents;
mod attacks;
mod attacks_pygpt;
mod attacks_tinygpt;
mod autoresearch;
mod budget;
mod canaries;
mod check;
mod contest;
mod dashboard;
mod deploy;
mod errors;
mod evolve;
mod failures;
mod gpu;
mod ideas;
mod layering;
mod liveness;
mod parallel;
mod parent_death;
mod pipeline;
mod proposals;
mod pygpt;
mod report;
mod repository;
mod resume;
mod sandbox;
mod soak;
mod spec;
mod swarm;
mod swarm_tinygpt;
mod terminal;
mod tinygpt;
mod toy;
mod verifier_builds;
