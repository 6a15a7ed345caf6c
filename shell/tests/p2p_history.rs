//! Decided-history sync: a node that missed ten slots restores its heights from a peer, and
//! refuses forged decided messages; a restarted node restores its heights and slashing
//! history from a peer before its driver runs, and proceeds when it has no peer; a node
//! back from a cut-off restores again and hands the heights to its running driver.

mod p2p_support;

use std::sync::Arc;
use std::time::Duration;

use p2p_support::*;
use ssv_core::beacon::{Checkpoint, DataVersion};
use ssv_core::runner::BeaconNetwork;
use ssv_core::types::BeaconVote;
use ssv_core::types::ssz::Encode as _;
use ssv_shell::p2p::encode;
use ssv_shell::p2p::history::{DecidedHistory, InMemoryDecidedHistory};
use ssv_shell::p2p::restore::{RestoreLimits, restored_attestation};
use ssv_shell::p2p::swarm::sync_decided;
use ssv_shell::p2p_transport::{CutOffDetector, NodeNetwork, RestoreContext, StoreHistory};
use ssv_shell::slashing_protection::SlashingDatabase;
use ssv_shell::store::{NodeStore, OperatorRecord, ShareRecord};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_that_missed_ten_slots_restores_its_heights_from_peers() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let id = msg_id();
        // The peer decided slots 80..=99; a forged decided message (signatures swapped)
        // claims slot 100.
        let peer_store = Arc::new(InMemoryDecidedHistory::new());
        for h in 80..100 {
            peer_store.store_decided(&id, h, &encode(&decided(h))).unwrap();
        }
        let mut forged = decided(100);
        forged.signatures.swap(0, 1);
        peer_store.store_decided(&id, 100, &encode(&forged)).unwrap();

        // Our node decided 80..=89 and then was offline for ten slots.
        let our_store = Arc::new(InMemoryDecidedHistory::new());
        for h in 80..90 {
            our_store.store_decided(&id, h, &encode(&decided(h))).unwrap();
        }

        let peer = spawn("/ip4/127.0.0.1/udp/0/quic-v1", vec![], peer_store.clone()).await;
        let ours =
            spawn("/ip4/127.0.0.1/udp/0/quic-v1", peer.listen_addrs.clone(), our_store.clone())
                .await;
        for _ in 0..100 {
            if !ours.handle.connected_peers().await.unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let view = view();
        let restored =
            sync_decided(&ours.handle, our_store.as_ref(), &view, &[id], CURRENT_SLOT, 64)
                .await
                .unwrap();
        assert_eq!(restored.get(&id), Some(&99));
        assert_eq!(our_store.len(), 20);
        for h in 90..100 {
            let got = our_store.decided_range(&id, h, h, 1).unwrap();
            assert_eq!(got, vec![(h, encode(&decided(h)))]);
        }
        assert!(our_store.decided_range(&id, 100, 100, 1).unwrap().is_empty());

        ours.shutdown().await;
        peer.shutdown().await;
    })
    .await
    .unwrap();
}

/// The vote decided at `slot`: head `[slot; 32]`, target the slot's epoch, source the one
/// before (mainnet: 32 slots per epoch).
fn vote(slot: u64) -> BeaconVote {
    let epoch = slot / 32;
    BeaconVote {
        block_root: [slot as u8; 32],
        source: Checkpoint { epoch: epoch - 1, root: [0xa0; 32] },
        target: Checkpoint { epoch, root: [0xb0; 32] },
    }
}

/// A quorum-signed commit at `slot` carrying the committee vote as its full data.
fn decided_vote(slot: u64) -> Vec<u8> {
    encode(&signed_qbft(2, slot, 1, &[1, 2, 3], &vote(slot).as_ssz_bytes()))
}

/// Mainnet timing on the clock of [`validation_config`] (now is in slot 100, epoch 3),
/// Electra from genesis.
fn beacon_network() -> BeaconNetwork {
    BeaconNetwork {
        slots_per_epoch: 32,
        slot_ms: 12_000,
        genesis_ms: validation_config().genesis_time_ms,
        genesis_validators_root: [7; 32],
        fork_versions: vec![(0, [0x10, 0, 0, 0])],
        data_versions: vec![(0, DataVersion::Electra)],
        sync_subcommittee_size: 128,
    }
}

