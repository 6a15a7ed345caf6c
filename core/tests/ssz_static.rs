//! consensus-spec-tests v1.5.0 `ssz_static` (mainnet) for every beacon type the project defines.
//!
//! Each case `tests/mainnet/<fork>/ssz_static/<Type>/ssz_random/case_N/` is one trial:
//! decode `serialized.ssz_snappy` (snappy block format), compare `hash_tree_root` with
//! `roots.yaml`, re-encode and compare the bytes, parse `value.yaml` and compare it with the
//! decoded value, and round-trip the value through the Beacon-API JSON.
//!
//! [`mapped`] lists, per fork, which spec type maps to which Rust type. Fulu changed no
//! container we define, so its folders map to the Electra types (re-exported by
//! `beacon::fulu`). [`UNMAPPED`] lists the folders of types the project does not define
//! (beacon-state parts, pre-Capella blocks, Bellatrix/Capella payloads for Bellatrix);
//! a folder in neither list fails the `folders accounted for` trial, and a mapped folder
//! that is missing fails `mapped folders present`.
//!
//! A second group checks [`decode_proposal`] and the Beacon-API JSON of blocks against the
//! ssv-spec v1.2.2 proposer fixtures: the `validatorconsensusdata` vectors' `DataSSZ` (made
//! by Go from the go-eth2-client block JSON in testingutils `beacon_node_consts.json`) must
//! decode as the named version and blindedness, equal that JSON parsed here, and a blinded
//! block must have its full block's root; the `invalid_*` vectors (empty data) must fail
//! with the vector's error code.

// A vector harness reads its files; the no-IO rule is for the library.
#![allow(clippy::disallowed_methods)]

use std::fmt::Debug;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::de::DeserializeOwned;
use ssv_core::beacon::versioned::{DataVersion, VersionedBlock, decode_proposal};
use ssv_core::beacon::{altair, capella, deneb, electra, fulu, phase0};
use ssv_core::error::SpecError;
use ssv_fixtures::suite::{self, Failed, Trial};
use ssv_fixtures::{FixtureError, SSV_SPEC_V1_2_2, SSZ_STATIC_V1_5_0, unpacked, vector_path};
use ssz::{Decode, Encode};
use tree_hash::TreeHash;

/// A check of one case folder.
type Check = fn(&Path) -> Result<(), String>;

/// Cases per type folder in the archive (`ssz_random/case_0..4`).
const CASES_PER_TYPE: usize = 5;
/// Mapped (fork, type) folders: 16 phase0 + 22 altair + 22 bellatrix + 30 capella
/// + 30 deneb + 35 electra + 35 fulu.
const MAPPED_FOLDERS: usize = 190;

