//! A node records every input it gives its cores (`--trace-dir`), and `ssv-sim replay`
//! re-runs the recording and gets the same outputs.
//!
//! Four nodes in one process (loopback transport, the beacon-chain simulator over HTTP)
//! run committee duties for a few 1-second slots with operator 1 traced; the trace is
//! then replayed by the simulator's node replay, from the header alone. A corrupt byte is
//! refused with a typed error; a changed input diverges at its record.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ssv_core::beacon::DataVersion;
use ssv_core::runner::{Duty, Input, Response};
use ssv_core::trace::{
    CoreRef, TraceError, encode_frame, encode_preamble, input_kind, read_node_trace,
};
use ssv_core::types::OperatorId;
use ssv_shell::beacon::{BeaconClient, Timeouts};
use ssv_shell::metrics::Metrics;
use ssv_shell::node::driver::{Driver, DriverContext, beacon_network};
use ssv_shell::node::network::LoopbackHub;
use ssv_shell::slashing_protection::SlashingDatabase;
use ssv_shell::store::NodeStore;
use ssv_shell::trace::trace_files;
use ssv_simulator::chain::{Chain, ChainConfig};
use ssv_simulator::server::{ServerOptions, spawn};
use ssv_simulator::sim::cli::read_node_trace as read_trace_dir;
use ssv_simulator::sim::replay::replay_node;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod cluster_support;
use cluster_support::*;

const TRACED: OperatorId = 1;

async fn start_node(
    cluster: &Cluster,
    id: OperatorId,
    url: &str,
    hub: &LoopbackHub,
) -> (JoinHandle<()>, oneshot::Sender<()>) {
    let dir = &cluster.dirs[&id];
    let beacon =
        Arc::new(BeaconClient::new(&[url], Timeouts::for_slot(Duration::from_secs(2))).unwrap());
    let network = Arc::new(beacon_network(&beacon).await.unwrap());
    let store = NodeStore::open(dir.join("node.redb"), NETWORK).unwrap();
    let slashing =
        SlashingDatabase::open(dir.join("slashing.redb"), network.genesis_validators_root).unwrap();
    let (transport, inbox) = hub.join(id);
    let ctx = DriverContext {
        operator_id: id,
        operator_key: Arc::clone(&cluster.keys[&id]),
        domain_type: DOMAIN,
        network,
        store: Arc::new(store),
        slashing: Arc::new(slashing),
        beacon,
        transport: Arc::new(transport),
        metrics: Metrics::new(),
    };
    let mut driver = Driver::new(ctx).await.unwrap();
    if id == TRACED {
        driver.enable_trace(NETWORK, &cluster.root.path().join("trace"), 1 << 30, 4).unwrap();
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(driver.run(inbox, async move {
        let _ = stopped.await;
    }));
    (task, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_traced_node_replays_to_identical_outputs() {
    let records_dir = tempfile::tempdir().unwrap();
    // Genesis one epoch ago (epoch 0 cannot be attested).
    let genesis_time = now_ms() / 1000 - SLOTS_PER_EPOCH * SLOT_MS / 1000;
    let config = ChainConfig {
        seed: SEED,
        genesis_time,
        slot_duration_ms: SLOT_MS,
        slots_per_epoch: SLOTS_PER_EPOCH,
        fork: DataVersion::Electra,
        head_lag_slots: 0,
    };
    let chain = Chain::from_seed(config, CHAIN_VALIDATORS).unwrap();
    let options = ServerOptions {
        record_dir: Some(records_dir.path().to_owned()),
        ..ServerOptions::default()
    };
    let server = spawn(SocketAddr::from(([127, 0, 0, 1], 0)), chain, options).await.unwrap();
    let cluster = cluster();
    let hub = LoopbackHub::new();
    let mut nodes = Vec::new();
    for id in OPERATORS {
        nodes.push(start_node(&cluster, id, &server.url(), &hub).await);
    }
    // Four slots of duties.
    let until = genesis_time * 1000 + (SLOTS_PER_EPOCH + 5) * SLOT_MS;
    tokio::time::sleep(Duration::from_millis(until.saturating_sub(now_ms()))).await;
    for (task, stop) in nodes {
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
    }
    server.stop();

    // The driver is dropped: its tracer has written and synced everything.
    let dir = cluster.root.path().join("trace");
    let files = trace_files(&dir).unwrap();
    assert_eq!(files.len(), 1, "1 GiB files do not rotate in five slots");
    let (header, records) = read_trace_dir(&dir).unwrap();
    assert_eq!(header.operator_id, TRACED);
    assert_eq!(header.committees.len(), 1);
    assert_eq!(header.committees[0].shares.len(), OURS.len());
    let started =
        records.iter().filter(|r| matches!(r.input, Input::StartDuty(Duty::Committee(_)))).count();
    let signed = records
        .iter()
        .filter(|r| matches!(r.input, Input::Response { response: Response::Signatures(_), .. }))
        .count();
    let messages = records.iter().filter(|r| matches!(r.input, Input::Message(_))).count();
    assert!(started >= 3, "committee duties started: {started}");
    assert!(signed >= 3, "BLS signature responses: {signed}");
    assert!(messages >= 30, "messages: {messages}");
    assert!(records.iter().any(|r| !r.answers.is_empty()), "operator signatures recorded");
    assert!(records.iter().any(|r| matches!(r.core, CoreRef::Validator(_))));

    let report = replay_node(&header, &records).unwrap();
    assert_eq!(report.divergence, None, "replay diverged");
    assert_eq!(report.records, records.len() as u64);
    assert_eq!(report.cores, (1, OURS.len()));

    // A corrupt byte anywhere in a record is refused, naming the frame.
    let bytes = std::fs::read(&files[0]).unwrap();
    let mut corrupt = bytes.clone();
    let i = bytes.len() * 2 / 3;
    corrupt[i] ^= 0x01;
    let e = read_node_trace(&corrupt).unwrap_err();
    assert!(matches!(e, TraceError::Checksum { .. }), "{e}");
    // Truncated mid-record.
    let e = read_node_trace(&bytes[..bytes.len() - 3]).unwrap_err();
    assert!(matches!(e, TraceError::Truncated { .. }), "{e}");

    // A well-formed trace whose recorded input differs diverges at that record: the
    // first BLS signing answer carries another signature, so the partial-signature message
    // the node broadcasts differs.
    let mut changed = records;
    let k = changed
        .iter()
        .position(|r| matches!(r.input, Input::Response { response: Response::Signatures(_), .. }))
        .expect("a signing response");
    if let Input::Response { response: Response::Signatures(s), .. } = &mut changed[k].input {
        s[0].as_mut().expect("the first item was signed")[10] ^= 0xff;
    }
    let mut file = encode_preamble(&header).unwrap();
    for r in &changed {
        encode_frame(r, &mut file).unwrap();
    }
    let (h2, r2) = read_node_trace(&file).unwrap();
    let d = replay_node(&h2, &r2).unwrap().divergence.expect("a divergence");
    assert_eq!(d.seq, changed[k].seq);
    assert_eq!(d.input_kind, input_kind(&changed[k].input));
    assert_eq!(d.input_kind, "response");
}
