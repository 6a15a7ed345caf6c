//! What the validator needs to know about the network: operators, committees, validators
//! and duties. The shell fills it from its registry and duty store; tests and the simulator
//! use [`StaticNetworkView`].

use std::collections::{BTreeMap, BTreeSet};

use crate::crypto::rsa::OperatorPublicKey;
use crate::types::{BlsPublicKeyBytes, CommitteeId, Epoch, OperatorId, Slot, ValidatorIndex};

/// A committee as message validation sees it (`registrystorage.Committee`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitteeView<'a> {
    /// The committee's operators, ascending (the round-robin proposer indexes this order).
    pub operators: &'a [OperatorId],
    /// The indices of the committee's validators.
    pub validator_indices: &'a [ValidatorIndex],
}

/// A validator's beacon status, reduced to what `SSVShare.IsAttesting` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValidatorStatus {
    /// No beacon metadata yet (`ValidatorStateUnknown`).
    Unknown,
    /// `pending_queued`: attesting from `activation_epoch` on.
    PendingQueued {
        /// The epoch the validator becomes active.
        activation_epoch: Epoch,
    },
    /// `active_ongoing`, `active_exiting` or `active_slashed`.
    Attesting,
    /// Any other known status (pending initialised, exited, withdrawal).
    NotAttesting,
}

/// One validator's share as message validation sees it (`SSVShare`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidatorView<'a> {
    /// The validator's beacon index.
    pub index: ValidatorIndex,
    /// The operators of the validator's committee, ascending.
    pub committee: &'a [OperatorId],
    /// Whether the owner's cluster is liquidated.
    pub liquidated: bool,
    /// The beacon status.
    pub status: ValidatorStatus,
}

impl ValidatorView<'_> {
    /// `SSVShare.IsAttesting(epoch)`: not liquidated, has metadata, and attesting (or
    /// pending-queued with an activation epoch at or before `epoch`).
    pub fn is_attesting(&self, epoch: Epoch) -> bool {
        if self.liquidated {
            return false;
        }
        match self.status {
            ValidatorStatus::Attesting => true,
            ValidatorStatus::PendingQueued { activation_epoch } => activation_epoch <= epoch,
            ValidatorStatus::Unknown | ValidatorStatus::NotAttesting => false,
        }
    }
}

/// Read-only network state that message validation consults (the Go node's
/// `validatorStore`, `operators` and `dutyStore`). Implementations must be cheap: every
/// gossip message calls several methods.
pub trait NetworkView {
    /// Whether `id` is a registered operator (`OperatorsExist`).
    fn operator_known(&self, id: OperatorId) -> bool;
    /// The operator's RSA public key, to verify its signatures. `None` fails verification.
    fn operator_key(&self, id: OperatorId) -> Option<&OperatorPublicKey>;
    /// The committee with this id, if it exists.
    fn committee(&self, id: &CommitteeId) -> Option<CommitteeView<'_>>;
    /// The share of the validator with this public key, if known.
    fn validator(&self, pubkey: &BlsPublicKeyBytes) -> Option<ValidatorView<'_>>;
    /// Whether validator `index` has a proposer duty at `slot` (of `epoch`).
    fn has_proposer_duty(&self, epoch: Epoch, slot: Slot, index: ValidatorIndex) -> bool;
    /// Whether the proposer duties of `epoch` have been fetched (`IsEpochSet`). Until they
    /// are, RANDAO messages at the epoch's first slot are tolerated without a duty.
    fn proposer_duties_known(&self, epoch: Epoch) -> bool;
    /// Whether validator `index` is in the sync committee of sync-committee `period`.
    fn has_sync_committee_duty(&self, period: u64, index: ValidatorIndex) -> bool;
    /// How many voluntary-exit duties the validator has in the epoch of `slot`
    /// (`VoluntaryExit.GetDutyCount`).
    fn voluntary_exit_duty_count(&self, slot: Slot, pubkey: &BlsPublicKeyBytes) -> u64;
}

#[derive(Debug, Clone)]
struct CommitteeRecord {
    operators: Vec<OperatorId>,
    validator_indices: Vec<ValidatorIndex>,
}

#[derive(Debug, Clone)]
struct ValidatorRecord {
    index: ValidatorIndex,
    committee: Vec<OperatorId>,
    liquidated: bool,
    status: ValidatorStatus,
}

