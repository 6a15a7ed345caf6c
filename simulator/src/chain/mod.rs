//! The simulated beacon chain as plain code: no IO, no clock.
//!
//! Every call takes `now` (unix milliseconds) as an input; the chain derives the current slot
//! from it (`(now - genesis) / slot_duration`, slot 0 before genesis). Keys, committees,
//! proposers and block hashes follow from the seed and the validator list, so the same
//! inputs give the same chain. Submissions are verified with real BLS under the right
//! domain before anything is stored; a rejected submission leaves the chain unchanged.
//! Every accepted submission is appended to [`Chain::records`] with its time and slot.
//!
//! Simplifications (documented where they live): the shuffle ([`duties`]), a genesis
//! validators root that is `SHA-256` of the public keys, fork versions `[fork, 0, 0, 0x5a]`
//! with every fork up to the configured one active from epoch 0, and empty blocks.

pub mod blocks;
pub mod duties;
pub mod keys;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use ssv_core::beacon::{
    AttestationData, Checkpoint, CommitteeIndex, DataVersion, Epoch, Root,
    SignedContributionAndProof, SignedValidatorRegistration, SignedVoluntaryExit, Slot,
    SyncAggregatorSelectionData, SyncCommitteeContribution, SyncCommitteeMessage, ValidatorIndex,
    VersionedBlock, electra, phase0,
};
use ssv_core::crypto::bls::{PublicKey, Signature, aggregate_signatures};
use ssv_core::crypto::signing::{
    BeaconDomainType, Domain, ForkVersion, compute_domain, compute_signing_root,
};
use ssz_types::{BitList, BitVector};
use tree_hash::TreeHash;

use self::blocks::{BlockTemplate, SignedBlockSummary};
use self::duties::{SYNC_SUBCOMMITTEE_SIZE, hash};

/// Why the chain refused a request or a submission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A validator index past the registry.
    #[error("unknown validator index {0}")]
    UnknownValidator(u64),
    /// A slot the request may not name (e.g. in the future).
    #[error("invalid slot {slot}: {reason}")]
    InvalidSlot {
        /// The slot asked for.
        slot: Slot,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A committee index past the slot's committees.
    #[error("invalid committee index {0}")]
    InvalidCommittee(u64),
    /// The validator is not in the committee or sync committee it claims.
    #[error("validator {validator} is not in {what}")]
    NotAMember {
        /// The validator.
        validator: u64,
        /// The committee named.
        what: String,
    },
    /// A BLS signature failed under its key and domain.
    #[error("invalid signature: {0}")]
    BadSignature(&'static str),
    /// The selection proof verifies but does not select the aggregator.
    #[error("validator {0} is not an aggregator for this slot")]
    NotAggregator(u64),
    /// The block's proposer is not the slot's proposer.
    #[error("validator {got} is not the proposer of slot {slot} (expected {expected})")]
    WrongProposer {
        /// The slot.
        slot: Slot,
        /// The slot's proposer.
        expected: u64,
        /// The claimed proposer.
        got: u64,
    },
    /// The fork has no such object here.
    #[error("fork {0} is not supported for this route")]
    UnsupportedFork(DataVersion),
    /// The body or parameter is not what the route takes.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// Nothing matches the query (e.g. no attestations to aggregate).
    #[error("not found: {0}")]
    NotFound(&'static str),
}

impl ChainError {
    /// The HTTP status the Beacon API gives this error (404 for [`ChainError::NotFound`],
    /// else 400).
    pub fn http_status(&self) -> u16 {
        match self {
            Self::NotFound(_) => 404,
            _ => 400,
        }
    }
}

/// The chain's static parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainConfig {
    /// Seed of keys (when derived), shuffles and hashes.
    pub seed: u64,
    /// Genesis time, unix seconds.
    pub genesis_time: u64,
    /// Slot duration in milliseconds (the spec's `SECONDS_PER_SLOT` is reported rounded up).
    pub slot_duration_ms: u64,
    /// `SLOTS_PER_EPOCH` (32 on mainnet; tests may use fewer).
    pub slots_per_epoch: u64,
    /// The fork in force from genesis.
    pub fork: DataVersion,
    /// Head lag in slots (a fault): the head is this many slots behind the wall clock.
    pub head_lag_slots: u64,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            genesis_time: 0,
            slot_duration_ms: 12_000,
            slots_per_epoch: 32,
            fork: DataVersion::Electra,
            head_lag_slots: 0,
        }
    }
}

/// `MAXIMUM_GOSSIP_CLOCK_DISPARITY` (phase0 p2p), ms: how long before its slot starts an
/// aggregate or a contribution is still taken.
pub const MAXIMUM_GOSSIP_CLOCK_DISPARITY_MS: u64 = 500;

/// The simulator's fork version for `fork`: `[n - 1, 0, 0, 0x5a]` where `n` is the
/// go-eth2-client number (phase0 is `0x0000005a`).
pub fn fork_version(fork: DataVersion) -> ForkVersion {
    [fork.as_u64().saturating_sub(1) as u8, 0, 0, 0x5a]
}

/// One accepted submission, as written to the record folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// When it arrived, unix milliseconds.
    pub unix_millis: u64,
    /// The wall-clock slot then.
    pub slot: Slot,
    /// The route (`/eth/v2/beacon/pool/attestations`, …).
    pub route: String,
    /// The accepted object, as Beacon-API JSON.
    pub body: Value,
}

