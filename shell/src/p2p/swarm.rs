//! The libp2p node: QUIC and TCP transports, gossipsub with validation, identify, and the
//! decided-history request-response protocol, driven by one tokio task.
//!
//! The task owns the swarm. Every gossip message is validated before gossipsub forwards
//! it: the task queues it (bounded, [`VALIDATION_QUEUE`]; a full queue ignores the message)
//! for the validation pipeline, where one task owning the [`MessageValidator`] runs the
//! cheap stateful checks in order and [`P2pConfig::validation_workers`] blocking threads
//! verify RSA signatures in parallel (commits stay in arrival order, so verdicts are those
//! of sequential validation); the verdict comes back to the task, is reported to gossipsub
//! (rejections lower the sender's score) and accepted messages go to the [`Incoming`]
//! queue. Every new connection runs the `/ssv/info/0.0.1` handshake
//! ([`super::handshake`]); a peer of another network is disconnected. Discovery
//! ([`super::discovery`]) runs beside the task when bootnodes are configured. The node talks
//! to the task through a cloneable [`P2pHandle`], which implements [`Network`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt as _;
use libp2p::gossipsub::{self, MessageAcceptance, MessageAuthenticity};
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, identify, noise, tcp, yamux};
use ssv_core::types::{CommitteeId, Height, MessageId, OperatorId, RunnerRole};
use ssv_core::validation::{
    MessageValidator, NetworkView, SignatureCheck, ValidationConfig, Verdict, check_decided,
    committee_subnet, verify_message_signatures,
};
use tokio::sync::{mpsc, oneshot};

use super::discovery::{Discovery, DiscoveryConfig, Subnets};
use super::handshake::{self, HandshakeCodec, NodeInfo, NodeMetadata};
use super::history::{
    DecidedHistory, HistoryCodec, HistoryRequest, HistoryResponse, MAX_RESPONSE_MESSAGES, PROTOCOL,
    serve,
};
use super::queue::{Incoming, IncomingSender, QueueLimits, channel};
use super::{Network, NetworkError, gossip, unix_millis_now};

/// Identify protocol version announced to peers.
pub const IDENTIFY_PROTOCOL: &str = "/ssv/1.0.0";
/// Request timeout of decided-history requests.
pub const HISTORY_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections with no traffic are closed after this.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(120);
/// Timeout of a node-info handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`P2pConfig::max_peers`] (the Go node's `MaxPeers`).
pub const DEFAULT_MAX_PEERS: usize = 60;
/// How often peer limits and handshake deadlines are checked.
pub const HOUSEKEEPING_INTERVAL: Duration = Duration::from_millis(500);
/// Gossip messages waiting for validation; more are ignored (Go's validate queue is 512).
pub const VALIDATION_QUEUE: usize = 512;

/// How to start a [`P2pNode`].
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// The node's identity (secp256k1, see [`super::identity`]).
    pub keypair: Keypair,
    /// Addresses to listen on, e.g. `/ip4/0.0.0.0/udp/12001/quic-v1` and
    /// `/ip4/0.0.0.0/tcp/13001`.
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start (static peers and bootnodes with a known address).
    pub static_peers: Vec<Multiaddr>,
    /// Subnets to join at start.
    pub subnets: Vec<u64>,
    /// Message-validation parameters (domain, beacon clock).
    pub validation: ValidationConfig,
    /// Inbound queue limits.
    pub queue: QueueLimits,
    /// What the handshake tells peers about this node; `subnets` is replaced by the
    /// subnets joined at the time.
    pub metadata: NodeMetadata,
    /// Discovery, when wanted. It starts only with at least one bootnode.
    pub discovery: Option<DiscoveryConfig>,
    /// Threads verifying RSA signatures of gossip in parallel (at least 1).
    pub validation_workers: usize,
    /// Most connected peers; above it the lowest-scored peers sharing none of our subnets
    /// go first, then the lowest-scored others (static peers are kept). Go: `MaxPeers` 60.
    pub max_peers: usize,
    /// An inbound connection whose `/ssv/info` request has not arrived by then is closed.
    pub handshake_deadline: Duration,
}

