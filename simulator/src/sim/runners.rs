//! The duty path: each simulated operator runs the core's duty runners (a
//! [`ssv_core::runner::Committee`] of `CommitteeRunner`s: attestations and sync-committee
//! messages; a [`ssv_core::runner::Validator`] with a proposer `ValidatorRunner` for each
//! of its validators the chain makes proposer, and the aggregator, contribution,
//! registration and exit runners of [`super::aggregation`] and [`super::registration`])
//! against the in-memory beacon chain
//! ([`crate::chain::Chain`]). Blocks come from the chain through the runner's
//! [`Request::Proposal`] (answered by the world after a seeded delay, like attestation
//! data); a block is share-signed only after the node's slashing history accepted it.
//!
//! The node answers the runners' requests the way the production shell does: attestation
//! data goes out to the world ([`NodeOutput::Request`]), which answers it after a seeded
//! delay, possibly with a failure (slow and erroring beacon nodes); share signing is local
//! and synchronous, each attestation only after the node's slashing history
//! (`ssv_core::slashing`, persisted across crashes) accepted it. Submissions go to the
//! chain, which verifies them with real BLS under the right domain.
//!
//! Both signature schemes follow the run's [`CryptoMode`]: operator signatures are RSA or
//! stand-ins ([`Crypto`]); validator shares sign, and the runners verify and reconstruct,
//! with real BLS or with [`FakeBls`] through the runners' pluggable
//! [`ThresholdBls`], and submissions are checked by the
//! chain (real BLS) or against the same stand-ins ([`submit`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use ssv_core::beacon::{AttestationData, DataVersion};
use ssv_core::crypto::bls::{PublicKey, SecretKey};
use ssv_core::crypto::signing::BeaconDomainType;
use ssv_core::crypto::threshold::split_secret;
use ssv_core::qbft::{
    CommitteeMember, Controller, Operator, QbftConfig, QbftError, RoundRobinProposer, SlotAnchor,
    SlotRelativeTimeouts, UnixMillis, ValueCheckError,
};
use ssv_core::runner::{
    BeaconNetwork, Committee, CommitteeRunner, Duty, Input, Output, Request, Response, RunnerError,
    RunnerValueCheck, SignRequest, SlashingProtection, Submission, ThresholdBls, Validator,
    ValidatorRunner, check_validator_consensus_data,
};
use ssv_core::slashing::{AttestationToSign, BlockToSign, SlashingHistory};
use ssv_core::types::ssz::Encode;
use ssv_core::types::ssz_types::VariableList;
use ssv_core::types::{
    BeaconRole, BeaconVote, BlsPublicKeyBytes, CommitteeDuty, Epoch, MessageId, OperatorId,
    PartialSigMsgType, RunnerRole, Share, ShareMember, SignedSsvMessage, Slot,
    ValidatorConsensusData, ValidatorDuty, ValidatorIndex,
};

use super::CryptoMode;
use super::crypto::{Crypto, FakeBls};
use super::duties::DOMAIN;
use super::node::{NodeOutput, NodeStats, RETAIN_SLOTS};
use super::options::Density;
use crate::chain::{Chain as Beacon, ChainConfig, fork_version};

/// Slots per epoch of the simulated beacon chain on the duty path at the default
/// ([`Density::Dense`]) density: short, so that small validator sets still attest in most
/// slots. Epoch 0 has no duties (its source and target epochs are equal, which the
/// beacon-vote check refuses).
pub const SLOTS_PER_EPOCH: u64 = 2;
/// The `role` of a proposal in a [`DueItem`] (`BeaconRole::Proposer`).
pub const ROLE_PROPOSER: u64 = BeaconRole::Proposer as u64;
/// Request ids from this one up are the validator runners' (blocks, aggregates,
/// contributions); the committee's are below.
pub const VALIDATOR_REQUEST: u64 = 1 << 63;
/// The answer to an aggregate request of an attester its selection proof did not select
/// (the node's).
pub const NOT_AGGREGATOR: &str = "not an aggregator at this slot";
/// The fork the simulated chain runs.
pub const FORK: DataVersion = DataVersion::Electra;
/// Most early messages a node keeps for retry.
pub const RETRY_MAX: usize = 2_048;
/// Seed of the validator keys (fixed, so keys are cached across runs; shuffles, block
/// roots and faults still follow the run's seed).
const KEY_SEED: u64 = 0x55_5353_5653_494D;

/// Validator keys of one cluster: full keys and every operator's shares.
pub struct ClusterKeys {
    /// Validator public keys, by validator index.
    pub validators: Vec<PublicKey>,
    /// Full validator secret keys, by validator index (the chain's view of who is selected
    /// as aggregator in real-crypto mode; never given to a node).
    pub validator_secrets: Vec<SecretKey>,
    /// Each operator's shares, by validator index.
    pub shares: BTreeMap<OperatorId, BTreeMap<ValidatorIndex, Share>>,
    /// Each operator's share secrets, by share public key.
    pub secrets: BTreeMap<OperatorId, Arc<BTreeMap<BlsPublicKeyBytes, SecretKey>>>,
    /// The fake-crypto stand-in knowing every validator's committee.
    pub fake_bls: Arc<FakeBls>,
}

impl std::fmt::Debug for ClusterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterKeys").field("validators", &self.validators.len()).finish()
    }
}

/// The keys of `validators` validators split `2f + 1`-of-`operators` at operator ids
/// `1..=operators`; derived once per (operators, validators) and cached.
///
/// # Errors
/// A split failure.
pub fn cluster_keys(operators: u64, validators: u64) -> Result<Arc<ClusterKeys>, String> {
    type Cache = Mutex<BTreeMap<(u64, u64), Arc<ClusterKeys>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
    if let Some(k) = cache.lock().map_err(|e| e.to_string())?.get(&(operators, validators)) {
        return Ok(Arc::clone(k));
    }
    let ids: Vec<u64> = (1..=operators).collect();
    let threshold = 2 * ((operators - 1) / 3) + 1;
    let secrets_full = crate::chain::keys::derive_secret_keys(KEY_SEED, validators);
    let mut keys = ClusterKeys {
        validators: Vec::new(),
        validator_secrets: Vec::new(),
        shares: BTreeMap::new(),
        secrets: BTreeMap::new(),
        fake_bls: Arc::default(),
    };
    let mut secrets: BTreeMap<u64, BTreeMap<BlsPublicKeyBytes, SecretKey>> = BTreeMap::new();
    for (v, sk) in secrets_full.iter().enumerate() {
        let v = v as u64;
        let coeffs: Vec<[u8; 64]> = (1..threshold)
            .map(|i| {
                let mut c = [0u8; 64];
                let h = crate::chain::duties::hash(&[
                    b"ssv-sim/share",
                    &v.to_le_bytes(),
                    &i.to_le_bytes(),
                ]);
                c[..32].copy_from_slice(&h);
                c[0] |= 1;
                c
            })
            .collect();
        let parts = split_secret(sk, &ids, &coeffs).map_err(|e| format!("split: {e}"))?;
        let members: Vec<ShareMember> = parts
            .iter()
            .map(|p| ShareMember {
                share_pub_key: p.public_key().to_bytes(),
                signer: p.operator_id,
            })
            .collect();
        let pk = sk.public_key();
        for p in parts {
            let share = Share {
                validator_index: v,
                validator_pub_key: pk.to_bytes(),
                share_pub_key: p.public_key().to_bytes(),
                committee: VariableList::new(members.clone()).map_err(|_| "committee")?,
                domain_type: DOMAIN,
                fee_recipient_address: [0; 20],
                graffiti: [0; 32],
            };
            secrets
                .entry(p.operator_id)
                .or_default()
                .insert(p.public_key().to_bytes(), p.secret_key.clone());
            keys.shares.entry(p.operator_id).or_default().insert(v, share);
        }
        keys.validators.push(pk);
    }
    keys.validator_secrets = secrets_full;
    keys.secrets = secrets.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
    keys.fake_bls =
        Arc::new(FakeBls::new(keys.shares.get(&1).into_iter().flat_map(BTreeMap::values)));
    let keys = Arc::new(keys);
    cache.lock().map_err(|e| e.to_string())?.insert((operators, validators), Arc::clone(&keys));
    Ok(keys)
}

