//! Aggregator and sync-committee-contribution duties on the duty path: which of the
//! cluster's validators have them, which are selected, what the beacon node answers their
//! runners, and how the chain checks what they submit.
//!
//! As the node does (`shell/src/node/driver.rs`, `on_duties`): every attester of a slot
//! also runs the aggregator role and every sync-committee member the contribution role;
//! the reconstructed selection proof decides (`is_aggregator` of the phase0 validator
//! guide, `is_sync_committee_aggregator` of the altair one). Selection is the spec's rule
//! in both crypto modes; in fake-crypto mode the proof is the [`FakeBls`] stand-in
//! signature of the validator key over the same signing root, so the selected set is a
//! deterministic function of the keys, the slot and the chain's domains.
//!
//! In real-crypto mode the chain's own pools answer (`aggregate_attestation`,
//! `sync_committee_contribution`, fed by the verified attestations and sync messages) and
//! the chain checks submissions with BLS. In fake-crypto mode [`FakePools`] stands in for
//! the pools: an aggregate's signature is the stand-in signature of an aggregate key (a
//! hash of the signers' keys, [`fake_aggregate_key`]) over the same signing root, and
//! [`check_fake`] repeats every check of the chain with the stand-ins.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};
use ssv_core::beacon::{
    AttestationData, SignedContributionAndProof, SyncAggregatorSelectionData,
    SyncCommitteeContribution, electra,
};
use ssv_core::crypto::signing::{BeaconDomainType, compute_signing_root};
use ssv_core::runner::{Response, Submission};
use ssv_core::types::ssz::{Decode, Encode};
use ssv_core::types::ssz_types::{BitList, BitVector, VariableList};
use ssv_core::types::tree_hash::TreeHash;
use ssv_core::types::{
    BeaconRole, BlsPublicKeyBytes, BlsSignatureBytes, Contribution, Contributions, Root, Slot,
    ValidatorConsensusData, ValidatorDuty, ValidatorIndex,
};

use super::CryptoMode;
use super::crypto::FakeBls;
use super::runners::{ClusterKeys, DueItem, FORK};
use crate::chain::Chain as Beacon;
use crate::chain::duties::{SYNC_SUBCOMMITTEE_SIZE, is_aggregator, is_sync_committee_aggregator};

/// The `role` of an aggregate in a [`DueItem`] (`BeaconRole::Aggregator`).
pub const ROLE_AGGREGATOR: u64 = BeaconRole::Aggregator as u64;
/// The `role` of a contribution in a [`DueItem`] (`BeaconRole::SyncCommitteeContribution`).
pub const ROLE_CONTRIBUTION: u64 = BeaconRole::SyncCommitteeContribution as u64;
/// Slots a fake pool keeps before the newest pooled slot.
const POOL_SLOTS: u64 = 4;
/// The most sync-committee indices a duty carries (the spec's cap, as the node truncates).
const SYNC_INDICES_MAX: usize = 13;

/// The aggregator duties of `slot`: one per attester of the cluster (role 1, with the
/// attester's committee index and length).
pub fn aggregator_duties(beacon: &Beacon, slot: Slot) -> Vec<ValidatorDuty> {
    super::runners::committee_duty(beacon, slot)
        .map(|d| {
            d.validator_duties
                .iter()
                .filter(|v| v.role == BeaconRole::Attester as u64)
                .map(|v| ValidatorDuty { role: ROLE_AGGREGATOR, ..v.clone() })
                .collect()
        })
        .unwrap_or_default()
}

/// The contribution duties of `slot`: one per sync-committee member of the cluster (role
/// 4, with its sync-committee indices).
pub fn contribution_duties(beacon: &Beacon, slot: Slot) -> Vec<ValidatorDuty> {
    super::runners::committee_duty(beacon, slot)
        .map(|d| {
            d.validator_duties
                .iter()
                .filter(|v| v.role == BeaconRole::SyncCommittee as u64)
                .map(|v| ValidatorDuty { role: ROLE_CONTRIBUTION, ..v.clone() })
                .collect()
        })
        .unwrap_or_default()
}

/// The validator's signature over `signing_root`: BLS with the full key, or the stand-in.
fn validator_sign(
    keys: &ClusterKeys,
    mode: CryptoMode,
    validator: ValidatorIndex,
    signing_root: &Root,
) -> Option<BlsSignatureBytes> {
    let i = usize::try_from(validator).ok()?;
    match mode {
        CryptoMode::Fake => Some(FakeBls::sign(&keys.validators.get(i)?.to_bytes(), signing_root)),
        CryptoMode::Real => Some(keys.validator_secrets.get(i)?.sign(signing_root).to_bytes()),
    }
}

