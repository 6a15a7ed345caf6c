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

/// Regression: with anonymous messages, rust-libp2p took our own message coming back from a
/// peer for a forged "self-origin" message and counted an invalid message (P4) against that
/// peer; about twenty of them graylisted an honest peer. Now it is a duplicate.
///
/// A and C share the committee subnet; B is connected to A only and not subscribed, so A's
/// publications never reach B. A publishes 21 messages; B then publishes the identical
/// bytes of each, so A receives messages whose ids it published, from B. Then B publishes
/// a fresh message: A must receive it, and B's score at A must not be negative.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_own_message_relayed_back_does_not_penalise_the_relaying_peer() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let listen = "/ip4/127.0.0.1/udp/0/quic-v1";
        let history = || Arc::new(InMemoryDecidedHistory::new());
        let a = spawn(listen, vec![], history()).await;
        let c = spawn(listen, a.listen_addrs.clone(), history()).await;
        let mut off_subnet = config();
        off_subnet.subnets.clear();
        let b = spawn_with(off_subnet, listen, a.listen_addrs.clone(), history()).await;
        // A sees C on the subnet, C sees A, B sees A (B publishes without joining).
        let mut nodes = vec![a, b, c];
        wait_for_topic_peers(&nodes, 1).await;
        let [a, b, _] = &mut nodes[..] else { unreachable!() };

        // One more than the invalid messages that graylist a peer (P4 grows with the square).
        let n = ssv_shell::p2p::gossip::MAX_INVALID_MESSAGES_ALLOWED as u64 + 1;
        for k in 0..n {
            let m = encode(&signed_qbft(1, CURRENT_SLOT, 1, &[1], &k.to_le_bytes()));
            a.handle.publish(subnet(), m.clone()).await.unwrap();
            b.handle.publish(subnet(), m).await.unwrap();
        }
        // On the same connection, after the echoes.
        let fresh = signed_qbft(1, CURRENT_SLOT, 1, &[2], b"");
        b.handle.publish(subnet(), encode(&fresh)).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), a.incoming.recv()).await;
        let score = a.handle.peer_score(b.handle.peer_id()).await.unwrap();
        assert!(score.is_some_and(|s| s >= 0.0), "B's score at A: {score:?}");
        let got = got.expect("A stopped receiving B's messages").unwrap();
        assert_eq!(got.signed, fresh);

        for node in nodes {
            node.shutdown().await;
        }
    })
    .await
    .unwrap();
}