#[derive(serde::Deserialize)]
struct Roots {
    root: String,
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

fn check<T>(case: &Path) -> Result<(), String>
where
    T: Encode + Decode + TreeHash + DeserializeOwned + serde::Serialize + PartialEq + Debug,
{
    let compressed = read(&case.join("serialized.ssz_snappy"))?;
    let ssz_bytes = snap::raw::Decoder::new()
        .decompress_vec(&compressed)
        .map_err(|e| format!("snappy: {e}"))?;
    let decoded = T::from_ssz_bytes(&ssz_bytes).map_err(|e| format!("ssz decode: {e:?}"))?;

    let roots_text =
        String::from_utf8(read(&case.join("roots.yaml"))?).map_err(|e| e.to_string())?;
    let roots: Roots = serde_yaml::from_str(&roots_text).map_err(|e| format!("roots.yaml: {e}"))?;
    let root = format!("0x{}", hex::encode(decoded.tree_hash_root().0));
    if root != roots.root {
        return Err(format!("hash_tree_root {root}, expected {}", roots.root));
    }

    if decoded.as_ssz_bytes() != ssz_bytes {
        return Err("re-encoding differs from serialized.ssz_snappy".into());
    }

    let value_text =
        String::from_utf8(read(&case.join("value.yaml"))?).map_err(|e| e.to_string())?;
    let from_yaml: T = serde_yaml::from_str(&value_text).map_err(|e| format!("value.yaml: {e}"))?;
    if from_yaml != decoded {
        return Err("value.yaml differs from the decoded SSZ".into());
    }

    let json = serde_json::to_string(&decoded).map_err(|e| format!("to JSON: {e}"))?;
    let from_json: T = serde_json::from_str(&json).map_err(|e| format!("from JSON: {e}"))?;
    if from_json != decoded {
        return Err("Beacon-API JSON round trip changed the value".into());
    }
    Ok(())
}

/// A blinded block built from a full one (payload replaced by its header) must have the same
/// `hash_tree_root` and survive an SSZ round trip: checked on every full-block case.
fn check_blinded<F, B>(case: &Path, blind: fn(F) -> B) -> Result<(), String>
where
    F: Decode + TreeHash,
    B: Encode + Decode + TreeHash + PartialEq + Debug,
{
    let compressed = read(&case.join("serialized.ssz_snappy"))?;
    let bytes = snap::raw::Decoder::new()
        .decompress_vec(&compressed)
        .map_err(|e| format!("snappy: {e}"))?;
    let full = F::from_ssz_bytes(&bytes).map_err(|e| format!("ssz decode: {e:?}"))?;
    let root = full.tree_hash_root();
    let blinded = blind(full);
    if blinded.tree_hash_root() != root {
        return Err("blinded block root differs from the full block root".into());
    }
    let again = B::from_ssz_bytes(&blinded.as_ssz_bytes()).map_err(|e| format!("{e:?}"))?;
    if again != blinded {
        return Err("blinded block SSZ round trip changed the value".into());
    }
    Ok(())
}

macro_rules! header_from_payload {
    ($p:expr, $header:ty, { $($extra:ident),* }) => {{
        type Header = $header;
        let p = $p;
        Header {
            parent_hash: p.parent_hash,
            fee_recipient: p.fee_recipient,
            state_root: p.state_root,
            receipts_root: p.receipts_root,
            logs_bloom: p.logs_bloom.clone(),
            prev_randao: p.prev_randao,
            block_number: p.block_number,
            gas_limit: p.gas_limit,
            gas_used: p.gas_used,
            timestamp: p.timestamp,
            extra_data: p.extra_data.clone(),
            base_fee_per_gas: p.base_fee_per_gas,
            block_hash: p.block_hash,
            transactions_root: p.transactions.tree_hash_root().0,
            withdrawals_root: p.withdrawals.tree_hash_root().0,
            $($extra: p.$extra,)*
        }
    }};
}

macro_rules! blind_block {
    ($name:ident, $m:ident, $header:ty, { $($extra:ident),* }, { $($body_extra:ident),* }) => {
        fn $name(b: $m::BeaconBlock) -> $m::BlindedBeaconBlock {
            let body = b.body;
            $m::BlindedBeaconBlock {
                slot: b.slot,
                proposer_index: b.proposer_index,
                parent_root: b.parent_root,
                state_root: b.state_root,
                body: $m::BlindedBeaconBlockBody {
                    randao_reveal: body.randao_reveal,
                    eth1_data: body.eth1_data,
                    graffiti: body.graffiti,
                    proposer_slashings: body.proposer_slashings,
                    attester_slashings: body.attester_slashings,
                    attestations: body.attestations,
                    deposits: body.deposits,
                    voluntary_exits: body.voluntary_exits,
                    sync_aggregate: body.sync_aggregate,
                    execution_payload_header: header_from_payload!(
                        &body.execution_payload,
                        $header,
                        { $($extra),* }
                    ),
                    bls_to_execution_changes: body.bls_to_execution_changes,
                    $($body_extra: body.$body_extra,)*
                },
            }
        }
    };
}

blind_block!(blind_capella, capella, capella::ExecutionPayloadHeader, {}, {});
blind_block!(blind_deneb, deneb, deneb::ExecutionPayloadHeader, { blob_gas_used, excess_blob_gas }, { blob_kzg_commitments });
blind_block!(
    blind_electra,
    electra,
    deneb::ExecutionPayloadHeader,
    { blob_gas_used, excess_blob_gas },
    { blob_kzg_commitments, execution_requests }
);

/// Types unchanged since phase0.
fn phase0_common() -> Vec<(&'static str, Check)> {
    vec![
        ("Checkpoint", check::<phase0::Checkpoint>),
        ("AttestationData", check::<phase0::AttestationData>),
        ("Eth1Data", check::<phase0::Eth1Data>),
        ("BeaconBlockHeader", check::<phase0::BeaconBlockHeader>),
        ("SignedBeaconBlockHeader", check::<phase0::SignedBeaconBlockHeader>),
        ("ProposerSlashing", check::<phase0::ProposerSlashing>),
        ("DepositData", check::<phase0::DepositData>),
        ("DepositMessage", check::<phase0::DepositMessage>),
        ("Deposit", check::<phase0::Deposit>),
        ("VoluntaryExit", check::<phase0::VoluntaryExit>),
        ("SignedVoluntaryExit", check::<phase0::SignedVoluntaryExit>),
    ]
}

/// The phase0 attestation family (phase0 to Deneb).
fn phase0_attestations() -> Vec<(&'static str, Check)> {
    vec![
        ("Attestation", check::<phase0::Attestation>),
        ("IndexedAttestation", check::<phase0::IndexedAttestation>),
        ("AttesterSlashing", check::<phase0::AttesterSlashing>),
        ("AggregateAndProof", check::<phase0::AggregateAndProof>),
        ("SignedAggregateAndProof", check::<phase0::SignedAggregateAndProof>),
    ]
}

/// The Electra attestation family (Electra and Fulu).
fn electra_attestations() -> Vec<(&'static str, Check)> {
    vec![
        ("Attestation", check::<electra::Attestation>),
        ("IndexedAttestation", check::<electra::IndexedAttestation>),
        ("AttesterSlashing", check::<electra::AttesterSlashing>),
        ("AggregateAndProof", check::<electra::AggregateAndProof>),
        ("SignedAggregateAndProof", check::<electra::SignedAggregateAndProof>),
        ("SingleAttestation", check::<electra::SingleAttestation>),
    ]
}

/// Altair's sync-committee types (Altair on).
fn altair_sync() -> Vec<(&'static str, Check)> {
    vec![
        ("SyncCommitteeMessage", check::<altair::SyncCommitteeMessage>),
        ("SyncCommitteeContribution", check::<altair::SyncCommitteeContribution>),
        ("ContributionAndProof", check::<altair::ContributionAndProof>),
        ("SignedContributionAndProof", check::<altair::SignedContributionAndProof>),
        ("SyncAggregatorSelectionData", check::<altair::SyncAggregatorSelectionData>),
        ("SyncAggregate", check::<altair::SyncAggregate>),
    ]
}

/// Capella's withdrawal types (Capella on).
fn capella_withdrawals() -> Vec<(&'static str, Check)> {
    vec![
        ("Withdrawal", check::<capella::Withdrawal>),
        ("BLSToExecutionChange", check::<capella::BlsToExecutionChange>),
        ("SignedBLSToExecutionChange", check::<capella::SignedBlsToExecutionChange>),
    ]
}

/// Electra's blocks and requests; Fulu maps to the same types through `beacon::fulu`.
fn electra_blocks(fulu_names: bool) -> Vec<(&'static str, Check)> {
    if fulu_names {
        vec![
            ("ExecutionPayload", check::<fulu::ExecutionPayload>),
            ("ExecutionPayloadHeader", check::<fulu::ExecutionPayloadHeader>),
            ("DepositRequest", check::<fulu::DepositRequest>),
            ("WithdrawalRequest", check::<fulu::WithdrawalRequest>),
            ("ConsolidationRequest", check::<fulu::ConsolidationRequest>),
            ("ExecutionRequests", check::<fulu::ExecutionRequests>),
            ("BeaconBlockBody", check::<fulu::BeaconBlockBody>),
            ("BeaconBlock", check::<fulu::BeaconBlock>),
            ("SignedBeaconBlock", check::<fulu::SignedBeaconBlock>),
        ]
    } else {
        vec![
            ("ExecutionPayload", check::<deneb::ExecutionPayload>),
            ("ExecutionPayloadHeader", check::<deneb::ExecutionPayloadHeader>),
            ("DepositRequest", check::<electra::DepositRequest>),
            ("WithdrawalRequest", check::<electra::WithdrawalRequest>),
            ("ConsolidationRequest", check::<electra::ConsolidationRequest>),
            ("ExecutionRequests", check::<electra::ExecutionRequests>),
            ("BeaconBlockBody", check::<electra::BeaconBlockBody>),
            ("BeaconBlock", check::<electra::BeaconBlock>),
            ("SignedBeaconBlock", check::<electra::SignedBeaconBlock>),
        ]
    }
}

/// Every mapped (fork, spec type name, check).
fn mapped() -> Vec<(&'static str, &'static str, Check)> {
    let mut out = Vec::new();
    let mut add = |fork: &'static str, list: Vec<(&'static str, Check)>| {
        out.extend(list.into_iter().map(|(name, f)| (fork, name, f)));
    };
    add("phase0", phase0_common());
    add("phase0", phase0_attestations());
    for fork in ["altair", "bellatrix"] {
        add(fork, phase0_common());
        add(fork, phase0_attestations());
        add(fork, altair_sync());
    }
    add("capella", phase0_common());
    add("capella", phase0_attestations());
    add("capella", altair_sync());
    add("capella", capella_withdrawals());
    add(
        "capella",
        vec![
            ("ExecutionPayload", check::<capella::ExecutionPayload>),
            ("ExecutionPayloadHeader", check::<capella::ExecutionPayloadHeader>),
            ("BeaconBlockBody", check::<capella::BeaconBlockBody>),
            ("BeaconBlock", check::<capella::BeaconBlock>),
            ("SignedBeaconBlock", check::<capella::SignedBeaconBlock>),
        ],
    );
    add("deneb", phase0_common());
    add("deneb", phase0_attestations());
    add("deneb", altair_sync());
    add("deneb", capella_withdrawals());
    add(
        "deneb",
        vec![
            ("ExecutionPayload", check::<deneb::ExecutionPayload>),
            ("ExecutionPayloadHeader", check::<deneb::ExecutionPayloadHeader>),
            ("BeaconBlockBody", check::<deneb::BeaconBlockBody>),
            ("BeaconBlock", check::<deneb::BeaconBlock>),
            ("SignedBeaconBlock", check::<deneb::SignedBeaconBlock>),
        ],
    );
    for (fork, fulu_names) in [("electra", false), ("fulu", true)] {
        add(fork, phase0_common());
        add(fork, electra_attestations());
        add(fork, altair_sync());
        add(fork, capella_withdrawals());
        add(fork, electra_blocks(fulu_names));
    }
    out
}