/// The simulated beacon chain of a run: the run's seed, `slot_ms` slots from
/// `genesis_ms`, the cluster's validators, at `density`.
///
/// # Errors
/// No validators.
pub fn beacon(
    seed: u64,
    genesis_ms: UnixMillis,
    slot_ms: u64,
    keys: &ClusterKeys,
    density: Density,
) -> Result<Beacon, String> {
    let config = ChainConfig {
        seed,
        genesis_time: genesis_ms / 1_000,
        slot_duration_ms: slot_ms,
        slots_per_epoch: density.slots_per_epoch(),
        fork: FORK,
        head_lag_slots: 0,
    };
    let chain = Beacon::new(config, keys.validators.clone()).map_err(|e| e.to_string())?;
    Ok(chain.with_registry(density.registry(keys.validators.len() as u64)))
}

/// The runners' view of the simulated chain (the same domains as the chain's).
pub fn network(beacon: &Beacon, genesis_ms: UnixMillis) -> BeaconNetwork {
    BeaconNetwork {
        slots_per_epoch: beacon.config().slots_per_epoch,
        slot_ms: beacon.config().slot_duration_ms,
        genesis_ms,
        genesis_validators_root: beacon.genesis_validators_root(),
        // Every fork from Phase0 to FORK at epoch 0: the last one signs, the first is the
        // builder domain's genesis version and the fourth (Capella) the exits' (EIP-7044),
        // as the chain's domains.
        fork_versions: ssv_core::beacon::DataVersion::ALL
            .into_iter()
            .filter(|v| *v >= DataVersion::Phase0 && *v <= FORK)
            .map(|v| (0, fork_version(v)))
            .collect(),
        data_versions: vec![(0, FORK)],
        sync_subcommittee_size: 128,
    }
}

/// What a committee duty of the cluster must produce: (slot, role, validator), role 0 for an
/// attestation and 3 for a sync-committee message.
pub type DueItem = (Slot, u64, ValidatorIndex);

/// Memoized pure functions of a chain (every node asks for the same duty; the chain
/// recomputes shuffles and the sync committee on each call): bounded, keyed by the chain's
/// identity, so results are exactly what the chain computes.
type ChainId = (u64, u64, [u8; 32], u64, u64);

fn chain_id(beacon: &Beacon) -> ChainId {
    (
        beacon.config().seed,
        beacon.validators().len() as u64,
        beacon.genesis_validators_root(),
        beacon.config().slots_per_epoch,
        beacon.registry_size(),
    )
}

/// Entries a memo keeps (the oldest keys go first).
const MEMO_MAX: usize = 64;

fn memo<K: Ord + Clone, V: Clone>(
    cell: &'static OnceLock<Mutex<BTreeMap<K, V>>>,
    key: K,
    compute: impl FnOnce() -> V,
) -> V {
    let map = cell.get_or_init(|| Mutex::new(BTreeMap::new()));
    if let Some(v) = map.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return v;
    }
    let v = compute();
    if let Ok(mut m) = map.lock() {
        while m.len() >= MEMO_MAX {
            m.pop_first();
        }
        m.insert(key, v.clone());
    }
    v
}

/// The cluster's committee duty at `slot` (every validator is the cluster's): attesters of
/// the slot and sync-committee members. `None` in epoch 0 and for a slot without duties.
pub fn committee_duty(beacon: &Beacon, slot: Slot) -> Option<CommitteeDuty> {
    type Memo = Mutex<BTreeMap<(ChainId, Slot), Option<CommitteeDuty>>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    memo(&MEMO, (chain_id(beacon), slot), || compute_committee_duty(beacon, slot))
}

/// The chain's sync committee at `slot`, as a set.
fn sync_members(beacon: &Beacon, slot: Slot) -> Arc<std::collections::BTreeSet<u64>> {
    type Memo = Mutex<BTreeMap<(ChainId, Epoch), Arc<std::collections::BTreeSet<u64>>>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    // The committee changes per period (a multiple of epochs): one entry per epoch is exact.
    let epoch = beacon.epoch_of(slot);
    memo(&MEMO, (chain_id(beacon), epoch), || {
        Arc::new(beacon.sync_committee(slot).into_iter().collect())
    })
}

/// The attestation committee `(slot, index)`.
fn committee_members(beacon: &Beacon, slot: Slot, index: u64) -> Result<Arc<Vec<u64>>, String> {
    type Memo = Mutex<BTreeMap<(ChainId, Slot, u64), Result<Arc<Vec<u64>>, String>>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    memo(&MEMO, (chain_id(beacon), slot, index), || {
        beacon.committee(slot, index).map(Arc::new).map_err(|e| e.to_string())
    })
}

/// The attester and sync duties of every cluster validator in `epoch`, computed once per
/// epoch (the chain recomputes the epoch's shuffle and every committee on each call).
fn epoch_duties(beacon: &Beacon, epoch: Epoch) -> Option<Arc<EpochDuties>> {
    type Memo = Mutex<BTreeMap<(ChainId, Epoch), Option<Arc<EpochDuties>>>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    memo(&MEMO, (chain_id(beacon), epoch), || {
        let all: Vec<u64> = (0..beacon.validators().len() as u64).collect();
        let attesters = beacon.attester_duties(epoch, &all).ok()?;
        let syncs = beacon.sync_duties(epoch, &all).ok()?;
        Some(Arc::new((attesters, syncs)))
    })
}

/// An epoch's attester and sync duties of the cluster's validators.
type EpochDuties = (Vec<crate::chain::AttesterDuty>, Vec<crate::chain::SyncDuty>);

fn compute_committee_duty(beacon: &Beacon, slot: Slot) -> Option<CommitteeDuty> {
    let epoch = beacon.epoch_of(slot);
    if epoch == 0 {
        return None;
    }
    let (attesters, syncs) = &*epoch_duties(beacon, epoch)?;
    let mut duties = Vec::new();
    for a in attesters.iter().filter(|a| a.slot == slot).cloned() {
        duties.push(ValidatorDuty {
            role: 0,
            pub_key: a.pubkey,
            slot,
            validator_index: a.validator_index,
            committee_index: a.committee_index,
            committee_length: a.committee_length,
            committees_at_slot: a.committees_at_slot,
            validator_committee_index: a.validator_committee_index,
            validator_sync_committee_indices: VariableList::empty(),
        });
    }
    for s in syncs.iter().cloned() {
        let mut indices = s.validator_sync_committee_indices;
        indices.truncate(13);
        duties.push(ValidatorDuty {
            role: 3,
            pub_key: s.pubkey,
            slot,
            validator_index: s.validator_index,
            committee_index: 0,
            committee_length: 0,
            committees_at_slot: 0,
            validator_committee_index: 0,
            validator_sync_committee_indices: VariableList::new(indices).unwrap_or_default(),
        });
    }
    (!duties.is_empty()).then_some(CommitteeDuty { slot, validator_duties: duties })
}

/// The proposer duty of `slot` if one of the cluster's validators proposes (never in
/// epoch 0).
pub fn proposer_duty(beacon: &Beacon, slot: Slot) -> Option<ValidatorDuty> {
    let proposer = beacon.proposer(slot);
    let key = usize::try_from(proposer).ok().and_then(|i| beacon.validators().get(i))?;
    (beacon.epoch_of(slot) > 0).then(|| ValidatorDuty {
        role: ROLE_PROPOSER,
        pub_key: key.to_bytes(),
        slot,
        validator_index: proposer,
        committee_index: 0,
        committee_length: 0,
        committees_at_slot: 0,
        validator_committee_index: 0,
        validator_sync_committee_indices: VariableList::empty(),
    })
}

/// Everything the cluster must submit for `slot`: the committee duty's items and the
/// proposal.
pub fn due_at(beacon: &Beacon, slot: Slot) -> Vec<DueItem> {
    let mut due = committee_duty(beacon, slot).map(|d| due_items(&d)).unwrap_or_default();
    if let Some(p) = proposer_duty(beacon, slot) {
        due.push((slot, ROLE_PROPOSER, p.validator_index));
    }
    due
}