impl P2pConfig {
    /// A config with no static peers, no discovery and default metadata: for tests and
    /// devnets, which fill in `listen`, `static_peers` and `subnets`.
    pub fn new(keypair: Keypair, validation: ValidationConfig) -> Self {
        Self {
            keypair,
            listen: Vec::new(),
            static_peers: Vec::new(),
            subnets: Vec::new(),
            validation,
            queue: QueueLimits::default(),
            metadata: NodeMetadata {
                node_version: format!("ssv-rs/{}", env!("CARGO_PKG_VERSION")),
                execution_node: String::new(),
                consensus_node: String::new(),
                subnets: Subnets::default().to_hex(),
            },
            discovery: None,
            validation_workers: default_validation_workers(),
            max_peers: DEFAULT_MAX_PEERS,
            handshake_deadline: HANDSHAKE_TIMEOUT,
        }
    }
}

/// One RSA worker per core, at most four (the rest of the node needs cores too).
pub fn default_validation_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    gossipsub: gossipsub::Behaviour,
    identify: identify::Behaviour,
    history: request_response::Behaviour<HistoryCodec>,
    handshake: request_response::Behaviour<HandshakeCodec>,
}

enum Command {
    Publish {
        subnet: u64,
        data: Vec<u8>,
        reply: Option<oneshot::Sender<Result<(), NetworkError>>>,
    },
    Subscribe(u64),
    Unsubscribe(u64),
    Dial(Multiaddr),
    History {
        peer: PeerId,
        request: HistoryRequest,
        reply: oneshot::Sender<Result<HistoryResponse, NetworkError>>,
    },
    ConnectedPeers(oneshot::Sender<Vec<PeerId>>),
    NodeInfo(PeerId, oneshot::Sender<Option<NodeInfo>>),
    TopicPeers(u64, oneshot::Sender<usize>),
    PeerScore(PeerId, oneshot::Sender<Option<f64>>),
    Shutdown,
}

/// A cloneable handle to the network task.
#[derive(Clone)]
pub struct P2pHandle {
    tx: mpsc::UnboundedSender<Command>,
    peer_id: PeerId,
}

/// A running libp2p node.
pub struct P2pNode {
    /// Handle for broadcasting, subscribing and history requests.
    pub handle: P2pHandle,
    /// Validated incoming messages.
    pub incoming: Incoming,
    /// Addresses the node listens on (with OS-chosen ports resolved).
    pub listen_addrs: Vec<Multiaddr>,
    /// The discovery service, when it runs.
    pub discovery: Option<Discovery>,
    task: tokio::task::JoinHandle<()>,
}

