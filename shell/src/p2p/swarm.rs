//! The libp2p node: QUIC and TCP transports, gossipsub with validation, identify, and the
//! decided-history request-response protocol, driven by one tokio task.
//!
//! The task owns the swarm and the [`MessageValidator`]; every gossip message is validated
//! before gossipsub forwards it, the verdict is reported back (rejections lower the sender's
//! score) and accepted messages go to the [`Incoming`] queue. The node talks to the task
//! through a cloneable [`P2pHandle`], which implements [`Network`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt as _;
use libp2p::gossipsub::{self, MessageAcceptance, MessageAuthenticity};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, identify, noise, tcp, yamux};
use ssv_core::types::{CommitteeId, Height, MessageId, OperatorId, RunnerRole};
use ssv_core::validation::{
    MessageValidator, NetworkView, ValidationConfig, Verdict, check_decided, committee_subnet,
};
use tokio::sync::{mpsc, oneshot};

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
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    gossipsub: gossipsub::Behaviour,
    identify: identify::Behaviour,
    history: request_response::Behaviour<HistoryCodec>,
}

enum Command {
    Publish {
        subnet: u64,
        data: Vec<u8>,
        reply: Option<oneshot::Sender<Result<(), NetworkError>>>,
    },
    Subscribe(u64),
    Dial(Multiaddr),
    History {
        peer: PeerId,
        request: HistoryRequest,
        reply: oneshot::Sender<Result<HistoryResponse, NetworkError>>,
    },
    ConnectedPeers(oneshot::Sender<Vec<PeerId>>),
    TopicPeers(u64, oneshot::Sender<usize>),
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
                Ok(Behaviour { gossipsub, identify, history })
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
        let driver = Driver {
            swarm,
            validator: MessageValidator::new(config.validation),
            view,
            history,
            sender,
            pending: BTreeMap::new(),
        };
        let task = tokio::spawn(driver.run(rx));
        Ok(Self { handle: P2pHandle { tx, peer_id }, incoming, listen_addrs, task })
    }

    /// Stops the task and waits for it.
    pub async fn shutdown(self) {
        let _ = self.handle.tx.send(Command::Shutdown);
        let _ = self.task.await;
    }
}

fn subscribe(swarm: &mut Swarm<Behaviour>, subnet: u64) -> Result<(), NetworkError> {
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&gossip::subnet_topic(subnet))
        .map(|_| ())
        .map_err(|e| NetworkError::Subscribe(e.to_string()))
}

struct Driver<V> {
    swarm: Swarm<Behaviour>,
    validator: MessageValidator,
    view: Arc<RwLock<V>>,
    history: Arc<dyn DecidedHistory>,
    sender: IncomingSender,
    pending: BTreeMap<OutboundRequestId, oneshot::Sender<Result<HistoryResponse, NetworkError>>>,
}

impl<V: NetworkView + Send + Sync + 'static> Driver<V> {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    None | Some(Command::Shutdown) => break,
                    Some(cmd) => self.command(cmd),
                },
                event = self.swarm.select_next_some() => self.event(event),
            }
        }
        self.sender.close();
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Publish { subnet, data, reply } => {
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
            Command::Subscribe(subnet) => {
                if let Err(e) = subscribe(&mut self.swarm, subnet) {
                    tracing::warn!(subnet, error = %e, "subscribe failed");
                }
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
                let now = unix_millis_now();
                let peer = propagation_source.to_bytes();
                self.validator.handle_timeout(now);
                let verdict = match self.view.read() {
                    Ok(view) => self.validator.validate(
                        now,
                        &peer,
                        message.topic.as_str(),
                        &message.data,
                        &*view,
                    ),
                    Err(_) => return,
                };
                let acceptance = match &verdict {
                    Verdict::Accept(_) => MessageAcceptance::Accept,
                    Verdict::Ignore(_) => MessageAcceptance::Ignore,
                    Verdict::Reject(_) => MessageAcceptance::Reject,
                };
                if let Some(reason) = verdict.failure() {
                    tracing::debug!(peer = %propagation_source, %reason, "gossip message not accepted");
                }
                self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                    &message_id,
                    &propagation_source,
                    acceptance,
                );
                if let Verdict::Accept(m) = verdict {
                    self.sender.push(&peer, *m);
                }
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

    /// Peers known to be subscribed to `subnet`.
    ///
    /// # Errors
    /// [`NetworkError::Stopped`].
    pub async fn topic_peers(&self, subnet: u64) -> Result<usize, NetworkError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::TopicPeers(subnet, reply))?;
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
