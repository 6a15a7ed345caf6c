//! The contract layer: SSVNetwork events from an execution node.
//!
//! - [`events`]: the eight followed events, decoded from raw logs with their exact ABI;
//! - [`handler`]: the Go node's rules for each event over a [`handler::ContractStore`],
//!   producing [`handler::Effect`]s;
//! - [`store_redb`]: the handler's store on redb, mirrored into the node store;
//! - [`node_sync`]: the follower inside `ssv-node run`;
//! - [`follower`]: historical sync and head following over JSON-RPC (alloy), with a
//!   confirmation depth, backoff and a persisted position.

pub mod events;
pub mod follower;
pub mod handler;
pub mod node_sync;
pub mod store_redb;
