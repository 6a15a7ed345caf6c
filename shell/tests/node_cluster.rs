//! Four operator nodes in one process, joined by the loopback transport, run committee
//! duties against the beacon-chain simulator over HTTP (127.0.0.1, OS-chosen port).
//!
//! The simulator verifies every submission with real BLS against the validator key and
//! the right domain, and records what it accepted; the expected duties are computed from
//! an independent [`Chain`] of the same seed, not from the node.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use ssv_core::beacon::{DataVersion, SyncAggregatorSelectionData};
use ssv_core::crypto::signing::{BeaconDomainType, compute_signing_root};
use ssv_core::slashing::AttestationToSign;
use ssv_core::types::{CommitteeId, MessageId, OperatorId, RunnerRole};
use ssv_shell::beacon::{BeaconClient, Timeouts};
use ssv_shell::metrics::Metrics;
use ssv_shell::node::driver::{Driver, DriverContext, DriverHandle, beacon_network};
use ssv_shell::node::network::LoopbackHub;
use ssv_shell::slashing_protection::SlashingDatabase;
use ssv_shell::store::NodeStore;
use ssv_simulator::chain::duties::{
    SYNC_COMMITTEE_SIZE, SYNC_COMMITTEE_SUBNET_COUNT, is_sync_committee_aggregator,
};
use ssv_simulator::chain::keys::derive_secret_key;
use ssv_simulator::chain::{Chain, ChainConfig};
use ssv_simulator::server::{RunningServer, ServerOptions, spawn};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tree_hash::TreeHash;

mod cluster_support;
use cluster_support::*;

/// Cluster tests run one at a time: each runs 1-second slots against the wall clock, and
/// three clusters of four nodes at once starve each other of CPU on a small machine.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Logs of the nodes on the test's output, filtered by `RUST_LOG`.
fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn chain_config(genesis_time: u64) -> ChainConfig {
    ChainConfig {
        seed: SEED,
        genesis_time,
        slot_duration_ms: SLOT_MS,
        slots_per_epoch: SLOTS_PER_EPOCH,
        fork: DataVersion::Electra,
        head_lag_slots: 0,
    }
}

/// A running node: its driver task and the switch that stops it.
struct Node {
    task: JoinHandle<()>,
    stop: oneshot::Sender<()>,
    handle: DriverHandle,
    metrics: Metrics,
}