/// The selected aggregators and sync aggregators of `slot`: `(slot, role, validator)` for
/// every aggregator whose selection proof selects it, and every sync-committee member with
/// at least one selected subnet. Memoized per chain and slot.
pub fn due_aggregation(
    beacon: &Beacon,
    keys: &ClusterKeys,
    mode: CryptoMode,
    slot: Slot,
) -> Arc<Vec<DueItem>> {
    type Memo = Mutex<BTreeMap<(u64, Root, u64, bool, Slot), Arc<Vec<DueItem>>>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    let map = MEMO.get_or_init(|| Mutex::new(BTreeMap::new()));
    let key = (
        beacon.config().seed,
        beacon.genesis_validators_root(),
        beacon.config().slots_per_epoch,
        mode == CryptoMode::Real,
        slot,
    );
    if let Some(v) = map.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return v;
    }
    let v = Arc::new(compute_due(beacon, keys, mode, slot));
    if let Ok(mut m) = map.lock() {
        while m.len() >= 256 {
            m.pop_first();
        }
        m.insert(key, Arc::clone(&v));
    }
    v
}

fn compute_due(beacon: &Beacon, keys: &ClusterKeys, mode: CryptoMode, slot: Slot) -> Vec<DueItem> {
    let mut due = Vec::new();
    let selection = beacon.domain(BeaconDomainType::SELECTION_PROOF);
    let root = compute_signing_root(&slot.tree_hash_root().0, &selection);
    for d in aggregator_duties(beacon, slot) {
        let proof = validator_sign(keys, mode, d.validator_index, &root);
        if proof.is_some_and(|p| is_aggregator(d.committee_length, &p)) {
            due.push((slot, ROLE_AGGREGATOR, d.validator_index));
        }
    }
    let sync_selection = beacon.domain(BeaconDomainType::SYNC_COMMITTEE_SELECTION_PROOF);
    for d in contribution_duties(beacon, slot) {
        let selected = d.validator_sync_committee_indices.iter().take(SYNC_INDICES_MAX).any(|i| {
            let data = SyncAggregatorSelectionData {
                slot,
                subcommittee_index: i / SYNC_SUBCOMMITTEE_SIZE,
            };
            let root = compute_signing_root(&data.tree_hash_root().0, &sync_selection);
            validator_sign(keys, mode, d.validator_index, &root)
                .is_some_and(|p| is_sync_committee_aggregator(&p))
        });
        if selected {
            due.push((slot, ROLE_CONTRIBUTION, d.validator_index));
        }
    }
    due
}

/// The stand-in aggregate key of `keys` (in order): the fake aggregate signature of their
/// signatures over a root is `FakeBls::sign(aggregate key, root)`.
pub fn fake_aggregate_key<'a>(
    keys: impl IntoIterator<Item = &'a BlsPublicKeyBytes>,
) -> BlsPublicKeyBytes {
    let mut h = Sha256::new().chain_update(b"ssv-sim/fake-aggregate");
    for k in keys {
        h.update(k);
    }
    let mut key = [0u8; 48];
    key[..32].copy_from_slice(&h.finalize());
    key
}

/// Fake-crypto mode's stand-in for the chain's pools: the attestations and sync messages
/// the chain accepted, by who signed them.
#[derive(Debug, Default)]
pub struct FakePools {
    /// (slot, committee, data root) → (data, committee positions that attested).
    attestations: BTreeMap<(Slot, u64, Root), (AttestationData, BTreeSet<usize>)>,
    /// (slot, block root) → sync-committee positions that signed.
    sync: BTreeMap<(Slot, Root), BTreeSet<u64>>,
}

impl FakePools {
    /// Pools an accepted attestation or sync message (other submissions are ignored).
    pub fn add(&mut self, beacon: &Beacon, s: &Submission) {
        // Aggregates are asked for within two slots of their slot: keep a few more.
        let slot = match s {
            Submission::SingleAttestation(a) => a.data.slot,
            Submission::SyncCommitteeMessage(m) => m.slot,
            _ => return,
        };
        let keep = slot.saturating_sub(POOL_SLOTS);
        let stale = self.attestations.first_key_value().is_some_and(|(k, _)| k.0 < keep)
            || self.sync.first_key_value().is_some_and(|(k, _)| k.0 < keep);
        if stale {
            self.attestations.retain(|k, _| k.0 >= keep);
            self.sync.retain(|k, _| k.0 >= keep);
        }
        match s {
            Submission::SingleAttestation(a) => {
                let Ok(members) = beacon.committee(a.data.slot, a.committee_index) else { return };
                let Some(pos) = members.iter().position(|m| *m == a.attester_index) else {
                    return;
                };
                let key = (a.data.slot, a.committee_index, a.data.tree_hash_root().0);
                self.attestations
                    .entry(key)
                    .or_insert_with(|| (a.data, BTreeSet::new()))
                    .1
                    .insert(pos);
            }
            Submission::SyncCommitteeMessage(m) => {
                let committee = beacon.sync_committee(m.slot);
                let pool = self.sync.entry((m.slot, m.beacon_block_root)).or_default();
                for (j, _) in committee.iter().enumerate().filter(|(_, v)| **v == m.validator_index)
                {
                    pool.insert(j as u64);
                }
            }
            _ => {}
        }
    }
}

