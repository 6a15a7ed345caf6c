//! Altair sync-committee containers (consensus-specs `specs/altair/beacon-chain.md` and
//! `validator.md`), mainnet preset.

use serde::{Deserialize, Serialize};
use ssz_derive::{Decode, Encode};
use ssz_types::BitVector;
use tree_hash_derive::TreeHash;

use super::preset::{SyncCommitteeSize, SyncSubcommitteeSize};
use super::serde_utils::{hex_array, quoted_u64};
use super::{BlsSignature, Root, Slot, ValidatorIndex};

/// `SyncCommitteeMessage`: one member's signature over the head block root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct SyncCommitteeMessage {
    /// The slot the message is for.
    #[serde(with = "quoted_u64")]
    pub slot: Slot,
    /// The signed block root.
    #[serde(with = "hex_array")]
    pub beacon_block_root: Root,
    /// The member's validator index.
    #[serde(with = "quoted_u64")]
    pub validator_index: ValidatorIndex,
    /// Signature over `beacon_block_root` with `DOMAIN_SYNC_COMMITTEE`.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}

/// `SyncCommitteeContribution`: one subcommittee's aggregate for a block root.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct SyncCommitteeContribution {
    /// The slot.
    #[serde(with = "quoted_u64")]
    pub slot: Slot,
    /// The signed block root.
    #[serde(with = "hex_array")]
    pub beacon_block_root: Root,
    /// The subcommittee (0 to 3).
    #[serde(with = "quoted_u64")]
    pub subcommittee_index: u64,
    /// One bit per subcommittee member that signed.
    pub aggregation_bits: BitVector<SyncSubcommitteeSize>,
    /// The aggregate signature.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}

/// `ContributionAndProof`: an aggregator's contribution and selection proof.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct ContributionAndProof {
    /// The aggregator's validator index.
    #[serde(with = "quoted_u64")]
    pub aggregator_index: ValidatorIndex,
    /// The contribution.
    pub contribution: SyncCommitteeContribution,
    /// Signature over [`SyncAggregatorSelectionData`] with
    /// `DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF`.
    #[serde(with = "hex_array")]
    pub selection_proof: BlsSignature,
}

/// `SignedContributionAndProof`, signed with `DOMAIN_CONTRIBUTION_AND_PROOF`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct SignedContributionAndProof {
    /// The signed message.
    pub message: ContributionAndProof,
    /// The aggregator's signature.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}

/// `SyncAggregatorSelectionData`: what a sync aggregator signs to prove selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct SyncAggregatorSelectionData {
    /// The slot.
    #[serde(with = "quoted_u64")]
    pub slot: Slot,
    /// The subcommittee (0 to 3).
    #[serde(with = "quoted_u64")]
    pub subcommittee_index: u64,
}

/// `SyncAggregate`: the sync committee's aggregate in a block body.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct SyncAggregate {
    /// One bit per sync committee member that signed.
    pub sync_committee_bits: BitVector<SyncCommitteeSize>,
    /// The aggregate signature.
    #[serde(with = "hex_array")]
    pub sync_committee_signature: BlsSignature,
}
