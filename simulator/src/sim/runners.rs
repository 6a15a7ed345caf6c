//! The duty path: each simulated operator runs the core's duty runners (a
//! [`ssv_core::runner::Committee`] of `CommitteeRunner`s: attestations and sync-committee
//! messages) against the in-memory beacon chain ([`crate::chain::Chain`]).
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
    RunnerValueCheck, SignRequest, SlashingProtection, Submission, ThresholdBls,
};
use ssv_core::slashing::{AttestationToSign, SlashingHistory};
use ssv_core::types::ssz::Encode;
use ssv_core::types::ssz_types::VariableList;
use ssv_core::types::{
    BeaconVote, BlsPublicKeyBytes, CommitteeDuty, Epoch, OperatorId, Share, ShareMember,
    SignedSsvMessage, Slot, ValidatorDuty, ValidatorIndex,
};

use super::CryptoMode;
use super::crypto::{Crypto, FakeBls};
use super::duties::DOMAIN;
use super::node::{NodeOutput, NodeStats, RETAIN_SLOTS};
use crate::chain::{Chain as Beacon, ChainConfig, fork_version};

/// Slots per epoch of the simulated beacon chain on the duty path: short, so that small
/// validator sets still attest in most slots. Epoch 0 has no duties (its source and target
/// epochs are equal, which the beacon-vote check refuses).
pub const SLOTS_PER_EPOCH: u64 = 2;
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
    keys.secrets = secrets.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
    keys.fake_bls =
        Arc::new(FakeBls::new(keys.shares.get(&1).into_iter().flat_map(BTreeMap::values)));
    let keys = Arc::new(keys);
    cache.lock().map_err(|e| e.to_string())?.insert((operators, validators), Arc::clone(&keys));
    Ok(keys)
}

/// The simulated beacon chain of a run: the run's seed, `slot_ms` slots from
/// `genesis_ms`, the cluster's validators.
///
/// # Errors
/// No validators.
pub fn beacon(
    seed: u64,
    genesis_ms: UnixMillis,
    slot_ms: u64,
    keys: &ClusterKeys,
) -> Result<Beacon, String> {
    let config = ChainConfig {
        seed,
        genesis_time: genesis_ms / 1_000,
        slot_duration_ms: slot_ms,
        slots_per_epoch: SLOTS_PER_EPOCH,
        fork: FORK,
        head_lag_slots: 0,
    };
    Beacon::new(config, keys.validators.clone()).map_err(|e| e.to_string())
}

/// The runners' view of the simulated chain (the same domains as the chain's).
pub fn network(beacon: &Beacon, genesis_ms: UnixMillis) -> BeaconNetwork {
    BeaconNetwork {
        slots_per_epoch: SLOTS_PER_EPOCH,
        slot_ms: beacon.config().slot_duration_ms,
        genesis_ms,
        genesis_validators_root: beacon.genesis_validators_root(),
        fork_versions: vec![(0, fork_version(FORK))],
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
type ChainId = (u64, u64, [u8; 32]);

fn chain_id(beacon: &Beacon) -> ChainId {
    (beacon.config().seed, beacon.validators().len() as u64, beacon.genesis_validators_root())
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

fn compute_committee_duty(beacon: &Beacon, slot: Slot) -> Option<CommitteeDuty> {
    let epoch = beacon.epoch_of(slot);
    if epoch == 0 {
        return None;
    }
    let all: Vec<u64> = (0..beacon.validators().len() as u64).collect();
    let mut duties = Vec::new();
    for a in beacon.attester_duties(epoch, &all).ok()?.into_iter().filter(|a| a.slot == slot) {
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
    for s in beacon.sync_duties(epoch, &all).ok()? {
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

/// The duty path's value check as the invariants see it: an SSZ `BeaconVote` whose
/// target is the slot's epoch and whose source the epoch before.
///
/// # Errors
/// Why the value is invalid.
pub fn check_vote(slot: Slot, value: &[u8]) -> Result<(), String> {
    use ssv_core::types::ssz::Decode;
    let vote = BeaconVote::from_ssz_bytes(value).map_err(|e| format!("not a BeaconVote: {e:?}"))?;
    let epoch = slot / SLOTS_PER_EPOCH;
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

/// The (slot, role, validator) a submission is for, if it is a committee duty's.
pub fn submitted_item(s: &Submission) -> Option<DueItem> {
    match s {
        Submission::SingleAttestation(a) => Some((a.data.slot, 0, a.attester_index)),
        Submission::SyncCommitteeMessage(m) => Some((m.slot, 3, m.validator_index)),
        _ => None,
    }
}

/// Submits `s` to the chain at `now_ms`. In fake-crypto mode the chain's BLS check is
/// replaced by the same membership checks and a [`FakeBls`] check of the signature under
/// the chain's domain; the chain then records nothing (nothing on the duty path reads its
/// pools).
///
/// # Errors
/// The chain's refusal (a signature that does not verify, a non-member, …).
pub fn submit(
    beacon: &mut Beacon,
    crypto: &Crypto,
    now_ms: UnixMillis,
    s: &Submission,
) -> Result<(), String> {
    if crypto.mode() == CryptoMode::Fake {
        return check_fake(beacon, s);
    }
    let res = match s {
        Submission::SingleAttestation(a) => {
            let v = serde_json::to_value(a).map_err(|e| e.to_string())?;
            beacon.submit_attestations(now_ms, &[v])
        }
        Submission::SyncCommitteeMessage(m) => {
            beacon.submit_sync_committee_messages(now_ms, std::slice::from_ref(m))
        }
        other => return Err(format!("unexpected submission {:?}", std::mem::discriminant(other))),
    };
    res.map_err(|f| f.into_iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join("; "))
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
    /// Counters of dropped and refused inputs.
    pub stats: NodeStats,
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
        self.committee
            .runners
            .values()
            .filter(|r| !runner_decided(r))
            .filter_map(CommitteeRunner::poll_timeout)
            .min()
    }

    /// The process died: runners and queued messages are lost; the slashing history and
    /// decided votes (on disk) are kept.
    pub fn crash(&mut self) {
        self.up = false;
        self.retry.clear();
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
        if self.up {
            self.feed(now, Input::Response { id, response }, out);
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
        self.feed(now, Input::Message(msg), out);
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
                    let response = self.sign(vote.map(|v| v.1), &items, out);
                    queue.push(Input::Response { id, response });
                }
                Output::Request { id, .. } => {
                    let response = Response::Failed("validator duties are not simulated".into());
                    queue.push(Input::Response { id, response });
                }
                Output::Submit(s) => out.push(NodeOutput::Submit(Box::new(s))),
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

    /// Signs `items` with the share secrets, each attestation only after the slashing
    /// history accepted it (source and target from `vote`).
    fn sign(
        &mut self,
        vote: Option<BeaconVote>,
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
            } else if item.domain_type != BeaconDomainType::SYNC_COMMITTEE {
                return Response::Failed("only committee duties are simulated".into());
            }
            sigs.push(match self.fake_bls {
                Some(_) => FakeBls::sign(&item.share_pub_key, &item.signing_root),
                None => secret.sign(&item.signing_root).to_bytes(),
            });
        }
        Response::all_signed(sigs)
    }
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
