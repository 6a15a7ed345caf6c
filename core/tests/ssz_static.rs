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

// A vector harness reads its files; the no-IO rule is for the library.
#![allow(clippy::disallowed_methods)]

use std::fmt::Debug;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::de::DeserializeOwned;
use ssv_core::beacon::{altair, capella, deneb, electra, fulu, phase0};
use ssv_fixtures::suite::{self, Failed, Trial};
use ssv_fixtures::{FixtureError, SSZ_STATIC_V1_5_0, unpacked};
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

fn main() -> ExitCode {
    suite::run(build)
}
