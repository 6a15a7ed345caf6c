//! # ssv-simulator
//!
//! Runs whole clusters of `ssv-core` deterministically from a seed under adversarial
//! schedules, checks invariants, and records and replays traces.

pub mod sim;
