//! Integration tests of the hub, one module per feature, on a controllable clock.

mod canaries;
mod chain;
mod convergence;
mod cost;
mod credit;
mod dashboard;
mod database;
mod demo;
mod http;
mod ideas;
mod intake;
mod jobs;
mod ledger;
mod liveness;
mod local;
mod noise;
mod postgres;
mod processes;
mod public;
mod quotas;
mod registration;
mod support;
mod verification_cost;