fn key_of(beacon: &Beacon, validator: u64) -> Result<BlsPublicKeyBytes, String> {
    usize::try_from(validator)
        .ok()
        .and_then(|i| beacon.validators().get(i))
        .map(|k| k.to_bytes())
        .ok_or_else(|| format!("unknown validator {validator}"))
}

/// The beacon node's aggregate of the pooled attestations with `data` in
/// `committee_index` (`GET /eth/v2/validator/aggregate_attestation`, Electra).
///
/// # Errors
/// Nothing pooled for the data, or a malformed aggregate.
pub fn aggregate_attestation(
    beacon: &Beacon,
    pools: &FakePools,
    mode: CryptoMode,
    data: &AttestationData,
    committee_index: u64,
) -> Result<electra::Attestation, String> {
    let root = data.tree_hash_root().0;
    if mode == CryptoMode::Real {
        let v = beacon
            .aggregate_attestation(data.slot, &root, committee_index)
            .map_err(|e| e.to_string())?;
        return serde_json::from_value(v).map_err(|e| e.to_string());
    }
    let (pooled, positions) = pools
        .attestations
        .get(&(data.slot, committee_index, root))
        .ok_or("no matching attestations")?;
    let members = beacon.committee(data.slot, committee_index).map_err(|e| e.to_string())?;
    let mut bits = BitList::with_capacity(members.len()).map_err(|e| format!("{e:?}"))?;
    let mut keys = Vec::new();
    for p in positions {
        bits.set(*p, true).map_err(|e| format!("{e:?}"))?;
        keys.push(key_of(beacon, members[*p])?);
    }
    let mut committee_bits = BitVector::new();
    committee_bits.set(committee_index as usize, true).map_err(|e| format!("{e:?}"))?;
    let signing_root =
        compute_signing_root(&root, &beacon.domain(BeaconDomainType::BEACON_ATTESTER));
    Ok(electra::Attestation {
        aggregation_bits: bits,
        data: *pooled,
        signature: FakeBls::sign(&fake_aggregate_key(&keys), &signing_root),
        committee_bits,
    })
}

/// The beacon node's contribution of `subcommittee` for `block_root` at `slot`
/// (`GET /eth/v1/validator/sync_committee_contribution`).
///
/// # Errors
/// No pooled message of the subcommittee.
pub fn sync_contribution(
    beacon: &Beacon,
    pools: &FakePools,
    mode: CryptoMode,
    slot: Slot,
    subcommittee: u64,
    block_root: &Root,
) -> Result<SyncCommitteeContribution, String> {
    if mode == CryptoMode::Real {
        return beacon
            .sync_committee_contribution(slot, subcommittee, block_root)
            .map_err(|e| e.to_string());
    }
    let pool = pools.sync.get(&(slot, *block_root)).ok_or("no sync messages")?;
    let committee = beacon.sync_committee(slot);
    let lo = subcommittee * SYNC_SUBCOMMITTEE_SIZE;
    let mut bits = BitVector::new();
    let mut keys = Vec::new();
    for j in pool.range(lo..lo + SYNC_SUBCOMMITTEE_SIZE) {
        bits.set((j - lo) as usize, true).map_err(|e| format!("{e:?}"))?;
        keys.push(key_of(beacon, committee[*j as usize])?);
    }
    if keys.is_empty() {
        return Err("no sync messages in this subcommittee".into());
    }
    let signing_root =
        compute_signing_root(block_root, &beacon.domain(BeaconDomainType::SYNC_COMMITTEE));
    Ok(SyncCommitteeContribution {
        slot,
        beacon_block_root: *block_root,
        subcommittee_index: subcommittee,
        aggregation_bits: bits,
        signature: FakeBls::sign(&fake_aggregate_key(&keys), &signing_root),
    })
}

