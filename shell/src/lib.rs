//! # ssv-shell
//!
//! Drives `ssv-core` for real: P2P (libp2p over QUIC and TCP), the Beacon API, SSVNetwork
//! logs from an execution node, redb storage, operator keys, CLI, metrics and logs.

pub mod beacon;
pub mod cli;
pub mod config;
pub mod contract;
pub mod devnet;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod node;
pub mod p2p;
pub mod p2p_transport;
pub mod slashing_protection;
pub mod store;
pub mod trace;