impl P2pNode {
    /// Starts a node: listens, dials the static peers, joins `config.subnets`, and validates
    /// gossip against `view`. Decided history is served from `history`.
    ///
    /// # Errors
    /// [`NetworkError::Transport`] when a transport cannot be built or an address cannot be
    /// listened on.
    pub async fn spawn<V>(
        config: P2pConfig,
        view: Arc<RwLock<V>>,
        history: Arc<dyn DecidedHistory>,
    ) -> Result<Self, NetworkError>
    where
        V: NetworkView + Send + Sync + 'static,
    {
        let transport = |e: &dyn std::fmt::Display| NetworkError::Transport(e.to_string());
        let epoch = Duration::from_millis(
            config.validation.slot_duration_ms.saturating_mul(config.validation.slots_per_epoch),
        );
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(config.keypair.clone())
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| transport(&e))?
            .with_quic()
            .with_behaviour(|key| {
                let mut gossipsub =
                    gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, gossip::config()?)?;
                gossipsub
                    .with_peer_score(gossip::score_params(epoch), gossip::score_thresholds())?;
                let identify = identify::Behaviour::new(identify::Config::new(
                    IDENTIFY_PROTOCOL.into(),
                    key.public(),
                ));
                let history = request_response::Behaviour::with_codec(
                    HistoryCodec,
                    [(PROTOCOL, ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(HISTORY_REQUEST_TIMEOUT),
                );
                let handshake = request_response::Behaviour::with_codec(
                    HandshakeCodec,
                    [(handshake::PROTOCOL, ProtocolSupport::Full)],
                    request_response::Config::default().with_request_timeout(HANDSHAKE_TIMEOUT),
                );
                Ok(Behaviour { gossipsub, identify, history, handshake })
            })
            .map_err(|e| transport(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
            .build();

        for addr in &config.listen {
            swarm.listen_on(addr.clone()).map_err(|e| transport(&e))?;
        }
        let mut listen_addrs = Vec::new();
        while listen_addrs.len() < config.listen.len() {
            let event = tokio::time::timeout(Duration::from_secs(5), swarm.select_next_some())
                .await
                .map_err(|_| NetworkError::Transport("listen timed out".into()))?;
            match event {
                SwarmEvent::NewListenAddr { address, .. } => listen_addrs.push(address),
                SwarmEvent::ListenerError { error, .. } => return Err(transport(&error)),
                _ => {}
            }
        }
        for subnet in &config.subnets {
            subscribe(&mut swarm, *subnet)?;
        }
        for addr in &config.static_peers {
            swarm.dial(addr.clone()).map_err(|e| transport(&e))?;
        }

        let peer_id = *swarm.local_peer_id();
        let (tx, rx) = mpsc::unbounded_channel();
        let (sender, incoming) = channel(config.queue);
        let network_id = handshake::network_id(config.validation.domain);
        let (jobs, verdicts) = spawn_validation(
            MessageValidator::new(config.validation),
            view,
            config.validation_workers,
        );
        let (subnets_tx, subnets_rx) =
            tokio::sync::watch::channel(Subnets::from_list(&config.subnets));
        let driver = Driver {
            swarm,
            keypair: config.keypair.clone(),
            network_id,
            metadata: config.metadata,
            subnets: Subnets::from_list(&config.subnets),
            node_infos: BTreeMap::new(),
            jobs,
            history,
            sender,
            pending: BTreeMap::new(),
            max_peers: config.max_peers,
            handshake_deadline: config.handshake_deadline,
            awaiting_handshake: BTreeMap::new(),
            static_addrs: config.static_peers.clone(),
            static_ids: BTreeSet::new(),
            subnets_tx: subnets_tx.clone(),
            recent_ids: RecentIds::default(),
        };
        let task = tokio::spawn(driver.run(rx, verdicts));
        let handle = P2pHandle { tx, peer_id };
        let discovery = match config.discovery {
            Some(d) if !d.bootnodes.is_empty() => {
                let port = |quic: bool| {
                    listen_addrs.iter().find_map(|a| {
                        let mut udp = None;
                        let mut found = None;
                        for p in a.iter() {
                            match p {
                                Protocol::Tcp(port) if !quic => found = Some(port),
                                Protocol::Udp(port) => udp = Some(port),
                                Protocol::QuicV1 if quic => found = udp,
                                _ => {}
                            }
                        }
                        found
                    })
                };
                let (tcp, quic) = (port(false), port(true));
                Some(
                    Discovery::spawn(&config.keypair, d, tcp, quic, handle.clone(), subnets_rx)
                        .await?,
                )
            }
            _ => None,
        };
        Ok(Self { handle, incoming, listen_addrs, discovery, task })
    }

    /// Stops discovery and the task and waits for them.
    pub async fn shutdown(self) {
        if let Some(discovery) = self.discovery {
            discovery.shutdown().await;
        }
        let _ = self.handle.tx.send(Command::Shutdown);
        let _ = self.task.await;
    }
}

/// A gossip message waiting for validation.
struct Job {
    message_id: gossipsub::MessageId,
    source: PeerId,
    topic: String,
    data: Vec<u8>,
}

/// A validation result on its way back to the swarm task.
struct Checked {
    message_id: gossipsub::MessageId,
    source: PeerId,
    verdict: Verdict,
}

/// A message in the validation pipeline, waiting for its turn to commit.
struct InFlight {
    job: Job,
    now: u64,
    /// `None` while its RSA verification runs; `Some(None)` when the pre-check failed (the
    /// commit re-checks, and verifies inline in the rare case the state now lets it pass).
    signatures: Option<Option<SignatureCheck>>,
}

/// Starts the validation pipeline ([`MessageValidator`]'s two-phase API): a task that owns
/// the validator takes jobs from a queue of [`VALIDATION_QUEUE`], pre-checks each against
/// the per-peer state (cheap, sequential), hands the RSA verification to up to `workers`
/// blocking threads, and commits in arrival order with the receive time of each message,
/// so verdicts and state are those of sequential validation. At most
/// [`VALIDATION_QUEUE`] messages are in flight. It ends when the job sender is dropped.
fn spawn_validation<V>(
    mut validator: MessageValidator,
    view: Arc<RwLock<V>>,
    workers: usize,
) -> (mpsc::Sender<Job>, mpsc::UnboundedReceiver<Checked>)
where
    V: NetworkView + Send + Sync + 'static,
{
    let (jobs, mut job_rx) = mpsc::channel::<Job>(VALIDATION_QUEUE);
    let (verdict_tx, verdicts) = mpsc::unbounded_channel();
    let (verified_tx, mut verified_rx) = mpsc::unbounded_channel::<(u64, SignatureCheck)>();
    let permits = Arc::new(tokio::sync::Semaphore::new(workers.max(1)));
    tokio::spawn(async move {
        let mut in_flight: BTreeMap<u64, InFlight> = BTreeMap::new();
        let mut next = 0u64;
        let mut jobs_open = true;
        loop {
            tokio::select! {
                job = job_rx.recv(), if jobs_open && in_flight.len() < VALIDATION_QUEUE => {
                    let Some(job) = job else {
                        jobs_open = false;
                        if in_flight.is_empty() { break; }
                        continue;
                    };
                    let seq = next;
                    next = next.wrapping_add(1);
                    let now = unix_millis_now();
                    let pre = match view.read() {
                        Ok(v) => validator.pre_check(now, &job.source.to_bytes(), &job.topic, &job.data, &*v),
                        Err(_) => break,
                    };
                    let signatures = match pre {
                        Ok(()) => {
                            let (view, data, done, permits) =
                                (Arc::clone(&view), job.data.clone(), verified_tx.clone(), Arc::clone(&permits));
                            tokio::spawn(async move {
                                let Ok(_permit) = permits.acquire_owned().await else { return };
                                let check = tokio::task::spawn_blocking(move || match view.read() {
                                    Ok(v) => verify_message_signatures(&data, &*v),
                                    Err(_) => SignatureCheck::Invalid,
                                })
                                .await
                                .unwrap_or(SignatureCheck::Invalid);
                                let _ = done.send((seq, check));
                            });
                            None
                        }
                        Err(_) => Some(None),
                    };
                    in_flight.insert(seq, InFlight { job, now, signatures });
                }
                Some((seq, check)) = verified_rx.recv() => {
                    if let Some(m) = in_flight.get_mut(&seq) {
                        m.signatures = Some(Some(check));
                    }
                }
            }
            // Commit every message whose turn has come.
            while let Some(entry) = in_flight.first_entry() {
                let Some(signatures) = entry.get().signatures else { break };
                let InFlight { job, now, .. } = entry.remove();
                validator.handle_timeout(now);
                let verdict = match view.read() {
                    Ok(v) => validator.commit(
                        now,
                        &job.source.to_bytes(),
                        &job.topic,
                        &job.data,
                        &*v,
                        signatures,
                    ),
                    Err(_) => return,
                };
                let checked = Checked { message_id: job.message_id, source: job.source, verdict };
                if verdict_tx.send(checked).is_err() {
                    return;
                }
            }
            if !jobs_open && in_flight.is_empty() {
                break;
            }
        }
    });
    (jobs, verdicts)
}

fn subscribe(swarm: &mut Swarm<Behaviour>, subnet: u64) -> Result<(), NetworkError> {
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&gossip::subnet_topic(subnet))
        .map(|_| ())
        .map_err(|e| NetworkError::Subscribe(e.to_string()))
}

struct Driver {
    swarm: Swarm<Behaviour>,
    keypair: Keypair,
    network_id: String,
    metadata: NodeMetadata,
    subnets: Subnets,
    node_infos: BTreeMap<PeerId, NodeInfo>,
    jobs: mpsc::Sender<Job>,
    history: Arc<dyn DecidedHistory>,
    sender: IncomingSender,
    pending: BTreeMap<OutboundRequestId, oneshot::Sender<Result<HistoryResponse, NetworkError>>>,
    max_peers: usize,
    handshake_deadline: Duration,
    /// Inbound peers whose handshake request has not arrived, with its deadline.
    awaiting_handshake: BTreeMap<PeerId, tokio::time::Instant>,
    static_addrs: Vec<Multiaddr>,
    /// Peers reached at a static address: never trimmed.
    static_ids: BTreeSet<PeerId>,
    /// Our subnets, for discovery's ENR.
    subnets_tx: tokio::sync::watch::Sender<Subnets>,
    /// Ids of the gossip messages received lately ([`RECENT_IDS_MAX`]): publishing one
    /// again is skipped, not refused by gossipsub with a warning. Every operator of a
    /// committee builds the same decided message (same signers, deterministic RSA), and a
    /// peer's copy often arrives first.
    recent_ids: RecentIds,
}

/// Message ids [`Driver::recent_ids`] remembers.
const RECENT_IDS_MAX: usize = 16_384;

/// A bounded set of message ids, oldest evicted first.
#[derive(Default)]
struct RecentIds {
    order: std::collections::VecDeque<gossipsub::MessageId>,
    set: std::collections::HashSet<gossipsub::MessageId>,
}

impl RecentIds {
    fn insert(&mut self, id: gossipsub::MessageId) {
        if self.set.insert(id.clone()) {
            self.order.push_back(id);
            while self.order.len() > RECENT_IDS_MAX {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    fn contains(&self, id: &gossipsub::MessageId) -> bool {
        self.set.contains(id)
    }
}

impl Driver {
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Command>,
        mut verdicts: mpsc::UnboundedReceiver<Checked>,
    ) {
        let mut tick = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    None | Some(Command::Shutdown) => break,
                    Some(cmd) => self.command(cmd),
                },
                _ = tick.tick() => self.housekeeping(),
                Some(checked) = verdicts.recv() => self.verdict(checked),
                event = self.swarm.select_next_some() => self.event(event),
            }
        }
        self.sender.close();
    }

