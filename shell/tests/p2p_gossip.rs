//! Swarms on 127.0.0.1 exchange SSV messages over QUIC and over TCP; invalid messages are
//! not delivered.

mod p2p_support;

use std::sync::Arc;
use std::time::Duration;

use p2p_support::*;
use ssv_core::validation::MessageBody;
use ssv_shell::p2p::history::InMemoryDecidedHistory;
use ssv_shell::p2p::{Network, encode};

async fn exchange(listen: &str, n: usize) {
    let mut nodes = Vec::new();
    for _ in 0..n {
        let peers = nodes
            .iter()
            .flat_map(|p: &ssv_shell::p2p::swarm::P2pNode| p.listen_addrs.clone())
            .collect();
        nodes.push(spawn(listen, peers, Arc::new(InMemoryDecidedHistory::new())).await);
    }
    wait_for_topic_peers(&nodes, n - 1).await;

    // Node 0 broadcasts operator 1's prepare; everyone else receives it validated.
    let prepare = signed_qbft(1, CURRENT_SLOT, 1, &[1], b"");
    nodes[0].handle.broadcast(&committee_id(), encode(&prepare)).unwrap();
    for node in nodes.iter_mut().skip(1) {
        let got = tokio::time::timeout(Duration::from_secs(10), node.incoming.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.signed, prepare);
        assert!(matches!(got.body, MessageBody::Consensus(ref q) if q.height == CURRENT_SLOT));
        assert_eq!(got.committee_id, committee_id());
    }

    // Node 1 sends a forged message (operator 2's signature under operator 3's id), then a
    // valid one: node 0 receives only the valid one.
    let mut forged = signed_qbft(1, CURRENT_SLOT, 1, &[3], b"");
    forged.signatures = signed_qbft(1, CURRENT_SLOT, 1, &[2], b"").signatures;
    nodes[1].handle.publish(subnet(), encode(&forged)).await.unwrap();
    let commit = signed_qbft(2, CURRENT_SLOT, 1, &[2], b"");
    nodes[1].handle.publish(subnet(), encode(&commit)).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), nodes[0].incoming.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.signed, commit);

    for node in nodes {
        node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_nodes_over_quic() {
    tokio::time::timeout(Duration::from_secs(60), exchange("/ip4/127.0.0.1/udp/0/quic-v1", 4))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_over_tcp() {
    tokio::time::timeout(Duration::from_secs(60), exchange("/ip4/127.0.0.1/tcp/0", 3))
        .await
        .unwrap();
}
