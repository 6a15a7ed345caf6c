//! Beacon-chain types (phase0 through fulu) with SSZ, `hash_tree_root` and Beacon-API JSON.
//!
//! Layouts and bounds follow the consensus specs v1.5.0 with the **mainnet** preset
//! ([`preset`]); each fork's module holds the containers that fork introduced or changed,
//! named as in the spec (`electra::Attestation` is the Electra layout). Fulu changed no block
//! container, so [`fulu`] re-exports the Electra ones and adds only its `BlockContents`.
//!
//! JSON follows the Beacon API: integers as decimal strings (a number is accepted too, so the
//! consensus-spec YAML parses), bytes as `0x`-hex, bitfields as the hex of their SSZ bytes,
//! snake_case field names. [`SigningData`](crate::crypto::signing) and `ForkData` live in
//! `crypto::signing`.

/// Defines a fork's `BeaconBlock`, `BlindedBeaconBlock` and their signed forms around the
/// fork's full and blinded bodies (the outer layout is the same in every fork).
macro_rules! block_containers {
    ($body:ident, $blinded_body:ident) => {
        /// `BeaconBlock`: slot, proposer, parent and state roots, and the body.
        #[derive(
            Debug,
            Clone,
            PartialEq,
            Eq,
            ssz_derive::Encode,
            ssz_derive::Decode,
            tree_hash_derive::TreeHash,
            serde::Serialize,
            serde::Deserialize,
        )]
        pub struct BeaconBlock {
            /// The block's slot.
            #[serde(with = "crate::beacon::serde_utils::quoted_u64")]
            pub slot: crate::beacon::Slot,
            /// The proposer's validator index.
            #[serde(with = "crate::beacon::serde_utils::quoted_u64")]
            pub proposer_index: crate::beacon::ValidatorIndex,
            /// The parent block's root.
            #[serde(with = "crate::beacon::serde_utils::hex_array")]
            pub parent_root: crate::beacon::Root,
            /// The post-state root.
            #[serde(with = "crate::beacon::serde_utils::hex_array")]
            pub state_root: crate::beacon::Root,
            /// The body.
            pub body: $body,
        }

        /// `BlindedBeaconBlock` (builder specs): a block whose body carries the payload header.
        /// Its `hash_tree_root` equals that of the full block it blinds.
        #[derive(
            Debug,
            Clone,
            PartialEq,
            Eq,
            ssz_derive::Encode,
            ssz_derive::Decode,
            tree_hash_derive::TreeHash,
            serde::Serialize,
            serde::Deserialize,
        )]
        pub struct BlindedBeaconBlock {
            /// The block's slot.
            #[serde(with = "crate::beacon::serde_utils::quoted_u64")]
            pub slot: crate::beacon::Slot,
            /// The proposer's validator index.
            #[serde(with = "crate::beacon::serde_utils::quoted_u64")]
            pub proposer_index: crate::beacon::ValidatorIndex,
            /// The parent block's root.
            #[serde(with = "crate::beacon::serde_utils::hex_array")]
            pub parent_root: crate::beacon::Root,
            /// The post-state root.
            #[serde(with = "crate::beacon::serde_utils::hex_array")]
            pub state_root: crate::beacon::Root,
            /// The blinded body.
            pub body: $blinded_body,
        }

        /// `SignedBeaconBlock`, signed with `DOMAIN_BEACON_PROPOSER`.
        #[derive(
            Debug,
            Clone,
            PartialEq,
            Eq,
            ssz_derive::Encode,
            ssz_derive::Decode,
            tree_hash_derive::TreeHash,
            serde::Serialize,
            serde::Deserialize,
        )]
        pub struct SignedBeaconBlock {
            /// The block.
            pub message: BeaconBlock,
            /// The proposer's signature.
            #[serde(with = "crate::beacon::serde_utils::hex_array")]
            pub signature: crate::beacon::BlsSignature,
        }

        /// `SignedBlindedBeaconBlock`, signed with `DOMAIN_BEACON_PROPOSER`.
        #[derive(
            Debug,
            Clone,
            PartialEq,
            Eq,
            ssz_derive::Encode,
            ssz_derive::Decode,
            tree_hash_derive::TreeHash,
            serde::Serialize,
            serde::Deserialize,
        )]
        pub struct SignedBlindedBeaconBlock {
            /// The blinded block.
            pub message: BlindedBeaconBlock,
            /// The proposer's signature.
            #[serde(with = "crate::beacon::serde_utils::hex_array")]
            pub signature: crate::beacon::BlsSignature,
        }
    };
}