    /// Reports a verdict to gossipsub and queues an accepted message for the node.
    fn verdict(&mut self, Checked { message_id, source, verdict }: Checked) {
        let acceptance = match &verdict {
            Verdict::Accept(_) => MessageAcceptance::Accept,
            Verdict::Ignore(_) => MessageAcceptance::Ignore,
            Verdict::Reject(_) => MessageAcceptance::Reject,
        };
        if let Some(reason) = verdict.failure() {
            tracing::debug!(peer = %source, %reason, "gossip message not accepted");
        }
        self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
            &message_id,
            &source,
            acceptance,
        );
        if let Verdict::Accept(m) = verdict {
            self.sender.push(&source.to_bytes(), *m);
        }
    }

    /// This node's sealed node info with the subnets joined now.
    fn sealed_self(&self) -> Option<Vec<u8>> {
        let mut metadata = self.metadata.clone();
        metadata.subnets = self.subnets.to_hex();
        let info = NodeInfo { network_id: self.network_id.clone(), metadata: Some(metadata) };
        match info.seal(&self.keypair) {
            Ok(sealed) => Some(sealed),
            Err(e) => {
                tracing::warn!(error = %e, "cannot seal node info");
                None
            }
        }
    }

    /// Keeps a peer's verified node info, or disconnects it.
    fn handshake_result(&mut self, peer: PeerId, bytes: &[u8]) {
        match handshake::verify(bytes, &peer, &self.network_id) {
            Ok(info) => {
                self.awaiting_handshake.remove(&peer);
                tracing::debug!(%peer, network = %info.network_id, "handshake verified");
                self.node_infos.insert(peer, info);
            }
            Err(e) => {
                tracing::debug!(%peer, error = %e, "handshake refused; disconnecting");
                self.node_infos.remove(&peer);
                let _ = self.swarm.disconnect_peer_id(peer);
            }
        }
    }

    fn connected(&mut self, peer: PeerId, dialer: bool, remote: &Multiaddr) {
        if dialer && self.static_addrs.iter().any(|a| remote.ends_with(a) || a == remote) {
            self.static_ids.insert(peer);
        }
        if !dialer && !self.node_infos.contains_key(&peer) {
            // Go closes a connection whose handshake does not complete in time.
            self.awaiting_handshake
                .entry(peer)
                .or_insert_with(|| tokio::time::Instant::now() + self.handshake_deadline);
        }
        // The dialer asks (Go conn_handler: outbound connections handshake, inbound ones
        // wait for the peer's request).
        if dialer
            && !self.node_infos.contains_key(&peer)
            && let Some(sealed) = self.sealed_self()
        {
            self.swarm.behaviour_mut().handshake.send_request(&peer, sealed);
        }
    }

    /// Closes inbound connections whose handshake is overdue, and trims peers above
    /// `max_peers` ([`trim_order`]).
    fn housekeeping(&mut self) {
        let now = tokio::time::Instant::now();
        let overdue: Vec<PeerId> = self
            .awaiting_handshake
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in overdue {
            self.awaiting_handshake.remove(&peer);
            if !self.node_infos.contains_key(&peer) {
                tracing::debug!(%peer, "no handshake from inbound peer in time; disconnecting");
                let _ = self.swarm.disconnect_peer_id(peer);
            }
        }
        let connected: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        if connected.len() <= self.max_peers {
            return;
        }
        let candidates: Vec<PeerCandidate> = connected
            .iter()
            .filter(|p| !self.static_ids.contains(p))
            .map(|p| PeerCandidate {
                peer: *p,
                shares_subnets: self.node_infos.get(p).is_some_and(|info| {
                    info.metadata
                        .as_ref()
                        .and_then(|m| Subnets::from_hex(&m.subnets).ok())
                        .is_some_and(|s| s.shares_any(&self.subnets))
                }),
                score: self.swarm.behaviour().gossipsub.peer_score(p).unwrap_or(0.0),
            })
            .collect();
        let excess = connected.len().saturating_sub(self.max_peers);
        for peer in trim_order(candidates).into_iter().take(excess) {
            tracing::debug!(%peer, "over the peer limit; disconnecting");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Publish { subnet, data, reply } => {
                if self.recent_ids.contains(&gossip::message_id(&data)) {
                    // A peer's identical message is already in the mesh.
                    if let Some(reply) = reply {
                        let _ = reply.send(Ok(()));
                    }
                    return;
                }
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(gossip::subnet_topic(subnet), data)
                    .map(|_| ())
                    .map_err(|e| NetworkError::Publish(e.to_string()));
                if let Err(e) = &result {
                    tracing::debug!(subnet, error = %e, "publish failed");
                }
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
            Command::Subscribe(subnet) => match subscribe(&mut self.swarm, subnet) {
                Ok(()) => {
                    self.subnets.set(subnet);
                    self.subnets_tx.send_replace(self.subnets);
                }
                Err(e) => tracing::warn!(subnet, error = %e, "subscribe failed"),
            },
            Command::Unsubscribe(subnet) => {
                self.swarm.behaviour_mut().gossipsub.unsubscribe(&gossip::subnet_topic(subnet));
                self.subnets.clear(subnet);
                self.subnets_tx.send_replace(self.subnets);
            }
            Command::Dial(addr) => {
                if let Err(e) = self.swarm.dial(addr) {
                    tracing::debug!(error = %e, "dial failed");
                }
            }
            Command::History { peer, request, reply } => {
                let id = self.swarm.behaviour_mut().history.send_request(&peer, request);
                self.pending.insert(id, reply);
            }
            Command::ConnectedPeers(reply) => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::NodeInfo(peer, reply) => {
                let _ = reply.send(self.node_infos.get(&peer).cloned());
            }
            Command::TopicPeers(subnet, reply) => {
                let hash = gossip::subnet_topic(subnet).hash();
                let n = self
                    .swarm
                    .behaviour()
                    .gossipsub
                    .all_peers()
                    .filter(|(_, topics)| topics.contains(&&hash))
                    .count();
                let _ = reply.send(n);
            }
            Command::PeerScore(peer, reply) => {
                let _ = reply.send(self.swarm.behaviour().gossipsub.peer_score(&peer));
            }
            Command::Shutdown => {}
        }
    }

    fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                self.recent_ids.insert(message_id.clone());
                let job = Job {
                    message_id,
                    source: propagation_source,
                    topic: message.topic.into_string(),
                    data: message.data,
                };
                if let Err(e) = self.jobs.try_send(job) {
                    // A full queue (a burst) or a stopped worker: ignore, no penalty.
                    let job = match e {
                        mpsc::error::TrySendError::Full(j)
                        | mpsc::error::TrySendError::Closed(j) => j,
                    };
                    tracing::debug!(peer = %job.source, "validation queue full; message ignored");
                    self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                        &job.message_id,
                        &job.source,
                        MessageAcceptance::Ignore,
                    );
                }
            }
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                self.connected(peer_id, endpoint.is_dialer(), endpoint.get_remote_address());
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established, cause, endpoint, .. } => {
                tracing::debug!(
                    peer = %peer_id,
                    dialer = endpoint.is_dialer(),
                    remaining = num_established,
                    cause = cause.as_ref().map(ToString::to_string),
                    "connection closed"
                );
                if num_established == 0 {
                    self.node_infos.remove(&peer_id);
                    self.awaiting_handshake.remove(&peer_id);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            })) => {
                tracing::warn!(
                    peer = %peer_id,
                    publish = failed_messages.publish,
                    forward = failed_messages.forward,
                    priority = failed_messages.priority,
                    non_priority = failed_messages.non_priority,
                    timeout = failed_messages.timeout,
                    "gossip messages to a peer dropped (its send queue is full or stale)"
                );
            }
            SwarmEvent::Behaviour(BehaviourEvent::Handshake(
                request_response::Event::Message { peer, message, .. },
            )) => match message {
                request_response::Message::Request { request, channel, .. } => {
                    // Go answers with its own record before checking the peer's.
                    if let Some(sealed) = self.sealed_self() {
                        let _ = self.swarm.behaviour_mut().handshake.send_response(channel, sealed);
                    }
                    self.handshake_result(peer, &request);
                }
                request_response::Message::Response { response, .. } => {
                    self.handshake_result(peer, &response);
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::Handshake(
                request_response::Event::OutboundFailure { peer, error, .. },
            )) => {
                tracing::debug!(%peer, %error, "handshake failed; disconnecting");
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            SwarmEvent::Behaviour(BehaviourEvent::History(request_response::Event::Message {
                message,
                ..
            })) => match message {
                request_response::Message::Request { request, channel, .. } => {
                    let response = serve(self.history.as_ref(), &request);
                    let _ = self.swarm.behaviour_mut().history.send_response(channel, response);
                }
                request_response::Message::Response { request_id, response } => {
                    if let Some(reply) = self.pending.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            SwarmEvent::Behaviour(BehaviourEvent::History(
                request_response::Event::OutboundFailure { request_id, error, .. },
            )) => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(NetworkError::History(error.to_string())));
                }
            }
            _ => {}
        }
    }
}

