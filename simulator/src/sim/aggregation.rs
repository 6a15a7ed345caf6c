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
/// The `role` of a contribution in a [`DueItem`] (`BeaconRole::SyncCommitteeContribution`);
/// a contribution of subcommittee `s` is due as [`contribution_role`]`(s)`.
pub const ROLE_CONTRIBUTION: u64 = BeaconRole::SyncCommitteeContribution as u64;
/// Slots a fake pool keeps before the newest pooled slot.
const POOL_SLOTS: u64 = 4;
/// The most sync-committee indices a duty carries (the spec's cap, as the node truncates).
const SYNC_INDICES_MAX: usize = 13;

/// The `role` in a [`DueItem`] of a contribution of sync subcommittee `subcommittee`
/// (0..4): [`ROLE_CONTRIBUTION`] in the low byte, the subcommittee above it, so that a
/// validator selected in several subcommittees owes one contribution for each (as the
/// spec and the node produce) while the item keeps its `(slot, role, validator)` shape.
pub fn contribution_role(subcommittee: u64) -> u64 {
    ROLE_CONTRIBUTION | subcommittee << 8
}

/// Whether a [`DueItem`] role is a contribution's ([`contribution_role`] of any
/// subcommittee).
pub fn is_contribution(role: u64) -> bool {
    role & 0xff == ROLE_CONTRIBUTION
}

