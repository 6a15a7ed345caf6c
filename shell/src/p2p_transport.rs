//! The node's [`Transport`] over the libp2p node ([`crate::p2p`]): broadcasts go to the
//! gossip subnet the driver names, validated messages from peers go to the driver's inbox,
//! and decided history is served from the node store.
//!
//! Also builds, from the node store, the [`StaticNetworkView`] message validation checks
//! against (operators, committees, our validators with their beacon status).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use libp2p::Multiaddr;
use ssv_core::crypto::rsa::OperatorPublicKey;
use ssv_core::types::ssz::Encode as _;
use ssv_core::types::{Height, MessageId, OperatorId, ValidatorIndex};
use ssv_core::validation::{
    StaticNetworkView, ValidationConfig, ValidatorStatus, committee_subnet,
};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::node::network::{INBOX_CAPACITY, Incoming, Topic, Transport, TransportError};
use crate::p2p::history::{DecidedHistory, HistoryError};
use crate::p2p::swarm::{P2pConfig, P2pHandle, P2pNode};
use crate::p2p::{NetworkError, QueueLimits};
use crate::store::{NodeStore, StoreError};

/// How often the peer count behind [`Transport::peer_count`] is refreshed.
pub const PEER_COUNT_INTERVAL: Duration = Duration::from_secs(1);

/// [`Transport`] over a running [`P2pNode`].
#[derive(Clone)]
pub struct P2pTransport {
    handle: P2pHandle,
    peers: Arc<AtomicUsize>,
}

impl std::fmt::Debug for P2pTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2pTransport").field("peer_id", &self.handle.peer_id()).finish()
    }
}

impl Transport for P2pTransport {
    fn broadcast(&self, topic: Topic, data: Arc<[u8]>) -> Result<(), TransportError> {
        let handle = self.handle.clone();
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| TransportError::Disconnected)?;
        // Publishing waits for gossipsub's verdict; the driver must not.
        runtime.spawn(async move {
            if let Err(e) = handle.publish(topic, data.to_vec()).await {
                tracing::debug!(topic, error = %e, "gossip publish failed");
            }
        });
        Ok(())
    }

    fn peer_count(&self) -> usize {
        self.peers.load(Ordering::Relaxed)
    }
}

/// A running P2P node adapted for the driver.
pub struct NodeNetwork {
    /// The transport to give the driver.
    pub transport: P2pTransport,
    /// The driver's inbox.
    pub inbox: mpsc::Receiver<Incoming>,
    /// Addresses the node listens on.
    pub listen_addrs: Vec<Multiaddr>,
    node: P2pNode,
    pumps: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for NodeNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeNetwork").field("listen_addrs", &self.listen_addrs).finish()
    }
}

impl NodeNetwork {
    /// Wraps a started [`P2pNode`]: pumps its validated messages into an inbox of
    /// [`INBOX_CAPACITY`] (re-encoded as SSZ `SignedSSVMessage`, tagged with the
    /// committee's subnet and the first signer), keeps the peer count fresh, and redials
    /// `static_peers` every [`PEER_COUNT_INTERVAL`] while fewer peers than them are
    /// connected (a peer that started later, or restarted, is found again).
    pub fn new(mut node: P2pNode, static_peers: Vec<Multiaddr>) -> Self {
        let (tx, inbox) = mpsc::channel(INBOX_CAPACITY);
        let peers = Arc::new(AtomicUsize::new(0));
        let mut incoming = std::mem::replace(
            &mut node.incoming,
            crate::p2p::queue::channel(QueueLimits::default()).1,
        );
        let pump = tokio::spawn(async move {
            while let Some(m) = incoming.recv().await {
                let from = m.signed.operator_ids.first().copied().unwrap_or(0);
                let msg = Incoming {
                    from,
                    topic: committee_subnet(&m.committee_id),
                    data: Arc::from(m.signed.as_ssz_bytes()),
                };
                if tx.try_send(msg).is_err() && tx.is_closed() {
                    return;
                }
            }
        });
        let handle = node.handle.clone();
        let counter = Arc::clone(&peers);
        let refresh = tokio::spawn(async move {
            loop {
                match handle.connected_peers().await {
                    Ok(p) => {
                        counter.store(p.len(), Ordering::Relaxed);
                        if p.len() < static_peers.len() {
                            for addr in &static_peers {
                                let _ = handle.dial(addr.clone());
                            }
                        }
                    }
                    Err(_) => return,
                }
                tokio::time::sleep(PEER_COUNT_INTERVAL).await;
            }
        });
        let transport = P2pTransport { handle: node.handle.clone(), peers };
        let listen_addrs = node.listen_addrs.clone();
        Self { transport, inbox, listen_addrs, node, pumps: vec![pump, refresh] }
    }

    /// The libp2p handle (peers, history requests).
    pub fn handle(&self) -> &P2pHandle {
        &self.node.handle
    }