impl P2pHandle {
    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    fn send(&self, cmd: Command) -> Result<(), NetworkError> {
        self.tx.send(cmd).map_err(|_| NetworkError::Stopped)
    }

    /// Publishes on `subnet` and waits for gossipsub's answer.
    ///
    /// # Errors
    /// [`NetworkError::Publish`] (e.g. no peers on the topic yet), [`NetworkError::Stopped`].
    pub async fn publish(&self, subnet: u64, data: Vec<u8>) -> Result<(), NetworkError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Publish { subnet, data, reply: Some(reply) })?;
        rx.await.map_err(|_| NetworkError::Stopped)?
    }

    /// Joins `subnet`.
    ///
    /// # Errors
    /// [`NetworkError::Stopped`].
    pub fn subscribe_subnet(&self, subnet: u64) -> Result<(), NetworkError> {
        self.send(Command::Subscribe(subnet))
    }

    /// Leaves `subnet` (a committee of ours is gone); the ENR follows.
    ///
    /// # Errors
    /// [`NetworkError::Stopped`].
    pub fn unsubscribe_subnet(&self, subnet: u64) -> Result<(), NetworkError> {
        self.send(Command::Unsubscribe(subnet))
    }

    /// Dials `addr`.
    ///
    /// # Errors
    /// [`NetworkError::Stopped`].
    pub fn dial(&self, addr: Multiaddr) -> Result<(), NetworkError> {
        self.send(Command::Dial(addr))
    }

    /// Peers with an open connection.
    ///
    /// # Errors
    /// [`NetworkError::Stopped`].
    pub async fn connected_peers(&self) -> Result<Vec<PeerId>, NetworkError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::ConnectedPeers(reply))?;
        rx.await.map_err(|_| NetworkError::Stopped)
    }

    /// The verified handshake record of `peer`, once the handshake is done.
    ///
    /// # Errors
    /// [`NetworkError::Stopped`].
    pub async fn node_info(&self, peer: PeerId) -> Result<Option<NodeInfo>, NetworkError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::NodeInfo(peer, reply))?;
        rx.await.map_err(|_| NetworkError::Stopped)
    }

    /// Peers known to be subscribed to `subnet`.
    ///
    /// # Errors
    /// [`NetworkError::Stopped`].
    pub async fn topic_peers(&self, subnet: u64) -> Result<usize, NetworkError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::TopicPeers(subnet, reply))?;
        rx.await.map_err(|_| NetworkError::Stopped)
    }

    /// Our gossipsub score of `peer` ([`gossip::score_params`]): `None` when the peer is
    /// not connected. Below [`gossip::GRAYLIST_THRESHOLD`] its RPCs are ignored.
    ///
    /// # Errors
    /// [`NetworkError::Stopped`].
    pub async fn peer_score(&self, peer: PeerId) -> Result<Option<f64>, NetworkError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::PeerScore(peer, reply))?;
        rx.await.map_err(|_| NetworkError::Stopped)
    }

    /// Asks `peer` for decided history.
    ///
    /// # Errors
    /// [`NetworkError::History`] when the request fails or times out.
    pub async fn fetch_history(
        &self,
        peer: PeerId,
        request: HistoryRequest,
    ) -> Result<HistoryResponse, NetworkError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::History { peer, request, reply })?;
        rx.await.map_err(|_| NetworkError::Stopped)?
    }
}

