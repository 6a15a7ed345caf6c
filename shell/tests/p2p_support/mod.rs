//! Shared fixtures of the p2p integration tests: four operators with RSA keys, one
//! committee, a beacon clock whose current slot is [`CURRENT_SLOT`], and message builders.

#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use ssv_core::crypto::rsa::OperatorPrivateKey;
use ssv_core::types::ssz::Encode as _;
use ssv_core::types::ssz_types::VariableList;
use ssv_core::types::{
    CommitteeId, DomainType, MessageId, QbftMessage, RunnerRole, SignedSsvMessage, SsvMessage,
};
use ssv_core::validation::{StaticNetworkView, ValidationConfig, committee_subnet};
use ssv_shell::p2p::history::DecidedHistory;
use ssv_shell::p2p::swarm::{P2pConfig, P2pNode};
use ssv_shell::p2p::{QueueLimits, unix_millis_now};

pub const DOMAIN: DomainType = DomainType::JATO_TESTNET;
pub const CURRENT_SLOT: u64 = 100;
pub const OPERATORS: [u64; 4] = [1, 2, 3, 4];

pub fn keys() -> &'static [OperatorPrivateKey] {
    static KEYS: OnceLock<Vec<OperatorPrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| (0..4).map(|_| OperatorPrivateKey::generate().unwrap()).collect())
}

/// Genesis such that now is 1 s into [`CURRENT_SLOT`].
pub fn validation_config() -> ValidationConfig {
    static GENESIS: OnceLock<u64> = OnceLock::new();
    let genesis = *GENESIS.get_or_init(|| unix_millis_now() - CURRENT_SLOT * 12_000 - 1_000);
    ValidationConfig::mainnet(DOMAIN, genesis)
}

pub fn view() -> Arc<RwLock<StaticNetworkView>> {
    let mut v = StaticNetworkView::new();
    for (i, id) in OPERATORS.iter().enumerate() {
        v.add_operator(*id, Some(keys()[i].public_key().clone()));
    }
    v.add_committee(&OPERATORS, &[10, 11]);
    Arc::new(RwLock::new(v))
}

pub fn committee_id() -> CommitteeId {
    CommitteeId::from_operators(&OPERATORS)
}

pub fn subnet() -> u64 {
    committee_subnet(&committee_id())
}

pub fn msg_id() -> MessageId {
    MessageId::for_committee(DOMAIN, RunnerRole::Committee, &committee_id().0)
}

/// A QBFT message of the committee instance, signed by `signers` (1-based operator ids).
pub fn signed_qbft(
    msg_type: u64,
    height: u64,
    round: u64,
    signers: &[u64],
    full: &[u8],
) -> SignedSsvMessage {
    let root: [u8; 32] = if full.is_empty() { [1; 32] } else { Sha256::digest(full).into() };
    let q = QbftMessage {
        msg_type,
        height,
        round,
        identifier: VariableList::new(msg_id().0.to_vec()).unwrap(),
        root,
        data_round: 0,
        round_change_justification: VariableList::empty(),
        prepare_justification: VariableList::empty(),
    };
    let ssv = SsvMessage {
        msg_type: 0,
        msg_id: msg_id(),
        data: VariableList::new(q.as_ssz_bytes()).unwrap(),
    };
    let bytes = ssv.as_ssz_bytes();
    let sigs = signers
        .iter()
        .map(|s| {
            VariableList::new(keys()[(*s - 1) as usize].sign(&bytes).unwrap().to_vec()).unwrap()
        })
        .collect();
    SignedSsvMessage {
        signatures: VariableList::new(sigs).unwrap(),
        operator_ids: VariableList::new(signers.to_vec()).unwrap(),
        ssv_message: ssv,
        full_data: VariableList::new(full.to_vec()).unwrap(),
    }
}

/// A decided (quorum-signed commit) message at `height`.
pub fn decided(height: u64) -> SignedSsvMessage {
    signed_qbft(2, height, 1, &[1, 2, 3], b"")
}

pub async fn spawn(
    listen: &str,
    peers: Vec<libp2p::Multiaddr>,
    history: Arc<dyn DecidedHistory>,
) -> P2pNode {
    spawn_with(config(), listen, peers, history).await
}

/// [`spawn`] from `config` (e.g. [`config`] with other subnets).
pub async fn spawn_with(
    mut config: P2pConfig,
    listen: &str,
    peers: Vec<libp2p::Multiaddr>,
    history: Arc<dyn DecidedHistory>,
) -> P2pNode {
    config.listen = vec![listen.parse().unwrap()];
    config.static_peers = peers;
    P2pNode::spawn(config, view(), history).await.unwrap()
}

/// A fresh identity on [`DOMAIN`] joined to the committee subnet.
pub fn config() -> P2pConfig {
    let mut config =
        P2pConfig::new(libp2p::identity::Keypair::generate_secp256k1(), validation_config());
    config.subnets = vec![subnet()];
    config.queue = QueueLimits::default();
    config
}

/// Waits up to `secs` for `check` to hold.
pub async fn eventually<F, Fut>(secs: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Waits until every node sees at least `n` peers on the committee subnet.
pub async fn wait_for_topic_peers(nodes: &[P2pNode], n: usize) {
    for node in nodes {
        for _ in 0..200 {
            if node.handle.topic_peers(subnet()).await.unwrap() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(node.handle.topic_peers(subnet()).await.unwrap() >= n, "mesh did not form");
    }
}
