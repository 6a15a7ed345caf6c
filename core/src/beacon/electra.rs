//! Electra containers (consensus-specs `specs/electra/beacon-chain.md` and `validator.md`,
//! EIP-7549 attestations, EIP-6110/7002/7251 execution requests), mainnet preset.

use serde::{Deserialize, Serialize};
use ssz_derive::{Decode, Encode};
use ssz_types::{BitList, BitVector, VariableList};
use tree_hash_derive::TreeHash;

use super::altair::SyncAggregate;
use super::capella::SignedBlsToExecutionChange;
use super::deneb::{ExecutionPayload, ExecutionPayloadHeader};
use super::phase0::{AttestationData, Deposit, Eth1Data, ProposerSlashing, SignedVoluntaryExit};
use super::preset::{
    MaxAttestationsElectra, MaxAttesterSlashingsElectra, MaxBlobCommitmentsPerBlock,
    MaxBlsToExecutionChanges, MaxCommitteesPerSlot, MaxConsolidationRequestsPerPayload,
    MaxDepositRequestsPerPayload, MaxDeposits, MaxProposerSlashings, MaxValidatorsPerSlot,
    MaxVoluntaryExits, MaxWithdrawalRequestsPerPayload,
};
use super::serde_utils::{hex_array, hex_array_list, quoted_u64};
use super::{
    BlsPubkey, BlsSignature, CommitteeIndex, ExecutionAddress, Gwei, KzgCommitment, Root,
    ValidatorIndex,
};

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

/// `DepositRequest` (EIP-6110): a deposit as seen by the execution layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct DepositRequest {
    /// The validator's public key.
    #[serde(with = "hex_array")]
    pub pubkey: BlsPubkey,
    /// The withdrawal credentials.
    #[serde(with = "hex_array")]
    pub withdrawal_credentials: Root,
    /// The amount, in Gwei.
    #[serde(with = "quoted_u64")]
    pub amount: Gwei,
    /// The deposit signature.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
    /// The deposit's index in the deposit contract.
    #[serde(with = "quoted_u64")]
    pub index: u64,
}

/// `WithdrawalRequest` (EIP-7002): an execution-layer triggered withdrawal or exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct WithdrawalRequest {
    /// The address in the validator's withdrawal credentials.
    #[serde(with = "hex_array")]
    pub source_address: ExecutionAddress,
    /// The validator.
    #[serde(with = "hex_array")]
    pub validator_pubkey: BlsPubkey,
    /// The amount, in Gwei (0 requests a full exit).
    #[serde(with = "quoted_u64")]
    pub amount: Gwei,
}

/// `ConsolidationRequest` (EIP-7251): merge one validator's balance into another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct ConsolidationRequest {
    /// The address in the source validator's withdrawal credentials.
    #[serde(with = "hex_array")]
    pub source_address: ExecutionAddress,
    /// The source validator.
    #[serde(with = "hex_array")]
    pub source_pubkey: BlsPubkey,
    /// The target validator.
    #[serde(with = "hex_array")]
    pub target_pubkey: BlsPubkey,
}

/// `ExecutionRequests`: the requests of one payload, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct ExecutionRequests {
    /// Deposit requests.
    pub deposits: VariableList<DepositRequest, MaxDepositRequestsPerPayload>,
    /// Withdrawal requests.
    pub withdrawals: VariableList<WithdrawalRequest, MaxWithdrawalRequestsPerPayload>,
    /// Consolidation requests.
    pub consolidations: VariableList<ConsolidationRequest, MaxConsolidationRequestsPerPayload>,
}

/// `BeaconBlockBody` (Electra layout, also Fulu).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct BeaconBlockBody {
    /// The proposer's signature over the epoch (`DOMAIN_RANDAO`).
    #[serde(with = "hex_array")]
    pub randao_reveal: BlsSignature,
    /// The deposit-contract vote.
    pub eth1_data: Eth1Data,
    /// Free 32 bytes.
    #[serde(with = "hex_array")]
    pub graffiti: Root,
    /// Proposer slashings.
    pub proposer_slashings: VariableList<ProposerSlashing, MaxProposerSlashings>,
    /// Attester slashings.
    pub attester_slashings: VariableList<AttesterSlashing, MaxAttesterSlashingsElectra>,
    /// Attestations.
    pub attestations: VariableList<Attestation, MaxAttestationsElectra>,
    /// Deposits.
    pub deposits: VariableList<Deposit, MaxDeposits>,
    /// Voluntary exits.
    pub voluntary_exits: VariableList<SignedVoluntaryExit, MaxVoluntaryExits>,
    /// The sync committee's aggregate.
    pub sync_aggregate: SyncAggregate,
    /// The execution payload.
    pub execution_payload: ExecutionPayload,
    /// Withdrawal-credential changes.
    pub bls_to_execution_changes:
        VariableList<SignedBlsToExecutionChange, MaxBlsToExecutionChanges>,
    /// KZG commitments to the block's blobs.
    #[serde(with = "hex_array_list")]
    pub blob_kzg_commitments: VariableList<KzgCommitment, MaxBlobCommitmentsPerBlock>,
    /// Execution-layer requests (deposits, withdrawals, consolidations).
    pub execution_requests: ExecutionRequests,
}

/// `BlindedBeaconBlockBody` (Electra layout, also Fulu): the body with a payload header.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct BlindedBeaconBlockBody {
    /// The proposer's signature over the epoch (`DOMAIN_RANDAO`).
    #[serde(with = "hex_array")]
    pub randao_reveal: BlsSignature,
    /// The deposit-contract vote.
    pub eth1_data: Eth1Data,
    /// Free 32 bytes.
    #[serde(with = "hex_array")]
    pub graffiti: Root,
    /// Proposer slashings.
    pub proposer_slashings: VariableList<ProposerSlashing, MaxProposerSlashings>,
    /// Attester slashings.
    pub attester_slashings: VariableList<AttesterSlashing, MaxAttesterSlashingsElectra>,
    /// Attestations.
    pub attestations: VariableList<Attestation, MaxAttestationsElectra>,
    /// Deposits.
    pub deposits: VariableList<Deposit, MaxDeposits>,
    /// Voluntary exits.
    pub voluntary_exits: VariableList<SignedVoluntaryExit, MaxVoluntaryExits>,
    /// The sync committee's aggregate.
    pub sync_aggregate: SyncAggregate,
    /// The execution payload header.
    pub execution_payload_header: ExecutionPayloadHeader,
    /// Withdrawal-credential changes.
    pub bls_to_execution_changes:
        VariableList<SignedBlsToExecutionChange, MaxBlsToExecutionChanges>,
    /// KZG commitments to the block's blobs.
    #[serde(with = "hex_array_list")]
    pub blob_kzg_commitments: VariableList<KzgCommitment, MaxBlobCommitmentsPerBlock>,
    /// Execution-layer requests (deposits, withdrawals, consolidations).
    pub execution_requests: ExecutionRequests,
}

block_containers!(BeaconBlockBody, BlindedBeaconBlockBody);
block_contents!(MaxBlobCommitmentsPerBlock);