/// The proposer runner's value as the invariants see it: a `ValidatorConsensusData` of a
/// proposer duty at `slot` whose block is of `slot`.
///
/// # Errors
/// Why the value is invalid.
pub fn check_proposal(slot: Slot, value: &[u8]) -> Result<(), String> {
    use ssv_core::types::ssz::Decode;
    let cd = ValidatorConsensusData::from_ssz_bytes(value)
        .map_err(|e| format!("not a ValidatorConsensusData: {e:?}"))?;
    if cd.duty.role != ROLE_PROPOSER || cd.duty.slot != slot {
        return Err("not a proposer duty of the slot".into());
    }
    let block = cd.block_data().map_err(|e| format!("no block: {e:?}"))?;
    if block.slot() != slot || block.proposer_index() != cd.duty.validator_index {
        return Err("a block of another slot or proposer".into());
    }
    Ok(())
}

/// The duty path's value check as the invariants see it: an SSZ `BeaconVote` whose
/// target is the slot's epoch (of `slots_per_epoch` slots) and whose source the epoch
/// before.
///
/// # Errors
/// Why the value is invalid.
pub fn check_vote(slots_per_epoch: u64, slot: Slot, value: &[u8]) -> Result<(), String> {
    use ssv_core::types::ssz::Decode;
    let vote = BeaconVote::from_ssz_bytes(value).map_err(|e| format!("not a BeaconVote: {e:?}"))?;
    let epoch = slot / slots_per_epoch.max(1);
    if vote.target.epoch != epoch || vote.source.epoch.saturating_add(1) != epoch {
        return Err("source and target are not the previous and the slot's epoch".into());
    }
    if vote.block_root == [0; 32] {
        return Err("empty head".into());
    }
    Ok(())
}

/// The items a duty must submit.
pub fn due_items(duty: &CommitteeDuty) -> Vec<DueItem> {
    duty.validator_duties.iter().map(|d| (duty.slot, d.role, d.validator_index)).collect()
}

/// The (slot, role, validator) a submission is for: a committee duty's item, a block, an
/// aggregate or a contribution.
pub fn submitted_item(s: &Submission) -> Option<DueItem> {
    match s {
        Submission::SingleAttestation(a) => Some((a.data.slot, 0, a.attester_index)),
        Submission::SyncCommitteeMessage(m) => Some((m.slot, 3, m.validator_index)),
        Submission::Block { block, .. } => {
            Some((block.slot(), ROLE_PROPOSER, block.proposer_index()))
        }
        Submission::ElectraAggregateAndProof(a) => Some((
            a.message.aggregate.data.slot,
            super::aggregation::ROLE_AGGREGATOR,
            a.message.aggregator_index,
        )),
        Submission::AggregateAndProof(a) => Some((
            a.message.aggregate.data.slot,
            super::aggregation::ROLE_AGGREGATOR,
            a.message.aggregator_index,
        )),
        Submission::ContributionAndProof(c) => Some((
            c.message.contribution.slot,
            super::aggregation::contribution_role(c.message.contribution.subcommittee_index),
            c.message.aggregator_index,
        )),
        _ => None,
    }
}

/// Submits `s` to the chain at `now_ms`. In fake-crypto mode the chain's BLS check is
/// replaced by the same membership checks and a [`FakeBls`] check of the signature under
/// the chain's domain; the chain then records nothing, and attestations and sync messages
/// go to `pools` instead (what aggregates and contributions are made of; `None` when the
/// run has no aggregation duties, which then need no pools).
///
/// # Errors
/// The chain's refusal (a signature that does not verify, a non-member, …).
pub fn submit(
    beacon: &mut Beacon,
    pools: Option<&mut super::aggregation::FakePools>,
    crypto: &Crypto,
    now_ms: UnixMillis,
    s: &Submission,
) -> Result<(), String> {
    if crypto.mode() == CryptoMode::Fake {
        if let Some(res) = super::aggregation::check_fake(beacon, now_ms, s) {
            return res;
        }
        if let Some(res) = super::registration::check_fake(beacon, s) {
            return res;
        }
        check_fake(beacon, s)?;
        if let Some(pools) = pools {
            pools.add(beacon, s);
        }
        return Ok(());
    }
    let res = match s {
        Submission::ElectraAggregateAndProof(a) => {
            let v = serde_json::to_value(a).map_err(|e| e.to_string())?;
            beacon.submit_aggregate_and_proofs(now_ms, &[v])
        }
        Submission::ContributionAndProof(c) => {
            beacon.submit_contribution_and_proofs(now_ms, std::slice::from_ref(&**c))
        }
        Submission::SingleAttestation(a) => {
            let v = serde_json::to_value(a).map_err(|e| e.to_string())?;
            beacon.submit_attestations(now_ms, &[v])
        }
        Submission::SyncCommitteeMessage(m) => {
            beacon.submit_sync_committee_messages(now_ms, std::slice::from_ref(m))
        }
        Submission::ValidatorRegistration(r) => {
            beacon.register_validators(now_ms, std::slice::from_ref(r))
        }
        Submission::VoluntaryExit(e) => {
            return beacon.submit_voluntary_exit(now_ms, e).map_err(|e| e.to_string());
        }
        Submission::Block { block, signature } => {
            let summary = crate::chain::blocks::SignedBlockSummary {
                slot: block.slot(),
                proposer_index: block.proposer_index(),
                block_root: block.block_root(),
                signature: *signature,
                blinded: block.is_blinded(),
            };
            return beacon.publish_block(now_ms, &summary).map_err(|e| e.to_string());
        }
        other => return Err(format!("unexpected submission {:?}", std::mem::discriminant(other))),
    };
    res.map_err(|f| f.into_iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join("; "))
}

/// The chain's block for `slot` (`produceBlockV3`, the full block): the chain checks the
/// RANDAO reveal with real BLS, or in fake-crypto mode against the [`FakeBls`] stand-in
/// under the same domain.
///
/// # Errors
/// A reveal that does not verify, a proposer outside the cluster, an unsupported fork.
pub fn produce_block(
    beacon: &Beacon,
    crypto: &Crypto,
    now_ms: UnixMillis,
    slot: Slot,
    randao_reveal: [u8; 96],
    graffiti: [u8; 32],
) -> Result<ssv_core::beacon::VersionedBlock, String> {
    use ssv_core::crypto::signing::compute_signing_root;
    use ssv_core::types::tree_hash::TreeHash;
    if crypto.mode() == CryptoMode::Real {
        return beacon
            .produce_block(now_ms, slot, randao_reveal, graffiti)
            .map(|(full, _)| full)
            .map_err(|e| e.to_string());
    }
    let proposer = beacon.proposer(slot);
    let key = usize::try_from(proposer)
        .ok()
        .and_then(|i| beacon.validators().get(i))
        .ok_or_else(|| format!("proposer {proposer} is not the cluster's"))?;
    let epoch_root = beacon.epoch_of(slot).tree_hash_root().0;
    let root = compute_signing_root(&epoch_root, &beacon.domain(BeaconDomainType::RANDAO));
    if !FakeBls::verify(&key.to_bytes(), &root, &randao_reveal) {
        return Err("invalid randao reveal (fake BLS)".into());
    }
    let config = beacon.config();
    let head = slot.saturating_sub(1).min(beacon.head_slot(now_ms));
    let template = crate::chain::blocks::BlockTemplate {
        fork: config.fork,
        slot,
        proposer_index: proposer,
        parent_root: beacon.block_root(head),
        randao_reveal,
        graffiti,
        fee_recipient: [0; 20],
        timestamp: config.genesis_time + slot * config.slot_duration_ms / 1000,
        seed: config.seed,
    };
    crate::chain::blocks::produce(&template).map(|(full, _)| full).map_err(|e| e.to_string())
}

/// The proposer runner's value for a block the beacon node returned: what an honest
/// runner decides on (the chain's proposer duty, the block's fork, its SSZ).
pub fn proposal_value(duty: ValidatorDuty, block: &ssv_core::beacon::VersionedBlock) -> Vec<u8> {
    ValidatorConsensusData {
        duty,
        version: block.version().as_u64(),
        data_ssz: VariableList::new(block.to_ssz()).unwrap_or_default(),
    }
    .as_ssz_bytes()
}

