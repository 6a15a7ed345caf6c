//! Duties as the spec's runners receive them (ssv-spec v1.2.2 `types/beacon_types.go`).

use ssz_derive::{Decode, Encode};
use ssz_types::VariableList;
use tree_hash_derive::TreeHash;
use typenum::U13;

use super::{BeaconRole, BlsPublicKeyBytes, RunnerRole, Slot, ValidatorIndex};

/// One validator's beacon duty (`ValidatorDuty`); SSZ, at most 209 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct ValidatorDuty {
    /// Raw [`BeaconRole`] value (`Type`); may be unknown in peer data.
    pub role: u64,
    /// The validator's 48-byte BLS public key.
    pub pub_key: BlsPublicKeyBytes,
    /// The duty's slot.
    pub slot: Slot,
    /// The validator's index.
    pub validator_index: ValidatorIndex,
    /// The attestation committee's index in the slot.
    pub committee_index: u64,
    /// Size of that committee.
    pub committee_length: u64,
    /// Number of committees in the slot.
    pub committees_at_slot: u64,
    /// The validator's position in its committee.
    pub validator_committee_index: u64,
    /// The validator's positions in the sync committee (`ssz-max:"13"`).
    pub validator_sync_committee_indices: VariableList<u64, U13>,
}

impl ValidatorDuty {
    /// The duty's beacon role, or `None` for an unknown value.
    pub fn beacon_role(&self) -> Option<BeaconRole> {
        BeaconRole::from_u64(self.role)
    }

    /// The runner that executes this duty (`RunnerRole()` / `MapDutyToRunnerRole`); `None`
    /// is Go's `RoleUnknown` (-1).
    pub fn runner_role(&self) -> Option<RunnerRole> {
        map_duty_to_runner_role(self.role)
    }
}

/// All of a committee's attester and sync-committee duties at one slot (`CommitteeDuty`).
///
/// Not sent on the wire (no SSZ in the spec); the committee runner starts from it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommitteeDuty {
    /// The slot.
    pub slot: Slot,
    /// Each validator's duty at that slot (serde: each as its SSZ bytes).
    #[serde(with = "crate::trace::ssz_list")]
    pub validator_duties: Vec<ValidatorDuty>,
}

/// `MapDutyToRunnerRole`: attester and sync committee run in the committee runner, every
/// other known role in its own runner; `None` (Go's `RoleUnknown`, -1) for anything else.
pub fn map_duty_to_runner_role(beacon_role: u64) -> Option<RunnerRole> {
    Some(match BeaconRole::from_u64(beacon_role)? {
        BeaconRole::Attester | BeaconRole::SyncCommittee => RunnerRole::Committee,
        BeaconRole::Proposer => RunnerRole::Proposer,
        BeaconRole::Aggregator => RunnerRole::Aggregator,
        BeaconRole::SyncCommitteeContribution => RunnerRole::SyncCommitteeContribution,
        BeaconRole::ValidatorRegistration => RunnerRole::ValidatorRegistration,
        BeaconRole::VoluntaryExit => RunnerRole::VoluntaryExit,
    })
}
