//! `ssv-node run` in process against the beacon-chain simulator over HTTP: start-up,
//! `/health`, `/ready`, `/metrics`, graceful shutdown, and a beacon node on another
//! network refused.

use std::net::SocketAddr;
use std::time::Duration;

use ssv_shell::config::{Config, NetworkName};
use ssv_shell::keys::{Pbkdf2Params, keygen};
use ssv_shell::node::{self, BeaconCheckError, NodeError};
use ssv_simulator::chain::{Chain, ChainConfig};
use ssv_simulator::server::{ServerOptions, spawn};

async fn simulator() -> ssv_simulator::server::RunningServer {
    let config =
        ChainConfig { slot_duration_ms: 2000, slots_per_epoch: 8, ..ChainConfig::default() };
    let chain = Chain::from_seed(config, 8).unwrap();
    spawn(SocketAddr::from(([127, 0, 0, 1], 0)), chain, ServerOptions::default()).await.unwrap()
}

fn config(dir: &std::path::Path, beacon: String) -> Config {
    let key = dir.join("op.pem");
    keygen(&key, None, Pbkdf2Params::STANDARD).unwrap();
    let mut c =
        Config { data_dir: dir.join("data"), beacon_nodes: vec![beacon], ..Config::default() };
    c.operator_key.path = key;
    c.metrics.listen = free_port();
    c
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_serves_health_ready_metrics_and_stops_on_signal() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), sim.url());
    let base = format!("http://{}", c.metrics.listen);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let node = tokio::spawn(node::run(c.clone(), async move {
        let _ = stopped.await;
    }));
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(format!("{base}/ready")).await
            && r.status() == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "node became ready");
    assert_eq!(get(&format!("{base}/health")).await.0, 200);
    let (status, text) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    for name in [
        "ssv_duties",
        "ssv_qbft_rounds",
        "ssv_qbft_decide_latency_seconds",
        "ssv_partial_signature_latency_seconds",
        "ssv_peers",
        "ssv_queue_depth",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name} in\n{text}");
    }
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), node).await.unwrap().unwrap().unwrap();
    assert!(reqwest::get(format!("{base}/health")).await.is_err(), "server stopped");
    // The databases were created and reopen.
    assert!(c.node_db_path().exists() && c.slashing_db_path().exists());
    sim.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_beacon_node_on_another_network_is_refused() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), sim.url());
    c.network = NetworkName::Hoodi;
    c.metrics.enabled = false;
    let e = node::run(c, std::future::pending()).await.unwrap_err();
    assert!(
        matches!(
            e,
            NodeError::Beacon(BeaconCheckError::WrongNetwork {
                what: "genesis validators root",
                ..
            })
        ),
        "{e}"
    );
    assert!(e.to_string().contains("is on another network"), "{e}");
    sim.stop();
}
