//! Beacon-API request and response types that are not consensus containers (duties, node
//! status, subscriptions, events). Consensus containers come from `ssv_core::beacon`.
//!
//! Field names and encodings follow beacon-APIs v4.0.0 (`types/duty.yaml`, `api.yaml`,
//! `p2p.yaml`, `apis/eventstream`): integers as decimal strings, bytes as `0x`-hex.

use serde::{Deserialize, Serialize};
use ssv_core::beacon::serde_utils::{hex_array, quoted_u64};
use ssv_core::beacon::{
    BlsPubkey, CommitteeIndex, Epoch, ExecutionAddress, Root, Slot, ValidatorIndex,
};

/// `GET /eth/v1/beacon/genesis` data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// Unix seconds of slot 0.
    #[serde(with = "quoted_u64")]
    pub genesis_time: u64,
    /// The chain's genesis validators root (part of every signing domain).
    #[serde(with = "hex_array")]
    pub genesis_validators_root: Root,
    /// The genesis fork version.
    #[serde(with = "hex_array")]
    pub genesis_fork_version: [u8; 4],
}

/// One entry of `GET /eth/v1/config/fork_schedule` (`Fork`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fork {
    /// The version before the fork.
    #[serde(with = "hex_array")]
    pub previous_version: [u8; 4],
    /// The version from `epoch` on.
    #[serde(with = "hex_array")]
    pub current_version: [u8; 4],
    /// The first epoch of `current_version`.
    #[serde(with = "quoted_u64")]
    pub epoch: Epoch,
}

/// `GET /eth/v1/node/syncing` data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncingStatus {
    /// The node's head slot.
    #[serde(with = "quoted_u64")]
    pub head_slot: Slot,
    /// Slots between the head and the wall clock.
    #[serde(with = "quoted_u64")]
    pub sync_distance: u64,
    /// Whether the node is syncing.
    pub is_syncing: bool,
    /// Whether the head is optimistic (execution not verified).
    #[serde(default)]
    pub is_optimistic: bool,
    /// Whether the execution node is offline.
    #[serde(default)]
    pub el_offline: bool,
}

/// `Validator` inside a validator response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// The public key.
    #[serde(with = "hex_array")]
    pub pubkey: BlsPubkey,
    /// The withdrawal credentials.
    #[serde(with = "hex_array")]
    pub withdrawal_credentials: Root,
    /// Effective balance in Gwei.
    #[serde(with = "quoted_u64")]
    pub effective_balance: u64,
    /// Whether slashed.
    pub slashed: bool,
    /// Epoch of activation eligibility.
    #[serde(with = "quoted_u64")]
    pub activation_eligibility_epoch: Epoch,
    /// Activation epoch.
    #[serde(with = "quoted_u64")]
    pub activation_epoch: Epoch,
    /// Exit epoch (`2^64 - 1` when none).
    #[serde(with = "quoted_u64")]
    pub exit_epoch: Epoch,
    /// Withdrawable epoch.
    #[serde(with = "quoted_u64")]
    pub withdrawable_epoch: Epoch,
}

/// One entry of `POST /eth/v1/beacon/states/{state_id}/validators`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorData {
    /// The validator index.
    #[serde(with = "quoted_u64")]
    pub index: ValidatorIndex,
    /// Balance in Gwei.
    #[serde(with = "quoted_u64")]
    pub balance: u64,
    /// Status (`active_ongoing`, `pending_queued`, …).
    pub status: String,
    /// The registry record.
    pub validator: Validator,
}

/// `AttesterDuty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttesterDuty {
    /// The validator's public key.
    #[serde(with = "hex_array")]
    pub pubkey: BlsPubkey,
    /// The validator index.
    #[serde(with = "quoted_u64")]
    pub validator_index: ValidatorIndex,
    /// The committee.
    #[serde(with = "quoted_u64")]
    pub committee_index: CommitteeIndex,
    /// Committee size (the aggregator-selection modulo's numerator).
    #[serde(with = "quoted_u64")]
    pub committee_length: u64,
    /// Committees at the slot.
    #[serde(with = "quoted_u64")]
    pub committees_at_slot: u64,
    /// Position within the committee.
    #[serde(with = "quoted_u64")]
    pub validator_committee_index: u64,
    /// The slot to attest at.
    #[serde(with = "quoted_u64")]
    pub slot: Slot,
}