/// Whether a node's aggregate or contribution `item` (of slot `s`) is excused from the
/// liveness deadline: the validator has a duty of the same role at `s + 1`, and slot `s`
/// did not give the duty its design window: the node's committee submitted nothing of `s`
/// by two thirds of the slot (`committee_submitted_at`: its first accepted attestation or
/// sync message of `s`, true time, `None` if none; `skew_ms_max` allows for its clock),
/// or the first round's leader of the duty's instance (round robin from `s mod n` over
/// operators `1..=n`, as `RoundRobinProposer`) is not in `live` (byzantine, or its
/// beacon node errs).
///
/// Why, from the protocol: a validator runs one duty per role, and starting the next one
/// ends the previous (ssv-spec `baseStartNewDuty` replaces the runner's state; the
/// controller stops older instances), so the duty of `s` must finish before the next
/// slot's starts. Its data is fetched at two thirds of the slot, and only once the node's
/// committee submitted the slot's attestations and sync messages (the node's
/// `serve_deferred`), and its rounds time out two seconds apart from two thirds of the
/// slot (`SlotAnchor::TwoThirds`): the design leaves it the two quick rounds before the
/// slot's end. A committee still running at two thirds (f faulty operators allow it: a
/// faulty or data-less leader costs a round, slow beacon nodes another) eats into them,
/// and a faulty first leader leaves only the second, whose five message delays (round
/// changes, proposal, prepare, commit, post-consensus partial signatures) plus clock skew
/// need not fit in its two seconds; nothing in the protocol guarantees the item then.
/// Aggregates of validators without a duty at `s + 1`, and every item of a slot that
/// gave the duty its window, stay due.
pub fn superseded_without_its_window(
    beacon: &Beacon,
    item: &DueItem,
    committee_submitted_at: Option<u64>,
    skew_ms_max: u64,
    operators: u64,
    live: &BTreeSet<u64>,
) -> bool {
    let &(slot, role, validator) = item;
    let next = slot.saturating_add(1);
    let superseded = if role == ROLE_AGGREGATOR {
        aggregator_duties(beacon, next).iter().any(|d| d.validator_index == validator)
    } else if is_contribution(role) {
        contribution_duties(beacon, next).iter().any(|d| d.validator_index == validator)
    } else {
        false
    };
    let config = beacon.config();
    let two_thirds = config.genesis_time * 1_000
        + slot * config.slot_duration_ms
        + config.slot_duration_ms * 2 / 3
        + skew_ms_max;
    let late = committee_submitted_at.is_none_or(|t| t > two_thirds);
    let first_leader = slot.checked_rem(operators).map_or(0, |i| i + 1);
    superseded && (late || !live.contains(&first_leader))
}

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
/// every aggregator whose selection proof selects it, and `(slot, contribution_role(s),
/// validator)` for every subcommittee `s` a sync-committee member is selected in (one
/// selection proof per distinct subcommittee of its first 13 positions). Memoized per
/// chain and slot.
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
        let subcommittees: BTreeSet<u64> = d
            .validator_sync_committee_indices
            .iter()
            .take(SYNC_INDICES_MAX)
            .map(|i| i / SYNC_SUBCOMMITTEE_SIZE)
            .collect();
        for subcommittee_index in subcommittees {
            let data = SyncAggregatorSelectionData { slot, subcommittee_index };
            let root = compute_signing_root(&data.tree_hash_root().0, &sync_selection);
            if validator_sign(keys, mode, d.validator_index, &root)
                .is_some_and(|p| is_sync_committee_aggregator(&p))
            {
                due.push((slot, contribution_role(subcommittee_index), d.validator_index));
            }
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

/// The chain's checks of a signed aggregate or contribution submitted at `now_ms` (unix
/// ms) with [`FakeBls`] signatures: not of a future slot, membership, selection proof and
/// selection, the outer signature and the aggregate signature of the set bits; the
/// errors read as the chain's. `None` for other submissions.
pub fn check_fake(beacon: &Beacon, now_ms: u64, s: &Submission) -> Option<Result<(), String>> {
    match s {
        Submission::ElectraAggregateAndProof(a) => Some(check_fake_aggregate(beacon, now_ms, a)),
        Submission::ContributionAndProof(c) => Some(check_fake_contribution(beacon, now_ms, c)),
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
        Err(format!("invalid signature: {what} (fake BLS)"))
    }
}

fn check_fake_aggregate(
    beacon: &Beacon,
    now_ms: u64,
    s: &electra::SignedAggregateAndProof,
) -> Result<(), String> {
    let m = &s.message;
    beacon.check_not_future(now_ms, m.aggregate.data.slot).map_err(|e| e.to_string())?;
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
        return Err(format!("validator {} is not an aggregator for this slot", m.aggregator_index));
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

fn check_fake_contribution(
    beacon: &Beacon,
    now_ms: u64,
    s: &SignedContributionAndProof,
) -> Result<(), String> {
    let m = &s.message;
    let c = &m.contribution;
    beacon.check_not_future(now_ms, c.slot).map_err(|e| e.to_string())?;
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
        return Err(format!("validator {} is not an aggregator for this slot", m.aggregator_index));
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

#[cfg(test)]
mod tests {
    //! Tampered aggregates and contributions are refused by the chain (real BLS) and by
    //! [`check_fake`] (fake crypto). Each case starts from the valid object the simulator
    //! builds (the beacon node's aggregate, the validator's selection proof and outer
    //! signature), changes one thing and re-signs everything else the validator could, so
    //! that only the check under test stands between it and acceptance.

    use super::*;
    use crate::chain::ChainConfig;
    use crate::chain::keys::derive_secret_keys;
    use ssv_core::beacon::{ContributionAndProof, SyncCommitteeMessage};
    use ssv_core::crypto::bls::SecretKey;

    const SEED: u64 = 11;
    /// 64 validators at 2 slots per epoch: one committee of 32 a slot, so `is_aggregator`
    /// selects about half (modulo 2); 512 sync positions over 64 validators leave some
    /// validator out of some subcommittee.
    const VALIDATORS: u64 = 64;
    const SLOT: Slot = 3;
    const SLOT_MS: u64 = 12_000;
    const MODES: [CryptoMode; 2] = [CryptoMode::Fake, CryptoMode::Real];

    /// Unix ms `ms` into `slot` (genesis at 0).
    fn at(slot: Slot, ms: u64) -> u64 {
        slot * SLOT_MS + ms
    }

    struct World {
        chain: Beacon,
        secrets: Vec<SecretKey>,
        mode: CryptoMode,
        pools: FakePools,
    }

    impl World {
        fn new(mode: CryptoMode) -> Self {
            let config = ChainConfig { seed: SEED, slots_per_epoch: 2, ..ChainConfig::default() };
            Self {
                chain: Beacon::from_seed(config, VALIDATORS).unwrap(),
                secrets: derive_secret_keys(SEED, VALIDATORS),
                mode,
                pools: FakePools::default(),
            }
        }

        fn sign(&self, v: u64, object: &Root, domain: BeaconDomainType) -> BlsSignatureBytes {
            let root = compute_signing_root(object, &self.chain.domain(domain));
            match self.mode {
                CryptoMode::Fake => {
                    FakeBls::sign(&self.chain.validators()[v as usize].to_bytes(), &root)
                }
                CryptoMode::Real => self.secrets[v as usize].sign(&root).to_bytes(),
            }
        }

        fn selection_proof(&self, v: u64, slot: Slot) -> BlsSignatureBytes {
            self.sign(v, &slot.tree_hash_root().0, BeaconDomainType::SELECTION_PROOF)
        }

        fn sync_selection_proof(&self, v: u64, slot: Slot, sub: u64) -> BlsSignatureBytes {
            let data = SyncAggregatorSelectionData { slot, subcommittee_index: sub };
            let root = data.tree_hash_root().0;
            self.sign(v, &root, BeaconDomainType::SYNC_COMMITTEE_SELECTION_PROOF)
        }

        /// An accepted attestation or sync message, pooled as the simulator pools it.
        fn pool(&mut self, s: &Submission) {
            let now = at(SLOT, 4_000);
            match (self.mode, s) {
                (CryptoMode::Fake, _) => self.pools.add(&self.chain, s),
                (CryptoMode::Real, Submission::SingleAttestation(a)) => {
                    let v = serde_json::to_value(a).unwrap();
                    self.chain.submit_attestations(now, &[v]).unwrap();
                }
                (CryptoMode::Real, Submission::SyncCommitteeMessage(m)) => {
                    self.chain
                        .submit_sync_committee_messages(now, std::slice::from_ref(m))
                        .unwrap();
                }
                _ => panic!("not pooled"),
            }
        }

        /// The verdict on `s` at `now`: [`check_fake`], or the chain's as `runners::submit`
        /// asks it.
        fn check(&mut self, now: u64, s: &Submission) -> Result<(), String> {
            if self.mode == CryptoMode::Fake {
                return check_fake(&self.chain, now, s).unwrap();
            }
            let res = match s {
                Submission::ElectraAggregateAndProof(a) => {
                    let v = serde_json::to_value(a).unwrap();
                    self.chain.submit_aggregate_and_proofs(now, &[v])
                }
                Submission::ContributionAndProof(c) => {
                    self.chain.submit_contribution_and_proofs(now, std::slice::from_ref(&**c))
                }
                _ => panic!("not an aggregation submission"),
            };
            res.map_err(|f| f[0].1.to_string())
        }

        fn committee(&self) -> Vec<u64> {
            self.chain.committee(SLOT, 0).unwrap()
        }

        /// Every member of the slot's committee but `skip` attests.
        fn attest(&mut self, skip: u64) {
            let data = self.chain.attestation_data(at(SLOT, 4_000), SLOT, 0).unwrap();
            for v in self.committee().into_iter().filter(|v| *v != skip) {
                let signature =
                    self.sign(v, &data.tree_hash_root().0, BeaconDomainType::BEACON_ATTESTER);
                let a = electra::SingleAttestation {
                    committee_index: 0,
                    attester_index: v,
                    data,
                    signature,
                };
                self.pool(&Submission::SingleAttestation(a));
            }
        }

        /// Every sync-committee member but `skip` signs the slot's block root.
        fn sync(&mut self, skip: u64) {
            let root = self.chain.block_root(SLOT);
            let members: BTreeSet<u64> = self.chain.sync_committee(SLOT).into_iter().collect();
            for v in members.into_iter().filter(|v| *v != skip) {
                let signature = self.sign(v, &root, BeaconDomainType::SYNC_COMMITTEE);
                let m = SyncCommitteeMessage {
                    slot: SLOT,
                    beacon_block_root: root,
                    validator_index: v,
                    signature,
                };
                self.pool(&Submission::SyncCommitteeMessage(m));
            }
        }

        /// `aggregator`'s aggregate as the simulator builds it: the beacon node's answer
        /// to the runner's request, signed by the validator.
        fn aggregate(&self, aggregator: u64) -> electra::SignedAggregateAndProof {
            let data = self.chain.attestation_data(at(SLOT, 8_000), SLOT, 0).unwrap();
            let proof = self.selection_proof(aggregator, SLOT);
            let response = aggregate_response(
                &self.chain,
                &self.pools,
                self.mode,
                &data,
                0,
                aggregator,
                proof,
            );
            let Response::ConsensusData { data_ssz, .. } = response else {
                panic!("no aggregate: {response:?}")
            };
            let message = electra::AggregateAndProof::from_ssz_bytes(&data_ssz).unwrap();
            self.signed_aggregate(message)
        }

        fn signed_aggregate(
            &self,
            message: electra::AggregateAndProof,
        ) -> electra::SignedAggregateAndProof {
            let root = message.tree_hash_root().0;
            let v = message.aggregator_index;
            let signature = self.sign(v, &root, BeaconDomainType::AGGREGATE_AND_PROOF);
            electra::SignedAggregateAndProof { message, signature }
        }

        /// `aggregator`'s contribution of `sub` as the simulator builds it.
        fn contribution(&self, aggregator: u64, sub: u64) -> SignedContributionAndProof {
            let proof = self.sync_selection_proof(aggregator, SLOT, sub);
            let root = self.chain.block_root(SLOT);
            let response = contributions_response(
                &self.chain,
                &self.pools,
                self.mode,
                SLOT,
                &root,
                &[proof],
                &[sub],
            );
            let Response::ConsensusData { data_ssz, .. } = response else {
                panic!("no contribution: {response:?}")
            };
            let list = Contributions::from_ssz_bytes(&data_ssz).unwrap();
            let c = list.0.first().unwrap();
            self.signed_contribution(ContributionAndProof {
                aggregator_index: aggregator,
                contribution: c.contribution.clone(),
                selection_proof: c.selection_proof_sig,
            })
        }

        fn signed_contribution(&self, message: ContributionAndProof) -> SignedContributionAndProof {
            let root = message.tree_hash_root().0;
            let v = message.aggregator_index;
            let signature = self.sign(v, &root, BeaconDomainType::CONTRIBUTION_AND_PROOF);
            SignedContributionAndProof { message, signature }
        }

        fn subcommittee(&self, sub: u64) -> Vec<u64> {
            let lo = (sub * SYNC_SUBCOMMITTEE_SIZE) as usize;
            self.chain.sync_committee(SLOT)[lo..lo + SYNC_SUBCOMMITTEE_SIZE as usize].to_vec()
        }
    }

    fn agg(s: electra::SignedAggregateAndProof) -> Submission {
        Submission::ElectraAggregateAndProof(Box::new(s))
    }

    fn contrib(s: SignedContributionAndProof) -> Submission {
        Submission::ContributionAndProof(Box::new(s))
    }

    /// Asserts `res` is a refusal whose reason contains `why`.
    #[track_caller]
    fn refused(mode: CryptoMode, case: &str, res: Result<(), String>, why: &str) {
        match res {
            Err(e) => assert!(e.contains(why), "{mode:?} {case}: refused for {e:?}, not {why:?}"),
            Ok(()) => panic!("{mode:?} {case}: accepted"),
        }
    }

    /// The signature check named `what` failed (the chain's and the fake check's wording).
    fn bad_signature(what: &str) -> String {
        format!("invalid signature: {what}")
    }

    #[test]
    fn contributions_are_due_once_per_selected_subcommittee() {
        use crate::sim::Density;
        use crate::sim::runners::{beacon, cluster_keys};
        use crate::sim::trace::GENESIS_MS;
        // 16 validators at dense density: about 32 sync positions each, so a validator's
        // first 13 positions span two subcommittees or more.
        let keys = cluster_keys(4, 16).unwrap();
        for mode in MODES {
            let chain = beacon(5, GENESIS_MS, SLOT_MS, &keys, Density::Dense).unwrap();
            let sel = chain.domain(BeaconDomainType::SYNC_COMMITTEE_SELECTION_PROOF);
            let mut several = 0;
            for slot in 2..24 {
                let due: BTreeSet<(u64, u64)> = due_aggregation(&chain, &keys, mode, slot)
                    .iter()
                    .filter(|i| is_contribution(i.1))
                    .map(|i| (i.2, i.1 >> 8))
                    .collect();
                // The spec's rule from the chain's sync duties: a selection proof per
                // distinct subcommittee of the first 13 positions.
                let epoch = chain.epoch_of(slot);
                let mut expected = BTreeSet::new();
                for d in chain.sync_duties(epoch, &(0..16).collect::<Vec<_>>()).unwrap() {
                    let v = d.validator_index;
                    let subs: BTreeSet<u64> = d
                        .validator_sync_committee_indices
                        .iter()
                        .take(13)
                        .map(|i| i / SYNC_SUBCOMMITTEE_SIZE)
                        .collect();
                    for sub in subs {
                        let data = SyncAggregatorSelectionData { slot, subcommittee_index: sub };
                        let root = compute_signing_root(&data.tree_hash_root().0, &sel);
                        let proof = validator_sign(&keys, mode, v, &root).unwrap();
                        if is_sync_committee_aggregator(&proof) {
                            expected.insert((v, sub));
                        }
                    }
                }
                assert_eq!(due, expected, "{mode:?} slot {slot}");
                let validators: BTreeSet<u64> = due.iter().map(|(v, _)| *v).collect();
                several += due.len() - validators.len();
            }
            // Some validator was selected in two subcommittees of one slot: two items.
            assert!(several > 0, "{mode:?}: no validator selected in two subcommittees");
        }
    }

    #[test]
    fn tampered_aggregates_are_refused_in_both_crypto_modes() {
        for mode in MODES {
            let mut w = World::new(mode);
            let committee = w.committee();
            assert_eq!(committee.len(), 32);
            let selects = |w: &World, v: u64| is_aggregator(32, &w.selection_proof(v, SLOT));
            let a = *committee.iter().find(|v| selects(&w, **v)).unwrap();
            let not_selected = *committee.iter().find(|v| !selects(&w, **v)).unwrap();
            // One member does not attest: its bit is the forged signer.
            let absent = *committee.iter().find(|v| **v != a).unwrap();
            w.attest(absent);
            let now = at(SLOT, 8_000);
            let valid = w.aggregate(a);
            assert_eq!(w.check(now, &agg(valid.clone())), Ok(()), "{mode:?}: valid aggregate");

            // The outer signature by another validator.
            let mut s = valid.clone();
            let root = s.message.tree_hash_root().0;
            s.signature = w.sign(absent, &root, BeaconDomainType::AGGREGATE_AND_PROOF);
            let why = bad_signature("aggregate and proof");
            refused(mode, "outer signature", w.check(now, &agg(s)), &why);

            // A selection proof over another slot that would select.
            let wrong_proof = (SLOT + 1..SLOT + 64)
                .map(|slot| w.selection_proof(a, slot))
                .find(|p| is_aggregator(32, p))
                .unwrap();
            let mut m = valid.message.clone();
            m.selection_proof = wrong_proof;
            let s = w.signed_aggregate(m);
            let why = bad_signature("selection proof");
            refused(mode, "selection proof", w.check(now, &agg(s)), &why);

            // A member whose valid selection proof does not select it.
            let mut m = valid.message.clone();
            m.aggregator_index = not_selected;
            m.selection_proof = w.selection_proof(not_selected, SLOT);
            let s = w.signed_aggregate(m);
            refused(mode, "non-aggregator", w.check(now, &agg(s)), "is not an aggregator");

            // Data the attesters did not sign (another head).
            let mut m = valid.message.clone();
            m.aggregate.data.beacon_block_root = [0x77; 32];
            let s = w.signed_aggregate(m);
            let why = bad_signature("aggregate");
            let res = w.check(now, &agg(s));
            refused(mode, "data", res.clone(), &why);
            assert!(!res.unwrap_err().contains("and proof"), "{mode:?}: not the aggregate");

            // A bit claiming the member that did not attest.
            let mut m = valid.message.clone();
            let pos = committee.iter().position(|v| *v == absent).unwrap();
            assert!(!m.aggregate.aggregation_bits.get(pos).unwrap());
            m.aggregate.aggregation_bits.set(pos, true).unwrap();
            let s = w.signed_aggregate(m);
            let res = w.check(now, &agg(s));
            refused(mode, "unsigned bit", res.clone(), &why);
            assert!(!res.unwrap_err().contains("and proof"), "{mode:?}: not the aggregate");

            // Of a slot that has not started: the valid aggregate a slot early, and one
            // moved to the next slot.
            let early = at(SLOT, 0) - 1_000;
            refused(mode, "early", w.check(early, &agg(valid.clone())), "in the future");
            let mut m = valid.message.clone();
            m.aggregate.data.slot = SLOT + 1;
            m.selection_proof = w.selection_proof(a, SLOT + 1);
            let s = w.signed_aggregate(m);
            refused(mode, "next slot", w.check(now, &agg(s)), "in the future");
        }
    }

    #[test]
    fn tampered_contributions_are_refused_in_both_crypto_modes() {
        for mode in MODES {
            let mut w = World::new(mode);
            let subs: Vec<Vec<u64>> = (0..4).map(|k| w.subcommittee(k)).collect();
            let sync_selects = |w: &World, v: u64, k: u64| {
                is_sync_committee_aggregator(&w.sync_selection_proof(v, SLOT, k))
            };
            // A selected member `a` of subcommittee `k`, a member not selected there, and a
            // validator outside some subcommittee whose proof for it would select.
            let (a, k) = (0..4u64)
                .flat_map(|k| subs[k as usize].iter().map(move |v| (*v, k)))
                .find(|(v, k)| sync_selects(&w, *v, *k))
                .unwrap();
            let not_selected =
                *subs[k as usize].iter().find(|v| !sync_selects(&w, **v, k)).unwrap();
            let (outsider, other) = (0..VALIDATORS)
                .flat_map(|v| (0..4u64).map(move |o| (v, o)))
                .find(|(v, o)| !subs[*o as usize].contains(v) && sync_selects(&w, *v, *o))
                .unwrap();
            // A member of `k` that does not sign: its bits are the forged signers.
            let absent = *subs[k as usize].iter().find(|v| **v != a).unwrap();
            w.sync(absent);
            let now = at(SLOT, 8_000);
            let valid = w.contribution(a, k);
            assert_eq!(w.check(now, &contrib(valid.clone())), Ok(()), "{mode:?}: valid");

            // The outer signature by another validator.
            let mut s = valid.clone();
            let root = s.message.tree_hash_root().0;
            s.signature = w.sign(absent, &root, BeaconDomainType::CONTRIBUTION_AND_PROOF);
            let why = bad_signature("contribution and proof");
            refused(mode, "outer signature", w.check(now, &contrib(s)), &why);

            // A selection proof of another slot that would select.
            let wrong_proof = (SLOT + 1..SLOT + 256)
                .map(|slot| w.sync_selection_proof(a, slot, k))
                .find(is_sync_committee_aggregator)
                .unwrap();
            let mut m = valid.message.clone();
            m.selection_proof = wrong_proof;
            let s = w.signed_contribution(m);
            let why = bad_signature("sync selection proof");
            refused(mode, "selection proof", w.check(now, &contrib(s)), &why);

            // A member whose valid selection proof does not select it.
            let mut m = valid.message.clone();
            m.aggregator_index = not_selected;
            m.selection_proof = w.sync_selection_proof(not_selected, SLOT, k);
            let s = w.signed_contribution(m);
            refused(mode, "non-aggregator", w.check(now, &contrib(s)), "is not an aggregator");

            // A block root the members did not sign.
            let mut m = valid.message.clone();
            m.contribution.beacon_block_root = [0x77; 32];
            let s = w.signed_contribution(m);
            let why = bad_signature("contribution");
            let res = w.check(now, &contrib(s));
            refused(mode, "block root", res.clone(), &why);
            assert!(!res.unwrap_err().contains("and proof"), "{mode:?}: not the contribution");

            // A bit claiming the member that did not sign.
            let mut m = valid.message.clone();
            let pos = subs[k as usize].iter().position(|v| *v == absent).unwrap();
            assert!(!m.contribution.aggregation_bits.get(pos).unwrap());
            m.contribution.aggregation_bits.set(pos, true).unwrap();
            let s = w.signed_contribution(m);
            let res = w.check(now, &contrib(s));
            refused(mode, "unsigned bit", res.clone(), &why);
            assert!(!res.unwrap_err().contains("and proof"), "{mode:?}: not the contribution");

            // Of a slot that has not started: sync messages sign only the block root, so
            // only the clock tells a contribution moved to the next slot.
            let early = at(SLOT, 0) - 1_000;
            refused(mode, "early", w.check(early, &contrib(valid.clone())), "in the future");
            let mut m = valid.message.clone();
            m.contribution.slot = SLOT + 1;
            m.selection_proof = w.sync_selection_proof(a, SLOT + 1, k);
            let s = w.signed_contribution(m);
            refused(mode, "next slot", w.check(now, &contrib(s)), "in the future");

            // A validator's valid, selecting contribution of a subcommittee it is not in.
            let s = w.contribution(outsider, other);
            let why = format!("is not in sync subcommittee {other}");
            refused(mode, "not a member", w.check(now, &contrib(s)), &why);
        }
    }

    #[test]
    fn a_duty_superseded_by_the_next_slot_is_owed_only_in_its_design_window() {
        let w = World::new(CryptoMode::Fake);
        let chain = &w.chain;
        // Slot 3 ends epoch 1: each validator attests once in epoch 2 (slot 4 or 5).
        let attesters = |slot| -> BTreeSet<u64> {
            aggregator_duties(chain, slot).iter().map(|d| d.validator_index).collect()
        };
        let (now, next) = (attesters(SLOT), attesters(SLOT + 1));
        let again = *now.intersection(&next).next().expect("an attester of both slots");
        let once = *now.difference(&next).next().expect("an attester of slot 3 only");
        let sync = contribution_duties(chain, SLOT + 1)[0].validator_index;
        let (timely, late) = (at(SLOT, 8_000 + 300), at(SLOT, 8_000 + 301));
        // Four operators: slot 3's first leader is operator 4.
        let all: BTreeSet<u64> = (1..=4).collect();
        let without_leader: BTreeSet<u64> = (1..=3).collect();
        let excused = |item: DueItem, committee: Option<u64>, live: &BTreeSet<u64>| {
            superseded_without_its_window(chain, &item, committee, 300, 4, live)
        };
        for item in [(SLOT, ROLE_AGGREGATOR, again), (SLOT, contribution_role(2), sync)] {
            // The next slot's duty ends it: owed only if the committee submitted by two
            // thirds of the slot (with the clock skew) and the first leader is live.
            assert!(!excused(item, Some(timely), &all), "{item:?}");
            assert!(excused(item, Some(late), &all), "{item:?}");
            assert!(excused(item, None, &all), "{item:?}");
            assert!(excused(item, Some(timely), &without_leader), "{item:?}");
        }
        // Nothing ends an aggregator duty without a duty at the next slot, and committee
        // items are always owed.
        for item in [(SLOT, ROLE_AGGREGATOR, once), (SLOT, 0, again), (SLOT, 3, sync)] {
            assert!(!excused(item, None, &without_leader), "{item:?}");
        }
    }
}
