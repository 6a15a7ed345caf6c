//! # ssv-simulator
//!
//! Runs whole clusters of `ssv-core` deterministically from a seed under adversarial
//! schedules, checks invariants, and records and replays traces.
//!
//! [`chain`] is a simulated beacon chain as plain code (no IO, the time is an input);
//! [`server`] serves it over the standard Beacon API (`ssv-sim beacon-node`).

pub mod chain;
pub mod server;

pub mod sim;