/// `ProposerDuty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposerDuty {
    /// The proposer's public key.
    #[serde(with = "hex_array")]
    pub pubkey: BlsPubkey,
    /// The proposer's index.
    #[serde(with = "quoted_u64")]
    pub validator_index: ValidatorIndex,
    /// The slot to propose at.
    #[serde(with = "quoted_u64")]
    pub slot: Slot,
}

/// `SyncDuty` (Altair).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDuty {
    /// The validator's public key.
    #[serde(with = "hex_array")]
    pub pubkey: BlsPubkey,
    /// The validator index.
    #[serde(with = "quoted_u64")]
    pub validator_index: ValidatorIndex,
    /// Its positions in the sync committee (0..512); `position / 128` is the subcommittee.
    #[serde(with = "quoted_u64_vec")]
    pub validator_sync_committee_indices: Vec<u64>,
}

/// A duties response: the duties and the block root they depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duties<T> {
    /// The dependent root (absent for sync duties, which do not carry one).
    pub dependent_root: Option<Root>,
    /// Whether the node's head was optimistic.
    pub execution_optimistic: bool,
    /// The duties.
    pub data: Vec<T>,
}

/// `POST /eth/v1/validator/beacon_committee_subscriptions` item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeaconCommitteeSubscription {
    /// The validator.
    #[serde(with = "quoted_u64")]
    pub validator_index: ValidatorIndex,
    /// Its committee.
    #[serde(with = "quoted_u64")]
    pub committee_index: CommitteeIndex,
    /// Committees at the slot.
    #[serde(with = "quoted_u64")]
    pub committees_at_slot: u64,
    /// The duty slot.
    #[serde(with = "quoted_u64")]
    pub slot: Slot,
    /// Whether the validator aggregates (so the node joins the subnet).
    pub is_aggregator: bool,
}

/// `POST /eth/v1/validator/sync_committee_subscriptions` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCommitteeSubscription {
    /// The validator.
    #[serde(with = "quoted_u64")]
    pub validator_index: ValidatorIndex,
    /// Its positions in the sync committee.
    #[serde(with = "quoted_u64_vec")]
    pub sync_committee_indices: Vec<u64>,
    /// The first epoch the subscription is no longer needed.
    #[serde(with = "quoted_u64")]
    pub until_epoch: Epoch,
}

/// `POST /eth/v1/validator/prepare_beacon_proposer` item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposerPreparation {
    /// The validator.
    #[serde(with = "quoted_u64")]
    pub validator_index: ValidatorIndex,
    /// Where its execution fees go.
    #[serde(with = "hex_array")]
    pub fee_recipient: ExecutionAddress,
}

/// The SSE `head` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadEvent {
    /// The head slot.
    #[serde(with = "quoted_u64")]
    pub slot: Slot,
    /// The head block root.
    #[serde(with = "hex_array")]
    pub block: Root,
    /// The head state root.
    #[serde(with = "hex_array")]
    pub state: Root,
    /// Whether the head is the first slot of an epoch.
    pub epoch_transition: bool,
    /// Dependent root of the previous epoch's duties.
    #[serde(with = "hex_array")]
    pub previous_duty_dependent_root: Root,
    /// Dependent root of the current epoch's duties.
    #[serde(with = "hex_array")]
    pub current_duty_dependent_root: Root,
    /// Whether the head is optimistic.
    #[serde(default)]
    pub execution_optimistic: bool,
}

/// Serde for a list of decimal-string integers.
pub mod quoted_u64_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `["1","2"]`.
    pub fn serialize<S: Serializer>(values: &[u64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(values.iter().map(u64::to_string))
    }

    /// Reads `["1","2"]`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let items = Vec::<String>::deserialize(d)?;
        items.iter().map(|s| s.parse().map_err(serde::de::Error::custom)).collect()
    }
}
