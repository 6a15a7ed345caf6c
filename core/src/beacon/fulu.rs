//! Fulu containers. Fulu (PeerDAS) changed no block container: blocks, bodies, payloads and
//! attestations are the Electra ones, re-exported here. Only the Beacon-API `BlockContents`
//! differs: it carries cell proofs, `FIELD_ELEMENTS_PER_EXT_BLOB * MAX_BLOB_COMMITMENTS_PER_BLOCK`
//! at most (beacon-APIs v4.0.0 `types/fulu/block_contents.yaml`).

pub use super::deneb::{ExecutionPayload, ExecutionPayloadHeader};
pub use super::electra::{
    AggregateAndProof, Attestation, AttesterSlashing, BeaconBlock, BeaconBlockBody,
    BlindedBeaconBlock, BlindedBeaconBlockBody, ConsolidationRequest, DepositRequest,
    ExecutionRequests, IndexedAttestation, SignedAggregateAndProof, SignedBeaconBlock,
    SignedBlindedBeaconBlock, SingleAttestation, WithdrawalRequest,
};

block_contents!(crate::beacon::preset::MaxCellProofsPerBlock);
