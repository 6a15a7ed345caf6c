//! Capella containers (consensus-specs `specs/capella/beacon-chain.md`; blinded forms from the
//! builder specs), mainnet preset.

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};
use ssz_derive::{Decode, Encode};
use ssz_types::{FixedVector, VariableList};
use tree_hash_derive::TreeHash;

use super::altair::SyncAggregate;
use super::phase0::{
    Attestation, AttesterSlashing, Deposit, Eth1Data, ProposerSlashing, SignedVoluntaryExit,
};
use super::preset::{
    BytesPerLogsBloom, MaxAttestations, MaxAttesterSlashings, MaxBlsToExecutionChanges,
    MaxBytesPerTransaction, MaxDeposits, MaxExtraDataBytes, MaxProposerSlashings,
    MaxTransactionsPerPayload, MaxVoluntaryExits, MaxWithdrawalsPerPayload,
};
use super::serde_utils::{hex_array, quoted_u64, quoted_u256};
use super::{BlsPubkey, BlsSignature, ExecutionAddress, Gwei, Root, ValidatorIndex};

/// `Transaction`: an opaque RLP-encoded execution transaction, at most 2^30 bytes.
pub type Transaction = VariableList<u8, MaxBytesPerTransaction>;
/// The payload's transaction list, at most 2^20 entries.
pub type Transactions = VariableList<Transaction, MaxTransactionsPerPayload>;
/// The payload's logs bloom, 256 bytes.
pub type LogsBloom = FixedVector<u8, BytesPerLogsBloom>;
/// The payload's extra data, at most 32 bytes.
pub type ExtraData = VariableList<u8, MaxExtraDataBytes>;

/// `Withdrawal`: a withdrawal credited by the execution layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct Withdrawal {
    /// The global withdrawal index.
    #[serde(with = "quoted_u64")]
    pub index: u64,
    /// The withdrawing validator.
    #[serde(with = "quoted_u64")]
    pub validator_index: ValidatorIndex,
    /// The receiving address.
    #[serde(with = "hex_array")]
    pub address: ExecutionAddress,
    /// The amount, in Gwei.
    #[serde(with = "quoted_u64")]
    pub amount: Gwei,
}

/// `BLSToExecutionChange`: switches a validator's withdrawal credentials to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct BlsToExecutionChange {
    /// The validator.
    #[serde(with = "quoted_u64")]
    pub validator_index: ValidatorIndex,
    /// The BLS withdrawal key the credentials commit to.
    #[serde(with = "hex_array")]
    pub from_bls_pubkey: BlsPubkey,
    /// The new withdrawal address.
    #[serde(with = "hex_array")]
    pub to_execution_address: ExecutionAddress,
}

/// `SignedBLSToExecutionChange`, signed with `DOMAIN_BLS_TO_EXECUTION_CHANGE`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct SignedBlsToExecutionChange {
    /// The change.
    pub message: BlsToExecutionChange,
    /// Signature by `from_bls_pubkey`.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}

/// `ExecutionPayload` (Capella layout).
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
}

/// `ExecutionPayloadHeader` (Capella layout): the payload with its lists replaced by roots.
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
}

/// `BeaconBlockBody` (Capella layout).
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
}

/// `BlindedBeaconBlockBody` (Capella layout): the body with a payload header.
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
}

block_containers!(BeaconBlockBody, BlindedBeaconBlockBody);
