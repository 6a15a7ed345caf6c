//! The node's view of the P2P network: broadcast an encoded `SignedSSVMessage` on a topic,
//! receive messages from peers. The P2P layer (`shell/src/p2p`) implements
//! [`Transport`] over libp2p gossipsub; [`LoopbackHub`] joins several nodes in one process
//! for tests, and [`NoopTransport`] drops everything.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ssv_core::types::OperatorId;
use tokio::sync::mpsc;

/// A gossip topic: the subnet number (`committee id mod 128` in Alan).
pub type Topic = u64;

/// Messages a node's inbox holds before new ones are dropped (as gossipsub drops on a
/// full validation queue; 512 there, more here since loopback delivers in bursts).
pub const INBOX_CAPACITY: usize = 4096;

/// A message from the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The sending peer's operator id (loopback) or 0 when unknown.
    pub from: OperatorId,
    /// The topic it arrived on.
    pub topic: Topic,
    /// The raw SSZ `SignedSSVMessage`.
    pub data: Arc<[u8]>,
}

/// Why a broadcast failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// This node is no longer connected.
    #[error("not connected to the network")]
    Disconnected,
}

/// Broadcasting side of the network. Receiving is an `mpsc::Receiver<Incoming>` handed
/// out with the transport.
pub trait Transport: Send + Sync + 'static {
    /// Publishes `data` (SSZ `SignedSSVMessage`) on `topic`. Never blocks; a message that
    /// cannot be queued for a peer is dropped for that peer.
    fn broadcast(&self, topic: Topic, data: Arc<[u8]>) -> Result<(), TransportError>;

    /// Connected peers (for the `ssv_peers` metric).
    fn peer_count(&self) -> usize;
}

/// A transport that sends nothing and has no peers.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopTransport;

impl Transport for NoopTransport {
    fn broadcast(&self, _topic: Topic, _data: Arc<[u8]>) -> Result<(), TransportError> {
        Ok(())
    }

    fn peer_count(&self) -> usize {
        0
    }
}

#[derive(Debug, Default)]
struct HubState {
    inboxes: BTreeMap<OperatorId, mpsc::Sender<Incoming>>,
    dropped: u64,
}

/// An in-process network: every joined node receives every other node's broadcasts (all
/// topics), in the order sent. Cloning shares the hub.
#[derive(Debug, Clone, Default)]
pub struct LoopbackHub {
    state: Arc<Mutex<HubState>>,
}

/// One node's connection to a [`LoopbackHub`].
#[derive(Debug, Clone)]
pub struct LoopbackTransport {
    hub: LoopbackHub,
    me: OperatorId,
}

impl LoopbackHub {
    /// An empty hub.
    pub fn new() -> LoopbackHub {
        LoopbackHub::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connects operator `me` (replacing an earlier connection of the same id, as a
    /// restarted node would) and returns its transport and inbox.
    pub fn join(&self, me: OperatorId) -> (LoopbackTransport, mpsc::Receiver<Incoming>) {
        let (tx, rx) = mpsc::channel(INBOX_CAPACITY);
        self.lock().inboxes.insert(me, tx);
        (LoopbackTransport { hub: self.clone(), me }, rx)
    }

    /// Disconnects operator `id` (a crashed node); its inbox closes.
    pub fn leave(&self, id: OperatorId) {
        self.lock().inboxes.remove(&id);
    }

    /// Messages dropped because an inbox was full.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }
}

impl Transport for LoopbackTransport {
    fn broadcast(&self, topic: Topic, data: Arc<[u8]>) -> Result<(), TransportError> {
        let mut state = self.hub.lock();
        if !state.inboxes.contains_key(&self.me) {
            return Err(TransportError::Disconnected);
        }
        let mut dropped = 0u64;
        for (id, inbox) in &state.inboxes {
            if *id == self.me {
                continue;
            }
            let msg = Incoming { from: self.me, topic, data: data.clone() };
            if inbox.try_send(msg).is_err() {
                dropped = dropped.saturating_add(1);
            }
        }
        state.dropped = state.dropped.saturating_add(dropped);
        Ok(())
    }

    fn peer_count(&self) -> usize {
        self.hub.lock().inboxes.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_delivers_to_every_other_node_in_order() {
        let hub = LoopbackHub::new();
        let (a, mut ra) = hub.join(1);
        let (_b, mut rb) = hub.join(2);
        let (_c, mut rc) = hub.join(3);
        assert_eq!(a.peer_count(), 2);
        for i in 0..3u8 {
            a.broadcast(5, Arc::from(vec![i])).unwrap();
        }
        for rx in [&mut rb, &mut rc] {
            for i in 0..3u8 {
                let m = rx.recv().await.unwrap();
                assert_eq!((m.from, m.topic, &*m.data), (1, 5, &[i][..]));
            }
        }
        assert!(ra.try_recv().is_err(), "no echo to the sender");
    }

    #[tokio::test]
    async fn a_node_that_left_neither_sends_nor_receives() {
        let hub = LoopbackHub::new();
        let (a, _ra) = hub.join(1);
        let (b, mut rb) = hub.join(2);
        hub.leave(2);
        a.broadcast(0, Arc::from(vec![1])).unwrap();
        assert!(rb.recv().await.is_none(), "inbox closed");
        assert_eq!(b.broadcast(0, Arc::from(vec![2])), Err(TransportError::Disconnected));
        // Rejoining (a restart) gets a fresh inbox.
        let (_b2, mut rb2) = hub.join(2);
        a.broadcast(0, Arc::from(vec![3])).unwrap();
        assert_eq!(&*rb2.recv().await.unwrap().data, &[3]);
    }

    #[test]
    fn a_full_inbox_drops_and_counts() {
        let hub = LoopbackHub::new();
        let (a, _ra) = hub.join(1);
        let (_b, _rb) = hub.join(2);
        for _ in 0..INBOX_CAPACITY + 3 {
            a.broadcast(0, Arc::from(vec![0])).unwrap();
        }
        assert_eq!(hub.dropped(), 3);
    }
}