const SHARE_KEYS: [[u8; 48]; 2] = [[0x51; 48], [0x52; 48]];

/// Our node's store: the four operators and two shares of the committee.
/// Our node's store and slashing database, and the peer's store, in two temporary folders
/// (`dirs` keeps them alive).
struct Stores {
    dirs: [tempfile::TempDir; 2],
    ours_store: Arc<NodeStore>,
    slashing: Arc<SlashingDatabase>,
    peer_store: Arc<NodeStore>,
}

fn stores() -> Stores {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let ours_store = our_store(dirs[0].path());
    let slashing =
        Arc::new(SlashingDatabase::open(dirs[0].path().join("slashing.redb"), [7; 32]).unwrap());
    let peer_store = Arc::new(NodeStore::open(dirs[1].path().join("node.redb"), "devnet").unwrap());
    Stores { dirs, ours_store, slashing, peer_store }
}

fn our_store(dir: &std::path::Path) -> Arc<NodeStore> {
    let store = Arc::new(NodeStore::open(dir.join("node.redb"), "devnet").unwrap());
    store
        .write(|w| {
            for (i, k) in keys().iter().enumerate() {
                w.put_operator(&OperatorRecord {
                    id: i as u64 + 1,
                    owner: "0x11".into(),
                    public_key_base64: k.public_key().to_base64_pem(),
                })?;
            }
            for (i, share) in SHARE_KEYS.iter().enumerate() {
                let pk = [i as u8 + 1; 48];
                w.put_share(
                    &pk,
                    &ShareRecord {
                        validator_pubkey: format!("0x{}", hex::encode(pk)),
                        share_pubkey: format!("0x{}", hex::encode(share)),
                        committee: OPERATORS.iter().map(|id| (*id, "0x".to_string())).collect(),
                        owner: "0x11".into(),
                        fee_recipient: "0x".into(),
                        liquidated: false,
                        encrypted_secret: "0x".into(),
                    },
                )?;
            }
            Ok(())
        })
        .unwrap();
    store
}

