//! Deneb containers (consensus-specs `specs/deneb/beacon-chain.md`, EIP-4844 blobs; blinded
//! forms from the builder specs; `BlockContents` from the Beacon API), mainnet preset.

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};
use ssz_derive::{Decode, Encode};
use ssz_types::VariableList;
use tree_hash_derive::TreeHash;

use super::altair::SyncAggregate;
use super::capella::{ExtraData, LogsBloom, SignedBlsToExecutionChange, Transactions, Withdrawal};
use super::phase0::{
    Attestation, AttesterSlashing, Deposit, Eth1Data, ProposerSlashing, SignedVoluntaryExit,
};
use super::preset::{
    MaxAttestations, MaxAttesterSlashings, MaxBlobCommitmentsPerBlock, MaxBlsToExecutionChanges,
    MaxDeposits, MaxProposerSlashings, MaxVoluntaryExits, MaxWithdrawalsPerPayload,
};
use super::serde_utils::{hex_array, hex_array_list, quoted_u64, quoted_u256};
use super::{BlsSignature, ExecutionAddress, KzgCommitment, Root};

/// `ExecutionPayload` (Deneb layout, also Electra and Fulu): Capella's plus blob gas.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct ExecutionPayload {
    /// The parent execution block hash.
    #[serde(with = "hex_array")]
    pub parent_hash: Root,
    /// The fee recipient.
    #[serde(with = "hex_array")]
    pub fee_recipient: ExecutionAddress,
    /// The execution state root.
    #[serde(with = "hex_array")]
    pub state_root: Root,
    /// The receipts root.
    #[serde(with = "hex_array")]
    pub receipts_root: Root,
    /// The logs bloom.
    #[serde(with = "ssz_types::serde_utils::hex_fixed_vec")]
    pub logs_bloom: LogsBloom,
    /// The beacon RANDAO mix.
    #[serde(with = "hex_array")]
    pub prev_randao: Root,
    /// The execution block number.
    #[serde(with = "quoted_u64")]
    pub block_number: u64,
    /// The gas limit.
    #[serde(with = "quoted_u64")]
    pub gas_limit: u64,
    /// The gas used.
    #[serde(with = "quoted_u64")]
    pub gas_used: u64,
    /// Unix seconds.
    #[serde(with = "quoted_u64")]
    pub timestamp: u64,
    /// Extra data, at most 32 bytes.
    #[serde(with = "ssz_types::serde_utils::hex_var_list")]
    pub extra_data: ExtraData,
    /// The base fee per gas, in wei.
    #[serde(with = "quoted_u256")]
    pub base_fee_per_gas: U256,
    /// The execution block hash.
    #[serde(with = "hex_array")]
    pub block_hash: Root,
    /// The transactions.
    #[serde(with = "ssz_types::serde_utils::list_of_hex_var_list")]
    pub transactions: Transactions,
    /// The withdrawals.
    pub withdrawals: VariableList<Withdrawal, MaxWithdrawalsPerPayload>,
    /// Blob gas used by the payload's blob transactions.
    #[serde(with = "quoted_u64")]
    pub blob_gas_used: u64,
    /// Excess blob gas, for the blob base fee.
    #[serde(with = "quoted_u64")]
    pub excess_blob_gas: u64,
}

/// `ExecutionPayloadHeader` (Deneb layout, also Electra and Fulu): the payload with its lists replaced by roots.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct ExecutionPayloadHeader {
    /// The parent execution block hash.
    #[serde(with = "hex_array")]
    pub parent_hash: Root,
    /// The fee recipient.
    #[serde(with = "hex_array")]
    pub fee_recipient: ExecutionAddress,
    /// The execution state root.
    #[serde(with = "hex_array")]
    pub state_root: Root,
    /// The receipts root.
    #[serde(with = "hex_array")]
    pub receipts_root: Root,
    /// The logs bloom.
    #[serde(with = "ssz_types::serde_utils::hex_fixed_vec")]
    pub logs_bloom: LogsBloom,
    /// The beacon RANDAO mix.
    #[serde(with = "hex_array")]
    pub prev_randao: Root,
    /// The execution block number.
    #[serde(with = "quoted_u64")]
    pub block_number: u64,
    /// The gas limit.
    #[serde(with = "quoted_u64")]
    pub gas_limit: u64,
    /// The gas used.
    #[serde(with = "quoted_u64")]
    pub gas_used: u64,
    /// Unix seconds.
    #[serde(with = "quoted_u64")]
    pub timestamp: u64,
    /// Extra data, at most 32 bytes.
    #[serde(with = "ssz_types::serde_utils::hex_var_list")]
    pub extra_data: ExtraData,
    /// The base fee per gas, in wei.
    #[serde(with = "quoted_u256")]
    pub base_fee_per_gas: U256,
    /// The execution block hash.
    #[serde(with = "hex_array")]
    pub block_hash: Root,
    /// `hash_tree_root` of the transactions.
    #[serde(with = "hex_array")]
    pub transactions_root: Root,
    /// `hash_tree_root` of the withdrawals.
    #[serde(with = "hex_array")]
    pub withdrawals_root: Root,
    /// Blob gas used by the payload's blob transactions.
    #[serde(with = "quoted_u64")]
    pub blob_gas_used: u64,
    /// Excess blob gas, for the blob base fee.
    #[serde(with = "quoted_u64")]
    pub excess_blob_gas: u64,
}

/// `BeaconBlockBody` (Deneb layout).
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
    pub attester_slashings: VariableList<AttesterSlashing, MaxAttesterSlashings>,
    /// Attestations.
    pub attestations: VariableList<Attestation, MaxAttestations>,
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
}

/// `BlindedBeaconBlockBody` (Deneb layout): the body with a payload header.
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
    pub attester_slashings: VariableList<AttesterSlashing, MaxAttesterSlashings>,
    /// Attestations.
    pub attestations: VariableList<Attestation, MaxAttestations>,
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
}

block_containers!(BeaconBlockBody, BlindedBeaconBlockBody);
block_contents!(MaxBlobCommitmentsPerBlock);
