//! The node's [`Transport`] over the libp2p node ([`crate::p2p`]): broadcasts go to the
//! gossip subnet the driver names, validated messages from peers go to the driver's inbox,
//! and decided history is served from the node store.
//!
//! Also builds, from the node store, the [`StaticNetworkView`] message validation checks
//! against (operators, committees, our validators with their beacon status).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use libp2p::Multiaddr;
use ssv_core::crypto::rsa::OperatorPublicKey;
use ssv_core::runner::BeaconNetwork;
use ssv_core::types::ssz::Encode as _;
use ssv_core::types::{DomainType, Height, MessageId, OperatorId, ValidatorIndex};
use ssv_core::validation::{
    StaticNetworkView, ValidationConfig, ValidatorStatus, committee_subnet,
};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::node::network::{INBOX_CAPACITY, Incoming, Topic, Transport, TransportError};
use crate::p2p::history::{DecidedHistory, HistoryError};
use crate::p2p::restore::{self, RestoreLimits, RestoreReport, committees_to_sync};
use crate::p2p::swarm::{P2pConfig, P2pHandle, P2pNode};
use crate::p2p::{NetworkError, QueueLimits};
use crate::slashing_protection::SlashingDatabase;
use crate::store::{NodeStore, StoreError};

/// How often the peer count behind [`Transport::peer_count`] is refreshed.
pub const PEER_COUNT_INTERVAL: Duration = Duration::from_secs(1);

/// [`Transport`] over a running [`P2pNode`].
#[derive(Clone)]
pub struct P2pTransport {
    handle: P2pHandle,
    peers: Arc<AtomicUsize>,
    /// Set while a node that came back restores its history: nothing it signs leaves.
    holding: Arc<AtomicBool>,
}

impl P2pTransport {
    /// Whether broadcasts are held back (a history restore after a cut-off is running).
    pub fn is_holding(&self) -> bool {
        self.holding.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for P2pTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2pTransport").field("peer_id", &self.handle.peer_id()).finish()
    }
}

impl Transport for P2pTransport {
    fn broadcast(&self, topic: Topic, data: Arc<[u8]>) -> Result<(), TransportError> {
        if self.is_holding() {
            // Back from a cut-off and not restored yet: what we signed must not leave.
            tracing::debug!(topic, "broadcast held back during history restore");
            return Ok(());
        }
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
    last_message: Arc<AtomicU64>,
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
        let last_message = Arc::new(AtomicU64::new(crate::p2p::unix_millis_now()));
        let seen = Arc::clone(&last_message);
        let mut incoming = std::mem::replace(
            &mut node.incoming,
            crate::p2p::queue::channel(QueueLimits::default()).1,
        );
        let pump = tokio::spawn(async move {
            while let Some(m) = incoming.recv().await {
                seen.store(crate::p2p::unix_millis_now(), Ordering::Relaxed);
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
        let holding = Arc::new(AtomicBool::new(false));
        let transport = P2pTransport { handle: node.handle.clone(), peers, holding };
        let listen_addrs = node.listen_addrs.clone();
        Self { transport, inbox, listen_addrs, node, pumps: vec![pump, refresh], last_message }
    }

    /// Restores decided history and slashing records from the peers now
    /// ([`restore::restore`] at the current slot of `ctx.network`). The node calls it at
    /// start, before its driver exists.
    ///
    /// # Errors
    /// As [`restore::restore`].
    pub async fn restore(&self, ctx: &RestoreContext) -> Result<RestoreReport, NetworkError> {
        restore_with(&self.node.handle, ctx).await
    }

    /// Watches for a cut-off ([`CutOffDetector`]: no peers, or no message, for a while)
    /// and, when peers are back, restores again ([`Self::restore`]) with broadcasts held
    /// back until it is done, so nothing the driver signs meanwhile leaves the node. Each
    /// such restore's report goes to `on_restored` before broadcasts resume: the running
    /// driver reads its heights only at start, so the node hands them over there
    /// ([`crate::node::driver::DriverHandle::restored_heights`]).
    pub fn watch_cut_off(
        &mut self,
        ctx: RestoreContext,
        detector: CutOffDetector,
        on_restored: impl Fn(&RestoreReport) + Send + 'static,
    ) {
        let handle = self.node.handle.clone();
        let peers = Arc::clone(&self.transport.peers);
        let holding = Arc::clone(&self.transport.holding);
        let last_message = Arc::clone(&self.last_message);
        let mut detector = detector;
        self.pumps.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(PEER_COUNT_INTERVAL).await;
                let now = crate::p2p::unix_millis_now();
                let back = detector.observe(
                    now,
                    peers.load(Ordering::Relaxed),
                    last_message.load(Ordering::Relaxed),
                );
                if !back {
                    continue;
                }
                tracing::info!("back after a cut-off: restoring decided history");
                holding.store(true, Ordering::SeqCst);
                let result = restore_with(&handle, &ctx).await;
                if let Ok(report) = &result {
                    on_restored(report);
                }
                holding.store(false, Ordering::SeqCst);
                match result {
                    Ok(_) => {}
                    Err(NetworkError::Stopped) => return,
                    Err(e) => tracing::warn!(error = %e, "history restore after cut-off failed"),
                }
            }
        }));
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

/// What a history restore works with: the node store and slashing database to fill, the
/// beacon network (current slot, signing domains), the SSV domain, the validation view.
#[derive(Clone)]
pub struct RestoreContext {
    /// The node store (decided messages, shares).
    pub store: Arc<NodeStore>,
    /// Slashing protection, where restored votes are recorded.
    pub slashing: Arc<SlashingDatabase>,
    /// The beacon network.
    pub network: Arc<BeaconNetwork>,
    /// The SSV domain of the committees' message ids.
    pub domain: DomainType,
    /// The view fetched messages are checked against.
    pub view: Arc<RwLock<StaticNetworkView>>,
    /// Peer wait, timeout, lookback.
    pub limits: RestoreLimits,
}

impl std::fmt::Debug for RestoreContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestoreContext").field("limits", &self.limits).finish_non_exhaustive()
    }
}

