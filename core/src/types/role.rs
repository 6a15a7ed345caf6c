//! Runner roles and beacon roles (`types/runner_role.go`, `types/beacon_types.go`).

use serde::{Deserialize, Serialize};

/// The role of a duty runner, as written little-endian (int32) into bytes 4..8 of a
/// [`MessageId`](super::MessageId). Alan (v1.2.x) numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(i32)]
pub enum RunnerRole {
    /// Attestations and sync-committee messages of all of a committee's validators.
    Committee = 0,
    /// Aggregate-and-proof of one validator.
    Aggregator = 1,
    /// Block proposal of one validator.
    Proposer = 2,
    /// Sync-committee contribution of one validator.
    SyncCommitteeContribution = 3,
    /// Builder registration (pre-consensus only).
    ValidatorRegistration = 4,
    /// Voluntary exit (pre-consensus only).
    VoluntaryExit = 5,
}

impl RunnerRole {
    /// Every Alan role, in numeric order.
    pub const ALL: [Self; 6] = [
        Self::Committee,
        Self::Aggregator,
        Self::Proposer,
        Self::SyncCommitteeContribution,
        Self::ValidatorRegistration,
        Self::VoluntaryExit,
    ];

    /// The role for its wire value, or `None` for an unknown value.
    pub fn from_i32(value: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|r| *r as i32 == value)
    }

    /// Whether messages of this role go through QBFT consensus.
    pub fn has_consensus(self) -> bool {
        !matches!(self, Self::ValidatorRegistration | Self::VoluntaryExit)
    }
}

/// The beacon duty type (`BeaconRole` in `types/beacon_types.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u64)]
pub enum BeaconRole {
    /// Attestation duty.
    Attester = 0,
    /// Aggregation duty.
    Aggregator = 1,
    /// Block proposal duty.
    Proposer = 2,
    /// Sync-committee message duty.
    SyncCommittee = 3,
    /// Sync-committee contribution duty.
    SyncCommitteeContribution = 4,
    /// Builder (validator) registration.
    ValidatorRegistration = 5,
    /// Voluntary exit.
    VoluntaryExit = 6,
}

impl BeaconRole {
    /// Every beacon role, in numeric order.
    pub const ALL: [Self; 7] = [
        Self::Attester,
        Self::Aggregator,
        Self::Proposer,
        Self::SyncCommittee,
        Self::SyncCommitteeContribution,
        Self::ValidatorRegistration,
        Self::VoluntaryExit,
    ];

    /// The role for its wire value, or `None` for an unknown value.
    pub fn from_u64(value: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|r| *r as u64 == value)
    }
}