fn restore_context(store: &Arc<NodeStore>, slashing: &Arc<SlashingDatabase>) -> RestoreContext {
    RestoreContext {
        store: Arc::clone(store),
        slashing: Arc::clone(slashing),
        network: Arc::new(beacon_network()),
        domain: DOMAIN,
        view: view(),
        limits: RestoreLimits::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_restores_heights_and_slashing_history_before_it_signs() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let id = msg_id();
        let Stores { dirs: _dirs, ours_store, slashing, peer_store } = stores();
        let peer = spawn(
            "/ip4/127.0.0.1/udp/0/quic-v1",
            vec![],
            Arc::new(StoreHistory(Arc::clone(&peer_store))),
        )
        .await;

        // Our node decided slots 80..=89 with the committee, then stopped.
        for h in 80..90 {
            ours_store.save_decided(&id.0, h, &decided_vote(h)).unwrap();
            peer_store.save_decided(&id.0, h, &decided_vote(h)).unwrap();
        }
        let ours = NodeNetwork::new(
            spawn(
                "/ip4/127.0.0.1/udp/0/quic-v1",
                vec![],
                Arc::new(StoreHistory(Arc::clone(&ours_store))),
            )
            .await,
            vec![],
        );
        ours.shutdown().await;
        // The committee went on for ten slots without us.
        for h in 90..100 {
            peer_store.save_decided(&id.0, h, &decided_vote(h)).unwrap();
        }

        // Restart: the node reaches its peer and restores before any driver exists.
        let ours = NodeNetwork::new(
            spawn(
                "/ip4/127.0.0.1/udp/0/quic-v1",
                peer.listen_addrs.clone(),
                Arc::new(StoreHistory(Arc::clone(&ours_store))),
            )
            .await,
            peer.listen_addrs.clone(),
        );
        let report = ours.restore(&restore_context(&ours_store, &slashing)).await.unwrap();
        assert_eq!(report.peers, 1);
        assert!(!report.timed_out);
        assert_eq!(report.heights.get(&id), Some(&99));
        assert_eq!(report.fetched, 10);

        // The driver reads these heights and starts no instance at or below 99: its first
        // new instance is slot 100 (the current slot).
        assert_eq!(ours_store.all_highest_decided().unwrap().get(&id.0), Some(&99));
        for h in 90..100 {
            assert_eq!(ours_store.decided(&id.0, h).unwrap(), Some(decided_vote(h)));
        }

        // Slashing history: epoch 2 (slots 64..=95) is over, so its vote is recorded for
        // both shares (the first restored slot, 90); the current epoch 3 is left to the
        // restored heights.
        assert_eq!(report.slashing_records, 2);
        let net = beacon_network();
        let root = |slot: u64| restored_attestation(&net, slot, &vote(slot)).unwrap().signing_root;
        for pk in &SHARE_KEYS {
            assert!(
                slashing.is_attestation_slashable(pk, 1, 2, Some(root(90))).unwrap().is_none(),
                "the restored attestation itself"
            );
            assert!(
                slashing.is_attestation_slashable(pk, 1, 2, Some(root(93))).unwrap().is_some(),
                "another vote with target epoch 2 is a double vote"
            );
            assert!(
                slashing.is_attestation_slashable(pk, 0, 3, Some(root(97))).unwrap().is_some(),
                "a vote surrounding the restored one is refused"
            );
            assert!(slashing.is_attestation_slashable(pk, 2, 3, Some(root(97))).unwrap().is_none());
        }

        ours.shutdown().await;
        peer.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_peers_the_node_proceeds_after_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let store = our_store(dir.path());
    store.save_decided(&msg_id().0, 42, &decided_vote(42)).unwrap();
    let slashing =
        Arc::new(SlashingDatabase::open(dir.path().join("slashing.redb"), [7; 32]).unwrap());
    let ours = NodeNetwork::new(
        spawn("/ip4/127.0.0.1/udp/0/quic-v1", vec![], Arc::new(StoreHistory(Arc::clone(&store))))
            .await,
        vec![],
    );
    let mut ctx = restore_context(&store, &slashing);
    ctx.limits.peer_wait = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let report = ours.restore(&ctx).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(report.peers, 0);
    assert_eq!(report.fetched, 0);
    assert_eq!(report.heights.get(&msg_id()), Some(&42), "the stored height stands");
    ours.shutdown().await;
}

/// A node cut off from its only peer (no peers for longer than the detector allows) gets
/// it back, restores what the committee decided meanwhile, and hands the restored heights
/// to the running driver (here a channel standing in for `DriverHandle::restored_heights`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_after_a_cut_off_hands_the_restored_heights_over() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let id = msg_id();
        let Stores { dirs: _dirs, ours_store, slashing, peer_store } = stores();
        for h in 80..90 {
            ours_store.save_decided(&id.0, h, &decided_vote(h)).unwrap();
        }
        for h in 80..100 {
            peer_store.save_decided(&id.0, h, &decided_vote(h)).unwrap();
        }
        // The peer's address, down for now.
        let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let peer_listen = format!("/ip4/127.0.0.1/udp/{port}/quic-v1");
        let peer_addr: libp2p::Multiaddr = peer_listen.parse().unwrap();

        let mut ours = NodeNetwork::new(
            spawn(
                "/ip4/127.0.0.1/udp/0/quic-v1",
                vec![peer_addr.clone()],
                Arc::new(StoreHistory(Arc::clone(&ours_store))),
            )
            .await,
            vec![peer_addr],
        );
        let (tx, mut restored) = tokio::sync::mpsc::unbounded_channel();
        ours.watch_cut_off(
            restore_context(&ours_store, &slashing),
            CutOffDetector::new(500, 3_600_000),
            move |r| {
                let _ = tx.send(r.heights.clone());
            },
        );
        // Cut off: no peer for longer than 500 ms (checked every second).
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(restored.try_recv().is_err(), "no restore while cut off");

        // The peer comes back; the node redials it and restores.
        let peer =
            spawn(&peer_listen, vec![], Arc::new(StoreHistory(Arc::clone(&peer_store)))).await;
        let heights = tokio::time::timeout(Duration::from_secs(20), restored.recv())
            .await
            .expect("no restore after the peer came back")
            .unwrap();
        assert_eq!(heights.get(&id), Some(&99));
        assert_eq!(ours_store.all_highest_decided().unwrap().get(&id.0), Some(&99));

        ours.shutdown().await;
        peer.shutdown().await;
    })
    .await
    .unwrap();
}