/// Opens a redb file, waiting while a stopped node's last writer still holds it.
fn open_retrying<T, E: std::fmt::Debug>(mut f: impl FnMut() -> Result<T, E>) -> T {
    let mut last = None;
    for _ in 0..100 {
        match f() {
            Ok(v) => return v,
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("could not reopen: {last:?}");
}

async fn start_node(cluster: &Cluster, id: OperatorId, url: &str, hub: &LoopbackHub) -> Node {
    start_node_with(cluster, id, url, hub, None).await
}

/// Starts every operator's node ([`start_node_with`] with `builder_boost`, the builder boost factor).
async fn start_nodes(
    cluster: &Cluster,
    url: &str,
    hub: &LoopbackHub,
    builder_boost: Option<u64>,
) -> BTreeMap<OperatorId, Node> {
    let mut nodes = BTreeMap::new();
    for id in OPERATORS {
        nodes.insert(id, start_node_with(cluster, id, url, hub, builder_boost).await);
    }
    nodes
}

async fn start_node_with(
    cluster: &Cluster,
    id: OperatorId,
    url: &str,
    hub: &LoopbackHub,
    builder_boost_factor: Option<u64>,
) -> Node {
    let dir = &cluster.dirs[&id];
    let beacon =
        Arc::new(BeaconClient::new(&[url], Timeouts::for_slot(Duration::from_secs(2))).unwrap());
    let network = Arc::new(beacon_network(&beacon).await.unwrap());
    let store = open_retrying(|| NodeStore::open(dir.join("node.redb"), NETWORK));
    let slashing = open_retrying(|| {
        SlashingDatabase::open(dir.join("slashing.redb"), network.genesis_validators_root)
    });
    let (transport, inbox) = hub.join(id);
    let metrics = Metrics::new();
    let ctx = DriverContext {
        operator_id: id,
        operator_key: Arc::clone(&cluster.keys[&id]),
        domain_type: DOMAIN,
        network,
        store: Arc::new(store),
        slashing: Arc::new(slashing),
        beacon,
        transport: Arc::new(transport),
        metrics: metrics.clone(),
    };
    let driver = Driver::new(ctx).await.unwrap().with_builder_boost_factor(builder_boost_factor);
    assert_eq!(driver.validator_indices(), OURS.to_vec(), "operator {id} loaded every share");
    let handle = driver.handle();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(driver.run(inbox, async move {
        let _ = stopped.await;
    }));
    Node { task, stop, handle, metrics }
}

/// A running test cluster: the simulator (recording into `records_dir`) and every
/// operator's node, holding the test lock ([`SERIAL`]) while it lives.
struct Running {
    _serial: tokio::sync::MutexGuard<'static, ()>,
    records_dir: tempfile::TempDir,
    server: RunningServer,
    genesis: u64,
    cluster: Cluster,
    hub: LoopbackHub,
    nodes: BTreeMap<OperatorId, Node>,
}

/// Starts the simulator with genesis `epochs_ago` epochs back (at least 1: epoch 0 cannot
/// be attested by SSV, its source and target both being epoch 0 while the value check
/// requires source < target), then every node ([`start_nodes`] with `builder_boost`).
async fn run_cluster(epochs_ago: u64, builder_boost: Option<u64>) -> Running {
    let serial = SERIAL.lock().await;
    init_logs();
    let records_dir = tempfile::tempdir().unwrap();
    let (server, genesis) = start_simulator_epochs_ago(records_dir.path(), epochs_ago).await;
    let cluster = cluster();
    let hub = LoopbackHub::new();
    let nodes = start_nodes(&cluster, &server.url(), &hub, builder_boost).await;
    Running { _serial: serial, records_dir, server, genesis, cluster, hub, nodes }
}

async fn sleep_until_ms(t: u64) {
    tokio::time::sleep(Duration::from_millis(t.saturating_sub(now_ms()))).await;
}

fn slot_start(genesis_time: u64, slot: u64) -> u64 {
    genesis_time * 1000 + slot * SLOT_MS
}

/// The simulator's accepted submissions.
fn records(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("submissions.jsonl")).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn num(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_u64().unwrap(),
    }
}

/// `prepare_beacon_proposer` bodies the simulator received, as (slot, [(validator, fee
/// recipient)]).
fn preparations(records: &[Value]) -> Vec<(u64, Vec<(u64, String)>)> {
    records
        .iter()
        .filter(|r| r["route"] == "/eth/v1/validator/prepare_beacon_proposer")
        .map(|r| {
            let items = r["body"].as_array().unwrap().iter();
            let items = items.map(|i| {
                (num(&i["validator_index"]), i["fee_recipient"].as_str().unwrap().to_owned())
            });
            (num(&r["slot"]), items.collect())
        })
        .collect()
}

/// (validator, slot) pairs.
type Pairs = BTreeSet<(u64, u64)>;

/// Accepted (validator, slot) attestations and sync-committee messages.
fn accepted(records: &[Value]) -> (Pairs, Pairs) {
    let mut att = BTreeSet::new();
    let mut sync = BTreeSet::new();
    for r in records {
        let body = &r["body"];
        match r["route"].as_str().unwrap() {
            "/eth/v2/beacon/pool/attestations" => {
                att.insert((num(&body["attester_index"]), num(&body["data"]["slot"])));
            }
            "/eth/v1/beacon/pool/sync_committees" => {
                sync.insert((num(&body["validator_index"]), num(&body["slot"])));
            }
            _ => {}
        }
    }
    (att, sync)
}

/// Due (validator, slot) attestations and sync messages of [`OURS`] in `slots`, from an
/// independent chain of the same seed.
fn due(genesis_time: u64, slots: std::ops::RangeInclusive<u64>) -> (Pairs, Pairs) {
    let chain = Chain::from_seed(chain_config(genesis_time), CHAIN_VALIDATORS).unwrap();
    let mut att = BTreeSet::new();
    let mut sync = BTreeSet::new();
    let epochs = chain.epoch_of(*slots.start())..=chain.epoch_of(*slots.end());
    for e in epochs {
        for d in chain.attester_duties(e, &OURS).unwrap() {
            if slots.contains(&d.slot) {
                att.insert((d.validator_index, d.slot));
            }
        }
    }
    for s in slots {
        let committee = chain.sync_committee(s);
        for v in OURS {
            if committee.contains(&v) {
                sync.insert((v, s));
            }
        }
    }
    (att, sync)
}

async fn start_simulator_epochs_ago(record_dir: &Path, epochs: u64) -> (RunningServer, u64) {
    let genesis_time = now_ms() / 1000 - epochs * SLOTS_PER_EPOCH * SLOT_MS / 1000;
    let chain = Chain::from_seed(chain_config(genesis_time), CHAIN_VALIDATORS).unwrap();
    let options =
        ServerOptions { record_dir: Some(record_dir.to_owned()), ..ServerOptions::default() };
    let server = spawn(SocketAddr::from(([127, 0, 0, 1], 0)), chain, options).await.unwrap();
    (server, genesis_time)
}

fn committee_executor() -> [u8; 56] {
    let cid = CommitteeId::from_operators(&OPERATORS);
    MessageId::for_committee(DOMAIN, RunnerRole::Committee, &cid.0).0
}

async fn stop(nodes: BTreeMap<OperatorId, Node>) {
    for (_, n) in nodes {
        let _ = n.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), n.task).await.unwrap().unwrap();
    }
}

