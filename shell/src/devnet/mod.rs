//! The local devnet: keys and keyshares for generated validators
//! ([`keys`]) and a Hardhat node with the `SSVNetworkDevnet` contract ([`chain`]).
//!
//! [`orchestrator`] runs the whole devnet (chain, beacon simulator, n `ssv-node`
//! processes) for the `ssv-devnet` binary, and [`duties`] checks what it did.

pub mod chain;
pub mod duties;
pub mod keys;
pub mod orchestrator;
