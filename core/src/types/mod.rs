//! SSV wire types (ssv-spec v1.2.2 `types/` and `qbft/messages.go`), all SSZ.
//!
//! Every list carries its `ssz-max` bound in its type, so decoding peer bytes enforces it.
//! Constructors that take lists are fallible for the same reason.

// The SSZ crates our types are built on, re-exported so harnesses and the shell name the
// same versions without depending on them separately.
pub use ::ssz;
pub use ::ssz_types;
pub use ::tree_hash;
pub use ::typenum;

pub mod consensus_data;
pub mod duty;
pub mod message;
pub mod partial_sig;
pub mod qbft;
pub mod role;
pub mod share;
pub mod validate;

pub use consensus_data::{
    BeaconVote, Contribution, Contributions, ValidatorConsensusData, VersionedAggregateAndProof,
};
pub use duty::{CommitteeDuty, ValidatorDuty, map_duty_to_runner_role};
pub use message::{MessageId, MsgType, SignedSsvMessage, SsvMessage};
pub use partial_sig::{PartialSigMsgType, PartialSignatureMessage, PartialSignatureMessages};
pub use qbft::{QbftMessage, QbftMessageType, decode_justifications, encode_justifications};
pub use role::{BeaconRole, RunnerRole};
pub use share::{CommitteeId, CommitteeMember, Operator, Share, ShareMember};
pub use validate::{ValidationError, validate_signed_ssv_message_parts};

/// An operator's id in the SSVNetwork contract. 0 is never a valid signer.
pub type OperatorId = u64;
/// A beacon-chain slot (12 s on mainnet). Also the QBFT height of a duty.
pub type Slot = u64;
/// A beacon-chain epoch (32 slots on mainnet).
pub type Epoch = u64;
/// A validator's index in the beacon state.
pub type ValidatorIndex = u64;
/// A QBFT round; the first round is 1 and 0 means "no round".
pub type Round = u64;
/// A QBFT height; equal to the duty's slot.
pub type Height = u64;
/// A 32-byte SSZ root or SHA-256 digest.
pub type Root = [u8; 32];
/// A 48-byte compressed BLS12-381 G1 public key.
pub type BlsPublicKeyBytes = [u8; 48];
/// A 96-byte compressed BLS12-381 G2 signature.
pub type BlsSignatureBytes = [u8; 96];

/// The SSV domain type `[0, 0, network id, fork version]` (`types/domain_type.go`).
///
/// It scopes message ids (the first 4 bytes of a [`MessageId`]) so networks and forks never
/// accept each other's messages.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct DomainType(pub [u8; 4]);

impl DomainType {
    /// Mainnet before the Alan fork.
    pub const GENESIS_MAINNET: Self = Self([0, 0, 0, 0]);
    /// Mainnet, Alan fork (from epoch 327_375): what mainnet runs.
    pub const ALAN_MAINNET: Self = Self([0, 0, 0, 1]);
    /// Holesky (Alan).
    pub const HOLESKY: Self = Self([0, 0, 5, 2]);
    /// Hoodi (Alan).
    pub const HOODI: Self = Self([0, 0, 5, 3]);
    /// Sepolia (Alan).
    pub const SEPOLIA: Self = Self([0, 0, 5, 0x69]);
    /// The Jato testnet domain every spec vector uses (`TestingSSVDomainType`).
    pub const JATO_TESTNET: Self = Self([0, 0, 3, 1]);
}

#[cfg(test)]
mod tests {
    use typenum::Unsigned;

    #[test]
    fn ssz_bounds_are_the_spec_numbers() {
        // ssz-max tags of ssv-spec v1.2.2 types/messages.go, qbft/messages.go,
        // types/partial_sig_message.go.
        assert_eq!(super::message::MaxFullDataLen::USIZE, 8_388_836);
        assert_eq!(super::message::MaxSsvDataLen::USIZE, 722_412);
        assert_eq!(super::message::MaxSigners::USIZE, 13);
        assert_eq!(super::message::MaxSignatureLen::USIZE, 256);
        assert_eq!(super::qbft::MaxRoundChangeJustificationLen::USIZE, 51_852);
        assert_eq!(super::qbft::MaxPrepareJustificationLen::USIZE, 3_700);
        assert_eq!(super::qbft::MaxIdentifierLen::USIZE, 56);
        assert_eq!(super::partial_sig::MaxPartialSignatureMessages::USIZE, 1512);
    }

    #[test]
    fn message_id_parts_round_trip() {
        let pk = [7u8; 48];
        let id = super::MessageId::for_validator(
            super::DomainType::JATO_TESTNET,
            super::RunnerRole::Proposer,
            &pk,
        );
        assert_eq!(id.domain(), super::DomainType::JATO_TESTNET);
        assert_eq!(id.role(), Some(super::RunnerRole::Proposer));
        assert_eq!(id.duty_executor_id(), &pk);
        let cid = [9u8; 32];
        let id = super::MessageId::for_committee(
            super::DomainType::JATO_TESTNET,
            super::RunnerRole::Committee,
            &cid,
        );
        assert_eq!(id.committee_id(), &cid);
        assert_eq!(&id.duty_executor_id()[..16], &[0u8; 16]);
    }
}
