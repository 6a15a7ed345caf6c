//! Electra containers (consensus-specs `specs/electra/beacon-chain.md` and `validator.md`,
//! EIP-7549 attestations, EIP-6110/7002/7251 execution requests), mainnet preset.

use serde::{Deserialize, Serialize};
use ssz_derive::{Decode, Encode};
use ssz_types::{BitList, BitVector, VariableList};
use tree_hash_derive::TreeHash;

use super::phase0::AttestationData;
use super::preset::{MaxCommitteesPerSlot, MaxValidatorsPerSlot};
use super::serde_utils::{hex_array, quoted_u64};
use super::{BlsSignature, CommitteeIndex, ValidatorIndex};

/// `Attestation` (Electra layout, EIP-7549): an aggregate over one or more committees.
///
/// `data.index` is 0; `committee_bits` says which committees `aggregation_bits` spans.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct Attestation {
    /// One bit per member of the selected committees, concatenated in committee order.
    pub aggregation_bits: BitList<MaxValidatorsPerSlot>,
    /// The vote.
    pub data: AttestationData,
    /// The aggregate BLS signature.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
    /// One bit per committee of the slot, `Bitvector[MAX_COMMITTEES_PER_SLOT]`.
    pub committee_bits: BitVector<MaxCommitteesPerSlot>,
}

/// `SingleAttestation` (Electra): one validator's unaggregated attestation, as gossiped and
/// submitted to the beacon node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct SingleAttestation {
    /// The attester's committee.
    #[serde(with = "quoted_u64")]
    pub committee_index: CommitteeIndex,
    /// The attester's validator index.
    #[serde(with = "quoted_u64")]
    pub attester_index: ValidatorIndex,
    /// The vote (`index` 0).
    pub data: AttestationData,
    /// The attester's signature with `DOMAIN_BEACON_ATTESTER`.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}

/// `IndexedAttestation` (Electra layout): up to a whole slot's validators.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct IndexedAttestation {
    /// Sorted validator indices of the signers.
    #[serde(with = "ssz_types::serde_utils::quoted_u64_var_list")]
    pub attesting_indices: VariableList<ValidatorIndex, MaxValidatorsPerSlot>,
    /// The vote.
    pub data: AttestationData,
    /// The aggregate BLS signature.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}

/// `AttesterSlashing` (Electra layout).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct AttesterSlashing {
    /// The first attestation.
    pub attestation_1: IndexedAttestation,
    /// The second attestation.
    pub attestation_2: IndexedAttestation,
}

/// `AggregateAndProof` (Electra layout).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct AggregateAndProof {
    /// The aggregator's validator index.
    #[serde(with = "quoted_u64")]
    pub aggregator_index: ValidatorIndex,
    /// The aggregate attestation.
    pub aggregate: Attestation,
    /// The aggregator's signature over the slot (`DOMAIN_SELECTION_PROOF`).
    #[serde(with = "hex_array")]
    pub selection_proof: BlsSignature,
}

/// `SignedAggregateAndProof` (Electra layout), signed with `DOMAIN_AGGREGATE_AND_PROOF`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct SignedAggregateAndProof {
    /// The signed message.
    pub message: AggregateAndProof,
    /// The aggregator's signature.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}
