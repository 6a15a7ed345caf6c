//! The local devnet's execution-chain half: keys and keyshares for generated validators
//! ([`keys`]) and a Hardhat node with the `SSVNetworkDevnet` contract ([`chain`]).
//!
//! The orchestration binary `ssv-devnet` (beacon simulator, n `ssv-node` processes) builds
//! on these.

pub mod chain;
pub mod keys;