async fn restore_with(
    handle: &P2pHandle,
    ctx: &RestoreContext,
) -> Result<RestoreReport, NetworkError> {
    let committees = committees_to_sync(&ctx.store, ctx.domain)
        .map_err(|e| NetworkError::History(e.to_string()))?;
    let current = ctx.network.slot_at(crate::p2p::unix_millis_now());
    restore::restore(
        handle,
        &StoreHistory(Arc::clone(&ctx.store)),
        &ctx.view,
        &ctx.slashing,
        &ctx.network,
        &committees,
        current,
        ctx.limits,
    )
    .await
}

/// When a node counts as cut off, and when it is back: cut off after `no_peers_ms` with no
/// connected peer or `silence_ms` with no validated message; back at the first check with
/// a peer (and, after a silence, a fresh message). Pure: fed the time, the peer count and
/// the time of the last message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutOffDetector {
    /// Milliseconds without peers that count as a cut-off.
    pub no_peers_ms: u64,
    /// Milliseconds without a validated message that count as a cut-off.
    pub silence_ms: u64,
    zero_since: Option<u64>,
    cut_off: bool,
}

impl CutOffDetector {
    /// A detector that is not cut off yet.
    pub fn new(no_peers_ms: u64, silence_ms: u64) -> Self {
        Self { no_peers_ms, silence_ms, zero_since: None, cut_off: false }
    }

    /// For `network`: three slots without peers, or two epochs without a message.
    pub fn for_network(network: &BeaconNetwork) -> Self {
        let epoch = network.slot_ms.saturating_mul(network.slots_per_epoch);
        Self::new(network.slot_ms.saturating_mul(3), epoch.saturating_mul(2))
    }

    /// Whether the node is cut off now.
    pub fn is_cut_off(&self) -> bool {
        self.cut_off
    }

    /// Feeds one observation at `now_ms` (Unix ms); `true` when the node just came back
    /// and must restore before it signs again.
    pub fn observe(&mut self, now_ms: u64, peers: usize, last_message_ms: u64) -> bool {
        if peers == 0 {
            self.zero_since.get_or_insert(now_ms);
        } else {
            self.zero_since = None;
        }
        let no_peers =
            self.zero_since.is_some_and(|t| now_ms.saturating_sub(t) >= self.no_peers_ms);
        let silent = now_ms.saturating_sub(last_message_ms) >= self.silence_ms;
        if no_peers || silent {
            self.cut_off = true;
            return false;
        }
        if self.cut_off && peers > 0 {
            self.cut_off = false;
            return true;
        }
        false
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
    p2p.max_peers = config.p2p.max_peers.max(1);
    let node = P2pNode::spawn(p2p, view, Arc::new(StoreHistory(store))).await?;
    Ok(NodeNetwork::new(node, static_peers))
}

#[cfg(test)]
mod tests {
    use super::CutOffDetector;

    #[test]
    fn a_node_without_peers_for_a_while_is_back_with_its_first_peer() {
        let mut d = CutOffDetector::new(3_000, 60_000);
        assert!(!d.observe(0, 2, 0));
        assert!(!d.observe(1_000, 0, 0));
        assert!(!d.observe(3_000, 0, 0), "two seconds without peers is not a cut-off");
        assert!(!d.is_cut_off());
        assert!(!d.observe(4_000, 0, 0));
        assert!(d.is_cut_off());
        assert!(!d.observe(5_000, 0, 0));
        assert!(d.observe(6_000, 1, 0), "peers again: restore");
        assert!(!d.observe(7_000, 1, 0), "once");
    }

    #[test]
    fn a_short_drop_of_peers_is_not_a_cut_off() {
        let mut d = CutOffDetector::new(3_000, 60_000);
        assert!(!d.observe(1_000, 0, 0));
        assert!(!d.observe(2_000, 1, 0));
        assert!(!d.observe(3_500, 0, 0));
        assert!(!d.observe(4_500, 1, 0));
        assert!(!d.is_cut_off());
    }

    #[test]
    fn silence_then_a_message_is_a_return() {
        let mut d = CutOffDetector::new(3_000, 10_000);
        assert!(!d.observe(5_000, 3, 0));
        assert!(!d.observe(10_000, 3, 0), "ten seconds without messages");
        assert!(d.is_cut_off());
        assert!(!d.observe(11_000, 3, 0), "still silent");
        assert!(d.observe(12_000, 3, 11_500), "a message arrived");
    }
}