/// The chain's checks of a committee-duty submission with [`FakeBls`] signatures.
fn check_fake(beacon: &Beacon, s: &Submission) -> Result<(), String> {
    use ssv_core::crypto::signing::compute_signing_root;
    use ssv_core::types::tree_hash::TreeHash;
    let (validator, object_root, domain_type, signature) = match s {
        Submission::SingleAttestation(a) => {
            let committee = committee_members(beacon, a.data.slot, a.committee_index)?;
            if !committee.contains(&a.attester_index) {
                return Err(format!("validator {} is not in the committee", a.attester_index));
            }
            let root = a.data.tree_hash_root().0;
            (a.attester_index, root, BeaconDomainType::BEACON_ATTESTER, &a.signature)
        }
        Submission::SyncCommitteeMessage(m) => {
            if !sync_members(beacon, m.slot).contains(&m.validator_index) {
                return Err(format!(
                    "validator {} is not in the sync committee",
                    m.validator_index
                ));
            }
            (m.validator_index, m.beacon_block_root, BeaconDomainType::SYNC_COMMITTEE, &m.signature)
        }
        Submission::Block { block, signature } => {
            let expected = beacon.proposer(block.slot());
            if block.proposer_index() != expected {
                return Err(format!(
                    "slot {}: proposer {} is not the slot's ({expected})",
                    block.slot(),
                    block.proposer_index()
                ));
            }
            (expected, block.block_root(), BeaconDomainType::BEACON_PROPOSER, signature)
        }
        other => return Err(format!("unexpected submission {:?}", std::mem::discriminant(other))),
    };
    let key = usize::try_from(validator)
        .ok()
        .and_then(|i| beacon.validators().get(i))
        .ok_or_else(|| format!("unknown validator {validator}"))?;
    let root = compute_signing_root(&object_root, &beacon.domain(domain_type));
    if FakeBls::verify(&key.to_bytes(), &root, signature) {
        Ok(())
    } else {
        Err("invalid signature (fake BLS)".into())
    }
}

/// The value check's slashing lookup: signing checks (and records) atomically, as the
/// production shell does, so the value check has nothing to add.
struct CheckedAtSigning;

impl SlashingProtection for CheckedAtSigning {
    fn check_attestation(
        &self,
        _: &BlsPublicKeyBytes,
        _: &AttestationData,
    ) -> Result<(), ValueCheckError> {
        Ok(())
    }
    fn check_block(&self, _: &BlsPublicKeyBytes, _: Slot) -> Result<(), ValueCheckError> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct DutyContext {
    slot: Slot,
    source: Epoch,
    target: Epoch,
}

/// A simulated operator on the duty path. Driving contract: [`DutyNode::start`],
/// [`DutyNode::respond`], [`DutyNode::receive`], [`DutyNode::timeout`], [`DutyNode::crash`],
/// [`DutyNode::restart`], each pushing [`NodeOutput`]s; [`DutyNode::poll_timeout`].
pub struct DutyNode {
    operator: OperatorId,
    member: CommitteeMember,
    crypto: Arc<Crypto>,
    network: Arc<BeaconNetwork>,
    shares: BTreeMap<ValidatorIndex, Share>,
    secrets: Arc<BTreeMap<BlsPublicKeyBytes, SecretKey>>,
    fake_bls: Option<Arc<FakeBls>>,
    context: Arc<Mutex<DutyContext>>,
    committee: Committee,
    /// Kept messages: (slot, whether consensus, message).
    retry: Vec<(Slot, bool, SignedSsvMessage)>,
    /// Slashing history by share public key: persisted, survives crashes.
    history: BTreeMap<BlsPublicKeyBytes, SlashingHistory>,
    decided: BTreeMap<Slot, BeaconVote>,
    up: bool,
    /// Validator index by validator public key (routing of validator-role messages).
    by_pubkey: BTreeMap<BlsPublicKeyBytes, ValidatorIndex>,
    /// The validators with proposer, aggregator and contribution runners, created at their
    /// first duty; lost on a crash.
    validators: BTreeMap<ValidatorIndex, SimValidator>,
    /// The validators that started a duty with consensus (the only ones with round
    /// timers: registrations and exits have none, and every validator registers).
    timed: std::collections::BTreeSet<ValidatorIndex>,
    /// Aggregate and contribution requests held until two thirds into their slot and the
    /// committee's submission of the slot (as the node): (outer request id, slot).
    deferred: Vec<(u64, Slot)>,
    /// Slots whose committee duty this node submitted something for (lost on a crash).
    committee_submitted: std::collections::BTreeSet<Slot>,
    /// Kept validator-role messages: (validator, slot, kind, message).
    vretry: Vec<(ValidatorIndex, Slot, MsgKind, SignedSsvMessage)>,
    /// Open block requests: outer id → (validator, the validator's request id, request).
    vrequests: BTreeMap<u64, (ValidatorIndex, u64, Request)>,
    next_vrequest: u64,
    /// The node's current slot, for the proposer value check's far-future rule.
    now_slot: Arc<std::sync::atomic::AtomicU64>,
    /// Counters of dropped and refused inputs.
    pub stats: NodeStats,
}

/// A validator's router (its proposer runner) and the slot of its decided block.
struct SimValidator {
    validator: Validator,
    decided_block_slot: Option<Slot>,
}

/// What a message is to its runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MsgKind {
    Consensus,
    PreConsensus,
    PostConsensus,
}

/// A validator runner's value check: `check_validator_consensus_data` of its role with the
/// node's current epoch (its slashing lookup is the atomic check at signing).
struct ProposalCheck {
    role: BeaconRole,
    network: Arc<BeaconNetwork>,
    share: Share,
    now_slot: Arc<std::sync::atomic::AtomicU64>,
}

impl ssv_core::qbft::ValueCheck for ProposalCheck {
    fn check(&self, value: &[u8]) -> Result<(), ValueCheckError> {
        let slot = self.now_slot.load(std::sync::atomic::Ordering::Relaxed);
        check_validator_consensus_data(
            value,
            self.role,
            &self.network,
            self.network.epoch_at_slot(slot),
            &self.share.validator_pub_key,
            self.share.validator_index,
            &self.share.share_pub_key,
            &CheckedAtSigning,
        )
    }
}

impl std::fmt::Debug for DutyNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DutyNode")
            .field("operator", &self.operator)
            .field("up", &self.up)
            .finish_non_exhaustive()
    }
}

impl DutyNode {
    /// Operator `operator` of a committee of `operators` that believes it tolerates
    /// `faulty_nodes` faults.
    ///
    /// # Errors
    /// An operator without shares.
    pub fn new(
        operator: OperatorId,
        operators: u64,
        faulty_nodes: u64,
        crypto: Arc<Crypto>,
        network: Arc<BeaconNetwork>,
        keys: &ClusterKeys,
    ) -> Result<Self, String> {
        let ids: Vec<u64> = (1..=operators).collect();
        let member = CommitteeMember {
            operator_id: operator,
            committee_id: ssv_core::types::CommitteeId::from_operators(&ids).0,
            public_key: crypto.public_key(operator).to_vec(),
            faulty_nodes,
            committee: ids
                .iter()
                .map(|id| Operator {
                    operator_id: *id,
                    public_key: crypto.public_key(*id).to_vec(),
                })
                .collect(),
            domain_type: DOMAIN,
        };
        let shares = keys.shares.get(&operator).cloned().ok_or("operator without shares")?;
        let secrets = keys.secrets.get(&operator).cloned().ok_or("operator without shares")?;
        let context = Arc::new(Mutex::new(DutyContext::default()));
        let fake_bls = (crypto.mode() == CryptoMode::Fake).then(|| Arc::clone(&keys.fake_bls));
        let committee = new_committee(&member, &crypto, &network, &shares, &context, &fake_bls);
        let by_pubkey = shares.values().map(|s| (s.validator_pub_key, s.validator_index)).collect();
        Ok(Self {
            operator,
            member,
            crypto,
            network,
            shares,
            secrets,
            fake_bls,
            context,
            committee,
            retry: Vec::new(),
            history: BTreeMap::new(),
            decided: BTreeMap::new(),
            up: true,
            by_pubkey,
            validators: BTreeMap::new(),
            timed: std::collections::BTreeSet::new(),
            vretry: Vec::new(),
            deferred: Vec::new(),
            committee_submitted: std::collections::BTreeSet::new(),
            vrequests: BTreeMap::new(),
            next_vrequest: VALIDATOR_REQUEST,
            now_slot: Arc::default(),
            stats: NodeStats::default(),
        })
    }