impl Network for P2pHandle {
    fn broadcast(&self, committee_id: &CommitteeId, message: Vec<u8>) -> Result<(), NetworkError> {
        self.send(Command::Publish {
            subnet: committee_subnet(committee_id),
            data: message,
            reply: None,
        })
    }

    fn subscribe_committee(&self, committee_id: &CommitteeId) -> Result<(), NetworkError> {
        self.subscribe_subnet(committee_subnet(committee_id))
    }
}

/// A connected peer as the peer limit sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerCandidate {
    /// The peer.
    pub peer: PeerId,
    /// Whether its handshake listed a subnet of ours.
    pub shares_subnets: bool,
    /// Its gossipsub score.
    pub score: f64,
}

/// The order in which peers are dropped above the limit: first those sharing none of our
/// subnets (unneeded), then the rest, lowest gossipsub score first within each group.
pub fn trim_order(mut candidates: Vec<PeerCandidate>) -> Vec<PeerId> {
    candidates
        .sort_by(|a, b| a.shares_subnets.cmp(&b.shares_subnets).then(a.score.total_cmp(&b.score)));
    candidates.into_iter().map(|c| c.peer).collect()
}

/// The operators that decide instance `msg_id`, from the view.
pub fn instance_committee<V: NetworkView + ?Sized>(
    msg_id: &MessageId,
    view: &V,
) -> Option<Vec<OperatorId>> {
    match msg_id.role()? {
        RunnerRole::Committee => {
            view.committee(&CommitteeId(*msg_id.committee_id())).map(|c| c.operators.to_vec())
        }
        _ => view.validator(msg_id.duty_executor_id()).map(|v| v.committee.to_vec()),
    }
}