/// Defines a fork's Beacon-API `BlockContents` and `SignedBlockContents` (block, KZG proofs
/// and blobs), with `$max_proofs` bounding the proofs.
macro_rules! block_contents {
    ($max_proofs:ty) => {
        /// `BlockContents` (Beacon API `produceBlockV3`): the block with its blobs' proofs and
        /// blobs. Not a consensus container: only its block is hashed for signing.
        #[derive(
            Debug,
            Clone,
            PartialEq,
            Eq,
            ssz_derive::Encode,
            ssz_derive::Decode,
            tree_hash_derive::TreeHash,
            serde::Serialize,
            serde::Deserialize,
        )]
        pub struct BlockContents {
            /// The block.
            pub block: BeaconBlock,
            /// The blob KZG proofs.
            #[serde(with = "crate::beacon::serde_utils::hex_array_list")]
            pub kzg_proofs: ssz_types::VariableList<crate::beacon::KzgProof, $max_proofs>,
            /// The blobs.
            #[serde(with = "ssz_types::serde_utils::list_of_hex_fixed_vec")]
            pub blobs: ssz_types::VariableList<
                crate::beacon::Blob,
                crate::beacon::preset::MaxBlobCommitmentsPerBlock,
            >,
        }

        /// `SignedBlockContents` (Beacon API `publishBlockV2`): the signed block with its
        /// blobs' proofs and blobs.
        #[derive(
            Debug,
            Clone,
            PartialEq,
            Eq,
            ssz_derive::Encode,
            ssz_derive::Decode,
            tree_hash_derive::TreeHash,
            serde::Serialize,
            serde::Deserialize,
        )]
        pub struct SignedBlockContents {
            /// The signed block.
            pub signed_block: SignedBeaconBlock,
            /// The blob KZG proofs.
            #[serde(with = "crate::beacon::serde_utils::hex_array_list")]
            pub kzg_proofs: ssz_types::VariableList<crate::beacon::KzgProof, $max_proofs>,
            /// The blobs.
            #[serde(with = "ssz_types::serde_utils::list_of_hex_fixed_vec")]
            pub blobs: ssz_types::VariableList<
                crate::beacon::Blob,
                crate::beacon::preset::MaxBlobCommitmentsPerBlock,
            >,
        }
    };
}

pub mod altair;
pub mod builder;
pub mod capella;
pub mod deneb;
pub mod electra;
pub mod fulu;
pub mod phase0;
pub mod serde_utils;
pub mod versioned;

pub use altair::{
    ContributionAndProof, SignedContributionAndProof, SyncAggregate, SyncAggregatorSelectionData,
    SyncCommitteeContribution, SyncCommitteeMessage,
};
pub use builder::{SignedValidatorRegistration, ValidatorRegistration};
pub use phase0::{AttestationData, Checkpoint, DepositData, SignedVoluntaryExit, VoluntaryExit};
pub use versioned::{DataVersion, VersionedBlock, decode_block, decode_proposal};

/// A slot number (12 s each).
pub type Slot = u64;
/// An epoch number (32 slots).
pub type Epoch = u64;
/// A validator's index in the beacon state registry.
pub type ValidatorIndex = u64;
/// A committee's index within its slot.
pub type CommitteeIndex = u64;
/// An amount in Gwei (10^-9 ETH).
pub type Gwei = u64;
/// A 32-byte SSZ root or hash.
pub type Root = [u8; 32];
/// A compressed BLS12-381 G1 public key (48 bytes).
pub type BlsPubkey = [u8; 48];
/// A compressed BLS12-381 G2 signature (96 bytes).
pub type BlsSignature = [u8; 96];
/// A 20-byte execution-layer address.
pub type ExecutionAddress = [u8; 20];
/// A KZG commitment to a blob (48 bytes, a G1 point).
pub type KzgCommitment = [u8; 48];
/// A KZG proof (48 bytes, a G1 point).
pub type KzgProof = [u8; 48];
/// A blob: `FIELD_ELEMENTS_PER_BLOB` (4096) field elements of 32 bytes.
pub type Blob = ssz_types::FixedVector<u8, preset::BytesPerBlob>;

