//! Decided-history sync: a node that missed ten slots restores its heights from a peer, and
//! refuses forged decided messages.

mod p2p_support;

use std::sync::Arc;
use std::time::Duration;

use p2p_support::*;
use ssv_shell::p2p::encode;
use ssv_shell::p2p::history::{DecidedHistory, InMemoryDecidedHistory};
use ssv_shell::p2p::swarm::sync_decided;

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
