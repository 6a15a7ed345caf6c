//! Peers: the `/ssv/info/0.0.1` handshake (same network: node info exchanged; another
//! network: disconnected), graylisting of a peer that sends invalid messages, and discv5
//! discovery through one bootnode; an inbound peer that never handshakes is closed, peers
//! above the limit are trimmed, and the ENR `subnets` follow the subnets joined.

mod p2p_support;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use p2p_support::*;
use ssv_core::types::DomainType;
use ssv_shell::p2p::discovery::{Bootnode, DiscoveryConfig, Subnets, free_udp_port};
use ssv_shell::p2p::encode;
use ssv_shell::p2p::handshake::network_id;
use ssv_shell::p2p::history::InMemoryDecidedHistory;
use ssv_shell::p2p::swarm::P2pNode;

const QUIC: &str = "/ip4/127.0.0.1/udp/0/quic-v1";

async fn node(config: ssv_shell::p2p::swarm::P2pConfig) -> P2pNode {
    P2pNode::spawn(config, view(), Arc::new(InMemoryDecidedHistory::new())).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_network_peers_exchange_node_info() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let a = spawn(QUIC, vec![], Arc::new(InMemoryDecidedHistory::new())).await;
        let b = spawn(QUIC, a.listen_addrs.clone(), Arc::new(InMemoryDecidedHistory::new())).await;
        let (pa, pb) = (a.handle.peer_id(), b.handle.peer_id());
        // The dialer (b) learns a's record from the response, a learns b's from the request.
        assert!(eventually(10, || async { b.handle.node_info(pa).await.unwrap().is_some() }).await);
        assert!(eventually(10, || async { a.handle.node_info(pb).await.unwrap().is_some() }).await);
        let info = b.handle.node_info(pa).await.unwrap().unwrap();
        assert_eq!(info.network_id, network_id(DOMAIN));
        assert_eq!(info.network_id, "0x00000301");
        let meta = info.metadata.unwrap();
        assert_eq!(meta.subnets, Subnets::from_list(&[subnet()]).to_hex());
        assert!(meta.node_version.starts_with("ssv-rs/"));
        assert!(a.handle.connected_peers().await.unwrap().contains(&pb));
        a.shutdown().await;
        b.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_of_another_network_is_disconnected() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let a = spawn(QUIC, vec![], Arc::new(InMemoryDecidedHistory::new())).await;
        // b is on mainnet (domain 00000001) and dials a.
        let mut config = config();
        config.validation.domain = DomainType([0, 0, 0, 1]);
        config.listen = vec![QUIC.parse().unwrap()];
        config.static_peers = a.listen_addrs.clone();
        let b = node(config).await;
        let (pa, pb) = (a.handle.peer_id(), b.handle.peer_id());
        // Both sides refuse the other: no connection remains and no record is kept.
        let apart = eventually(10, || async {
            !a.handle.connected_peers().await.unwrap().contains(&pb)
                && !b.handle.connected_peers().await.unwrap().contains(&pa)
        })
        .await;
        assert!(apart, "a peer of another network stayed connected");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(a.handle.node_info(pb).await.unwrap().is_none());
        assert!(b.handle.node_info(pa).await.unwrap().is_none());
        a.shutdown().await;
        b.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_sending_invalid_messages_is_graylisted() {
    tokio::time::timeout(Duration::from_secs(90), async {
        let a = spawn(QUIC, vec![], Arc::new(InMemoryDecidedHistory::new())).await;
        let b = spawn(QUIC, a.listen_addrs.clone(), Arc::new(InMemoryDecidedHistory::new())).await;
        let mut nodes = vec![a, b];
        wait_for_topic_peers(&nodes, 1).await;
        let b = nodes.pop().unwrap();
        let mut a = nodes.pop().unwrap();

        // Before: b's valid message reaches a.
        let prepare = signed_qbft(1, CURRENT_SLOT, 1, &[1], b"");
        b.handle.publish(subnet(), encode(&prepare)).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), a.incoming.recv()).await;
        assert_eq!(got.unwrap().unwrap().signed, prepare);

        // b sends 25 distinct messages with bad signatures (operator 2's signature under
        // operator 3's id, one byte changed each): more than the 20 that take a peer's score
        // to the graylist threshold (-16000).
        let mut forged = signed_qbft(1, CURRENT_SLOT, 1, &[3], b"");
        forged.signatures = signed_qbft(1, CURRENT_SLOT, 1, &[2], b"").signatures;
        for i in 0..25 {
            let mut f = forged.clone();
            f.signatures[0][i] ^= 0x5a;
            b.handle.publish(subnet(), encode(&f)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;

        // After: a ignores b's RPCs, so b's next valid message does not arrive.
        let commit = signed_qbft(2, CURRENT_SLOT, 1, &[2], b"");
        let _ = b.handle.publish(subnet(), encode(&commit)).await;
        let got = tokio::time::timeout(Duration::from_secs(3), a.incoming.recv()).await;
        assert!(got.is_err(), "a graylisted peer's message was delivered: {got:?}");
        a.shutdown().await;
        b.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_find_each_other_through_a_bootnode() {
    tokio::time::timeout(Duration::from_secs(90), async {
        let local = Ipv4Addr::LOCALHOST;
        let boot_port = free_udp_port(local).unwrap();
        let bootnode = Bootnode::spawn(SocketAddr::from((local, boot_port)), local).await.unwrap();
        let boot_enr = bootnode.enr.to_base64();
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let mut config = config();
            config.listen = vec![QUIC.parse().unwrap()];
            let port = free_udp_port(local).unwrap();
            config.discovery = Some(DiscoveryConfig {
                listen: SocketAddr::from((local, port)),
                advertise_ip: local,
                bootnodes: vec![boot_enr.clone()],
                domain: DOMAIN,
                subnets: Subnets::from_list(&[subnet()]),
                interval: Duration::from_millis(500),
            });
            nodes.push(node(config).await);
        }
        // No static peers: every connection comes from discovery.
        for node in &nodes {
            assert!(node.discovery.as_ref().unwrap().enr_text().starts_with("enr:-"));
            let others: Vec<_> = nodes
                .iter()
                .map(|n| n.handle.peer_id())
                .filter(|p| *p != node.handle.peer_id())
                .collect();
            let found = eventually(60, || async {
                let connected = node.handle.connected_peers().await.unwrap();
                others.iter().all(|p| connected.contains(p))
            })
            .await;
            assert!(found, "a node did not connect to both others");
        }
        // And the connections are usable: a message from node 0 reaches the others.
        wait_for_topic_peers(&nodes, 2).await;
        let prepare = signed_qbft(1, CURRENT_SLOT, 1, &[1], b"");
        nodes[0].handle.publish(subnet(), encode(&prepare)).await.unwrap();
        for node in nodes.iter_mut().skip(1) {
            let got = tokio::time::timeout(Duration::from_secs(10), node.incoming.recv()).await;
            assert_eq!(got.unwrap().unwrap().signed, prepare);
        }
        for node in nodes {
            node.shutdown().await;
        }
        drop(bootnode);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_bootnodes_means_no_discovery() {
    let mut config = config();
    config.listen = vec![QUIC.parse().unwrap()];
    config.discovery = Some(DiscoveryConfig {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        advertise_ip: Ipv4Addr::LOCALHOST,
        bootnodes: vec![],
        domain: DOMAIN,
        subnets: Subnets::from_list(&[subnet()]),
        interval: Duration::from_secs(1),
    });
    let n = node(config).await;
    assert!(n.discovery.is_none());
    n.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_peer_that_never_handshakes_is_disconnected() {
    use futures::StreamExt as _;
    use libp2p::swarm::{SwarmEvent, dummy};
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut config = config();
        config.listen = vec![QUIC.parse().unwrap()];
        config.handshake_deadline = Duration::from_millis(1_500);
        let a = node(config).await;
        // A bare libp2p host that keeps its connection open and speaks no /ssv/info.
        let mut silent = libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_quic()
            .with_behaviour(|_| dummy::Behaviour)
            .unwrap()
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        let silent_id = *silent.local_peer_id();
        silent.dial(a.listen_addrs[0].clone()).unwrap();
        let closed = async {
            let mut established = false;
            loop {
                match silent.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { .. } => established = true,
                    SwarmEvent::ConnectionClosed { .. } if established => {
                        return established;
                    }
                    _ => {}
                }
            }
        };
        let started = std::time::Instant::now();
        assert!(tokio::time::timeout(Duration::from_secs(20), closed).await.unwrap());
        assert!(started.elapsed() >= Duration::from_millis(1_000), "closed at the deadline");
        assert!(!a.handle.connected_peers().await.unwrap().contains(&silent_id));
        a.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_above_the_limit_are_trimmed() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut config = config();
        config.listen = vec![QUIC.parse().unwrap()];
        config.max_peers = 1;
        let a = node(config).await;
        let b = spawn(QUIC, a.listen_addrs.clone(), Arc::new(InMemoryDecidedHistory::new())).await;
        let c = spawn(QUIC, a.listen_addrs.clone(), Arc::new(InMemoryDecidedHistory::new())).await;
        let pa = a.handle.peer_id();
        assert!(
            eventually(10, || async {
                b.handle.connected_peers().await.unwrap().contains(&pa)
                    || c.handle.connected_peers().await.unwrap().contains(&pa)
            })
            .await
        );
        // Both dial a; a keeps one.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            eventually(10, || async { a.handle.connected_peers().await.unwrap().len() == 1 }).await
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(a.handle.connected_peers().await.unwrap().len(), 1);
        for n in [a, b, c] {
            n.shutdown().await;
        }
    })
    .await
    .unwrap();
}

#[test]
fn unneeded_and_low_scored_peers_are_trimmed_first() {
    use ssv_shell::p2p::swarm::{PeerCandidate, trim_order};
    let ids: Vec<libp2p::PeerId> = (0..4).map(|_| libp2p::PeerId::random()).collect();
    let c = |i: usize, shares_subnets: bool, score: f64| PeerCandidate {
        peer: ids[i],
        shares_subnets,
        score,
    };
    let order =
        trim_order(vec![c(0, true, -5.0), c(1, false, 10.0), c(2, true, 3.0), c(3, false, -1.0)]);
    assert_eq!(order, vec![ids[3], ids[1], ids[0], ids[2]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_enr_subnets_follow_the_subnets_joined() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let local = Ipv4Addr::LOCALHOST;
        let boot_port = free_udp_port(local).unwrap();
        let bootnode = Bootnode::spawn(SocketAddr::from((local, boot_port)), local).await.unwrap();
        let mut config = config();
        config.listen = vec![QUIC.parse().unwrap()];
        config.discovery = Some(DiscoveryConfig {
            listen: SocketAddr::from((local, free_udp_port(local).unwrap())),
            advertise_ip: local,
            bootnodes: vec![bootnode.enr.to_base64()],
            domain: DOMAIN,
            subnets: Subnets::from_list(&[subnet()]),
            interval: Duration::from_secs(30),
        });
        let n = node(config).await;
        let d = n.discovery.as_ref().unwrap();
        let seq = d.enr().seq();
        let subnets = |enr| ssv_shell::p2p::discovery::subnets(&enr).unwrap();
        assert_eq!(subnets(d.enr()), Subnets::from_list(&[subnet()]));
        let other = (subnet() + 1) % 128;
        n.handle.subscribe_subnet(other).unwrap();
        assert!(
            eventually(10, || async { subnets(d.enr()) == Subnets::from_list(&[subnet(), other]) })
                .await
        );
        assert!(d.enr().seq() > seq);
        n.handle.unsubscribe_subnet(subnet()).unwrap();
        assert!(
            eventually(10, || async { subnets(d.enr()) == Subnets::from_list(&[other]) }).await
        );
        n.shutdown().await;
        drop(bootnode);
    })
    .await
    .unwrap();
}