/// Fetches the decided messages this node missed for `instances`, up to height `current`,
/// from the connected peers; checks each ([`check_decided`]); stores the good ones; and
/// returns the highest decided height of every instance that has one. Starts at the height
/// after the highest stored, or `current - lookback` when none is stored.
///
/// The node restores its QBFT heights (and slashing history) from the result before it
/// signs anything.
///
/// # Errors
/// [`NetworkError::Stopped`]; a peer's failed request or bad message only moves on to the
/// next peer.
pub async fn sync_decided<V: NetworkView + Send + Sync>(
    handle: &P2pHandle,
    store: &dyn DecidedHistory,
    view: &RwLock<V>,
    instances: &[MessageId],
    current: Height,
    lookback: u64,
) -> Result<BTreeMap<MessageId, Height>, NetworkError> {
    let peers = handle.connected_peers().await?;
    let store_err = |e: super::history::HistoryError| NetworkError::History(e.to_string());
    let mut restored = BTreeMap::new();
    for msg_id in instances {
        let committee = match view.read() {
            Ok(v) => instance_committee(msg_id, &*v),
            Err(_) => None,
        };
        let Some(committee) = committee else { continue };
        for peer in &peers {
            let mut from = match store.highest_decided(msg_id).map_err(store_err)? {
                Some(h) => h.saturating_add(1),
                None => current.saturating_sub(lookback),
            };
            while from <= current {
                let request = HistoryRequest { msg_id: *msg_id, from, to: current };
                let Ok(response) = handle.fetch_history(*peer, request).await else { break };
                let full = response.len() >= MAX_RESPONSE_MESSAGES as usize;
                let mut seen = BTreeSet::new();
                let mut last = None;
                for bytes in &response {
                    let checked = match view.read() {
                        Ok(v) => check_decided(bytes, msg_id, from, current, &committee, &*v),
                        Err(_) => break,
                    };
                    let Ok((_, qbft)) = checked else {
                        tracing::debug!(%peer, "refused decided message from history");
                        continue;
                    };
                    if seen.insert(qbft.height) {
                        store.store_decided(msg_id, qbft.height, bytes).map_err(store_err)?;
                    }
                    last = last.max(Some(qbft.height));
                }
                match last {
                    Some(h) if full => from = h.saturating_add(1),
                    _ => break,
                }
            }
        }
        if let Some(h) = store.highest_decided(msg_id).map_err(store_err)? {
            restored.insert(*msg_id, h);
        }
    }
    Ok(restored)
}

#[cfg(test)]
mod tests {
    use super::{RECENT_IDS_MAX, RecentIds};
    use libp2p::gossipsub::MessageId;

    #[test]
    fn recent_ids_forget_the_oldest_beyond_the_bound() {
        let id = |i: usize| MessageId::new(&i.to_le_bytes());
        let mut ids = RecentIds::default();
        for i in 0..=RECENT_IDS_MAX {
            ids.insert(id(i));
        }
        ids.insert(id(5)); // already held: no second entry
        assert!(!ids.contains(&id(0)), "the oldest is evicted");
        assert!(ids.contains(&id(1)) && ids.contains(&id(RECENT_IDS_MAX)));
        assert_eq!((ids.order.len(), ids.set.len()), (RECENT_IDS_MAX, RECENT_IDS_MAX));
    }
}