    /// Whether the process runs.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// The earliest round deadline of an undecided runner, in the node's clock.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        if !self.up {
            return None;
        }
        let committee = self
            .committee
            .runners
            .values()
            .filter(|r| !runner_decided(r))
            .filter_map(CommitteeRunner::poll_timeout)
            .min();
        let validators = self
            .timed
            .iter()
            .filter_map(|vi| self.validators.get(vi))
            .filter_map(|v| validator_deadline(&v.validator))
            .min();
        let deferred = self.deferred.iter().map(|(_, slot)| self.release_at(*slot)).min();
        committee.into_iter().chain(validators).chain(deferred).min()
    }

    /// The process died: runners and queued messages are lost; the slashing history and
    /// decided votes (on disk) are kept.
    pub fn crash(&mut self) {
        self.up = false;
        self.retry.clear();
        self.validators.clear();
        self.timed.clear();
        self.vretry.clear();
        self.deferred.clear();
        self.committee_submitted.clear();
        self.vrequests.clear();
        self.committee = new_committee(
            &self.member,
            &self.crypto,
            &self.network,
            &self.shares,
            &self.context,
            &self.fake_bls,
        );
    }

    /// The process started again.
    pub fn restart(&mut self) {
        self.up = true;
    }

    /// Starts the committee duty `duty`.
    pub fn start(&mut self, now: UnixMillis, duty: CommitteeDuty, out: &mut Vec<NodeOutput>) {
        if !self.up {
            return;
        }
        let slot = duty.slot;
        let keep = slot.saturating_sub(RETAIN_SLOTS);
        self.committee.runners.retain(|s, _| *s >= keep);
        self.retry.retain(|(s, _, _)| *s >= keep);
        self.decided.retain(|s, _| *s >= keep);
        self.committee_submitted.retain(|s| *s >= keep);
        let epoch = self.network.epoch_at_slot(slot);
        if let Ok(mut c) = self.context.lock() {
            *c = DutyContext { slot, source: epoch.saturating_sub(1), target: epoch };
        }
        self.feed(now, Input::StartDuty(Duty::Committee(duty)), out);
    }

    /// The beacon node answered request `id`.
    pub fn respond(
        &mut self,
        now: UnixMillis,
        id: u64,
        response: Response,
        out: &mut Vec<NodeOutput>,
    ) {
        if !self.up {
            return;
        }
        if id >= VALIDATOR_REQUEST {
            if let Some((vi, inner, _)) = self.vrequests.remove(&id) {
                self.feed_validator(now, vi, Input::Response { id: inner, response }, out);
            }
        } else {
            self.feed(now, Input::Response { id, response }, out);
        }
        self.release_deferred(now, out);
    }

    /// When a deferred request of `slot` goes out: two thirds into the slot once the
    /// committee submitted the slot's duties, else a third into the next slot (the node's
    /// `serve_deferred`).
    fn release_at(&self, slot: Slot) -> UnixMillis {
        let n = &self.network;
        if self.committee_submitted.contains(&slot) {
            n.slot_start(slot) + n.slot_ms * 2 / 3
        } else {
            n.slot_start(slot.saturating_add(1)) + n.slot_ms / 3
        }
    }

    /// Sends the deferred requests that are due at `now` to the beacon node.
    fn release_deferred(&mut self, now: UnixMillis, out: &mut Vec<NodeOutput>) {
        if self.deferred.is_empty() {
            return;
        }
        let (due, wait): (Vec<_>, Vec<_>) = std::mem::take(&mut self.deferred)
            .into_iter()
            .partition(|(_, slot)| self.release_at(*slot) <= now);
        self.deferred = wait;
        for (id, slot) in due {
            if self.vrequests.contains_key(&id) {
                out.push(NodeOutput::Request { id, slot });
            }
        }
    }

    /// The committee's decided vote of `slot`, if it decided.
    pub fn decided_vote(&self, slot: Slot) -> Option<BeaconVote> {
        self.decided.get(&slot).copied()
    }

    /// The duty `validator`'s runner of `role` runs.
    pub fn validator_duty(
        &self,
        validator: ValidatorIndex,
        role: RunnerRole,
    ) -> Option<ValidatorDuty> {
        let r = self.validators.get(&validator)?.validator.runners.get(&role)?;
        match &r.state.as_ref()?.starting_duty {
            Duty::Validator(d) => Some(d.clone()),
            Duty::Committee(_) => None,
        }
    }

    /// The open beacon request `id` of a validator runner: (validator, request).
    pub fn validator_request(&self, id: u64) -> Option<(ValidatorIndex, &Request)> {
        self.vrequests.get(&id).map(|(vi, _, r)| (*vi, r))
    }

    /// The QBFT identifier of `validator`'s runner of `role`.
    pub fn validator_identifier(
        &self,
        validator: ValidatorIndex,
        role: RunnerRole,
    ) -> Option<[u8; 56]> {
        let share = self.shares.get(&validator)?;
        Some(MessageId::for_validator(DOMAIN, role, &share.validator_pub_key).0)
    }

    /// Starts the proposer, aggregator, contribution, registration or exit duty `duty` of
    /// one of the cluster's validators.
    pub fn start_validator(
        &mut self,
        now: UnixMillis,
        duty: ValidatorDuty,
        out: &mut Vec<NodeOutput>,
    ) {
        if !self.up {
            return;
        }
        let vi = duty.validator_index;
        let keep = duty.slot.saturating_sub(RETAIN_SLOTS);
        self.vretry.retain(|(_, s, _, _)| *s >= keep);
        if !self.validators.contains_key(&vi) {
            let Some(v) = self.new_validator(vi) else {
                self.stats.refused += 1;
                return;
            };
            self.validators.insert(vi, v);
        }
        if duty.runner_role().is_some_and(RunnerRole::has_consensus) {
            self.timed.insert(vi);
        }
        self.feed_validator(now, vi, Input::StartDuty(Duty::Validator(duty)), out);
    }

    fn new_validator(&self, vi: ValidatorIndex) -> Option<SimValidator> {
        let share = self.shares.get(&vi)?.clone();
        // As the node's `build_validator`.
        let roles = [
            (RunnerRole::Proposer, BeaconRole::Proposer, SlotAnchor::Relative),
            (RunnerRole::Aggregator, BeaconRole::Aggregator, SlotAnchor::TwoThirds),
            (
                RunnerRole::SyncCommitteeContribution,
                BeaconRole::SyncCommitteeContribution,
                SlotAnchor::TwoThirds,
            ),
            (
                RunnerRole::ValidatorRegistration,
                BeaconRole::ValidatorRegistration,
                SlotAnchor::Relative,
            ),
            (RunnerRole::VoluntaryExit, BeaconRole::VoluntaryExit, SlotAnchor::Relative),
        ];
        let runners = roles
            .into_iter()
            .map(|(role, beacon_role, anchor)| {
                let config = Arc::new(QbftConfig {
                    proposer: Box::new(RoundRobinProposer),
                    value_check: Box::new(ProposalCheck {
                        role: beacon_role,
                        network: Arc::clone(&self.network),
                        share: share.clone(),
                        now_slot: Arc::clone(&self.now_slot),
                    }),
                    timeouts: Box::new(SlotRelativeTimeouts {
                        genesis_ms: self.network.genesis_ms,
                        slot_ms: self.network.slot_ms,
                        anchor,
                    }),
                    verifier: self.crypto.verifier(),
                    signer: self.crypto.signer(self.operator),
                    cut_off_round: super::node::CUT_OFF_ROUND,
                });
                // Registrations and exits have no consensus (no controller).
                let controller = role.has_consensus().then(|| {
                    let id = MessageId::for_validator(DOMAIN, role, &share.validator_pub_key);
                    Controller::new(Arc::clone(&config), id.0.to_vec(), self.member.clone())
                });
                let runner = ValidatorRunner::new(
                    role,
                    Arc::clone(&self.network),
                    share.clone(),
                    self.operator,
                    controller,
                    config,
                );
                match &self.fake_bls {
                    Some(fake) => runner.with_bls(Arc::clone(fake) as Arc<dyn ThresholdBls>),
                    None => runner,
                }
            })
            .collect();
        let validator = Validator::new(self.member.clone(), share, runners, self.crypto.verifier());
        Some(SimValidator { validator, decided_block_slot: None })
    }

    /// Whether `vi`'s runner of the role of `msg` can take it as a message of `kind` for
    /// `slot`: its duty of the slot started (pre-consensus), its instance runs (consensus),
    /// it decided (post-consensus).
    fn validator_ready(
        &self,
        vi: ValidatorIndex,
        msg: &SignedSsvMessage,
        slot: Slot,
        kind: MsgKind,
    ) -> bool {
        let Some(role) = msg.ssv_message.msg_id.role() else { return false };
        let Some(r) = self.validators.get(&vi).and_then(|v| v.validator.runners.get(&role)) else {
            return false;
        };
        let Some(state) = r.state.as_ref() else { return false };
        if state.starting_duty.slot() < slot {
            return false;
        }
        match kind {
            MsgKind::PreConsensus => true,
            MsgKind::Consensus => state.running_instance.is_some(),
            MsgKind::PostConsensus => state.decided_value.is_some(),
        }
    }

    /// Whether validator `vi`'s runner refused `msg` with `e` because it came late: the
    /// runner of the message's role has the message's slot's duty, decided or finished.
    fn validator_late(&self, vi: ValidatorIndex, msg: &SignedSsvMessage, e: &RunnerError) -> bool {
        let (Some(role), Some((slot, _))) =
            (msg.ssv_message.msg_id.role(), validator_message_slot(msg))
        else {
            return false;
        };
        late_error(e)
            && self
                .validators
                .get(&vi)
                .and_then(|v| v.validator.runners.get(&role))
                .and_then(|r| Some((r, r.state.as_ref()?)))
                .is_some_and(|(r, s)| {
                    let decided = s.running_instance.is_some_and(|h| {
                        r.controller
                            .as_ref()
                            .and_then(|c| c.instance(h))
                            .is_some_and(|i| i.state().decided)
                    });
                    s.starting_duty.slot() == slot
                        && (s.finished || s.decided_value.is_some() || decided)
                })
    }

    /// Routes a validator-role message to its validator, or keeps it until the runner is
    /// ready.
    fn receive_validator(
        &mut self,
        now: UnixMillis,
        msg: SignedSsvMessage,
        out: &mut Vec<NodeOutput>,
    ) {
        let pk = &msg.ssv_message.msg_id;
        let vi = self.by_pubkey.get(pk.duty_executor_id()).copied();
        let (Some(vi), Some((slot, kind))) = (vi, validator_message_slot(&msg)) else {
            self.stats.unroutable += 1;
            return;
        };
        self.feed_validator_message(now, vi, slot, kind, msg, out);
    }

    fn feed_validator_message(
        &mut self,
        now: UnixMillis,
        vi: ValidatorIndex,
        slot: Slot,
        kind: MsgKind,
        msg: SignedSsvMessage,
        out: &mut Vec<NodeOutput>,
    ) {
        if !self.validator_ready(vi, &msg, slot, kind) {
            let now_slot = self.network.slot_at(now);
            if slot.saturating_add(RETAIN_SLOTS) >= now_slot
                && slot <= now_slot + 1
                && self.vretry.len() < RETRY_MAX
            {
                self.vretry.push((vi, slot, kind, msg));
            } else {
                self.stats.unroutable += 1;
            }
            return;
        }
        self.feed_validator(now, vi, Input::Message(msg), out);
    }

    /// Handles `input` at validator `vi` and what it leads to (signing answers), then
    /// retries kept messages that became acceptable.
    fn feed_validator(
        &mut self,
        now: UnixMillis,
        vi: ValidatorIndex,
        input: Input,
        out: &mut Vec<NodeOutput>,
    ) {
        self.now_slot.store(self.network.slot_at(now), std::sync::atomic::Ordering::Relaxed);
        let mut queue = vec![input];
        let mut progress = false;
        while let Some(input) = queue.pop() {
            let copy = match &input {
                Input::Message(m) => Some(m.clone()),
                _ => None,
            };
            let Some(v) = self.validators.get_mut(&vi) else { return };
            let mut o = Vec::new();
            match v.validator.handle(now, input, &mut o) {
                Ok(()) => {
                    progress = true;
                    if copy.is_some() {
                        self.stats.accepted += 1;
                    }
                }
                Err(RunnerError::InvalidOperatorSignature) => self.stats.bad_signature += 1,
                // An attester its selection proof did not select: routine, as on the node.
                Err(RunnerError::Other(r)) if r == NOT_AGGREGATOR => {}
                // As on the committee path: a consensus message ahead of the instance's
                // round or proposal waits for the next progress.
                Err(RunnerError::Qbft(
                    QbftError::NoProposalForCurrentRound
                    | QbftError::WrongMessageRound
                    | QbftError::FutureMessage
                    | QbftError::InstanceNotFound,
                )) if copy.is_some() => {
                    let kept = copy.and_then(|m| Some((validator_message_slot(&m)?, m)));
                    match kept {
                        Some(((slot, kind), m)) if self.vretry.len() < RETRY_MAX => {
                            self.vretry.push((vi, slot, kind, m));
                        }
                        _ => self.stats.unroutable += 1,
                    }
                }
                Err(e) if copy.as_ref().is_some_and(|m| self.validator_late(vi, m, &e)) => {
                    self.stats.late += 1;
                }
                Err(_) => self.stats.refused += 1,
            }
            self.execute_validator(vi, o, &mut queue, out);
        }
        if progress {
            let (ready, waiting): (Vec<_>, Vec<_>) =
                std::mem::take(&mut self.vretry).into_iter().partition(|(v, slot, kind, m)| {
                    *v == vi && self.validator_ready(*v, m, *slot, *kind)
                });
            self.vretry = waiting;
            self.stats.retried += ready.len() as u64;
            for (v, _, _, m) in ready {
                self.feed_validator(now, v, Input::Message(m), out);
            }
        }
    }

    fn execute_validator(
        &mut self,
        vi: ValidatorIndex,
        o: Vec<Output>,
        queue: &mut Vec<Input>,
        out: &mut Vec<NodeOutput>,
    ) {
        for o in o {
            match o {
                Output::Qbft(ssv_core::qbft::Output::Broadcast(m)) | Output::Broadcast(m) => {
                    out.push(NodeOutput::Broadcast(Arc::new(m.as_ssz_bytes())));
                }
                Output::Qbft(ssv_core::qbft::Output::TimerSet { .. }) => {}
                Output::Qbft(ssv_core::qbft::Output::Decided(d)) => {
                    use ssv_core::types::ssz::Decode;
                    if let Ok(cd) = ValidatorConsensusData::from_ssz_bytes(&d.value)
                        && let Ok(block) = cd.block_data()
                        && let Some(v) = self.validators.get_mut(&vi)
                    {
                        v.decided_block_slot = Some(block.slot());
                    }
                    let role = ValidatorConsensusData::from_ssz_bytes(&d.value)
                        .ok()
                        .and_then(|cd| cd.duty.runner_role());
                    if let Some(id) = role.and_then(|r| self.validator_identifier(vi, r)) {
                        out.push(NodeOutput::Decided {
                            key: (id, d.height),
                            round: d.round,
                            value: d.value,
                            commit: d.aggregated_commit.as_ssz_bytes(),
                        });
                    }
                }
                Output::Request { id, request: Request::Sign(items) } => {
                    let block_slot = self.validators.get(&vi).and_then(|v| v.decided_block_slot);
                    let response = self.sign(None, block_slot, &items, out);
                    queue.push(Input::Response { id, response });
                }
                Output::Request { id, request: request @ Request::Proposal { .. } } => {
                    let Request::Proposal { slot, .. } = request else { continue };
                    let outer = self.next_vrequest;
                    self.next_vrequest = self.next_vrequest.wrapping_add(1).max(VALIDATOR_REQUEST);
                    self.vrequests.insert(outer, (vi, id, request));
                    out.push(NodeOutput::Request { id: outer, slot });
                }
                Output::Request { id, request: Request::IsSyncCommitteeAggregator(proofs) } => {
                    // As the node: `is_sync_committee_aggregator`, answered at once.
                    let flags = proofs
                        .iter()
                        .map(crate::chain::duties::is_sync_committee_aggregator)
                        .collect();
                    queue.push(Input::Response { id, response: Response::Flags(flags) });
                }
                Output::Request {
                    id,
                    request: Request::AggregateAndProof { committee_length, selection_proof, .. },
                } if !crate::chain::duties::is_aggregator(committee_length, &selection_proof) => {
                    let response = Response::Failed(NOT_AGGREGATOR.into());
                    queue.push(Input::Response { id, response });
                }
                Output::Request {
                    id,
                    request:
                        request @ (Request::AggregateAndProof { .. }
                        | Request::SyncCommitteeContributions { .. }),
                } => {
                    let Some(slot) = request.slot() else { continue };
                    let outer = self.next_vrequest;
                    self.next_vrequest = self.next_vrequest.wrapping_add(1).max(VALIDATOR_REQUEST);
                    self.vrequests.insert(outer, (vi, id, request));
                    self.deferred.push((outer, slot));
                }
                Output::Request { id, .. } => {
                    let response = Response::Failed("request not simulated".into());
                    queue.push(Input::Response { id, response });
                }
                Output::Submit(s) => out.push(NodeOutput::Submit(Box::new(s))),
            }
        }
    }

    /// A message arrived.
    pub fn receive(&mut self, now: UnixMillis, bytes: &[u8], out: &mut Vec<NodeOutput>) {
        use ssv_core::types::ssz::Decode;
        if !self.up {
            return;
        }
        let Ok(msg) = SignedSsvMessage::from_ssz_bytes(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        if matches!(msg.ssv_message.msg_id.role(), Some(r) if r != RunnerRole::Committee) {
            self.receive_validator(now, msg, out);
            self.release_deferred(now, out);
            return;
        }
        self.feed(now, Input::Message(msg), out);
        self.release_deferred(now, out);
    }

    /// The clock reached [`DutyNode::poll_timeout`].
    pub fn timeout(&mut self, now: UnixMillis, out: &mut Vec<NodeOutput>) {
        if !self.up {
            return;
        }
        let due: Vec<Slot> = self
            .committee
            .runners
            .iter()
            .filter(|(_, r)| !runner_decided(r) && r.poll_timeout().is_some_and(|d| d <= now))
            .map(|(s, _)| *s)
            .collect();
        for slot in due {
            let mut o = Vec::new();
            if let Some(r) = self.committee.runners.get_mut(&slot)
                && r.on_timeout(now, &mut o).is_err()
            {
                self.stats.refused += 1;
            }
            let mut queue = Vec::new();
            self.execute(o, &mut queue, out);
            for input in queue {
                self.feed(now, input, out);
            }
        }
        let due: Vec<ValidatorIndex> = self
            .timed
            .iter()
            .filter(|vi| {
                self.validators
                    .get(vi)
                    .is_some_and(|v| validator_deadline(&v.validator).is_some_and(|d| d <= now))
            })
            .copied()
            .collect();
        for vi in due {
            self.feed_validator(now, vi, Input::Timeout, out);
        }
        self.release_deferred(now, out);
    }

    /// Handles `input` and what it leads to (signing answers), then retries early
    /// messages while any is accepted.
    fn feed(&mut self, now: UnixMillis, input: Input, out: &mut Vec<NodeOutput>) {
        let mut queue = vec![input];
        let mut accepted = false;
        while let Some(input) = queue.pop() {
            let copy = match &input {
                Input::Message(m) => Some(m.clone()),
                _ => None,
            };
            // As the Go node's queue does: a message waits until the slot's runner can take
            // it (a decided message before the runner started its instance would end it).
            if let Some(m) = &copy
                && let Some((slot, consensus)) = message_slot(m)
                && !self.ready(slot, consensus)
            {
                self.keep(now, slot, consensus, m.clone());
                continue;
            }
            let mut o = Vec::new();
            match self.committee.handle(now, input, &mut o) {
                Ok(()) => {
                    // Any progress (a started duty, an answer, an accepted message) may
                    // make kept messages acceptable.
                    accepted = true;
                    if copy.is_some() {
                        self.stats.accepted += 1;
                    }
                }
                Err(e) => self.rejected(now, &e, copy),
            }
            self.execute(o, &mut queue, out);
            if queue.is_empty() && accepted {
                accepted = false;
                let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retry)
                    .into_iter()
                    .partition(|(slot, consensus, _)| self.ready(*slot, *consensus));
                self.retry = waiting;
                self.stats.retried += ready.len() as u64;
                queue.extend(ready.into_iter().rev().map(|(_, _, m)| Input::Message(m)));
            }
        }
    }

    /// Whether the runner of `slot` can take a consensus message (its instance runs) or a
    /// partial-signature message (it decided).
    fn ready(&self, slot: Slot, consensus: bool) -> bool {
        self.committee.runners.get(&slot).and_then(|r| r.state.as_ref()).is_some_and(|s| {
            if consensus { s.running_instance.is_some() } else { s.decided_value.is_some() }
        })
    }

    fn rejected(&mut self, now: UnixMillis, e: &RunnerError, msg: Option<SignedSsvMessage>) {
        let early = matches!(
            e,
            // Messages before their runner is ready are kept by the gate in `feed`; a
            // finished runner's late partial signatures (`NoRunningDuty`) are dropped.
            RunnerError::Qbft(
                QbftError::NoProposalForCurrentRound
                    | QbftError::WrongMessageRound
                    | QbftError::FutureMessage
                    | QbftError::InstanceNotFound
            )
        );
        let Some(m) = msg else {
            self.stats.refused += 1;
            return;
        };
        if matches!(e, RunnerError::InvalidOperatorSignature) {
            self.stats.bad_signature += 1;
            return;
        }
        if let Some((slot, _)) = message_slot(&m).filter(|_| late_error(e))
            && let Some(r) = self.committee.runners.get(&slot)
            && (runner_decided(r)
                || r.state.as_ref().is_some_and(|s| s.finished || s.decided_value.is_some()))
        {
            self.stats.late += 1;
            return;
        }
        match message_slot(&m) {
            Some((s, consensus)) if early => self.keep(now, s, consensus, m),
            Some(_) => self.stats.refused += 1,
            None => self.stats.malformed += 1,
        }
    }

    /// Keeps a message of `slot` for retry while the slot is recent (or next).
    fn keep(&mut self, now: UnixMillis, slot: Slot, consensus: bool, m: SignedSsvMessage) {
        let now_slot = self.network.slot_at(now);
        if slot.saturating_add(RETAIN_SLOTS) >= now_slot
            && slot <= now_slot + 1
            && self.retry.len() < RETRY_MAX
        {
            self.retry.push((slot, consensus, m));
        } else {
            self.stats.unroutable += 1;
        }
    }

    fn execute(&mut self, o: Vec<Output>, queue: &mut Vec<Input>, out: &mut Vec<NodeOutput>) {
        let mut decided_now: Option<(Slot, BeaconVote)> = None;
        for o in o {
            match o {
                Output::Qbft(ssv_core::qbft::Output::Broadcast(m)) | Output::Broadcast(m) => {
                    out.push(NodeOutput::Broadcast(Arc::new(m.as_ssz_bytes())));
                }
                Output::Qbft(ssv_core::qbft::Output::TimerSet { .. }) => {}
                Output::Qbft(ssv_core::qbft::Output::Decided(d)) => {
                    use ssv_core::types::ssz::Decode;
                    if let Ok(vote) = BeaconVote::from_ssz_bytes(&d.value) {
                        self.decided.insert(d.height, vote);
                        decided_now = Some((d.height, vote));
                    }
                    let key = (self.identifier(), d.height);
                    out.push(NodeOutput::Decided {
                        key,
                        round: d.round,
                        value: d.value,
                        commit: d.aggregated_commit.as_ssz_bytes(),
                    });
                }
                Output::Request { id, request: Request::AttestationData { slot } } => {
                    out.push(NodeOutput::Request { id, slot });
                }
                Output::Request { id, request: Request::Sign(items) } => {
                    let vote = decided_now
                        .or_else(|| self.decided.last_key_value().map(|(s, v)| (*s, *v)));
                    let response = self.sign(vote.map(|v| v.1), None, &items, out);
                    queue.push(Input::Response { id, response });
                }
                Output::Request { id, .. } => {
                    let response = Response::Failed("not a committee runner's request".into());
                    queue.push(Input::Response { id, response });
                }
                Output::Submit(s) => {
                    if let Some((slot, _, _)) = submitted_item(&s) {
                        self.committee_submitted.insert(slot);
                    }
                    out.push(NodeOutput::Submit(Box::new(s)));
                }
            }
        }
    }

    /// The QBFT identifier (message id) of the cluster's committee duties.
    pub fn identifier(&self) -> [u8; 56] {
        ssv_core::types::MessageId::for_committee(
            DOMAIN,
            ssv_core::types::RunnerRole::Committee,
            &self.member.committee_id,
        )
        .0
    }

    /// Signs `items` with the share secrets, each attestation (source and target from
    /// `vote`) and block (slot `block_slot`, the decided block's) only after the slashing
    /// history accepted it.
    fn sign(
        &mut self,
        vote: Option<BeaconVote>,
        block_slot: Option<Slot>,
        items: &[SignRequest],
        out: &mut Vec<NodeOutput>,
    ) -> Response {
        let mut sigs = Vec::with_capacity(items.len());
        for item in items {
            let Some(secret) = self.secrets.get(&item.share_pub_key) else {
                return Response::Failed("no secret for the share key".into());
            };
            if item.domain_type == BeaconDomainType::BEACON_ATTESTER {
                let Some(vote) = vote else {
                    return Response::Failed("attestation to sign without a decided vote".into());
                };
                let att = AttestationToSign {
                    source_epoch: vote.source.epoch,
                    target_epoch: vote.target.epoch,
                    signing_root: item.signing_root,
                };
                let history = self.history.entry(item.share_pub_key).or_default();
                if let Err(e) = history.check_and_insert_attestation(&att) {
                    self.stats.refused += 1;
                    return Response::Failed(format!("slashing protection refused: {e}"));
                }
                out.push(NodeOutput::SignedAttestation {
                    validator: item.validator_index,
                    attestation: att,
                });
            } else if item.domain_type == BeaconDomainType::BEACON_PROPOSER {
                let Some(slot) = block_slot else {
                    return Response::Failed("block to sign without a decided block".into());
                };
                let block = BlockToSign { slot, signing_root: item.signing_root };
                let history = self.history.entry(item.share_pub_key).or_default();
                if let Err(e) = history.check_and_insert_block(&block) {
                    self.stats.refused += 1;
                    return Response::Failed(format!("slashing protection refused: {e}"));
                }
                out.push(NodeOutput::SignedBlock {
                    validator: item.validator_index,
                    slot,
                    signing_root: item.signing_root,
                });
            } else if ![
                BeaconDomainType::SYNC_COMMITTEE,
                BeaconDomainType::RANDAO,
                BeaconDomainType::SELECTION_PROOF,
                BeaconDomainType::AGGREGATE_AND_PROOF,
                BeaconDomainType::SYNC_COMMITTEE_SELECTION_PROOF,
                BeaconDomainType::CONTRIBUTION_AND_PROOF,
                BeaconDomainType::APPLICATION_BUILDER,
                BeaconDomainType::VOLUNTARY_EXIT,
            ]
            .contains(&item.domain_type)
            {
                return Response::Failed("a signature of a duty that is not simulated".into());
            }
            sigs.push(match self.fake_bls {
                Some(_) => FakeBls::sign(&item.share_pub_key, &item.signing_root),
                None => secret.sign(&item.signing_root).to_bytes(),
            });
        }
        Response::all_signed(sigs)
    }
}

