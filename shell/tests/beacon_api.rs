//! The Beacon API client against the beacon-chain simulator over HTTP (127.0.0.1, ports
//! from the OS): every route the runners use, signature and domain checks, failover,
//! faults, the network check at start, and the simulator's responses against the
//! beacon-APIs v4.0.0 response schemas.
//!
//! Signing domains are computed here from what the node reports (genesis validators root,
//! fork versions from `/eth/v1/config/spec`), not from the simulator's code.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use ssv_core::beacon::{
    AttestationData, ContributionAndProof, DataVersion, SignedContributionAndProof,
    SignedValidatorRegistration, SignedVoluntaryExit, SyncAggregatorSelectionData,
    SyncCommitteeMessage, ValidatorRegistration, VersionedBlock, VoluntaryExit, electra,
};
use ssv_core::crypto::bls::SecretKey;
use ssv_core::crypto::signing::{BeaconDomainType, Domain, compute_domain, compute_signing_root};
use ssv_shell::beacon::types::{
    BeaconCommitteeSubscription, ProposerPreparation, SyncCommitteeSubscription,
};
use ssv_shell::beacon::{BeaconClient, BeaconError, Encoding, Timeouts, VersionedAttestation};
use ssv_simulator::chain::keys::derive_secret_key;
use ssv_simulator::chain::{Chain, ChainConfig};
use ssv_simulator::server::{Faults, RunningServer, ServerOptions, spawn};
use tree_hash::TreeHash;

const SEED: u64 = 11;
const VALIDATORS: u64 = 64;
const SLOTS_PER_EPOCH: u64 = 8;

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn config(genesis_time: u64, seed: u64) -> ChainConfig {
    ChainConfig {
        seed,
        genesis_time,
        slot_duration_ms: 1000,
        slots_per_epoch: SLOTS_PER_EPOCH,
        fork: DataVersion::Electra,
        head_lag_slots: 0,
    }
}

async fn start(genesis_time: u64, seed: u64, options: ServerOptions) -> RunningServer {
    let chain = Chain::from_seed(config(genesis_time, seed), VALIDATORS).unwrap();
    spawn(SocketAddr::from(([127, 0, 0, 1], 0)), chain, options).await.unwrap()
}

fn key(i: u64) -> SecretKey {
    derive_secret_key(SEED, i)
}

/// Domains computed from the node's reported genesis and spec.
struct Domains {
    gvr: [u8; 32],
    current: [u8; 4],
    capella: [u8; 4],
    genesis: [u8; 4],
}

impl Domains {
    async fn fetch(client: &BeaconClient) -> Self {
        let genesis = client.genesis().await.unwrap();
        let spec = client.config_spec().await.unwrap();
        let version = |name: &str| -> [u8; 4] {
            let text = spec[name].as_str().unwrap();
            hex::decode(&text[2..]).unwrap().try_into().unwrap()
        };
        let forks = client.fork_schedule().await.unwrap();
        Self {
            gvr: genesis.genesis_validators_root,
            current: forks.last().unwrap().current_version,
            capella: version("CAPELLA_FORK_VERSION"),
            genesis: genesis.genesis_fork_version,
        }
    }

    fn get(&self, dt: BeaconDomainType) -> Domain {
        match dt {
            BeaconDomainType::APPLICATION_BUILDER => compute_domain(dt, self.genesis, &[0; 32]),
            BeaconDomainType::VOLUNTARY_EXIT => compute_domain(dt, self.capella, &self.gvr),
            _ => compute_domain(dt, self.current, &self.gvr),
        }
    }

    fn sign<T: TreeHash>(&self, key: &SecretKey, object: &T, dt: BeaconDomainType) -> [u8; 96] {
        key.sign(&compute_signing_root(&object.tree_hash_root().0, &self.get(dt))).to_bytes()
    }
}