/// The answer to an aggregator runner's data request: the aggregate-and-proof of
/// `aggregator` for `data` (as the node's `aggregate`).
pub fn aggregate_response(
    beacon: &Beacon,
    pools: &FakePools,
    mode: CryptoMode,
    data: &AttestationData,
    committee_index: u64,
    aggregator: ValidatorIndex,
    selection_proof: BlsSignatureBytes,
) -> Response {
    match aggregate_attestation(beacon, pools, mode, data, committee_index) {
        Ok(aggregate) => Response::ConsensusData {
            version: FORK.as_u64(),
            data_ssz: electra::AggregateAndProof {
                aggregator_index: aggregator,
                aggregate,
                selection_proof,
            }
            .as_ssz_bytes(),
        },
        Err(e) => Response::Failed(e),
    }
}

/// The answer to a contribution runner's data request: the contributions of the selected
/// subnets for `block_root` (as the node's `contributions`: subnets without messages are
/// left out; none at all fails).
pub fn contributions_response(
    beacon: &Beacon,
    pools: &FakePools,
    mode: CryptoMode,
    slot: Slot,
    block_root: &Root,
    proofs: &[BlsSignatureBytes],
    subnets: &[u64],
) -> Response {
    let mut list = Vec::new();
    for (proof, subnet) in proofs.iter().zip(subnets) {
        if let Ok(contribution) = sync_contribution(beacon, pools, mode, slot, *subnet, block_root)
        {
            list.push(Contribution { selection_proof_sig: *proof, contribution });
        }
    }
    if list.is_empty() {
        return Response::Failed("no contribution for any selected subnet".into());
    }
    match VariableList::new(list) {
        Ok(list) => Response::ConsensusData {
            version: FORK.as_u64(),
            data_ssz: Contributions(list).as_ssz_bytes(),
        },
        Err(_) => Response::Failed("too many contributions".into()),
    }
}

/// The aggregator runner's value as the invariants see it: a `ValidatorConsensusData` of an
/// aggregator duty at `slot` whose aggregate-and-proof is the duty validator's, of `slot`.
///
/// # Errors
/// Why the value is invalid.
pub fn check_aggregate(slot: Slot, value: &[u8]) -> Result<(), String> {
    let cd = ValidatorConsensusData::from_ssz_bytes(value)
        .map_err(|e| format!("not a ValidatorConsensusData: {e:?}"))?;
    if cd.duty.role != ROLE_AGGREGATOR || cd.duty.slot != slot {
        return Err("not an aggregator duty of the slot".into());
    }
    let agg = cd.aggregate_and_proof().map_err(|e| format!("no aggregate: {e:?}"))?;
    let (index, data_slot) = match &agg {
        ssv_core::types::VersionedAggregateAndProof::Phase0(a) => {
            (a.aggregator_index, a.aggregate.data.slot)
        }
        ssv_core::types::VersionedAggregateAndProof::Electra(a) => {
            (a.aggregator_index, a.aggregate.data.slot)
        }
    };
    if index != cd.duty.validator_index || data_slot != slot {
        return Err("an aggregate of another slot or aggregator".into());
    }
    Ok(())
}

/// The contribution runner's value as the invariants see it: a `ValidatorConsensusData` of
/// a contribution duty at `slot` with at least one contribution, each of `slot`.
///
/// # Errors
/// Why the value is invalid.
pub fn check_contributions(slot: Slot, value: &[u8]) -> Result<(), String> {
    let cd = ValidatorConsensusData::from_ssz_bytes(value)
        .map_err(|e| format!("not a ValidatorConsensusData: {e:?}"))?;
    if cd.duty.role != ROLE_CONTRIBUTION || cd.duty.slot != slot {
        return Err("not a contribution duty of the slot".into());
    }
    let list = cd.sync_committee_contributions().map_err(|e| format!("no contributions: {e:?}"))?;
    if list.0.is_empty() || list.0.iter().any(|c| c.contribution.slot != slot) {
        return Err("no contribution, or one of another slot".into());
    }
    Ok(())
}

/// The chain's checks of a signed aggregate or contribution with [`FakeBls`] signatures:
/// membership, selection proof and selection, the outer signature and the aggregate
/// signature of the set bits. `None` for other submissions.
pub fn check_fake(beacon: &Beacon, s: &Submission) -> Option<Result<(), String>> {
    match s {
        Submission::ElectraAggregateAndProof(a) => Some(check_fake_aggregate(beacon, a)),
        Submission::ContributionAndProof(c) => Some(check_fake_contribution(beacon, c)),
        _ => None,
    }
}