/// The earliest QBFT deadline of a validator's runners that have not decided.
fn validator_deadline(v: &Validator) -> Option<UnixMillis> {
    v.runners
        .values()
        .filter(|r| {
            let h = r.state.as_ref().and_then(|s| s.running_instance);
            !h.is_some_and(|h| {
                r.controller.as_ref().and_then(|c| c.instance(h)).is_some_and(|i| i.state().decided)
            })
        })
        .filter_map(ValidatorRunner::poll_timeout)
        .min()
}

/// The slot of a validator-role message and what it is to the runner.
fn validator_message_slot(m: &SignedSsvMessage) -> Option<(Slot, MsgKind)> {
    if let Ok(q) = m.decode_qbft() {
        return Some((q.height, MsgKind::Consensus));
    }
    let p = m.ssv_message.decode_partial_signatures().ok()?;
    let kind = if p.msg_type == PartialSigMsgType::PostConsensus as u64 {
        MsgKind::PostConsensus
    } else {
        MsgKind::PreConsensus
    };
    Some((p.slot, kind))
}

/// Errors of a message that came after its runner decided or finished: counted as late
/// when the runner's duty is of the message's slot.
fn late_error(e: &RunnerError) -> bool {
    matches!(
        e,
        RunnerError::ConsensusHasFinished
            | RunnerError::NoRunningDuty
            | RunnerError::Qbft(QbftError::SkipConsensusMessageAsInstanceIsDecided)
    )
}