/// Mainnet preset bounds (consensus-specs v1.5.0 `presets/mainnet`), as typenum lengths.
pub mod preset {
    use typenum::{
        U1, U2, U8, U16, U32, U33, U64, U128, U256, U512, U2048, U4096, U8192, U131072, U1048576,
        U33554432, U1073741824,
    };

    /// `MAX_VALIDATORS_PER_COMMITTEE` = 2048.
    pub type MaxValidatorsPerCommittee = U2048;
    /// `MAX_COMMITTEES_PER_SLOT` = 64 (Electra's `committee_bits` length).
    pub type MaxCommitteesPerSlot = U64;
    /// `MAX_VALIDATORS_PER_COMMITTEE * MAX_COMMITTEES_PER_SLOT` = 131072 (Electra attestations).
    pub type MaxValidatorsPerSlot = U131072;
    /// `MAX_PROPOSER_SLASHINGS` = 16.
    pub type MaxProposerSlashings = U16;
    /// `MAX_ATTESTER_SLASHINGS` = 2 (phase0 to Deneb).
    pub type MaxAttesterSlashings = U2;
    /// `MAX_ATTESTER_SLASHINGS_ELECTRA` = 1.
    pub type MaxAttesterSlashingsElectra = U1;
    /// `MAX_ATTESTATIONS` = 128 (phase0 to Deneb).
    pub type MaxAttestations = U128;
    /// `MAX_ATTESTATIONS_ELECTRA` = 8.
    pub type MaxAttestationsElectra = U8;
    /// `MAX_DEPOSITS` = 16.
    pub type MaxDeposits = U16;
    /// `MAX_VOLUNTARY_EXITS` = 16.
    pub type MaxVoluntaryExits = U16;
    /// `MAX_BLS_TO_EXECUTION_CHANGES` = 16.
    pub type MaxBlsToExecutionChanges = U16;
    /// `MAX_BLOB_COMMITMENTS_PER_BLOCK` = 4096 (also the blob and Deneb proof bound).
    pub type MaxBlobCommitmentsPerBlock = U4096;
    /// `FIELD_ELEMENTS_PER_EXT_BLOB * MAX_BLOB_COMMITMENTS_PER_BLOCK` = 33554432: the Fulu
    /// Beacon-API bound on cell proofs in `BlockContents`.
    pub type MaxCellProofsPerBlock = U33554432;
    /// `MAX_WITHDRAWALS_PER_PAYLOAD` = 16.
    pub type MaxWithdrawalsPerPayload = U16;
    /// `DEPOSIT_CONTRACT_TREE_DEPTH + 1` = 33 (the deposit proof length).
    pub type DepositProofLength = U33;
    /// `SYNC_COMMITTEE_SIZE` = 512.
    pub type SyncCommitteeSize = U512;
    /// `SYNC_COMMITTEE_SIZE / SYNC_COMMITTEE_SUBNET_COUNT` = 128.
    pub type SyncSubcommitteeSize = U128;
    /// `BYTES_PER_LOGS_BLOOM` = 256.
    pub type BytesPerLogsBloom = U256;
    /// `MAX_EXTRA_DATA_BYTES` = 32.
    pub type MaxExtraDataBytes = U32;
    /// `MAX_BYTES_PER_TRANSACTION` = 2^30.
    pub type MaxBytesPerTransaction = U1073741824;
    /// `MAX_TRANSACTIONS_PER_PAYLOAD` = 2^20.
    pub type MaxTransactionsPerPayload = U1048576;
    /// `MAX_DEPOSIT_REQUESTS_PER_PAYLOAD` = 8192.
    pub type MaxDepositRequestsPerPayload = U8192;
    /// `MAX_WITHDRAWAL_REQUESTS_PER_PAYLOAD` = 16.
    pub type MaxWithdrawalRequestsPerPayload = U16;
    /// `MAX_CONSOLIDATION_REQUESTS_PER_PAYLOAD` = 2.
    pub type MaxConsolidationRequestsPerPayload = U2;
    /// `BYTES_PER_FIELD_ELEMENT * FIELD_ELEMENTS_PER_BLOB` = 131072.
    pub type BytesPerBlob = U131072;
}