/// A [`NetworkView`] held in ordered maps: for tests, the simulator and small devnets.
#[derive(Clone, Default)]
pub struct StaticNetworkView {
    operators: BTreeMap<OperatorId, Option<OperatorPublicKey>>,
    committees: BTreeMap<CommitteeId, CommitteeRecord>,
    validators: BTreeMap<BlsPublicKeyBytes, ValidatorRecord>,
    proposer_duties: BTreeSet<(Slot, ValidatorIndex)>,
    proposer_epochs: BTreeSet<Epoch>,
    sync_duties: BTreeSet<(u64, ValidatorIndex)>,
    exit_duties: BTreeMap<(Slot, BlsPublicKeyBytes), u64>,
}

impl std::fmt::Debug for StaticNetworkView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticNetworkView")
            .field("operators", &self.operators.keys().collect::<Vec<_>>())
            .field("committees", &self.committees.len())
            .field("validators", &self.validators.len())
            .finish_non_exhaustive()
    }
}

impl StaticNetworkView {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an operator with its RSA key (`None`: registered but its key is unusable).
    pub fn add_operator(&mut self, id: OperatorId, key: Option<OperatorPublicKey>) {
        self.operators.insert(id, key);
    }

    /// Adds (or replaces) a committee of `operators` (sorted here) with its validators, and
    /// returns its id.
    pub fn add_committee(
        &mut self,
        operators: &[OperatorId],
        validator_indices: &[ValidatorIndex],
    ) -> CommitteeId {
        let mut ops = operators.to_vec();
        ops.sort_unstable();
        let id = CommitteeId::from_operators(&ops);
        self.committees.insert(
            id,
            CommitteeRecord { operators: ops, validator_indices: validator_indices.to_vec() },
        );
        id
    }

    /// Adds (or replaces) a validator share run by `committee` (sorted here).
    pub fn add_validator(
        &mut self,
        pubkey: BlsPublicKeyBytes,
        index: ValidatorIndex,
        committee: &[OperatorId],
        liquidated: bool,
        status: ValidatorStatus,
    ) {
        let mut ops = committee.to_vec();
        ops.sort_unstable();
        self.validators
            .insert(pubkey, ValidatorRecord { index, committee: ops, liquidated, status });
    }

    /// Records a proposer duty and marks the duties of `epoch` as fetched.
    pub fn add_proposer_duty(&mut self, epoch: Epoch, slot: Slot, index: ValidatorIndex) {
        self.proposer_duties.insert((slot, index));
        self.proposer_epochs.insert(epoch);
    }

    /// Marks the proposer duties of `epoch` as fetched (possibly none).
    pub fn set_proposer_epoch_known(&mut self, epoch: Epoch) {
        self.proposer_epochs.insert(epoch);
    }

    /// Records a sync-committee membership for `period`.
    pub fn add_sync_committee_duty(&mut self, period: u64, index: ValidatorIndex) {
        self.sync_duties.insert((period, index));
    }

    /// Sets the voluntary-exit duty count of a validator for `slot`.
    pub fn set_voluntary_exit_duties(&mut self, slot: Slot, pubkey: BlsPublicKeyBytes, n: u64) {
        self.exit_duties.insert((slot, pubkey), n);
    }
}

impl NetworkView for StaticNetworkView {
    fn operator_known(&self, id: OperatorId) -> bool {
        self.operators.contains_key(&id)
    }

    fn operator_key(&self, id: OperatorId) -> Option<&OperatorPublicKey> {
        self.operators.get(&id).and_then(Option::as_ref)
    }

    fn committee(&self, id: &CommitteeId) -> Option<CommitteeView<'_>> {
        self.committees.get(id).map(|c| CommitteeView {
            operators: &c.operators,
            validator_indices: &c.validator_indices,
        })
    }

    fn validator(&self, pubkey: &BlsPublicKeyBytes) -> Option<ValidatorView<'_>> {
        self.validators.get(pubkey).map(|v| ValidatorView {
            index: v.index,
            committee: &v.committee,
            liquidated: v.liquidated,
            status: v.status,
        })
    }

    fn has_proposer_duty(&self, _epoch: Epoch, slot: Slot, index: ValidatorIndex) -> bool {
        self.proposer_duties.contains(&(slot, index))
    }

    fn proposer_duties_known(&self, epoch: Epoch) -> bool {
        self.proposer_epochs.contains(&epoch)
    }

    fn has_sync_committee_duty(&self, period: u64, index: ValidatorIndex) -> bool {
        self.sync_duties.contains(&(period, index))
    }

    fn voluntary_exit_duty_count(&self, slot: Slot, pubkey: &BlsPublicKeyBytes) -> u64 {
        self.exit_duties.get(&(slot, *pubkey)).copied().unwrap_or(0)
    }
}