/// The value of the series `name` (with its labels, as exposed) in `text`.
fn series(text: &str, name: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.split_once(' ').is_some_and(|(n, _)| n == name))
        .unwrap_or_else(|| panic!("{name} not in\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// A node's scrape after committee duties of which it stored `decided` decided messages:
/// one decide each, with a round and a latency within the slot, a partial-signature quorum
/// per decided slot, the three other nodes as peers, and the queue gauges exposed.
fn assert_metrics(text: &str, decided: u64) {
    let decides = series(text, "ssv_qbft_rounds_count{role=\"committee\"}");
    assert_eq!(decides, decided as f64, "committee decides\n{text}");
    assert_eq!(series(text, "ssv_qbft_decide_latency_seconds_count{role=\"committee\"}"), decides);
    // Measured from slot start: the attestation data, hence the proposal, comes at 1/3
    // slot (333 ms), so no decide is in the buckets up to 320 ms.
    let early = "ssv_qbft_decide_latency_seconds_bucket{le=\"0.32\",role=\"committee\"}";
    assert_eq!(series(text, early), 0.0, "{text}");
    let latency = series(text, "ssv_qbft_decide_latency_seconds_sum{role=\"committee\"}");
    assert!(latency >= decides / 3.0, "mean {latency}/{decides}");
    // Rounds start at 1; with every node up most decide in round 1.
    assert!(series(text, "ssv_qbft_rounds_sum{role=\"committee\"}") >= decides);
    assert!(series(text, "ssv_qbft_rounds_bucket{le=\"1.0\",role=\"committee\"}") >= 1.0);
    let psig = series(text, "ssv_partial_signature_latency_seconds_count{role=\"committee\"}");
    // One post-consensus quorum per decided slot, but the last may still be missing.
    assert!(psig >= 1.0 && psig <= decides, "{psig} partial-signature quorums, {decides} decides");
    assert_eq!(series(text, "ssv_peers"), 3.0);
    for queue in ["network_inbox", "events", "early_messages"] {
        series(text, &format!("ssv_queue_depth{{queue=\"{queue}\"}}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_nodes_complete_committee_duties_against_the_simulator() {
    let run = run_cluster(1, None).await;
    let (server, genesis, nodes) = (run.server, run.genesis, run.nodes);
    let records_dir = &run.records_dir;
    let (first, last) = (SLOTS_PER_EPOCH + 2, SLOTS_PER_EPOCH + 9);
    // The last duty's slot plus one for its submissions.
    sleep_until_ms(slot_start(genesis, last + 2)).await;
    let metrics: BTreeMap<OperatorId, Metrics> =
        nodes.iter().map(|(id, n)| (*id, n.metrics.clone())).collect();
    stop(nodes).await;
    server.stop();
    // Each node's scrape counts one decide per decided message it stored.
    for (id, m) in &metrics {
        let store = NodeStore::open(run.cluster.dirs[id].join("node.redb"), NETWORK).unwrap();
        let stored =
            (0..=last + 2).filter(|s| store.decided(&committee_executor(), *s).unwrap().is_some());
        let text = m.encode();
        assert_metrics(&text, stored.count() as u64);
        // Loop time inside the core (printed for the record; see the node notes).
        for input in ["partial_signature", "consensus", "other"] {
            let name = format!("ssv_core_seconds_total{{input=\"{input}\"}}");
            eprintln!("operator {id}: {name} {}", series(&text, &name));
        }
    }

    let records = records(records_dir.path());
    // Every node sent our validators' fee recipients at start (epoch 1) and once in each
    // later epoch (2 and 3).
    let preps = preparations(&records);
    let expected: Vec<(u64, String)> =
        OURS.iter().map(|v| (*v, hex0x(&fee_recipient(*v)))).collect();
    assert!(preps.iter().all(|(_, items)| *items == expected), "{preps:?}");
    let epochs: Vec<u64> = preps.iter().map(|(slot, _)| slot / SLOTS_PER_EPOCH).collect();
    for epoch in 1..=3 {
        let n = epochs.iter().filter(|e| **e == epoch).count();
        // One per node (a call that failed on the client side is sent again).
        assert!(n >= OPERATORS.len(), "preparations in epoch {epoch}: {preps:?}");
    }

    let (att, sync) = accepted(&records);
    let (due_att, due_sync) = due(genesis, first..=last);
    assert!(!due_att.is_empty() && !due_sync.is_empty(), "the window has duties");
    let missing_att: Vec<_> = due_att.difference(&att).collect();
    let missing_sync: Vec<_> = due_sync.difference(&sync).collect();
    assert!(missing_att.is_empty(), "attestations not accepted: {missing_att:?}");
    assert!(missing_sync.is_empty(), "sync messages not accepted: {missing_sync:?}");

    // Every node stored the decided messages of the committee.
    let executor = committee_executor();
    for id in OPERATORS {
        let store = NodeStore::open(run.cluster.dirs[&id].join("node.redb"), NETWORK).unwrap();
        let highest = store.highest_decided(&executor).unwrap().expect("decided something");
        assert!(highest >= last, "operator {id}: highest decided {highest} < {last}");
        for s in first..=last {
            assert!(store.decided(&executor, s).unwrap().is_some(), "operator {id} slot {s}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_node_restarts_from_its_files_and_signs_nothing_slashable() {
    let run = run_cluster(1, None).await;
    let (server, genesis, mut nodes) = (run.server, run.genesis, run.nodes);
    let (records_dir, cluster, hub) = (&run.records_dir, &run.cluster, &run.hub);
    let url = server.url();
    let executor = committee_executor();
    let victim: OperatorId = 4;

    // Kill the victim mid-duty: just after a duty started (1/3 slot).
    let kill_slot = SLOTS_PER_EPOCH + 4;
    sleep_until_ms(slot_start(genesis, kill_slot) + SLOT_MS / 3 + 60).await;
    let node = nodes.remove(&victim).unwrap();
    node.task.abort();
    let _ = node.task.await;
    hub.leave(victim);
    drop(node.stop);

    // Its history survived: reopen its files (the driver's handles are gone).
    let highest_before = {
        let store =
            open_retrying(|| NodeStore::open(cluster.dirs[&victim].join("node.redb"), NETWORK));
        let h = store.highest_decided(&executor).unwrap().expect("decided before the kill");
        assert!(h >= kill_slot - 2, "decided up to {h} before slot {kill_slot}");
        assert!(store.decided(&executor, h).unwrap().is_some());
        h
    };

    // Restart in the same slot, from the same files.
    nodes.insert(victim, start_node(cluster, victim, &url, hub).await);
    let last = SLOTS_PER_EPOCH + 10;
    sleep_until_ms(slot_start(genesis, last + 2)).await;
    stop(nodes).await;
    server.stop();

    // It kept its history and went on deciding.
    let store = NodeStore::open(cluster.dirs[&victim].join("node.redb"), NETWORK).unwrap();
    let highest_after = store.highest_decided(&executor).unwrap().unwrap();
    assert!(highest_after >= last, "restarted node decided up to {highest_after}");
    assert!(store.decided(&executor, highest_before).unwrap().is_some());

    // The cluster missed nothing (3 of 4 is a quorum while the victim was down).
    let recs = records(records_dir.path());
    let (att, sync) = accepted(&recs);
    let (due_att, due_sync) = due(genesis, SLOTS_PER_EPOCH + 2..=last);
    let missing: Vec<_> = due_att.difference(&att).chain(due_sync.difference(&sync)).collect();
    assert!(missing.is_empty(), "not accepted: {missing:?}");

    // No conflicting attestation reached the chain: one data per (validator, target).
    let mut data_by_target: BTreeMap<(u64, u64), BTreeSet<String>> = BTreeMap::new();
    for r in &recs {
        if r["route"] == "/eth/v2/beacon/pool/attestations" {
            let body = &r["body"];
            let key = (num(&body["attester_index"]), num(&body["data"]["target"]["epoch"]));
            data_by_target.entry(key).or_default().insert(body["data"].to_string());
        }
    }
    for (key, datas) in &data_by_target {
        assert_eq!(datas.len(), 1, "conflicting attestations for {key:?}: {datas:?}");
    }

    // The victim's slashing database holds what it signed and refuses a double vote for
    // each of those targets.
    let gvr = Chain::from_seed(chain_config(genesis), CHAIN_VALIDATORS)
        .unwrap()
        .genesis_validators_root();
    let slashing =
        SlashingDatabase::open(cluster.dirs[&victim].join("slashing.redb"), gvr).unwrap();
    let signed = slashing.export_interchange().unwrap();
    let mut refused = 0;
    for entry in &signed.data {
        let pubkey = entry.pubkey;
        for a in &entry.signed_attestations {
            let double = AttestationToSign {
                source_epoch: a.source_epoch,
                target_epoch: a.target_epoch,
                signing_root: [0xEE; 32],
            };
            assert!(
                slashing.check_and_insert_attestation(&pubkey, &double).is_err(),
                "double vote at target {} accepted",
                a.target_epoch
            );
            refused += 1;
        }
    }
    assert!(refused > 0, "the victim signed attestations");
}

/// Heights restored while the drivers run (the restore after a cut-off) reach them through
/// `DriverHandle::restored_heights`: no committee instance starts at or below them, and
/// the committee goes on deciding above them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restored_heights_keep_running_drivers_out_of_instances_at_or_below_them() {
    let run = run_cluster(1, None).await;
    let (server, genesis, nodes) = (run.server, run.genesis, run.nodes);
    let records_dir = &run.records_dir;
    let executor = committee_executor();
    // At the start of `at`, a restore says the committee decided up to `at + 2`.
    let at = SLOTS_PER_EPOCH + 3;
    sleep_until_ms(slot_start(genesis, at)).await;
    let restored = BTreeMap::from([(MessageId(executor), at + 2)]);
    for n in nodes.values() {
        assert!(n.handle.restored_heights(restored.clone()));
    }
    let last = at + 5;
    sleep_until_ms(slot_start(genesis, last + 2)).await;
    stop(nodes).await;
    server.stop();

    let (att, _) = accepted(&records(records_dir.path()));
    for id in OPERATORS {
        let store = NodeStore::open(run.cluster.dirs[&id].join("node.redb"), NETWORK).unwrap();
        for s in at + 1..=at + 2 {
            assert!(store.decided(&executor, s).unwrap().is_none(), "operator {id} slot {s}");
        }
        for s in at + 3..=last {
            assert!(store.decided(&executor, s).unwrap().is_some(), "operator {id} slot {s}");
        }
    }
    let slots: BTreeSet<u64> = att.iter().map(|(_, slot)| *slot).collect();
    assert!(!slots.contains(&(at + 1)) && !slots.contains(&(at + 2)), "attested: {slots:?}");
}

/// Slots in `slots` where one of [`OURS`] proposes.
fn our_proposals(chain: &Chain, slots: &std::ops::RangeInclusive<u64>) -> Pairs {
    let epochs = chain.epoch_of(*slots.start())..=chain.epoch_of(*slots.end());
    epochs
        .flat_map(|e| chain.proposer_duties(e))
        .filter(|(s, v)| slots.contains(s) && OURS.contains(v))
        .map(|(s, v)| (v, s))
        .collect()
}

/// (validator, slot, subcommittee) contributions due from [`OURS`] in `slots`: each sync
/// position's selection proof, made here with the validator key, must select.
fn due_contributions(
    chain: &Chain,
    slots: &std::ops::RangeInclusive<u64>,
) -> BTreeSet<(u64, u64, u64)> {
    let domain = chain.domain(BeaconDomainType::SYNC_COMMITTEE_SELECTION_PROOF);
    let subcommittee_size = SYNC_COMMITTEE_SIZE / SYNC_COMMITTEE_SUBNET_COUNT;
    let mut due = BTreeSet::new();
    for slot in slots.clone() {
        let committee = chain.sync_committee(slot);
        for v in OURS {
            let sk = derive_secret_key(SEED, v);
            for (pos, _) in committee.iter().enumerate().filter(|(_, m)| **m == v) {
                let subnet = pos as u64 / subcommittee_size;
                let data = SyncAggregatorSelectionData { slot, subcommittee_index: subnet };
                let proof = sk.sign(&compute_signing_root(&data.tree_hash_root().0, &domain));
                if is_sync_committee_aggregator(&proof.to_bytes()) {
                    due.insert((v, slot, subnet));
                }
            }
        }
    }
    due
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_nodes_complete_validator_duties_against_the_simulator() {
    // Genesis five epochs ago: with this seed one of ours proposes at slot 23.
    let run = run_cluster(5, None).await;
    let (server, genesis, nodes) = (run.server, run.genesis, run.nodes);
    let records_dir = &run.records_dir;
    let chain = Chain::from_seed(chain_config(genesis), CHAIN_VALIDATORS).unwrap();
    let (first, last) = (5 * SLOTS_PER_EPOCH + 2, 5 * SLOTS_PER_EPOCH + 7);
    // The contract asks every operator of the validator to exit it.
    let exiting = 4;
    sleep_until_ms(slot_start(genesis, first + 1)).await;
    for n in nodes.values() {
        assert!(n.handle.start_exit(exiting));
    }
    // The last slot's aggregates and contributions finish in the next slot (consensus
    // starts at two thirds of a slot at the earliest); one more slot of slack.
    sleep_until_ms(slot_start(genesis, last + 3)).await;
    stop(nodes).await;
    server.stop();

    let recs = records(records_dir.path());
    let by_route = |route: &str| -> Vec<&Value> {
        recs.iter().filter(|r| r["route"] == route).map(|r| &r["body"]).collect()
    };
    let window = first..=last;

    // Registrations: every validator registered at the first slot of the next epoch.
    let registered: BTreeSet<String> = by_route("/eth/v1/validator/register_validator")
        .iter()
        .map(|b| b["message"]["pubkey"].as_str().unwrap().to_lowercase())
        .collect();
    for v in OURS {
        let pk = hex0x(&derive_secret_key(SEED, v).public_key().to_bytes());
        assert!(registered.contains(&pk), "validator {v} not registered: {registered:?}");
    }

    // The exit.
    let exits: BTreeSet<u64> = by_route("/eth/v1/beacon/pool/voluntary_exits")
        .iter()
        .map(|b| num(&b["message"]["validator_index"]))
        .collect();
    assert_eq!(exits, BTreeSet::from([exiting]), "accepted exits");

    // Aggregates: committees of 16 make every attester an aggregator (modulo 1).
    let (due_att, _) = due(genesis, window.clone());
    for e in chain.epoch_of(first)..=chain.epoch_of(last) {
        for d in chain.attester_duties(e, &OURS).unwrap() {
            assert!(d.committee_length < 32, "every attester aggregates");
        }
    }
    let aggregates: Pairs = by_route("/eth/v2/validator/aggregate_and_proofs")
        .iter()
        .map(|b| {
            (
                num(&b["message"]["aggregator_index"]),
                num(&b["message"]["aggregate"]["data"]["slot"]),
            )
        })
        .collect();
    // With 1-second slots an aggregator duty has a third of a slot before the validator's
    // next one ends it (one duty per runner role, ssv-spec `baseStartNewDuty`), less than
    // the shortest round timeout: one round change on a loaded machine loses it. At most
    // one may be lost, as the simulator's liveness rule and `devnet_short` allow.
    let missing: Vec<_> = due_att.difference(&aggregates).collect();
    assert!(
        missing.len() <= 1 && missing.len() < due_att.len(),
        "aggregates not accepted: {missing:?} of {}",
        due_att.len()
    );

    // Proposals.
    let due_blocks = our_proposals(&chain, &window);
    assert!(!due_blocks.is_empty(), "the window has a proposal of ours");
    let blocks: Pairs = by_route("/eth/v2/beacon/blocks")
        .into_iter()
        .chain(by_route("/eth/v2/beacon/blinded_blocks"))
        .map(|b| (num(&b["proposer_index"]), num(&b["slot"])))
        .collect();
    let missing: Vec<_> = due_blocks.difference(&blocks).collect();
    assert!(missing.is_empty(), "blocks not accepted: {missing:?} (accepted {blocks:?})");

    // Sync-committee contributions.
    let due_contribs = due_contributions(&chain, &window);
    assert!(!due_contribs.is_empty(), "the window has contributions of ours");
    let contribs: BTreeSet<(u64, u64, u64)> = by_route("/eth/v1/validator/contribution_and_proofs")
        .iter()
        .map(|b| {
            let c = &b["message"]["contribution"];
            (num(&b["message"]["aggregator_index"]), num(&c["slot"]), num(&c["subcommittee_index"]))
        })
        .collect();
    let missing: Vec<_> = due_contribs.difference(&contribs).collect();
    assert!(missing.is_empty(), "contributions not accepted: {missing:?} (accepted {contribs:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blinded_proposal_is_signed_and_published_on_the_blinded_route() {
    // The simulator serves the blinded block when the builder is favoured.
    let run = run_cluster(5, Some(200)).await;
    let (server, genesis, nodes) = (run.server, run.genesis, run.nodes);
    let records_dir = &run.records_dir;
    let chain = Chain::from_seed(chain_config(genesis), CHAIN_VALIDATORS).unwrap();
    let window = 5 * SLOTS_PER_EPOCH + 2..=5 * SLOTS_PER_EPOCH + 3;
    let due_blocks = our_proposals(&chain, &window);
    assert!(!due_blocks.is_empty(), "the window has a proposal of ours");
    sleep_until_ms(slot_start(genesis, window.end() + 2)).await;
    stop(nodes).await;
    server.stop();

    let recs = records(records_dir.path());
    let blocks = |route: &str| -> Pairs {
        recs.iter()
            .filter(|r| r["route"] == route)
            .map(|r| (num(&r["body"]["proposer_index"]), num(&r["body"]["slot"])))
            .collect()
    };
    assert_eq!(blocks("/eth/v2/beacon/blinded_blocks"), due_blocks, "blinded blocks accepted");
    assert!(blocks("/eth/v2/beacon/blocks").is_empty(), "no full block");
}
