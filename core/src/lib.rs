//! # ssv-core
//!
//! The deterministic, IO-free heart of an SSV (Secret Shared Validators) operator node:
//! wire types, threshold BLS, operator RSA, QBFT instances and duty runners.
//!
//! Nothing in this crate reads a clock, a socket, a file, the environment or a random
//! number generator. Time and randomness are inputs; messages to broadcast, requests to
//! the beacon node or the signer, and events are outputs. The shell (`ssv-shell`) drives
//! it for real, the simulator (`ssv-simulator`) drives whole clusters of it from a seed,
//! and the vector harnesses drive it with the ssv-spec v1.2.2 ("Alan") test vectors.
//!
//! Source of truth: ssv-spec v1.2.2 (`types/`, `qbft/`, `ssv/`).

// Peer data must never panic the core (house style, habit 10). Tests may.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod beacon;
pub mod crypto;
pub mod error;
pub mod qbft;
pub mod runner;
pub mod slashing;
pub mod trace;
pub mod types;
pub mod validation;

pub use error::ErrorCode;
