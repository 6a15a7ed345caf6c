//! # ssv-shell
//!
//! Drives `ssv-core` for real: P2P (libp2p over QUIC and TCP), the Beacon API, SSVNetwork
//! logs from an execution node, redb storage, operator keys, CLI, metrics and logs.

pub mod p2p;
pub mod slashing_protection;
