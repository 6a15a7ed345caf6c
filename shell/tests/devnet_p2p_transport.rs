//! The driver's `Transport` over libp2p, as `ssv-node run` starts it from its config: two
//! nodes on 127.0.0.1 over QUIC (the second finds the first through its static peer)
//! deliver each other's validated messages to the driver inbox, tagged with the subnet and
//! signer, and drop forged ones. Decided history is served from the node store, and the
//! validation view is built from the node store's operators and shares.

mod p2p_support;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use p2p_support::*;
use ssv_core::types::MessageId;
use ssv_core::validation::{NetworkView, StaticNetworkView};
use ssv_shell::config::Config;
use ssv_shell::devnet::chain::free_port;
use ssv_shell::node::network::Transport;
use ssv_shell::p2p::encode;
use ssv_shell::p2p::history::DecidedHistory;
use ssv_shell::p2p_transport::{NodeNetwork, StoreHistory, network_view, start};
use ssv_shell::store::{NodeStore, OperatorRecord, ShareRecord, ValidatorMetadata};

fn config(dir: &std::path::Path, static_peers: Vec<String>) -> (Config, u16) {
    let quic = free_port().unwrap();
    let mut c = Config { data_dir: dir.to_owned(), ..Config::default() };
    c.p2p.listen_ip = std::net::IpAddr::from([127, 0, 0, 1]);
    c.p2p.quic_port = quic;
    c.p2p.tcp_port = free_port().unwrap();
    c.p2p.static_peers = static_peers;
    (c, quic)
}

async fn node(dir: &std::path::Path, peers: Vec<String>) -> (NodeNetwork, u16) {
    let (c, quic) = config(dir, peers);
    let store = Arc::new(NodeStore::open(dir.join("node.redb"), "devnet").unwrap());
    let net = start(&c, validation_config(), view(), vec![subnet()], store).await.unwrap();
    (net, quic)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_exchange_validated_messages_through_the_transport() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let (mut a, a_quic) = node(dirs[0].path(), vec![]).await;
    assert!(
        a.listen_addrs.iter().any(|m| m.to_string().contains("quic-v1")),
        "{:?}",
        a.listen_addrs
    );
    let (mut b, _) =
        node(dirs[1].path(), vec![format!("/ip4/127.0.0.1/udp/{a_quic}/quic-v1")]).await;
    for _ in 0..200 {
        let meshed = a.handle().topic_peers(subnet()).await.unwrap() >= 1
            && b.handle().topic_peers(subnet()).await.unwrap() >= 1;
        if meshed && b.transport.peer_count() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(b.transport.peer_count(), 1, "b dialled its static peer");

    let prepare = signed_qbft(1, CURRENT_SLOT, 1, &[1], b"");
    a.transport.broadcast(subnet(), Arc::from(encode(&prepare))).unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), b.inbox.recv()).await.unwrap().unwrap();
    assert_eq!((got.from, got.topic), (1, subnet()));
    assert_eq!(&*got.data, encode(&prepare).as_slice());

    // A forged message (operator 2's signature under operator 3's id) never reaches the
    // inbox; the valid commit after it does.
    let mut forged = signed_qbft(1, CURRENT_SLOT, 1, &[3], b"");
    forged.signatures = signed_qbft(1, CURRENT_SLOT, 1, &[2], b"").signatures;
    b.transport.broadcast(subnet(), Arc::from(encode(&forged))).unwrap();
    let commit = signed_qbft(2, CURRENT_SLOT, 1, &[2], b"");
    b.transport.broadcast(subnet(), Arc::from(encode(&commit))).unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), a.inbox.recv()).await.unwrap().unwrap();
    assert_eq!(got.from, 2);
    assert_eq!(&*got.data, encode(&commit).as_slice());

    a.shutdown().await;
    b.shutdown().await;
}

#[test]
fn history_is_served_from_the_node_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(NodeStore::open(dir.path().join("node.redb"), "devnet").unwrap());
    let history = StoreHistory(Arc::clone(&store));
    let id: MessageId = msg_id();
    for h in [3u64, 5, 9] {
        history.store_decided(&id, h, &[h as u8]).unwrap();
    }
    assert_eq!(history.highest_decided(&id).unwrap(), Some(9));
    assert_eq!(history.decided_range(&id, 4, 9, 10).unwrap(), vec![(5, vec![5]), (9, vec![9])]);
    assert_eq!(history.decided_range(&id, 0, 9, 1).unwrap(), vec![(3, vec![3])]);
    // The same table the driver writes.
    assert_eq!(store.highest_decided(&id.0).unwrap(), Some(9));
}

#[test]
fn the_validation_view_comes_from_the_node_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = NodeStore::open(dir.path().join("node.redb"), "devnet").unwrap();
    let pk = [0xab; 48];
    store
        .write(|w| {
            for (i, k) in keys().iter().enumerate() {
                w.put_operator(&OperatorRecord {
                    id: i as u64 + 1,
                    owner: "0x11".into(),
                    public_key_base64: k.public_key().to_base64_pem(),
                })?;
            }
            w.put_share(
                &pk,
                &ShareRecord {
                    validator_pubkey: format!("0x{}", hex::encode(pk)),
                    share_pubkey: format!("0x{}", hex::encode([1u8; 48])),
                    committee: OPERATORS.iter().map(|id| (*id, "0x".to_string())).collect(),
                    owner: "0x11".into(),
                    fee_recipient: "0x".into(),
                    liquidated: false,
                    encrypted_secret: "0x".into(),
                },
            )?;
            w.put_validator_metadata(
                &pk,
                &ValidatorMetadata {
                    index: 10,
                    status: "active_ongoing".into(),
                    activation_epoch: 0,
                    exit_epoch: u64::MAX,
                },
            )
        })
        .unwrap();
    let v: StaticNetworkView = network_view(&store).unwrap();
    assert!(OPERATORS.iter().all(|id| v.operator_known(*id) && v.operator_key(*id).is_some()));
    let c = v.committee(&committee_id()).expect("the committee of the share");
    assert_eq!(c.operators, &OPERATORS[..]);
    let val = v.validator(&pk).expect("the share's validator");
    assert_eq!(val.index, 10);
    assert!(val.is_attesting(0));
    let _unused: Arc<RwLock<StaticNetworkView>> = Arc::new(RwLock::new(v));
}