/// An attester duty (Beacon API `AttesterDuty`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttesterDuty {
    /// The validator.
    pub validator_index: ValidatorIndex,
    /// Its public key.
    pub pubkey: [u8; 48],
    /// The slot to attest at.
    pub slot: Slot,
    /// The committee.
    pub committee_index: CommitteeIndex,
    /// The committee's size.
    pub committee_length: u64,
    /// Committees in the slot.
    pub committees_at_slot: u64,
    /// Position in the committee.
    pub validator_committee_index: u64,
}

/// A sync committee duty (Beacon API `SyncDuty`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDuty {
    /// The validator.
    pub validator_index: ValidatorIndex,
    /// Its public key.
    pub pubkey: [u8; 48],
    /// Its positions in the sync committee (0..512).
    pub validator_sync_committee_indices: Vec<u64>,
}

/// Pooled unaggregated attestations: (slot, committee, data root) → (data, committee
/// position → signature).
type AttestationPool =
    BTreeMap<(Slot, CommitteeIndex, Root), (AttestationData, BTreeMap<usize, [u8; 96]>)>;

/// The state of the simulated chain. See the module doc for the driving contract.
#[derive(Debug)]
pub struct Chain {
    config: ChainConfig,
    validators: Vec<PublicKey>,
    genesis_validators_root: Root,
    /// Blocks published, by slot.
    published: BTreeMap<Slot, Root>,
    /// Fee recipients from `prepare_beacon_proposer`.
    fee_recipients: BTreeMap<ValidatorIndex, [u8; 20]>,
    /// Unaggregated attestations: (slot, committee, data root) → (data, position → signature).
    attestation_pool: AttestationPool,
    /// Sync messages: (slot, block root) → sync committee position → signature.
    sync_pool: BTreeMap<(Slot, Root), BTreeMap<u64, [u8; 96]>>,
    records: Vec<Record>,
    /// Registry size proposers and the sync committee are drawn from (default: the
    /// validators given); indices past the validators are other stakers.
    registry: Option<u64>,
}

impl Chain {
    /// A chain over the given validator public keys.
    ///
    /// # Errors
    /// [`ChainError::Malformed`] for an empty validator list.
    pub fn new(config: ChainConfig, validators: Vec<PublicKey>) -> Result<Self, ChainError> {
        if validators.is_empty() {
            return Err(ChainError::Malformed("no validators".into()));
        }
        let mut parts: Vec<[u8; 48]> = Vec::with_capacity(validators.len());
        parts.extend(validators.iter().map(PublicKey::to_bytes));
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        let genesis_validators_root = hash(&refs);
        Ok(Self {
            config,
            validators,
            genesis_validators_root,
            published: BTreeMap::new(),
            fee_recipients: BTreeMap::new(),
            attestation_pool: BTreeMap::new(),
            sync_pool: BTreeMap::new(),
            records: Vec::new(),
            registry: None,
        })
    }

    /// This chain with proposers and the sync committee drawn from a registry of
    /// `registry` validators (at least the known ones), the known validators being its
    /// first indices: they propose and sync at the odds of a registry that size.
    #[must_use]
    pub fn with_registry(mut self, registry: u64) -> Self {
        self.registry = Some(registry.max(self.count()));
        self
    }

    /// Validators proposers and the sync committee are drawn from.
    pub fn registry_size(&self) -> u64 {
        self.registry.unwrap_or_else(|| self.count())
    }

    /// A chain of `count` validators with keys derived from `config.seed` ([`keys`]).
    ///
    /// # Errors
    /// As [`Chain::new`].
    pub fn from_seed(config: ChainConfig, count: u64) -> Result<Self, ChainError> {
        let keys = keys::derive_secret_keys(config.seed, count);
        Self::new(config, keys.iter().map(|k| k.public_key()).collect())
    }

    /// The configuration.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// The validators' public keys, by index.
    pub fn validators(&self) -> &[PublicKey] {
        &self.validators
    }

    /// The genesis validators root (simulator rule: `SHA-256` of the public keys).
    pub fn genesis_validators_root(&self) -> Root {
        self.genesis_validators_root
    }

    /// Every accepted submission so far, in arrival order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The wall-clock slot at `now_ms` (0 before genesis).
    pub fn slot_at(&self, now_ms: u64) -> Slot {
        now_ms.saturating_sub(self.config.genesis_time.saturating_mul(1000))
            / self.config.slot_duration_ms.max(1)
    }

    /// The head slot at `now_ms`: the wall-clock slot minus the configured lag.
    pub fn head_slot(&self, now_ms: u64) -> Slot {
        self.slot_at(now_ms).saturating_sub(self.config.head_lag_slots)
    }

    /// Refuses an aggregate or contribution of `slot` at `now_ms` (unix ms) when `slot`
    /// starts more than [`MAXIMUM_GOSSIP_CLOCK_DISPARITY_MS`] later (the gossip rules'
    /// future-slot check). Sync messages sign only the block root, so nothing else binds a
    /// contribution to its slot. Late ones are taken: the simulator submits late before a
    /// heal.
    ///
    /// # Errors
    /// [`ChainError::InvalidSlot`].
    pub fn check_not_future(&self, now_ms: u64, slot: Slot) -> Result<(), ChainError> {
        let start = self
            .config
            .genesis_time
            .saturating_mul(1000)
            .saturating_add(slot.saturating_mul(self.config.slot_duration_ms));
        if start > now_ms.saturating_add(MAXIMUM_GOSSIP_CLOCK_DISPARITY_MS) {
            return Err(ChainError::InvalidSlot { slot, reason: "in the future" });
        }
        Ok(())
    }

