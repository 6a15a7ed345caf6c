//! SSV gossip over libp2p: QUIC (our default between our nodes) and TCP with noise and
//! yamux (how Go SSV nodes connect), gossipsub on the 128 `ssv.v2.<n>` subnets with the Go
//! node's parameters, message validation by [`ssv_core::validation`] before anything reaches
//! the node, and decided-history sync by request-response.
//!
//! The node talks to the network through the [`Network`] trait and reads validated messages
//! from an [`Incoming`] queue. Two implementations:
//! - [`swarm::P2pNode`]: the real libp2p node.
//! - [`loopback::LoopbackNetwork`]: an in-process hub for tests of several nodes in one
//!   process (no sockets, no validation beyond decoding).
//!
//! Peers come from static config and, when bootnodes are configured, from discv5
//! ([`discovery`]); every connection runs the `/ssv/info/0.0.1` handshake ([`handshake`]).

pub mod discovery;
pub mod gossip;
pub mod handshake;
pub mod history;
pub mod identity;
pub mod loopback;
pub mod queue;
pub mod restore;
pub mod swarm;

use ssv_core::types::{CommitteeId, SignedSsvMessage};

pub use queue::{Incoming, MessageClass, QueueLimits};

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The network task has stopped.
    #[error("network stopped")]
    Stopped,
    /// Gossipsub refused to publish (no peers on the topic, too large, duplicate).
    #[error("publish failed: {0}")]
    Publish(String),
    /// Subscribing to a topic failed.
    #[error("subscribe failed: {0}")]
    Subscribe(String),
    /// A transport, listen or dial error.
    #[error("transport: {0}")]
    Transport(String),
    /// A history request failed or its answer was refused.
    #[error("history sync: {0}")]
    History(String),
    /// Reading or writing the network key.
    #[error("network key: {0}")]
    Key(String),
}

/// What the node needs from the network: broadcast a signed message to a committee's
/// subnet, and follow the subnets of its committees. Validated incoming messages arrive on
/// the [`Incoming`] queue handed out with the implementation.
pub trait Network: Send + Sync {
    /// Publishes `message` (the SSZ of a `SignedSSVMessage`) on the subnet of
    /// `committee_id`. The message is not delivered back to this node.
    ///
    /// # Errors
    /// [`NetworkError::Stopped`] when the network task is gone; publishing errors are
    /// reported by the implementation when it knows them synchronously.
    fn broadcast(&self, committee_id: &CommitteeId, message: Vec<u8>) -> Result<(), NetworkError>;

    /// Subscribes to the subnet of `committee_id` (idempotent).
    ///
    /// # Errors
    /// [`NetworkError::Stopped`] when the network task is gone.
    fn subscribe_committee(&self, committee_id: &CommitteeId) -> Result<(), NetworkError>;
}

/// SSZ bytes of a signed message, for [`Network::broadcast`].
pub fn encode(message: &SignedSsvMessage) -> Vec<u8> {
    use ssv_core::types::ssz::Encode as _;
    message.as_ssz_bytes()
}

/// Milliseconds since the Unix epoch from the system clock (the shell's only clock read
/// for validation).
pub fn unix_millis_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