/// Blinded-block checks run on the full `BeaconBlock` cases of these forks.
fn blinded_checks() -> Vec<(&'static str, Check)> {
    vec![
        ("capella", |c| check_blinded(c, blind_capella)),
        ("deneb", |c| check_blinded(c, blind_deneb)),
        ("electra", |c| check_blinded(c, blind_electra)),
        ("fulu", |c| check_blinded(c, blind_electra)),
    ]
}

/// Folders of spec types the project does not define, by fork: beacon-state parts and
/// networking types, `SigningData`/`ForkData` (in `crypto::signing`, tested there), and
/// block layouts of forks before Capella (ssv-spec proposes from Capella on).
const UNMAPPED: &[(&str, &[&str])] = &[
    (
        "phase0",
        &[
            "BeaconBlock",
            "BeaconBlockBody",
            "Eth1Block",
            "Fork",
            "ForkData",
            "PendingAttestation",
            "SignedBeaconBlock",
            "SigningData",
            "Validator",
        ],
    ),
    (
        "altair",
        &[
            "BeaconBlock",
            "BeaconBlockBody",
            "Eth1Block",
            "Fork",
            "ForkData",
            "PendingAttestation",
            "SignedBeaconBlock",
            "SigningData",
            "SyncCommittee",
            "Validator",
        ],
    ),
    (
        "bellatrix",
        &[
            "BeaconBlock",
            "BeaconBlockBody",
            "Eth1Block",
            "ExecutionPayload",
            "ExecutionPayloadHeader",
            "Fork",
            "ForkData",
            "PendingAttestation",
            "PowBlock",
            "SignedBeaconBlock",
            "SigningData",
            "SyncCommittee",
            "Validator",
        ],
    ),
    (
        "capella",
        &[
            "Eth1Block",
            "Fork",
            "ForkData",
            "HistoricalSummary",
            "PendingAttestation",
            "PowBlock",
            "SigningData",
            "SyncCommittee",
            "Validator",
        ],
    ),
    (
        "deneb",
        &[
            "BlobIdentifier",
            "Eth1Block",
            "Fork",
            "ForkData",
            "HistoricalSummary",
            "PendingAttestation",
            "PowBlock",
            "SigningData",
            "SyncCommittee",
            "Validator",
        ],
    ),
    (
        "electra",
        &[
            "BlobIdentifier",
            "Eth1Block",
            "Fork",
            "ForkData",
            "HistoricalSummary",
            "PendingAttestation",
            "PendingConsolidation",
            "PendingDeposit",
            "PendingPartialWithdrawal",
            "PowBlock",
            "SigningData",
            "SyncCommittee",
            "Validator",
        ],
    ),
    (
        "fulu",
        &[
            "BlobIdentifier",
            "Eth1Block",
            "Fork",
            "ForkData",
            "HistoricalSummary",
            "PendingAttestation",
            "PendingConsolidation",
            "PendingDeposit",
            "PendingPartialWithdrawal",
            "PowBlock",
            "SigningData",
            "SyncCommittee",
            "Validator",
        ],
    ),
];

fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>, FixtureError> {
    let io = |source| FixtureError::Io { path: dir.to_path_buf(), source };
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn build() -> Result<Vec<Trial>, FixtureError> {
    let root = unpacked(SSZ_STATIC_V1_5_0)?;
    let mainnet = root.join("tests").join("mainnet");
    let mapping = mapped();
    let mut trials = Vec::new();
    let mut missing = Vec::new();
    let mut cases_run = 0usize;

    for (fork, name, check) in &mapping {
        let folder = mainnet.join(fork).join("ssz_static").join(name).join("ssz_random");
        if !folder.is_dir() {
            missing.push(format!("{fork}/{name}"));
            continue;
        }
        let blinded = blinded_checks()
            .into_iter()
            .find(|(f, _)| *name == "BeaconBlock" && f == fork)
            .map(|(_, c)| c);
        for case in sorted_dirs(&folder)? {
            cases_run += 1;
            let label = case.strip_prefix(&mainnet).unwrap_or(&case).to_string_lossy().to_string();
            let check = *check;
            let path = case.clone();
            trials.push(Trial::test(label.clone(), move || check(&path).map_err(Failed::from)));
            if let Some(blinded) = blinded {
                trials.push(Trial::test(format!("{label}/blinded"), move || {
                    blinded(&case).map_err(Failed::from)
                }));
            }
        }
    }

    let mapped_count = mapping.len();
    trials.push(Trial::test("mapped folders present", move || {
        if !missing.is_empty() {
            return Err(format!("mapped type folders missing: {}", missing.join(", ")).into());
        }
        if mapped_count != MAPPED_FOLDERS {
            return Err(format!("{mapped_count} mapped folders, expected {MAPPED_FOLDERS}").into());
        }
        Ok(())
    }));
    trials.push(suite::count_trial("ssz_static cases", MAPPED_FOLDERS * CASES_PER_TYPE, cases_run));

    // Every folder in the archive is either mapped or knowingly unmapped.
    let mut unaccounted = Vec::new();
    for fork_dir in sorted_dirs(&mainnet)? {
        let fork =
            fork_dir.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
        for type_dir in sorted_dirs(&fork_dir.join("ssz_static"))? {
            let name =
                type_dir.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
            let is_mapped = mapping.iter().any(|(f, n, _)| *f == fork && *n == name);
            let is_unmapped =
                UNMAPPED.iter().any(|(f, names)| *f == fork && names.contains(&name.as_str()));
            if !is_mapped && !is_unmapped {
                unaccounted.push(format!("{fork}/{name}"));
            }
        }
    }
    trials.push(Trial::test("folders accounted for", move || {
        if unaccounted.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "folders neither mapped nor listed as unmapped: {}",
                unaccounted.join(", ")
            )
            .into())
        }
    }));
    Ok(trials)
}