    /// The epoch of `slot`.
    pub fn epoch_of(&self, slot: Slot) -> Epoch {
        slot / self.config.slots_per_epoch.max(1)
    }

    /// The block root at `slot`: the published block if any, else a deterministic stand-in.
    pub fn block_root(&self, slot: Slot) -> Root {
        self.published.get(&slot).copied().unwrap_or_else(|| {
            hash(&[b"block", &self.config.seed.to_le_bytes(), &slot.to_le_bytes()])
        })
    }

    /// The domain of `domain_type` (every fork active from epoch 0, so the epoch does not
    /// change the version): voluntary exits use Capella's version from Deneb on (EIP-7044);
    /// builder registrations the genesis version and a zero root.
    pub fn domain(&self, domain_type: BeaconDomainType) -> Domain {
        if domain_type == BeaconDomainType::APPLICATION_BUILDER {
            return compute_domain(domain_type, fork_version(DataVersion::Phase0), &[0u8; 32]);
        }
        let version = if domain_type == BeaconDomainType::VOLUNTARY_EXIT
            && self.config.fork >= DataVersion::Deneb
        {
            fork_version(DataVersion::Capella)
        } else {
            fork_version(self.config.fork)
        };
        compute_domain(domain_type, version, &self.genesis_validators_root)
    }