fn verify(
    beacon: &Beacon,
    key: &BlsPublicKeyBytes,
    object: &Root,
    domain: BeaconDomainType,
    sig: &BlsSignatureBytes,
    what: &str,
) -> Result<(), String> {
    let root = compute_signing_root(object, &beacon.domain(domain));
    if FakeBls::verify(key, &root, sig) {
        Ok(())
    } else {
        Err(format!("invalid {what} (fake BLS)"))
    }
}

fn check_fake_aggregate(
    beacon: &Beacon,
    s: &electra::SignedAggregateAndProof,
) -> Result<(), String> {
    let m = &s.message;
    let committees: Vec<usize> =
        m.aggregate.committee_bits.iter().enumerate().filter(|(_, b)| *b).map(|(i, _)| i).collect();
    let [ci] = committees.as_slice() else {
        return Err("exactly one committee bit must be set".into());
    };
    let data = &m.aggregate.data;
    let members = beacon.committee(data.slot, *ci as u64).map_err(|e| e.to_string())?;
    if !members.contains(&m.aggregator_index) {
        return Err(format!("validator {} is not in the committee", m.aggregator_index));
    }
    let key = key_of(beacon, m.aggregator_index)?;
    let slot_root = data.slot.tree_hash_root().0;
    verify(
        beacon,
        &key,
        &slot_root,
        BeaconDomainType::SELECTION_PROOF,
        &m.selection_proof,
        "selection proof",
    )?;
    if !is_aggregator(members.len() as u64, &m.selection_proof) {
        return Err(format!("validator {} is not an aggregator", m.aggregator_index));
    }
    let outer = m.tree_hash_root().0;
    verify(
        beacon,
        &key,
        &outer,
        BeaconDomainType::AGGREGATE_AND_PROOF,
        &s.signature,
        "aggregate and proof",
    )?;
    if m.aggregate.aggregation_bits.len() != members.len() {
        return Err("aggregation bits do not match the committee".into());
    }
    let keys: Vec<BlsPublicKeyBytes> = members
        .iter()
        .zip(m.aggregate.aggregation_bits.iter())
        .filter(|(_, b)| *b)
        .map(|(v, _)| key_of(beacon, *v))
        .collect::<Result<_, _>>()?;
    if keys.is_empty() {
        return Err("empty aggregate".into());
    }
    let data_root = data.tree_hash_root().0;
    verify(
        beacon,
        &fake_aggregate_key(&keys),
        &data_root,
        BeaconDomainType::BEACON_ATTESTER,
        &m.aggregate.signature,
        "aggregate",
    )
}

fn check_fake_contribution(beacon: &Beacon, s: &SignedContributionAndProof) -> Result<(), String> {
    let m = &s.message;
    let c = &m.contribution;
    let committee = beacon.sync_committee(c.slot);
    let lo = (c.subcommittee_index * SYNC_SUBCOMMITTEE_SIZE) as usize;
    let sub = committee.get(lo..lo + SYNC_SUBCOMMITTEE_SIZE as usize).unwrap_or_default();
    if !sub.contains(&m.aggregator_index) {
        return Err(format!(
            "validator {} is not in sync subcommittee {}",
            m.aggregator_index, c.subcommittee_index
        ));
    }
    let key = key_of(beacon, m.aggregator_index)?;
    let selection =
        SyncAggregatorSelectionData { slot: c.slot, subcommittee_index: c.subcommittee_index };
    let sel_root = selection.tree_hash_root().0;
    verify(
        beacon,
        &key,
        &sel_root,
        BeaconDomainType::SYNC_COMMITTEE_SELECTION_PROOF,
        &m.selection_proof,
        "sync selection proof",
    )?;
    if !is_sync_committee_aggregator(&m.selection_proof) {
        return Err(format!("validator {} is not a sync aggregator", m.aggregator_index));
    }
    let outer = m.tree_hash_root().0;
    verify(
        beacon,
        &key,
        &outer,
        BeaconDomainType::CONTRIBUTION_AND_PROOF,
        &s.signature,
        "contribution and proof",
    )?;
    let keys: Vec<BlsPublicKeyBytes> = sub
        .iter()
        .zip(c.aggregation_bits.iter())
        .filter(|(_, b)| *b)
        .map(|(v, _)| key_of(beacon, *v))
        .collect::<Result<_, _>>()?;
    if keys.is_empty() {
        return Err("empty contribution".into());
    }
    verify(
        beacon,
        &fake_aggregate_key(&keys),
        &c.beacon_block_root,
        BeaconDomainType::SYNC_COMMITTEE,
        &c.signature,
        "contribution",
    )
}