fn runner_decided(r: &CommitteeRunner) -> bool {
    let Some(h) = r.state.as_ref().and_then(|s| s.running_instance) else { return false };
    r.controller.instance(h).is_some_and(|i| i.state().decided)
}

/// The slot of a committee message and whether it is a consensus message.
fn message_slot(m: &SignedSsvMessage) -> Option<(Slot, bool)> {
    if let Ok(q) = m.decode_qbft() {
        return Some((q.height, true));
    }
    m.ssv_message.decode_partial_signatures().ok().map(|p| (p.slot, false))
}

fn new_committee(
    member: &CommitteeMember,
    crypto: &Arc<Crypto>,
    network: &Arc<BeaconNetwork>,
    shares: &BTreeMap<ValidatorIndex, Share>,
    context: &Arc<Mutex<DutyContext>>,
    fake_bls: &Option<Arc<FakeBls>>,
) -> Committee {
    let (m, c, n, ctx) =
        (member.clone(), Arc::clone(crypto), Arc::clone(network), Arc::clone(context));
    let bls = fake_bls.clone();
    let create = Box::new(move |shares: BTreeMap<ValidatorIndex, Share>| {
        let dc = ctx.lock().map(|c| *c).unwrap_or_default();
        let config = Arc::new(QbftConfig {
            proposer: Box::new(RoundRobinProposer),
            value_check: Box::new(RunnerValueCheck::BeaconVote {
                protection: Arc::new(CheckedAtSigning),
                slot: dc.slot,
                share_pub_keys: shares.values().map(|s| s.share_pub_key).collect(),
                expected_source: dc.source,
                expected_target: dc.target,
            }),
            timeouts: Box::new(SlotRelativeTimeouts {
                genesis_ms: n.genesis_ms,
                slot_ms: n.slot_ms,
                anchor: SlotAnchor::OneThird,
            }),
            verifier: c.verifier(),
            signer: c.signer(m.operator_id),
            cut_off_round: super::node::CUT_OFF_ROUND,
        });
        let id = ssv_core::types::MessageId::for_committee(
            m.domain_type,
            ssv_core::types::RunnerRole::Committee,
            &m.committee_id,
        );
        let controller = Controller::new(Arc::clone(&config), id.0.to_vec(), m.clone());
        let runner = CommitteeRunner::new(Arc::clone(&n), shares, controller, config);
        match &bls {
            Some(fake) => runner.with_bls(Arc::clone(fake) as Arc<dyn ThresholdBls>),
            None => runner,
        }
    });
    Committee::new(member.clone(), shares.clone(), create, crypto.verifier())
}