    fn pubkey(&self, index: u64) -> Result<&PublicKey, ChainError> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.validators.get(i))
            .ok_or(ChainError::UnknownValidator(index))
    }

    fn verify(
        &self,
        index: u64,
        object_root: &Root,
        domain_type: BeaconDomainType,
        signature: &[u8; 96],
        what: &'static str,
    ) -> Result<(), ChainError> {
        let key = self.pubkey(index)?;
        let root = compute_signing_root(object_root, &self.domain(domain_type));
        let sig = Signature::from_bytes(signature).map_err(|_| ChainError::BadSignature(what))?;
        sig.verify(key, &root).map_err(|_| ChainError::BadSignature(what))
    }

    fn count(&self) -> u64 {
        self.validators.len() as u64
    }

    /// Committees in each slot.
    pub fn committees_per_slot(&self) -> u64 {
        duties::committees_per_slot(self.count(), self.config.slots_per_epoch)
    }

    /// The committee `(slot, index)` as validator indices.
    ///
    /// # Errors
    /// [`ChainError::InvalidCommittee`] past the slot's committees.
    pub fn committee(&self, slot: Slot, index: CommitteeIndex) -> Result<Vec<u64>, ChainError> {
        if index >= self.committees_per_slot() {
            return Err(ChainError::InvalidCommittee(index));
        }
        let shuffled =
            duties::shuffled_indices(self.config.seed, self.epoch_of(slot), self.count());
        Ok(duties::committee(&shuffled, slot, index, self.config.slots_per_epoch))
    }

    /// The proposer of `slot`.
    pub fn proposer(&self, slot: Slot) -> ValidatorIndex {
        duties::proposer_index(self.config.seed, slot, self.registry_size())
    }

    /// The sync committee in force at `slot`, by position.
    pub fn sync_committee(&self, slot: Slot) -> Vec<u64> {
        let period = self.epoch_of(slot) / duties::EPOCHS_PER_SYNC_COMMITTEE_PERIOD;
        duties::sync_committee(self.config.seed, period, self.registry_size())
    }

    /// Attester duties of `indices` in `epoch` (`POST /eth/v1/validator/duties/attester`).
    ///
    /// # Errors
    /// [`ChainError::UnknownValidator`] for an index past the registry.
    pub fn attester_duties(
        &self,
        epoch: Epoch,
        indices: &[u64],
    ) -> Result<Vec<AttesterDuty>, ChainError> {
        let spe = self.config.slots_per_epoch;
        let cps = self.committees_per_slot();
        let shuffled = duties::shuffled_indices(self.config.seed, epoch, self.count());
        let mut out = Vec::new();
        for &v in indices {
            let pubkey = self.pubkey(v)?.to_bytes();
            'search: for slot in epoch * spe..(epoch + 1) * spe {
                for ci in 0..cps {
                    let members = duties::committee(&shuffled, slot, ci, spe);
                    if let Some(pos) = members.iter().position(|m| *m == v) {
                        out.push(AttesterDuty {
                            validator_index: v,
                            pubkey,
                            slot,
                            committee_index: ci,
                            committee_length: members.len() as u64,
                            committees_at_slot: cps,
                            validator_committee_index: pos as u64,
                        });
                        break 'search;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Proposer duties of `epoch` (`GET /eth/v1/validator/duties/proposer/{epoch}`):
    /// `(slot, validator)` for each slot.
    pub fn proposer_duties(&self, epoch: Epoch) -> Vec<(Slot, ValidatorIndex)> {
        let spe = self.config.slots_per_epoch;
        (epoch * spe..(epoch + 1) * spe).map(|s| (s, self.proposer(s))).collect()
    }

    /// Sync duties of `indices` in `epoch` (`POST /eth/v1/validator/duties/sync/{epoch}`);
    /// validators not in the committee are left out.
    ///
    /// # Errors
    /// [`ChainError::UnknownValidator`] for an index past the registry.
    pub fn sync_duties(&self, epoch: Epoch, indices: &[u64]) -> Result<Vec<SyncDuty>, ChainError> {
        let committee = self.sync_committee(epoch * self.config.slots_per_epoch);
        let mut out = Vec::new();
        for &v in indices {
            let pubkey = self.pubkey(v)?.to_bytes();
            let positions: Vec<u64> = committee
                .iter()
                .enumerate()
                .filter(|(_, m)| **m == v)
                .map(|(j, _)| j as u64)
                .collect();
            if !positions.is_empty() {
                out.push(SyncDuty {
                    validator_index: v,
                    pubkey,
                    validator_sync_committee_indices: positions,
                });
            }
        }
        Ok(out)
    }

    /// Attestation data for `(slot, committee_index)` at `now_ms`
    /// (`GET /eth/v1/validator/attestation_data`). The head vote is the head block at or
    /// before `slot`; the target is the epoch's first block; the source the previous epoch's.
    /// From Electra `index` is 0.
    ///
    /// # Errors
    /// [`ChainError::InvalidSlot`] for a slot after the wall-clock slot;
    /// [`ChainError::InvalidCommittee`] past the slot's committees.
    pub fn attestation_data(
        &self,
        now_ms: u64,
        slot: Slot,
        committee_index: CommitteeIndex,
    ) -> Result<AttestationData, ChainError> {
        if slot > self.slot_at(now_ms) {
            return Err(ChainError::InvalidSlot { slot, reason: "in the future" });
        }
        if committee_index >= self.committees_per_slot() {
            return Err(ChainError::InvalidCommittee(committee_index));
        }
        let head = slot.min(self.head_slot(now_ms));
        let spe = self.config.slots_per_epoch;
        let target_epoch = self.epoch_of(slot);
        let source_epoch = target_epoch.saturating_sub(1);
        Ok(AttestationData {
            slot,
            index: if self.config.fork >= DataVersion::Electra { 0 } else { committee_index },
            beacon_block_root: self.block_root(head),
            source: Checkpoint {
                epoch: source_epoch,
                root: self.block_root((source_epoch * spe).min(head)),
            },
            target: Checkpoint {
                epoch: target_epoch,
                root: self.block_root((target_epoch * spe).min(head)),
            },
        })
    }

    fn record(&mut self, now_ms: u64, route: &str, body: Value) {
        let slot = self.slot_at(now_ms);
        self.records.push(Record { unix_millis: now_ms, slot, route: route.to_string(), body });
    }

    fn check_attester(
        &self,
        data: &AttestationData,
        committee_index: CommitteeIndex,
        attester: u64,
        signature: &[u8; 96],
    ) -> Result<usize, ChainError> {
        let members = self.committee(data.slot, committee_index)?;
        let pos =
            members.iter().position(|m| *m == attester).ok_or_else(|| ChainError::NotAMember {
                validator: attester,
                what: format!("committee {committee_index} of slot {}", data.slot),
            })?;
        self.verify(
            attester,
            &data.tree_hash_root().0,
            BeaconDomainType::BEACON_ATTESTER,
            signature,
            "attestation",
        )?;
        Ok(pos)
    }

    /// Submits unaggregated attestations (`POST /eth/v2/beacon/pool/attestations`): Electra
    /// `SingleAttestation`s, or phase0 `Attestation`s with one bit set before Electra.
    /// Each is checked alone; valid ones are pooled and recorded.
    ///
    /// # Errors
    /// The failures, by position in `items`.
    pub fn submit_attestations(
        &mut self,
        now_ms: u64,
        items: &[Value],
    ) -> Result<(), Vec<(usize, ChainError)>> {
        let mut failures = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match self.check_attestation(item) {
                Ok((committee, pos, data, sig)) => {
                    let key = (data.slot, committee, data.tree_hash_root().0);
                    self.attestation_pool
                        .entry(key)
                        .or_insert_with(|| (data, BTreeMap::new()))
                        .1
                        .insert(pos, sig);
                    self.record(now_ms, "/eth/v2/beacon/pool/attestations", item.clone());
                }
                Err(e) => failures.push((i, e)),
            }
        }
        if failures.is_empty() { Ok(()) } else { Err(failures) }
    }

    fn check_attestation(
        &self,
        item: &Value,
    ) -> Result<(CommitteeIndex, usize, AttestationData, [u8; 96]), ChainError> {
        let malformed = |e: serde_json::Error| ChainError::Malformed(e.to_string());
        if self.config.fork >= DataVersion::Electra {
            let a: electra::SingleAttestation =
                serde_json::from_value(item.clone()).map_err(malformed)?;
            if a.data.index != 0 {
                return Err(ChainError::Malformed("data.index must be 0 from Electra".into()));
            }
            let pos =
                self.check_attester(&a.data, a.committee_index, a.attester_index, &a.signature)?;
            Ok((a.committee_index, pos, a.data, a.signature))
        } else {
            let a: phase0::Attestation = serde_json::from_value(item.clone()).map_err(malformed)?;
            let members = self.committee(a.data.slot, a.data.index)?;
            let set: Vec<usize> =
                a.aggregation_bits.iter().enumerate().filter(|(_, b)| *b).map(|(i, _)| i).collect();
            let [pos] = set.as_slice() else {
                return Err(ChainError::Malformed(
                    "exactly one aggregation bit must be set".into(),
                ));
            };
            let attester =
                *members.get(*pos).ok_or(ChainError::Malformed("bit past the committee".into()))?;
            let p = self.check_attester(&a.data, a.data.index, attester, &a.signature)?;
            Ok((a.data.index, p, a.data, a.signature))
        }
    }

    /// The aggregate of pooled attestations with `data_root` in `committee_index` at `slot`
    /// (`GET /eth/v2/validator/aggregate_attestation`), as Beacon-API JSON of the fork's
    /// `Attestation`.
    ///
    /// # Errors
    /// [`ChainError::NotFound`] when nothing matches.
    pub fn aggregate_attestation(
        &self,
        slot: Slot,
        data_root: &Root,
        committee_index: CommitteeIndex,
    ) -> Result<Value, ChainError> {
        let (data, sigs) = self
            .attestation_pool
            .get(&(slot, committee_index, *data_root))
            .ok_or(ChainError::NotFound("no matching attestations"))?;
        let len = self.committee(slot, committee_index)?.len();
        let mut parsed = Vec::new();
        for sig in sigs.values() {
            parsed
                .push(Signature::from_bytes(sig).map_err(|_| ChainError::BadSignature("pooled"))?);
        }
        let signature = aggregate_signatures(&parsed)
            .map_err(|_| ChainError::BadSignature("aggregate"))?
            .to_bytes();
        let positions: Vec<usize> = sigs.keys().copied().collect();
        let value = if self.config.fork >= DataVersion::Electra {
            let mut committee_bits = BitVector::new();
            let _ = committee_bits.set(committee_index as usize, true);
            serde_json::to_value(electra::Attestation {
                aggregation_bits: bit_list(len, &positions)?,
                data: *data,
                signature,
                committee_bits,
            })
        } else {
            serde_json::to_value(phase0::Attestation {
                aggregation_bits: bit_list(len, &positions)?,
                data: *data,
                signature,
            })
        };
        value.map_err(|e| ChainError::Malformed(e.to_string()))
    }

    /// Submits signed aggregates (`POST /eth/v2/validator/aggregate_and_proofs`): checks the
    /// aggregator's membership, its selection proof (signature over the slot with
    /// `DOMAIN_SELECTION_PROOF`, and `is_aggregator`), the outer signature
    /// (`DOMAIN_AGGREGATE_AND_PROOF`) and the aggregate signature of the set bits; an
    /// aggregate of a future slot is refused ([`Chain::check_not_future`]).
    ///
    /// # Errors
    /// The failures, by position.
    pub fn submit_aggregate_and_proofs(
        &mut self,
        now_ms: u64,
        items: &[Value],
    ) -> Result<(), Vec<(usize, ChainError)>> {
        let mut failures = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match self.check_aggregate_and_proof(now_ms, item) {
                Ok(()) => {
                    self.record(now_ms, "/eth/v2/validator/aggregate_and_proofs", item.clone());
                }
                Err(e) => failures.push((i, e)),
            }
        }
        if failures.is_empty() { Ok(()) } else { Err(failures) }
    }

    fn check_aggregate_and_proof(&self, now_ms: u64, item: &Value) -> Result<(), ChainError> {
        let malformed = |e: serde_json::Error| ChainError::Malformed(e.to_string());
        let (
            aggregator,
            selection_proof,
            data,
            committee_index,
            bits,
            agg_sig,
            message_root,
            signature,
        ) = if self.config.fork >= DataVersion::Electra {
            let s: electra::SignedAggregateAndProof =
                serde_json::from_value(item.clone()).map_err(malformed)?;
            let m = &s.message;
            let committees: Vec<usize> = m
                .aggregate
                .committee_bits
                .iter()
                .enumerate()
                .filter(|(_, b)| *b)
                .map(|(i, _)| i)
                .collect();
            let [ci] = committees.as_slice() else {
                return Err(ChainError::Malformed("exactly one committee bit must be set".into()));
            };
            let bits: Vec<bool> = m.aggregate.aggregation_bits.iter().collect();
            (
                m.aggregator_index,
                m.selection_proof,
                m.aggregate.data,
                *ci as u64,
                bits,
                m.aggregate.signature,
                m.tree_hash_root().0,
                s.signature,
            )
        } else {
            let s: phase0::SignedAggregateAndProof =
                serde_json::from_value(item.clone()).map_err(malformed)?;
            let m = &s.message;
            let bits: Vec<bool> = m.aggregate.aggregation_bits.iter().collect();
            (
                m.aggregator_index,
                m.selection_proof,
                m.aggregate.data,
                m.aggregate.data.index,
                bits,
                m.aggregate.signature,
                m.tree_hash_root().0,
                s.signature,
            )
        };
        let slot = data.slot;
        self.check_not_future(now_ms, slot)?;
        let members = self.committee(slot, committee_index)?;
        if !members.contains(&aggregator) {
            return Err(ChainError::NotAMember {
                validator: aggregator,
                what: format!("committee {committee_index} of slot {slot}"),
            });
        }
        self.verify(
            aggregator,
            &slot.tree_hash_root().0,
            BeaconDomainType::SELECTION_PROOF,
            &selection_proof,
            "selection proof",
        )?;
        if !duties::is_aggregator(members.len() as u64, &selection_proof) {
            return Err(ChainError::NotAggregator(aggregator));
        }
        self.verify(
            aggregator,
            &message_root,
            BeaconDomainType::AGGREGATE_AND_PROOF,
            &signature,
            "aggregate and proof",
        )?;
        if bits.len() != members.len() {
            return Err(ChainError::Malformed(
                "aggregation bits do not match the committee".into(),
            ));
        }
        let keys: Vec<&PublicKey> = members
            .iter()
            .zip(&bits)
            .filter(|(_, b)| **b)
            .map(|(m, _)| self.pubkey(*m))
            .collect::<Result<_, _>>()?;
        let root = compute_signing_root(
            &data.tree_hash_root().0,
            &self.domain(BeaconDomainType::BEACON_ATTESTER),
        );
        let sig =
            Signature::from_bytes(&agg_sig).map_err(|_| ChainError::BadSignature("aggregate"))?;
        let owned: Vec<PublicKey> = keys.into_iter().cloned().collect();
        sig.fast_aggregate_verify(&owned, &root).map_err(|_| ChainError::BadSignature("aggregate"))
    }

    /// Submits sync committee messages (`POST /eth/v1/beacon/pool/sync_committees`): the
    /// validator must be in the slot's sync committee and sign the block root with
    /// `DOMAIN_SYNC_COMMITTEE`.
    ///
    /// # Errors
    /// The failures, by position.
    pub fn submit_sync_committee_messages(
        &mut self,
        now_ms: u64,
        items: &[SyncCommitteeMessage],
    ) -> Result<(), Vec<(usize, ChainError)>> {
        let mut failures = Vec::new();
        for (i, m) in items.iter().enumerate() {
            let committee = self.sync_committee(m.slot);
            let check = if committee.contains(&m.validator_index) {
                self.verify(
                    m.validator_index,
                    &m.beacon_block_root,
                    BeaconDomainType::SYNC_COMMITTEE,
                    &m.signature,
                    "sync committee message",
                )
            } else {
                Err(ChainError::NotAMember {
                    validator: m.validator_index,
                    what: "the sync committee".into(),
                })
            };
            match check {
                Ok(()) => {
                    let pool = self.sync_pool.entry((m.slot, m.beacon_block_root)).or_default();
                    for (j, _) in
                        committee.iter().enumerate().filter(|(_, v)| **v == m.validator_index)
                    {
                        pool.insert(j as u64, m.signature);
                    }
                    let body = serde_json::to_value(m).unwrap_or(Value::Null);
                    self.record(now_ms, "/eth/v1/beacon/pool/sync_committees", body);
                }
                Err(e) => failures.push((i, e)),
            }
        }
        if failures.is_empty() { Ok(()) } else { Err(failures) }
    }

    /// The contribution of `subcommittee_index` for `block_root` at `slot` from pooled
    /// messages (`GET /eth/v1/validator/sync_committee_contribution`).
    ///
    /// # Errors
    /// [`ChainError::NotFound`] when no message matches; [`ChainError::Malformed`] for a
    /// subcommittee past 3.
    pub fn sync_committee_contribution(
        &self,
        slot: Slot,
        subcommittee_index: u64,
        block_root: &Root,
    ) -> Result<SyncCommitteeContribution, ChainError> {
        if subcommittee_index >= duties::SYNC_COMMITTEE_SUBNET_COUNT {
            return Err(ChainError::Malformed(format!("subcommittee {subcommittee_index}")));
        }
        let pool = self
            .sync_pool
            .get(&(slot, *block_root))
            .ok_or(ChainError::NotFound("no sync messages"))?;
        let lo = subcommittee_index * SYNC_SUBCOMMITTEE_SIZE;
        let mut bits = BitVector::new();
        let mut sigs = Vec::new();
        for (j, sig) in pool.range(lo..lo + SYNC_SUBCOMMITTEE_SIZE) {
            let _ = bits.set((j - lo) as usize, true);
            sigs.push(Signature::from_bytes(sig).map_err(|_| ChainError::BadSignature("pooled"))?);
        }
        if sigs.is_empty() {
            return Err(ChainError::NotFound("no sync messages in this subcommittee"));
        }
        let signature = aggregate_signatures(&sigs)
            .map_err(|_| ChainError::BadSignature("aggregate"))?
            .to_bytes();
        Ok(SyncCommitteeContribution {
            slot,
            beacon_block_root: *block_root,
            subcommittee_index,
            aggregation_bits: bits,
            signature,
        })
    }

    /// Submits signed contributions (`POST /eth/v1/validator/contribution_and_proofs`):
    /// checks membership of the subcommittee, the selection proof
    /// (`SyncAggregatorSelectionData`, `DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF`,
    /// `is_sync_committee_aggregator`), the outer signature (`DOMAIN_CONTRIBUTION_AND_PROOF`)
    /// and the contribution's aggregate signature; a contribution of a future slot is
    /// refused ([`Chain::check_not_future`]).
    ///
    /// # Errors
    /// The failures, by position.
    pub fn submit_contribution_and_proofs(
        &mut self,
        now_ms: u64,
        items: &[SignedContributionAndProof],
    ) -> Result<(), Vec<(usize, ChainError)>> {
        let mut failures = Vec::new();
        for (i, s) in items.iter().enumerate() {
            match self.check_contribution(now_ms, s) {
                Ok(()) => {
                    let body = serde_json::to_value(s).unwrap_or(Value::Null);
                    self.record(now_ms, "/eth/v1/validator/contribution_and_proofs", body);
                }
                Err(e) => failures.push((i, e)),
            }
        }
        if failures.is_empty() { Ok(()) } else { Err(failures) }
    }

    fn check_contribution(
        &self,
        now_ms: u64,
        s: &SignedContributionAndProof,
    ) -> Result<(), ChainError> {
        let m = &s.message;
        let c = &m.contribution;
        self.check_not_future(now_ms, c.slot)?;
        if c.subcommittee_index >= duties::SYNC_COMMITTEE_SUBNET_COUNT {
            return Err(ChainError::Malformed(format!("subcommittee {}", c.subcommittee_index)));
        }
        let committee = self.sync_committee(c.slot);
        let lo = (c.subcommittee_index * SYNC_SUBCOMMITTEE_SIZE) as usize;
        let sub = committee.get(lo..lo + SYNC_SUBCOMMITTEE_SIZE as usize).unwrap_or_default();
        if !sub.contains(&m.aggregator_index) {
            return Err(ChainError::NotAMember {
                validator: m.aggregator_index,
                what: format!("sync subcommittee {}", c.subcommittee_index),
            });
        }
        let selection =
            SyncAggregatorSelectionData { slot: c.slot, subcommittee_index: c.subcommittee_index };
        self.verify(
            m.aggregator_index,
            &selection.tree_hash_root().0,
            BeaconDomainType::SYNC_COMMITTEE_SELECTION_PROOF,
            &m.selection_proof,
            "sync selection proof",
        )?;
        if !duties::is_sync_committee_aggregator(&m.selection_proof) {
            return Err(ChainError::NotAggregator(m.aggregator_index));
        }
        self.verify(
            m.aggregator_index,
            &m.tree_hash_root().0,
            BeaconDomainType::CONTRIBUTION_AND_PROOF,
            &s.signature,
            "contribution and proof",
        )?;
        let keys: Vec<PublicKey> = sub
            .iter()
            .zip(c.aggregation_bits.iter())
            .filter(|(_, b)| *b)
            .map(|(v, _)| self.pubkey(*v).cloned())
            .collect::<Result<_, _>>()?;
        if keys.is_empty() {
            return Err(ChainError::Malformed("empty contribution".into()));
        }
        let root = compute_signing_root(
            &c.beacon_block_root,
            &self.domain(BeaconDomainType::SYNC_COMMITTEE),
        );
        let sig = Signature::from_bytes(&c.signature)
            .map_err(|_| ChainError::BadSignature("contribution"))?;
        sig.fast_aggregate_verify(&keys, &root)
            .map_err(|_| ChainError::BadSignature("contribution"))
    }

    /// Produces a block for `slot` (`GET /eth/v3/validator/blocks/{slot}`) after checking the
    /// RANDAO reveal (the proposer's signature over the epoch with `DOMAIN_RANDAO`).
    /// Returns the full and the blinded proposal; the caller serves one.
    ///
    /// # Errors
    /// [`ChainError::BadSignature`] for a wrong reveal; [`ChainError::UnsupportedFork`]
    /// before Deneb.
    pub fn produce_block(
        &self,
        now_ms: u64,
        slot: Slot,
        randao_reveal: [u8; 96],
        graffiti: Root,
    ) -> Result<(VersionedBlock, VersionedBlock), ChainError> {
        let proposer = self.proposer(slot);
        self.verify(
            proposer,
            &self.epoch_of(slot).tree_hash_root().0,
            BeaconDomainType::RANDAO,
            &randao_reveal,
            "randao reveal",
        )?;
        let head = slot.saturating_sub(1).min(self.head_slot(now_ms));
        let template = BlockTemplate {
            fork: self.config.fork,
            slot,
            proposer_index: proposer,
            parent_root: self.block_root(head),
            randao_reveal,
            graffiti,
            fee_recipient: self.fee_recipients.get(&proposer).copied().unwrap_or_default(),
            timestamp: self.config.genesis_time + slot * self.config.slot_duration_ms / 1000,
            seed: self.config.seed,
        };
        blocks::produce(&template)
    }

    /// Publishes a signed block (`POST /eth/v2/beacon/blocks` or `/blinded_blocks`): the
    /// signer must be the slot's proposer and sign the block root with
    /// `DOMAIN_BEACON_PROPOSER`. The block becomes the chain's block at its slot.
    ///
    /// # Errors
    /// [`ChainError::WrongProposer`], [`ChainError::BadSignature`].
    pub fn publish_block(
        &mut self,
        now_ms: u64,
        block: &SignedBlockSummary,
    ) -> Result<(), ChainError> {
        let expected = self.proposer(block.slot);
        if block.proposer_index != expected {
            return Err(ChainError::WrongProposer {
                slot: block.slot,
                expected,
                got: block.proposer_index,
            });
        }
        self.verify(
            block.proposer_index,
            &block.block_root,
            BeaconDomainType::BEACON_PROPOSER,
            &block.signature,
            "block",
        )?;
        self.published.insert(block.slot, block.block_root);
        let route =
            if block.blinded { "/eth/v2/beacon/blinded_blocks" } else { "/eth/v2/beacon/blocks" };
        let body = serde_json::json!({
            "slot": block.slot.to_string(),
            "proposer_index": block.proposer_index.to_string(),
            "block_root": blocks::hex0x(&block.block_root),
            "signature": blocks::hex0x(&block.signature),
        });
        self.record(now_ms, route, body);
        Ok(())
    }

    /// Submits a voluntary exit (`POST /eth/v1/beacon/pool/voluntary_exits`), signed with
    /// `DOMAIN_VOLUNTARY_EXIT` (Capella's version from Deneb on).
    ///
    /// # Errors
    /// [`ChainError::BadSignature`], [`ChainError::UnknownValidator`].
    pub fn submit_voluntary_exit(
        &mut self,
        now_ms: u64,
        exit: &SignedVoluntaryExit,
    ) -> Result<(), ChainError> {
        self.verify(
            exit.message.validator_index,
            &exit.message.tree_hash_root().0,
            BeaconDomainType::VOLUNTARY_EXIT,
            &exit.signature,
            "voluntary exit",
        )?;
        let body = serde_json::to_value(exit).unwrap_or(Value::Null);
        self.record(now_ms, "/eth/v1/beacon/pool/voluntary_exits", body);
        Ok(())
    }

    /// Registers validators with builders (`POST /eth/v1/validator/register_validator`),
    /// each signed with `DOMAIN_APPLICATION_BUILDER`.
    ///
    /// # Errors
    /// The failures, by position; [`ChainError::UnknownValidator`] for an unknown key.
    pub fn register_validators(
        &mut self,
        now_ms: u64,
        items: &[SignedValidatorRegistration],
    ) -> Result<(), Vec<(usize, ChainError)>> {
        let mut failures = Vec::new();
        for (i, r) in items.iter().enumerate() {
            let check = match self.validators.iter().position(|k| k.to_bytes() == r.message.pubkey)
            {
                Some(v) => self.verify(
                    v as u64,
                    &r.message.tree_hash_root().0,
                    BeaconDomainType::APPLICATION_BUILDER,
                    &r.signature,
                    "validator registration",
                ),
                None => Err(ChainError::Malformed("unknown public key".into())),
            };
            match check {
                Ok(()) => {
                    let body = serde_json::to_value(r).unwrap_or(Value::Null);
                    self.record(now_ms, "/eth/v1/validator/register_validator", body);
                }
                Err(e) => failures.push((i, e)),
            }
        }
        if failures.is_empty() { Ok(()) } else { Err(failures) }
    }

    /// Records fee recipients (`POST /eth/v1/validator/prepare_beacon_proposer`).
    ///
    /// # Errors
    /// [`ChainError::UnknownValidator`] (nothing is stored then).
    pub fn prepare_beacon_proposer(
        &mut self,
        now_ms: u64,
        items: &[(ValidatorIndex, [u8; 20])],
    ) -> Result<(), ChainError> {
        for (v, _) in items {
            self.pubkey(*v)?;
        }
        for (v, addr) in items {
            self.fee_recipients.insert(*v, *addr);
        }
        let body = Value::Array(
            items
                .iter()
                .map(|(v, a)| serde_json::json!({"validator_index": v.to_string(), "fee_recipient": blocks::hex0x(a)}))
                .collect(),
        );
        self.record(now_ms, "/eth/v1/validator/prepare_beacon_proposer", body);
        Ok(())
    }

    /// Records a subscription request as received (committee or sync subscriptions).
    pub fn record_subscription(&mut self, now_ms: u64, route: &str, body: Value) {
        self.record(now_ms, route, body);
    }
}

/// A bit list of `len` bits with `positions` set.
fn bit_list<N: typenum::Unsigned + Clone>(
    len: usize,
    positions: &[usize],
) -> Result<BitList<N>, ChainError> {
    let mut bits =
        BitList::with_capacity(len).map_err(|e| ChainError::Malformed(format!("{e:?}")))?;
    for p in positions {
        bits.set(*p, true).map_err(|e| ChainError::Malformed(format!("{e:?}")))?;
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssv_core::crypto::bls::SecretKey;

    fn chain() -> (Chain, Vec<SecretKey>) {
        let config = ChainConfig { seed: 3, slots_per_epoch: 8, ..ChainConfig::default() };
        let keys = keys::derive_secret_keys(3, 16);
        (Chain::from_seed(config, 16).unwrap(), keys)
    }

    #[test]
    fn attestation_signatures_are_checked_with_the_attester_domain() {
        let (mut chain, keys) = chain();
        let duty = &chain.attester_duties(0, &[5]).unwrap()[0];
        let now = duty.slot * 12_000;
        let data = chain.attestation_data(now, duty.slot, duty.committee_index).unwrap();
        let wrong_domain = chain.domain(BeaconDomainType::RANDAO);
        let right_domain = chain.domain(BeaconDomainType::BEACON_ATTESTER);
        let root = |dt| {
            let domain = if dt == BeaconDomainType::RANDAO { wrong_domain } else { right_domain };
            compute_signing_root(&data.tree_hash_root().0, &domain)
        };
        let sign = |dt| keys[5].sign(&root(dt)).to_bytes();
        let att = |sig: [u8; 96]| {
            serde_json::to_value(electra::SingleAttestation {
                committee_index: duty.committee_index,
                attester_index: 5,
                data,
                signature: sig,
            })
            .unwrap()
        };
        let wrong = att(sign(BeaconDomainType::RANDAO));
        let err = chain.submit_attestations(now, &[wrong]).unwrap_err();
        assert!(matches!(err[0].1, ChainError::BadSignature(_)));
        assert!(chain.records().is_empty(), "a rejected attestation must not be recorded");
        let good = att(sign(BeaconDomainType::BEACON_ATTESTER));
        chain.submit_attestations(now, &[good]).unwrap();
        assert_eq!(chain.records().len(), 1);
        let agg = chain
            .aggregate_attestation(duty.slot, &data.tree_hash_root().0, duty.committee_index)
            .unwrap();
        let parsed: electra::Attestation = serde_json::from_value(agg).unwrap();
        assert_eq!(parsed.signature, sign(BeaconDomainType::BEACON_ATTESTER));
    }

    #[test]
    fn blinded_and_full_blocks_share_a_root() {
        let (chain, keys) = chain();
        let slot = 3;
        let proposer = chain.proposer(slot) as usize;
        let randao_root =
            compute_signing_root(&0u64.tree_hash_root().0, &chain.domain(BeaconDomainType::RANDAO));
        let reveal = keys[proposer].sign(&randao_root).to_bytes();
        let (full, blinded) = chain.produce_block(slot * 12_000, slot, reveal, [0; 32]).unwrap();
        assert_eq!(full.block_root(), blinded.block_root());
        assert!(chain.produce_block(slot * 12_000, slot, [0xc0; 96], [0; 32]).is_err());
    }
}