/// The ssv-spec `validatorconsensusdata` proposer vectors (valid and invalid, 4 forks, full
/// and blinded).
const PROPOSER_VECTORS: usize = 16;

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConsensusDataVector {
    consensus_data: ConsensusData,
    expected_error_code: u16,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConsensusData {
    version: DataVersion,
    #[serde(rename = "DataSSZ")]
    data_ssz: Option<String>,
}

fn load_vector(path: &Path) -> Result<(DataVersion, Vec<u8>, u16), String> {
    let v: ConsensusDataVector = serde_json::from_slice(&read(path)?).map_err(|e| e.to_string())?;
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.consensus_data.data_ssz.unwrap_or_default())
        .map_err(|e| e.to_string())?;
    Ok((v.consensus_data.version, bytes, v.expected_error_code))
}

/// The go-eth2-client JSON of a testingutils block constant (`{name: {value: …}}`).
fn fixture_json(consts: &serde_json::Value, name: &str) -> Result<String, String> {
    consts
        .get(name)
        .and_then(|c| c.get("value"))
        .map(|v| v.to_string())
        .ok_or_else(|| format!("{name} missing from beacon_node_consts.json"))
}

fn parse<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| format!("block JSON: {e}"))
}

/// The full proposal of `version` built from the testingutils JSON, with `slot` (the fixtures
/// override the JSON's slot per version) and, from Electra on, the Deneb proofs and blobs.
fn expected_full(
    consts: &serde_json::Value,
    version: DataVersion,
    slot: u64,
) -> Result<VersionedBlock, String> {
    let deneb: deneb::BlockContents = parse(&fixture_json(consts, "denebBlockContents")?)?;
    Ok(match version {
        DataVersion::Capella => {
            let mut b: capella::BeaconBlock = parse(&fixture_json(consts, "capellaBlock")?)?;
            b.slot = slot;
            VersionedBlock::Capella(b)
        }
        DataVersion::Deneb => {
            let mut c = deneb;
            c.block.slot = slot;
            VersionedBlock::Deneb(c)
        }
        DataVersion::Electra | DataVersion::Fulu => {
            let mut b: electra::BeaconBlock = parse(&fixture_json(consts, "electraBeaconBlock")?)?;
            b.slot = slot;
            if version == DataVersion::Electra {
                let (kzg_proofs, blobs) = (deneb.kzg_proofs, deneb.blobs);
                VersionedBlock::Electra(electra::BlockContents { block: b, kzg_proofs, blobs })
            } else {
                let kzg_proofs = ssz_types::VariableList::new(deneb.kzg_proofs.to_vec())
                    .map_err(|e| format!("{e:?}"))?;
                VersionedBlock::Fulu(fulu::BlockContents {
                    block: b,
                    kzg_proofs,
                    blobs: deneb.blobs,
                })
            }
        }
        other => return Err(format!("no fixture block for {other}")),
    })
}