fn status_of(e: &BeaconError) -> Option<u16> {
    match e {
        BeaconError::Status { status, .. } => Some(*status),
        _ => None,
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ssv-beacon-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_runner_route_against_the_simulator() {
    let record_dir = temp_dir("records");
    let options =
        ServerOptions { record_dir: Some(record_dir.clone()), ..ServerOptions::default() };
    // Genesis 3 s ago: slots 0..=3 are past or current.
    let server = start(now_secs() - 3, SEED, options).await;
    let url = server.url();
    let (client, network) =
        BeaconClient::connect(&[&url], Timeouts::for_slot(Duration::from_secs(8)), None)
            .await
            .unwrap();
    assert_eq!(network.forks.len(), 6, "phase0, altair, bellatrix, capella, deneb, electra");
    let d = Domains::fetch(&client).await;
    let syncing = client.node_syncing().await.unwrap();
    let current = syncing.head_slot;
    assert!(current >= 3);
    let validators = client.validators("head", &["0".into(), "5".into()]).await.unwrap();
    assert_eq!(validators.len(), 2);
    assert_eq!(validators[1].validator.pubkey, key(5).public_key().to_bytes());

    // Attester duties, attestation data and SingleAttestation submissions.
    let all: Vec<u64> = (0..VALIDATORS).collect();
    let duties = client.attester_duties(0, &all).await.unwrap();
    assert_eq!(duties.data.len(), VALIDATORS as usize, "everyone attests once per epoch");
    let duty = *duties.data.iter().find(|d| d.slot <= current).unwrap();
    let data: AttestationData =
        client.attestation_data(duty.slot, duty.committee_index).await.unwrap();
    assert_eq!(data.slot, duty.slot);
    assert_eq!(data.index, 0, "Electra attestation data has index 0");
    let attester = key(duty.validator_index);
    let single = |signature| electra::SingleAttestation {
        committee_index: duty.committee_index,
        attester_index: duty.validator_index,
        data,
        signature,
    };
    // A wrong key and a wrong domain are refused.
    let other = key((duty.validator_index + 1) % VALIDATORS);
    let wrong_key = single(d.sign(&other, &data, BeaconDomainType::BEACON_ATTESTER));
    let err = client.submit_attestations(DataVersion::Electra, &[wrong_key]).await.unwrap_err();
    assert_eq!(status_of(&err), Some(400), "{err}");
    assert!(err.to_string().contains("/eth/v2/beacon/pool/attestations"), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
    let wrong_domain = single(d.sign(&attester, &data, BeaconDomainType::RANDAO));
    let err = client.submit_attestations(DataVersion::Electra, &[wrong_domain]).await.unwrap_err();
    assert_eq!(status_of(&err), Some(400), "{err}");
    // A wrong Eth-Consensus-Version is refused too.
    let good = single(d.sign(&attester, &data, BeaconDomainType::BEACON_ATTESTER));
    let err = client.submit_attestations(DataVersion::Deneb, &[good]).await.unwrap_err();
    assert_eq!(status_of(&err), Some(400), "{err}");
    client.submit_attestations(DataVersion::Electra, &[good]).await.unwrap();

    // Aggregation: committees of 8 give modulo max(1, 8/16) = 1, so every member aggregates.
    let data_root = data.tree_hash_root().0;
    let VersionedAttestation::Electra(aggregate) =
        client.aggregate_attestation(duty.slot, &data_root, duty.committee_index).await.unwrap()
    else {
        panic!("expected an Electra aggregate");
    };
    assert_eq!(aggregate.signature, good.signature);
    assert!(aggregate.aggregation_bits.get(duty.validator_committee_index as usize).unwrap());
    assert!(aggregate.committee_bits.get(duty.committee_index as usize).unwrap());
    let selection_proof = d.sign(&attester, &duty.slot, BeaconDomainType::SELECTION_PROOF);
    let message = electra::AggregateAndProof {
        aggregator_index: duty.validator_index,
        aggregate: aggregate.clone(),
        selection_proof,
    };
    let signed = |dt| electra::SignedAggregateAndProof {
        message: message.clone(),
        signature: d.sign(&attester, &message, dt),
    };
    let err = client
        .submit_aggregate_and_proofs(
            DataVersion::Electra,
            &[signed(BeaconDomainType::SELECTION_PROOF)],
        )
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), Some(400), "{err}");
    client
        .submit_aggregate_and_proofs(
            DataVersion::Electra,
            &[signed(BeaconDomainType::AGGREGATE_AND_PROOF)],
        )
        .await
        .unwrap();
    let subscription = BeaconCommitteeSubscription {
        validator_index: duty.validator_index,
        committee_index: duty.committee_index,
        committees_at_slot: duty.committees_at_slot,
        slot: duty.slot,
        is_aggregator: true,
    };
    client.beacon_committee_subscriptions(&[subscription]).await.unwrap();

    // Block production, full (JSON) and blinded (SSZ both ways), and publication.
    let proposers = client.proposer_duties(0).await.unwrap();
    assert_eq!(proposers.data.len(), SLOTS_PER_EPOCH as usize);
    for (slot, blinded) in [(1u64, false), (2, true)] {
        let proposer = proposers.data.iter().find(|p| p.slot == slot).unwrap();
        let sk = key(proposer.validator_index);
        let randao = d.sign(&sk, &0u64, BeaconDomainType::RANDAO);
        let wrong = d.sign(&sk, &0u64, BeaconDomainType::BEACON_PROPOSER);
        let err = client
            .produce_block_v3(slot, &wrong, &[0; 32], None, Encoding::Json)
            .await
            .unwrap_err();
        assert_eq!(status_of(&err), Some(400), "wrong randao domain: {err}");
        let (boost, encoding) =
            if blinded { (Some(u64::MAX), Encoding::Ssz) } else { (None, Encoding::Json) };
        let produced =
            client.produce_block_v3(slot, &randao, &[7; 32], boost, encoding).await.unwrap();
        assert_eq!(produced.block.is_blinded(), blinded);
        assert_eq!(produced.block.slot(), slot);
        let root = produced.block.block_root();
        let sign = |dt| sk.sign(&compute_signing_root(&root, &d.get(dt))).to_bytes();
        match produced.block {
            VersionedBlock::Electra(contents) => {
                let make = |signature| electra::SignedBlockContents {
                    signed_block: electra::SignedBeaconBlock {
                        message: contents.block.clone(),
                        signature,
                    },
                    kzg_proofs: contents.kzg_proofs.clone(),
                    blobs: contents.blobs.clone(),
                };
                let err = client
                    .publish_block(
                        DataVersion::Electra,
                        &make(sign(BeaconDomainType::RANDAO)),
                        Encoding::Json,
                    )
                    .await
                    .unwrap_err();
                assert_eq!(status_of(&err), Some(400), "{err}");
                client
                    .publish_block(
                        DataVersion::Electra,
                        &make(sign(BeaconDomainType::BEACON_PROPOSER)),
                        Encoding::Json,
                    )
                    .await
                    .unwrap();
            }
            VersionedBlock::ElectraBlinded(block) => {
                let make = |signature| electra::SignedBlindedBeaconBlock {
                    message: block.clone(),
                    signature,
                };
                let err = client
                    .publish_blinded_block(
                        DataVersion::Electra,
                        &make(sign(BeaconDomainType::RANDAO)),
                        Encoding::Ssz,
                    )
                    .await
                    .unwrap_err();
                assert_eq!(status_of(&err), Some(400), "{err}");
                client
                    .publish_blinded_block(
                        DataVersion::Electra,
                        &make(sign(BeaconDomainType::BEACON_PROPOSER)),
                        Encoding::Ssz,
                    )
                    .await
                    .unwrap();
            }
            other => panic!("unexpected block {:?}", other.version()),
        }
    }
    client
        .prepare_beacon_proposer(&[ProposerPreparation {
            validator_index: 3,
            fee_recipient: [0xfe; 20],
        }])
        .await
        .unwrap();

    // Sync committee: messages, a selected aggregator, contribution and proof.
    let sync = client.sync_duties(0, &all).await.unwrap();
    assert_eq!(
        sync.data.iter().map(|s| s.validator_sync_committee_indices.len()).sum::<usize>(),
        512
    );
    let slot = current;
    let block_root = data.beacon_block_root;
    // The real rule: modulo max(1, 512 / 4 / 16) = 8 over the selection proof's hash.
    let (member, sub, proof) = sync
        .data
        .iter()
        .flat_map(|s| {
            s.validator_sync_committee_indices.iter().map(move |p| (s.validator_index, p / 128))
        })
        .find_map(|(v, sub)| {
            let selection = SyncAggregatorSelectionData { slot, subcommittee_index: sub };
            let proof =
                d.sign(&key(v), &selection, BeaconDomainType::SYNC_COMMITTEE_SELECTION_PROOF);
            let hash = ssv_simulator_hash(&proof);
            hash.is_multiple_of(8).then_some((v, sub, proof))
        })
        .expect("some sync committee member is selected");
    let msg = |signature| SyncCommitteeMessage {
        slot,
        beacon_block_root: block_root,
        validator_index: member,
        signature,
    };
    let wrong = msg(d.sign(&key(member), &block_root, BeaconDomainType::BEACON_ATTESTER));
    let err = client.submit_sync_committee_messages(&[wrong]).await.unwrap_err();
    assert_eq!(status_of(&err), Some(400), "{err}");
    let right = msg(d.sign(&key(member), &block_root, BeaconDomainType::SYNC_COMMITTEE));
    client.submit_sync_committee_messages(&[right]).await.unwrap();
    let contribution = client.sync_committee_contribution(slot, sub, &block_root).await.unwrap();
    assert_eq!(contribution.signature, right.signature);
    let cap =
        ContributionAndProof { aggregator_index: member, contribution, selection_proof: proof };
    let signed = |dt| SignedContributionAndProof {
        message: cap.clone(),
        signature: d.sign(&key(member), &cap, dt),
    };
    let err = client
        .submit_contribution_and_proofs(&[signed(BeaconDomainType::SYNC_COMMITTEE)])
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), Some(400), "{err}");
    client
        .submit_contribution_and_proofs(&[signed(BeaconDomainType::CONTRIBUTION_AND_PROOF)])
        .await
        .unwrap();
    client
        .sync_committee_subscriptions(&[SyncCommitteeSubscription {
            validator_index: member,
            sync_committee_indices: vec![sub * 128],
            until_epoch: 1,
        }])
        .await
        .unwrap();

    // Builder registration and voluntary exit, each with its own domain rule.
    let registration = ValidatorRegistration {
        fee_recipient: [1; 20],
        gas_limit: 30_000_000,
        timestamp: now_secs(),
        pubkey: key(9).public_key().to_bytes(),
    };
    let reg = |dt| SignedValidatorRegistration {
        message: registration,
        signature: d.sign(&key(9), &registration, dt),
    };
    let err =
        client.register_validators(&[reg(BeaconDomainType::BEACON_PROPOSER)]).await.unwrap_err();
    assert_eq!(status_of(&err), Some(400), "{err}");
    client.register_validators(&[reg(BeaconDomainType::APPLICATION_BUILDER)]).await.unwrap();
    let exit = VoluntaryExit { epoch: 0, validator_index: 10 };
    let wrong_fork = SignedVoluntaryExit {
        message: exit,
        signature: key(10)
            .sign(&compute_signing_root(
                &exit.tree_hash_root().0,
                &compute_domain(BeaconDomainType::VOLUNTARY_EXIT, d.current, &d.gvr),
            ))
            .to_bytes(),
    };
    let err = client.submit_voluntary_exit(&wrong_fork).await.unwrap_err();
    assert_eq!(status_of(&err), Some(400), "EIP-7044: exits use the Capella version: {err}");
    let exit_signed = SignedVoluntaryExit {
        message: exit,
        signature: d.sign(&key(10), &exit, BeaconDomainType::VOLUNTARY_EXIT),
    };
    client.submit_voluntary_exit(&exit_signed).await.unwrap();

    // The head stream delivers the next slot's head.
    let mut events = client.head_events().await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(3), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(event.slot >= current);

    // The record folder has one line per accepted submission, refused ones absent.
    let text = std::fs::read_to_string(record_dir.join("submissions.jsonl")).unwrap();
    let routes: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["route"].as_str().unwrap().to_string())
        .collect();
    let expected = [
        "/eth/v2/beacon/pool/attestations",
        "/eth/v2/validator/aggregate_and_proofs",
        "/eth/v1/validator/beacon_committee_subscriptions",
        "/eth/v2/beacon/blocks",
        "/eth/v2/beacon/blinded_blocks",
        "/eth/v1/validator/prepare_beacon_proposer",
        "/eth/v1/beacon/pool/sync_committees",
        "/eth/v1/validator/contribution_and_proofs",
        "/eth/v1/validator/sync_committee_subscriptions",
        "/eth/v1/validator/register_validator",
        "/eth/v1/beacon/pool/voluntary_exits",
    ];
    assert_eq!(routes, expected);
    server.stop();
    let _ = std::fs::remove_dir_all(&record_dir);
}

