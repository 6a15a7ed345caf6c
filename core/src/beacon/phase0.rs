//! Phase0 containers still in use (consensus-specs `specs/phase0/beacon-chain.md` and
//! `validator.md`), mainnet preset.

use serde::{Deserialize, Serialize};
use ssz_derive::{Decode, Encode};
use ssz_types::{BitList, FixedVector, VariableList};
use tree_hash_derive::TreeHash;

use super::preset::{DepositProofLength, MaxValidatorsPerCommittee};
use super::serde_utils::{hex_array, hex_array_list, quoted_u64};
use super::{BlsPubkey, BlsSignature, CommitteeIndex, Epoch, Gwei, Root, Slot, ValidatorIndex};

/// `Checkpoint`: an epoch and the root of its first block (Casper FFG).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The checkpoint's epoch.
    #[serde(with = "quoted_u64")]
    pub epoch: Epoch,
    /// The block root at the epoch's first slot.
    #[serde(with = "hex_array")]
    pub root: Root,
}

/// `AttestationData`: what an attester votes for (LMD-GHOST head and FFG source/target).
///
/// From Electra on `index` is 0; the committee moves to `committee_bits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct AttestationData {
    /// The attested slot.
    #[serde(with = "quoted_u64")]
    pub slot: Slot,
    /// The committee index (0 from Electra on).
    #[serde(with = "quoted_u64")]
    pub index: CommitteeIndex,
    /// The LMD-GHOST head vote.
    #[serde(with = "hex_array")]
    pub beacon_block_root: Root,
    /// The FFG source checkpoint.
    pub source: Checkpoint,
    /// The FFG target checkpoint.
    pub target: Checkpoint,
}

/// `Attestation` (phase0 to Deneb layout): one committee's aggregate vote.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct Attestation {
    /// One bit per committee member that signed, `Bitlist[MAX_VALIDATORS_PER_COMMITTEE]`.
    pub aggregation_bits: BitList<MaxValidatorsPerCommittee>,
    /// The vote.
    pub data: AttestationData,
    /// The aggregate BLS signature.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}

/// `IndexedAttestation` (phase0 to Deneb layout): an attestation with its signers' indices.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct IndexedAttestation {
    /// Sorted validator indices of the signers, at most `MAX_VALIDATORS_PER_COMMITTEE`.
    #[serde(with = "ssz_types::serde_utils::quoted_u64_var_list")]
    pub attesting_indices: VariableList<ValidatorIndex, MaxValidatorsPerCommittee>,
    /// The vote.
    pub data: AttestationData,
    /// The aggregate BLS signature.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}

/// `AggregateAndProof` (phase0 to Deneb layout): an aggregator's aggregate and selection proof.
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

/// `SignedAggregateAndProof` (phase0 to Deneb layout), signed with `DOMAIN_AGGREGATE_AND_PROOF`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct SignedAggregateAndProof {
    /// The signed message.
    pub message: AggregateAndProof,
    /// The aggregator's signature.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}

/// `Eth1Data`: the proposer's view of the deposit contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct Eth1Data {
    /// The deposit tree root.
    #[serde(with = "hex_array")]
    pub deposit_root: Root,
    /// The number of deposits.
    #[serde(with = "quoted_u64")]
    pub deposit_count: u64,
    /// The execution block hash the view was taken at.
    #[serde(with = "hex_array")]
    pub block_hash: Root,
}

/// `BeaconBlockHeader`: a block with its body replaced by the body's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct BeaconBlockHeader {
    /// The block's slot.
    #[serde(with = "quoted_u64")]
    pub slot: Slot,
    /// The proposer's validator index.
    #[serde(with = "quoted_u64")]
    pub proposer_index: ValidatorIndex,
    /// The parent block's root.
    #[serde(with = "hex_array")]
    pub parent_root: Root,
    /// The post-state root.
    #[serde(with = "hex_array")]
    pub state_root: Root,
    /// The body's `hash_tree_root`.
    #[serde(with = "hex_array")]
    pub body_root: Root,
}

/// `SignedBeaconBlockHeader`, signed with `DOMAIN_BEACON_PROPOSER`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct SignedBeaconBlockHeader {
    /// The header.
    pub message: BeaconBlockHeader,
    /// The proposer's signature.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}

/// `ProposerSlashing`: two different signed headers for the same slot and proposer.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct ProposerSlashing {
    /// The first header.
    pub signed_header_1: SignedBeaconBlockHeader,
    /// The second header.
    pub signed_header_2: SignedBeaconBlockHeader,
}

/// `AttesterSlashing` (phase0 to Deneb layout): two conflicting indexed attestations.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct AttesterSlashing {
    /// The first attestation.
    pub attestation_1: IndexedAttestation,
    /// The second attestation.
    pub attestation_2: IndexedAttestation,
}

/// `DepositMessage`: the part of [`DepositData`] its signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct DepositMessage {
    /// The validator's public key.
    #[serde(with = "hex_array")]
    pub pubkey: BlsPubkey,
    /// The withdrawal credentials (prefix byte and address or key hash).
    #[serde(with = "hex_array")]
    pub withdrawal_credentials: Root,
    /// The amount, in Gwei.
    #[serde(with = "quoted_u64")]
    pub amount: Gwei,
}

/// `DepositData`: a deposit as logged by the deposit contract, signed with `DOMAIN_DEPOSIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct DepositData {
    /// The validator's public key.
    #[serde(with = "hex_array")]
    pub pubkey: BlsPubkey,
    /// The withdrawal credentials (prefix byte and address or key hash).
    #[serde(with = "hex_array")]
    pub withdrawal_credentials: Root,
    /// The amount, in Gwei.
    #[serde(with = "quoted_u64")]
    pub amount: Gwei,
    /// The validator's signature over the [`DepositMessage`].
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}

/// `Deposit`: deposit data with its Merkle branch in the deposit tree.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct Deposit {
    /// The Merkle branch, `Vector[Bytes32, DEPOSIT_CONTRACT_TREE_DEPTH + 1]`.
    #[serde(with = "hex_array_list")]
    pub proof: FixedVector<Root, DepositProofLength>,
    /// The deposit.
    pub data: DepositData,
}

/// `VoluntaryExit`: a validator's request to exit from `epoch` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct VoluntaryExit {
    /// The earliest epoch the exit may be processed.
    #[serde(with = "quoted_u64")]
    pub epoch: Epoch,
    /// The exiting validator's index.
    #[serde(with = "quoted_u64")]
    pub validator_index: ValidatorIndex,
}

/// `SignedVoluntaryExit`, signed with `DOMAIN_VOLUNTARY_EXIT`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct SignedVoluntaryExit {
    /// The exit.
    pub message: VoluntaryExit,
    /// The validator's signature.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}