fn check_proposer_vector(path: &Path, consts: &serde_json::Value) -> Result<(), String> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let (version, bytes, expected_code) = load_vector(path)?;
    let blinded = name.contains("blinded");
    if name.contains("_invalid_") {
        let Err(err) = decode_proposal(version.as_u64(), &bytes) else {
            return Err("invalid proposal decoded".into());
        };
        let code = err.code().map(|c| c.as_u16());
        return if code == Some(expected_code) {
            Ok(())
        } else {
            Err(format!("error code {code:?} ({err}), expected {expected_code}"))
        };
    }
    let block = decode_proposal(version.as_u64(), &bytes).map_err(|e| e.to_string())?;
    if block.version() != version || block.is_blinded() != blinded {
        return Err(format!("decoded as {} blinded={}", block.version(), block.is_blinded()));
    }
    if block.to_ssz() != bytes {
        return Err("re-encoding differs from DataSSZ".into());
    }
    let full_path = path.with_file_name(name.replace("_blinded_block", "_block"));
    let (_, full_bytes, _) = load_vector(&full_path)?;
    let full = decode_proposal(version.as_u64(), &full_bytes).map_err(|e| e.to_string())?;
    let expected = expected_full(consts, version, full.slot())?;
    if full != expected {
        return Err("DataSSZ block differs from the testingutils block JSON".into());
    }
    if blinded && block.block_root() != full.block_root() {
        return Err("blinded block root differs from the full block root".into());
    }
    Ok(())
}

fn proposer_trials() -> Result<Vec<Trial>, FixtureError> {
    let root = unpacked(SSV_SPEC_V1_2_2)?;
    let tests = root.join("types").join("spectest").join("generate").join("tests");
    let consts_path = vector_path(
        "ssv-spec-testingutils-v1.2.2/beacon_node_consts.json",
        SSV_SPEC_V1_2_2.upstream,
    )?;
    let consts: std::sync::Arc<serde_json::Value> =
        std::sync::Arc::new(ssv_fixtures::read_json(&consts_path)?);
    let prefix = "validatorconsensusdata.ValidatorConsensusDataTest_validatorconsensusdata_";
    let files: Vec<PathBuf> = ssv_fixtures::files_with_extension(&tests, "_block.json")?
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
        .collect();
    let mut trials = Vec::new();
    let count = files.len();
    for file in files {
        let label = format!(
            "ssv-spec/{}",
            file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
        );
        let consts = std::sync::Arc::clone(&consts);
        trials.push(Trial::test(label, move || {
            check_proposer_vector(&file, &consts).map_err(Failed::from)
        }));
    }
    trials.push(suite::count_trial("ssv-spec proposer vectors", PROPOSER_VECTORS, count));
    Ok(trials)
}

fn main() -> ExitCode {
    suite::run(|| {
        let mut trials = build()?;
        trials.extend(proposer_trials()?);
        Ok(trials)
    })
}