/// `bytes_to_uint64(hash(proof)[0:8])`, computed here with sha2 independently of the
/// simulator.
fn ssv_simulator_hash(proof: &[u8; 96]) -> u64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(proof);
    u64::from_le_bytes(digest[..8].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_moves_to_the_second_node_when_the_first_dies() {
    let genesis = now_secs() - 1;
    let first = start(genesis, SEED, ServerOptions::default()).await;
    let second = start(genesis, SEED, ServerOptions::default()).await;
    let (first_url, second_url) = (first.url(), second.url());
    let (client, _) = BeaconClient::connect(
        &[&first_url, &second_url],
        Timeouts::for_slot(Duration::from_secs(4)),
        None,
    )
    .await
    .unwrap();
    let before = client.attester_duties(0, &[1, 2]).await.unwrap();
    // Wait until it is really gone: a pooled keep-alive connection could otherwise still
    // be answered by its connection task for a moment.
    first.shutdown(Duration::from_secs(2)).await;
    let after = client.attester_duties(0, &[1, 2]).await.unwrap();
    assert_eq!(before, after, "same seed, same duties");
    // The second node now answers first; its death leaves nothing, and the error names both.
    second.shutdown(Duration::from_secs(2)).await;
    let err = client.genesis().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BeaconError::AllFailed(_)), "{text}");
    assert!(text.contains(&first_url) && text.contains(&second_url), "{text}");
    assert!(text.contains("/eth/v1/beacon/genesis"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_fail_over_and_timeouts_apply() {
    let genesis = now_secs() - 1;
    let slow = ServerOptions {
        faults: Faults {
            slow: vec![("/eth/v1/validator/attestation_data".into(), Duration::from_millis(1500))],
            error: vec![("/eth/v1/validator/duties".into(), 503)],
        },
        record_dir: None,
    };
    let faulty = start(genesis, SEED, slow).await;
    let healthy = start(genesis, SEED, ServerOptions::default()).await;
    let timeouts = Timeouts {
        attestation: Duration::from_millis(400),
        ..Timeouts::for_slot(Duration::from_secs(4))
    };
    let client = BeaconClient::new(&[&faulty.url(), &healthy.url()], timeouts).unwrap();
    // 503 on duties: the healthy node answers.
    client.proposer_duties(0).await.unwrap();
    // Alone, the faulty node's error names node, route and status.
    let alone = BeaconClient::new(&[&faulty.url()], timeouts).unwrap();
    let err = alone.proposer_duties(0).await.unwrap_err();
    assert_eq!(status_of(&err), Some(503), "{err}");
    assert!(err.to_string().contains("/eth/v1/validator/duties/proposer/{epoch}"), "{err}");
    let err = alone.attestation_data(0, 0).await.unwrap_err();
    assert!(matches!(err, BeaconError::Transport { .. }), "the slow route times out: {err}");
    let client2 = BeaconClient::new(&[&faulty.url(), &healthy.url()], timeouts).unwrap();
    let started = std::time::Instant::now();
    client2.attestation_data(0, 0).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(1400), "failed over before the slow answer");

    // A lagging head shows in syncing and in the head vote.
    let chain = Chain::from_seed(
        ChainConfig { head_lag_slots: 2, ..config(now_secs() - 4, SEED) },
        VALIDATORS,
    )
    .unwrap();
    let lagging = spawn(SocketAddr::from(([127, 0, 0, 1], 0)), chain, ServerOptions::default())
        .await
        .unwrap();
    let lag_client = BeaconClient::new(&[&lagging.url()], timeouts).unwrap();
    let status = lag_client.node_syncing().await.unwrap();
    assert!(status.sync_distance == 2, "{status:?}");
    faulty.stop();
    healthy.stop();
    lagging.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_another_network_is_refused_at_start() {
    let genesis = now_secs();
    let ours = start(genesis, SEED, ServerOptions::default()).await;
    let theirs = start(genesis, SEED + 1, ServerOptions::default()).await;
    let err = BeaconClient::connect(&[&ours.url(), &theirs.url()], Timeouts::default(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BeaconError::NetworkMismatch { what: "genesis_validators_root", .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&theirs.url()), "{err}");
    ours.stop();
    theirs.stop();
}

// ---------------------------------------------------------------------------------------
// Response shapes against the beacon-APIs v4.0.0 schemas.
// ---------------------------------------------------------------------------------------

/// The spec folder, from `SSV_VECTORS_DIR` (default: the shared checkout).
fn spec_dir() -> PathBuf {
    let root = std::env::var("SSV_VECTORS_DIR").unwrap_or_else(|_| "/work/shared/vectors".into());
    Path::new(&root).join("beacon-APIs/v4.0.0")
}

/// A schema checker over the spec's YAML files: resolves `$ref` (file and JSON pointer),
/// `allOf`/`anyOf`/`oneOf`, objects (required fields, then known properties), arrays, and
/// strings by `pattern` for the shapes the spec uses (`^0x[a-fA-F0-9]{N}$`, `^0x[a-fA-F0-9]*$`,
/// `^[1-9][0-9]*$` and friends: digits), booleans, numbers and `enum`.
struct Schemas {
    cache: std::collections::BTreeMap<PathBuf, serde_yaml::Value>,
}

impl Schemas {
    fn load(&mut self, path: &Path) -> serde_yaml::Value {
        let path = path.canonicalize().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.cache
            .entry(path.clone())
            .or_insert_with(|| {
                serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
            })
            .clone()
    }

    /// Follows `reference` relative to `base`, returning the schema and its file.
    fn resolve(&mut self, base: &Path, reference: &str) -> (serde_yaml::Value, PathBuf) {
        let (file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        let path =
            if file.is_empty() { base.to_path_buf() } else { base.parent().unwrap().join(file) };
        let mut node = self.load(&path);
        for part in pointer.split('/').filter(|p| !p.is_empty()) {
            node = node.get(part).unwrap_or_else(|| panic!("{reference}: no {part}")).clone();
        }
        (node, path)
    }

    /// Checks `value` against `schema`; errors name the JSON path.
    fn check(
        &mut self,
        schema: &serde_yaml::Value,
        base: &Path,
        value: &Value,
        at: &str,
    ) -> Result<(), String> {
        if let Some(r) = schema.get("$ref").and_then(|r| r.as_str()) {
            let (s, file) = self.resolve(base, r);
            return self.check(&s, &file, value, at);
        }
        if let Some(all) = schema.get("allOf").and_then(|v| v.as_sequence()) {
            for s in all {
                self.check(s, base, value, at)?;
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(any) = schema.get(key).and_then(|v| v.as_sequence()) {
                let mut errors = Vec::new();
                for s in any {
                    match self.check(s, base, value, at) {
                        Ok(()) => {
                            errors.clear();
                            break;
                        }
                        Err(e) => errors.push(e),
                    }
                }
                if !errors.is_empty() {
                    return Err(format!("{at}: matches none of {key}: {}", errors.join(" | ")));
                }
            }
        }
        if let Some(options) = schema.get("enum").and_then(|v| v.as_sequence()) {
            let ok = options.iter().any(|o| o.as_str().is_some_and(|s| value.as_str() == Some(s)));
            if !ok {
                return Err(format!("{at}: {value} not in enum"));
            }
        }
        match schema.get("type").and_then(|t| t.as_str()) {
            Some("object") => {
                let map = value
                    .as_object()
                    .ok_or_else(|| format!("{at}: expected an object, got {value}"))?;
                if let Some(required) = schema.get("required").and_then(|r| r.as_sequence()) {
                    for field in required.iter().filter_map(|f| f.as_str()) {
                        if !map.contains_key(field) {
                            return Err(format!("{at}: missing required field {field}"));
                        }
                    }
                }
                if let Some(props) = schema.get("properties").and_then(|p| p.as_mapping()) {
                    for (name, s) in props {
                        let name = name.as_str().unwrap();
                        if let Some(v) = map.get(name) {
                            self.check(s, base, v, &format!("{at}.{name}"))?;
                        }
                    }
                }
            }
            Some("array") => {
                let items = value
                    .as_array()
                    .ok_or_else(|| format!("{at}: expected an array, got {value}"))?;
                if let Some(s) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.check(s, base, v, &format!("{at}[{i}]"))?;
                    }
                }
            }
            Some("string") => {
                let text = value
                    .as_str()
                    .ok_or_else(|| format!("{at}: expected a string, got {value}"))?;
                if let Some(pattern) = schema.get("pattern").and_then(|p| p.as_str()) {
                    check_pattern(pattern, text).map_err(|e| format!("{at}: {e}"))?;
                } else if schema
                    .get("example")
                    .and_then(|e| e.as_str())
                    .is_some_and(|e| e.chars().all(|c| c.is_ascii_digit()) && !e.is_empty())
                {
                    // Uint64/Uint256-like: the spec writes these as decimal strings.
                    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
                        return Err(format!("{at}: {text:?} is not a decimal string"));
                    }
                }
            }
            Some("boolean") => {
                value.as_bool().ok_or_else(|| format!("{at}: expected a boolean, got {value}"))?;
            }
            Some("number" | "integer") => {
                value.as_f64().ok_or_else(|| format!("{at}: expected a number, got {value}"))?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// The hex and digit patterns of the spec (a hand-written matcher, no regex engine).
fn check_pattern(pattern: &str, text: &str) -> Result<(), String> {
    if let Some(rest) = pattern.strip_prefix("^0x[a-fA-F0-9]") {
        let digits = text.strip_prefix("0x").ok_or_else(|| format!("{text:?} lacks 0x"))?;
        if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("{text:?} is not hex"));
        }
        if let Some(n) = rest.strip_prefix('{').and_then(|r| r.strip_suffix("}$")) {
            if let Ok(n) = n.parse::<usize>() {
                if digits.len() != n {
                    return Err(format!(
                        "{text:?} has {} hex digits, pattern wants {n}",
                        digits.len()
                    ));
                }
            } else if let Some((lo, hi)) = n.split_once(',') {
                let lo: usize = lo.parse().unwrap_or(0);
                let hi: usize = hi.parse().unwrap_or(usize::MAX);
                if digits.len() < lo || digits.len() > hi {
                    return Err(format!(
                        "{text:?} has {} hex digits, pattern wants {n}",
                        digits.len()
                    ));
                }
            }
        }
        return Ok(());
    }
    if pattern.contains("[0-9]") && !pattern.contains("0x") {
        if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("{text:?} is not decimal digits ({pattern})"));
        }
        return Ok(());
    }
    Err(format!("pattern {pattern} is not understood by this checker"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_responses_match_the_v4_schemas() {
    let spec = spec_dir();
    let oapi = spec.join("beacon-node-oapi.yaml");
    let mut schemas = Schemas { cache: Default::default() };
    let root = schemas.load(&oapi);
    let server = start(now_secs() - 3, SEED, ServerOptions::default()).await;
    let url = server.url();
    let client = BeaconClient::new(&[&url], Timeouts::for_slot(Duration::from_secs(8))).unwrap();
    let d = Domains::fetch(&client).await;

    // Seed the pools so the aggregate and contribution routes have something to serve.
    let duty = client.attester_duties(0, &[0]).await.unwrap().data[0];
    while client.node_syncing().await.unwrap().head_slot < duty.slot {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let data = client.attestation_data(duty.slot, duty.committee_index).await.unwrap();
    let att = electra::SingleAttestation {
        committee_index: duty.committee_index,
        attester_index: 0,
        data,
        signature: d.sign(&key(0), &data, BeaconDomainType::BEACON_ATTESTER),
    };
    client.submit_attestations(DataVersion::Electra, &[att]).await.unwrap();
    let sync = client.sync_duties(0, &[0]).await.unwrap();
    let position = sync.data[0].validator_sync_committee_indices[0];
    let msg = SyncCommitteeMessage {
        slot: 1,
        beacon_block_root: data.beacon_block_root,
        validator_index: 0,
        signature: d.sign(&key(0), &data.beacon_block_root, BeaconDomainType::SYNC_COMMITTEE),
    };
    client.submit_sync_committee_messages(&[msg]).await.unwrap();
    let proposer = client.proposer_duties(0).await.unwrap().data[1].validator_index;
    let randao = hex::encode(d.sign(&key(proposer), &0u64, BeaconDomainType::RANDAO));
    let root_hex = hex::encode(data.tree_hash_root().0);
    let block_root_hex = hex::encode(data.beacon_block_root);

    let gets: Vec<(&str, String)> = vec![
        ("/eth/v1/beacon/genesis", "/eth/v1/beacon/genesis".into()),
        ("/eth/v1/config/spec", "/eth/v1/config/spec".into()),
        ("/eth/v1/config/fork_schedule", "/eth/v1/config/fork_schedule".into()),
        ("/eth/v1/node/syncing", "/eth/v1/node/syncing".into()),
        ("/eth/v1/node/version", "/eth/v1/node/version".into()),
        ("/eth/v1/validator/duties/proposer/{epoch}", "/eth/v1/validator/duties/proposer/0".into()),
        (
            "/eth/v1/validator/attestation_data",
            format!(
                "/eth/v1/validator/attestation_data?slot={}&committee_index={}",
                duty.slot, duty.committee_index
            ),
        ),
        (
            "/eth/v3/validator/blocks/{slot}",
            format!("/eth/v3/validator/blocks/1?randao_reveal=0x{randao}"),
        ),
        (
            "/eth/v3/validator/blocks/{slot}",
            format!(
                "/eth/v3/validator/blocks/1?randao_reveal=0x{randao}&builder_boost_factor=1000"
            ),
        ),
        (
            "/eth/v2/validator/aggregate_attestation",
            format!(
                "/eth/v2/validator/aggregate_attestation?attestation_data_root=0x{root_hex}&slot={}&committee_index={}",
                duty.slot, duty.committee_index
            ),
        ),
        (
            "/eth/v1/validator/sync_committee_contribution",
            format!(
                "/eth/v1/validator/sync_committee_contribution?slot=1&subcommittee_index={}&beacon_block_root=0x{block_root_hex}",
                position / 128
            ),
        ),
    ];
    let posts: Vec<(&str, String, Value)> = vec![
        (
            "/eth/v1/beacon/states/{state_id}/validators",
            "/eth/v1/beacon/states/head/validators".into(),
            serde_json::json!({"ids": ["0", "1"]}),
        ),
        (
            "/eth/v1/validator/duties/attester/{epoch}",
            "/eth/v1/validator/duties/attester/0".into(),
            serde_json::json!(["0", "1", "2"]),
        ),
        (
            "/eth/v1/validator/duties/sync/{epoch}",
            "/eth/v1/validator/duties/sync/0".into(),
            serde_json::json!(["0", "1", "2"]),
        ),
    ];
    let http = reqwest::Client::new();
    let mut checked = 0;
    for (route, path, method, body) in gets
        .into_iter()
        .map(|(r, p)| (r, p, "get", None))
        .chain(posts.into_iter().map(|(r, p, b)| (r, p, "post", Some(b))))
    {
        let op = root["paths"][route].clone();
        let (file_op, file) = schemas.resolve(&oapi, op["$ref"].as_str().unwrap());
        let schema =
            file_op[method]["responses"]["200"]["content"]["application/json"]["schema"].clone();
        assert!(!schema.is_null(), "{route}: no 200 JSON schema in the spec");
        let request = match &body {
            None => http.get(format!("{url}{path}")),
            Some(b) => http.post(format!("{url}{path}")).json(b),
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{route}");
        let json: Value = response.json().await.unwrap();
        schemas.check(&schema, &file, &json, route).unwrap_or_else(|e| panic!("{route}: {e}"));
        checked += 1;
    }
    assert_eq!(checked, 14);

    // The head event against the spec's example event's field names and value shapes.
    let events = schemas.load(&spec.join("apis/eventstream/index.yaml"));
    let example = events["get"]["responses"]["200"]["content"]["text/event-stream"]["examples"]["head"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let example_data: Value =
        serde_json::from_str(example.lines().find_map(|l| l.strip_prefix("data: ")).unwrap())
            .unwrap();
    let mut stream = client.head_events().await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(3), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let ours = serde_json::to_value(event).unwrap();
    same_shape(&example_data, &ours);
    server.stop();
}

/// Same keys, and each value the same JSON kind (and hex length for `0x` strings).
fn same_shape(example: &Value, ours: &Value) {
    let (a, b) = (example.as_object().unwrap(), ours.as_object().unwrap());
    let mut ka: Vec<_> = a.keys().collect();
    let mut kb: Vec<_> = b.keys().collect();
    ka.sort();
    kb.sort();
    assert_eq!(ka, kb);
    for (k, v) in a {
        let w = &b[k];
        match (v, w) {
            (Value::String(x), Value::String(y)) => {
                assert_eq!(x.starts_with("0x"), y.starts_with("0x"), "{k}");
                assert_eq!(
                    x.len(),
                    y.len().max(if x.starts_with("0x") { 0 } else { x.len() }),
                    "{k}"
                );
            }
            (Value::Bool(_), Value::Bool(_)) => {}
            _ => panic!("{k}: {v} vs {w}"),
        }
    }
}

#[test]
fn schema_checker_catches_wrong_shapes() {
    let spec = spec_dir();
    let oapi = spec.join("beacon-node-oapi.yaml");
    let mut schemas = Schemas { cache: Default::default() };
    let (op, file) = schemas.resolve(&oapi, "./apis/validator/duties/attester.yaml");
    let schema = op["post"]["responses"]["200"]["content"]["application/json"]["schema"].clone();
    let duty = serde_json::json!({
        "pubkey": format!("0x{}", "ab".repeat(48)),
        "validator_index": "1", "committee_index": "0", "committee_length": "8",
        "committees_at_slot": "1", "validator_committee_index": "3", "slot": "5"
    });
    let good = serde_json::json!({"dependent_root": format!("0x{}", "00".repeat(32)),
        "execution_optimistic": false, "data": [duty]});
    schemas.check(&schema, &file, &good, "").unwrap();
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("dependent_root");
    assert!(schemas.check(&schema, &file, &missing, "").is_err());
    let mut short_key = good.clone();
    short_key["data"][0]["pubkey"] = Value::String(format!("0x{}", "ab".repeat(47)));
    assert!(schemas.check(&schema, &file, &short_key, "").is_err());
    let mut number = good.clone();
    number["data"][0]["slot"] = serde_json::json!(5);
    assert!(schemas.check(&schema, &file, &number, "").is_err());
    let mut not_decimal = good;
    not_decimal["data"][0]["slot"] = Value::String("0x05".into());
    assert!(schemas.check(&schema, &file, &not_decimal, "").is_err());
}