    /// Stops the pumps and the libp2p node.
    pub async fn shutdown(self) {
        for p in &self.pumps {
            p.abort();
        }
        self.node.shutdown().await;
    }
}

/// Decided history served from the node store (executor id = the 56-byte `MessageID`).
#[derive(Debug, Clone)]
pub struct StoreHistory(pub Arc<NodeStore>);

fn history_err(e: &StoreError) -> HistoryError {
    HistoryError(e.to_string())
}

impl DecidedHistory for StoreHistory {
    fn store_decided(
        &self,
        msg_id: &MessageId,
        height: Height,
        message: &[u8],
    ) -> Result<(), HistoryError> {
        self.0.save_decided(&msg_id.0, height, message).map_err(|e| history_err(&e))
    }

    fn decided_range(
        &self,
        msg_id: &MessageId,
        from: Height,
        to: Height,
        limit: usize,
    ) -> Result<Vec<(Height, Vec<u8>)>, HistoryError> {
        let mut out = self.0.decided_range(&msg_id.0, from, to).map_err(|e| history_err(&e))?;
        out.truncate(limit);
        Ok(out)
    }

    fn highest_decided(&self, msg_id: &MessageId) -> Result<Option<Height>, HistoryError> {
        self.0.highest_decided(&msg_id.0).map_err(|e| history_err(&e))
    }
}

fn beacon_status(status: &str, activation_epoch: u64) -> ValidatorStatus {
    match status {
        "active_ongoing" | "active_exiting" | "active_slashed" => ValidatorStatus::Attesting,
        "pending_queued" => ValidatorStatus::PendingQueued { activation_epoch },
        "" => ValidatorStatus::Unknown,
        _ => ValidatorStatus::NotAttesting,
    }
}

/// The validation view of what the node store knows: every operator with its key, and our
/// validators (with their committees and beacon metadata).
///
/// # Errors
/// [`StoreError`] reading the store.
pub fn network_view(store: &NodeStore) -> Result<StaticNetworkView, StoreError> {
    let mut view = StaticNetworkView::new();
    for o in store.operators()? {
        view.add_operator(o.id, OperatorPublicKey::from_base64_pem(&o.public_key_base64).ok());
    }
    let mut committees: BTreeMap<Vec<OperatorId>, Vec<ValidatorIndex>> = BTreeMap::new();
    for s in store.shares()? {
        let Ok(Ok(pk)) =
            hex::decode(s.validator_pubkey.trim_start_matches("0x")).map(<[u8; 48]>::try_from)
        else {
            continue;
        };
        let ids: Vec<OperatorId> = s.committee.iter().map(|(id, _)| *id).collect();
        let (index, status) = match store.validator_metadata(&pk)? {
            Some(m) => (m.index, beacon_status(&m.status, m.activation_epoch)),
            None => (0, ValidatorStatus::Unknown),
        };
        view.add_validator(pk, index, &ids, s.liquidated, status);
        committees.entry(ids).or_default().push(index);
    }
    for (ids, indices) in committees {
        view.add_committee(&ids, &indices);
    }
    Ok(view)
}

/// Listen addresses of `config` (QUIC when `quic_port` is set, and TCP).
pub fn listen_addrs(config: &Config) -> Vec<Multiaddr> {
    let ip = match config.p2p.listen_ip {
        std::net::IpAddr::V4(ip) => format!("/ip4/{ip}"),
        std::net::IpAddr::V6(ip) => format!("/ip6/{ip}"),
    };
    let mut out = Vec::new();
    if config.p2p.quic_port != 0
        && let Ok(a) = format!("{ip}/udp/{}/quic-v1", config.p2p.quic_port).parse()
    {
        out.push(a);
    }
    if let Ok(a) = format!("{ip}/tcp/{}", config.p2p.tcp_port).parse() {
        out.push(a);
    }
    out
}

/// Starts the libp2p node of `config` (network key in the data folder, static peers,
/// the subnets of our committees), validating against `view`, with history from `store`.
///
/// # Errors
/// [`NetworkError`] for a bad static peer address, the network key, or a transport that
/// cannot listen.
pub async fn start(
    config: &Config,
    validation: ValidationConfig,
    view: Arc<RwLock<StaticNetworkView>>,
    subnets: Vec<u64>,
    store: Arc<NodeStore>,
) -> Result<NodeNetwork, NetworkError> {
    let keypair = crate::p2p::identity::load_or_create_network_key(&config.data_dir)?;
    let static_peers = config
        .p2p
        .static_peers
        .iter()
        .map(|p| {
            p.parse::<Multiaddr>()
                .map_err(|e| NetworkError::Transport(format!("static peer {p:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut p2p = P2pConfig::new(keypair, validation);
    p2p.listen = listen_addrs(config);
    p2p.static_peers = static_peers.clone();
    p2p.subnets = subnets;
    let node = P2pNode::spawn(p2p, view, Arc::new(StoreHistory(store))).await?;
    Ok(NodeNetwork::new(node, static_peers))
}
